// Frame encode/decode of a typical routed data frame (100-byte payload) against a JSON baseline
// carrying the same fields (payload as a 100-character string).
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { encodeFrame, FrameWriter } from "../lib/wire/frame_writer.ts";
import { codec, sampleContext, sampleFrame } from "./_frames.ts";

const MAX = 4 * 1024 * 1024;
const frame = sampleFrame(100);
const jsonFrame = { ...frame, ps: ["x".repeat(100)] };
const te = new TextEncoder();
const td = new TextDecoder();

function jsonEncode(v: unknown): Uint8Array {
  const body = te.encode(JSON.stringify(v));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

Deno.bench({
  name: "JSON.stringify + TextEncoder + prefix",
  group: "encode one frame",
  baseline: true,
  fn() {
    jsonEncode(jsonFrame);
  },
});
Deno.bench({
  name: "encodeFrame (schema codec, own buffer)",
  group: "encode one frame",
  fn() {
    encodeFrame(codec, frame, MAX);
  },
});

const writer = new FrameWriter(codec, 1 << 20);
Deno.bench({
  name: "FrameWriter.append (into a send buffer, as a link does)",
  group: "encode one frame",
  fn() {
    if (writer.length > 1 << 19) writer.reset();
    writer.append(frame, MAX);
  },
});

const wire = encodeFrame(codec, frame, MAX);
const jsonWire = jsonEncode(jsonFrame);
const decoder = new FrameDecoder(codec.reader(), sampleContext, MAX);
let sink: unknown = null;
const onFrame = (f: unknown) => (sink = f);
Deno.bench({
  name: "JSON.parse + TextDecoder",
  group: "decode one frame",
  baseline: true,
  fn() {
    const len = new DataView(jsonWire.buffer).getUint32(0);
    sink = JSON.parse(td.decode(jsonWire.subarray(4, 4 + len)));
  },
});
Deno.bench({
  name: "FrameDecoder.push (schema codec, validated)",
  group: "decode one frame",
  fn() {
    decoder.push(wire, onFrame);
  },
});

// A read of 64 coalesced frames, as the TCP reader sees them under load.
const batch = new Uint8Array(wire.length * 64);
for (let i = 0; i < 64; i++) batch.set(wire, i * wire.length);
const jsonBatch = new Uint8Array(jsonWire.length * 64);
for (let i = 0; i < 64; i++) jsonBatch.set(jsonWire, i * jsonWire.length);
Deno.bench({
  name: "JSON: 64 frames in one chunk",
  group: "decode a 64-frame chunk",
  baseline: true,
  fn() {
    const dv = new DataView(jsonBatch.buffer);
    for (let at = 0; at < jsonBatch.length;) {
      const len = dv.getUint32(at);
      sink = JSON.parse(td.decode(jsonBatch.subarray(at + 4, at + 4 + len)));
      at += 4 + len;
    }
  },
});
Deno.bench({
  name: "FrameDecoder: 64 frames in one chunk",
  group: "decode a 64-frame chunk",
  fn() {
    decoder.push(batch, onFrame);
  },
});
globalThis.addEventListener("unload", () => void sink);
