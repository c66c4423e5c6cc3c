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
// Frames cut by the ends of 64 KiB reads, as a link reads a stream: each read ends inside a
// frame, which the decoder carries into the next; and one large frame, whole or in reads.
function stream(payloadBytes: number, count: number): Uint8Array {
  const one = encodeFrame(codec, sampleFrame(payloadBytes), MAX);
  const out = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) out.set(one, i * one.length);
  return out;
}
function reads(bytes: Uint8Array, size = 64 * 1024): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.slice(at, at + size));
  return out;
}
const large = stream(1024 * 1024 - 200, 1);
for (
  const [name, chunks] of [
    ["a 1 MiB frame in one chunk", [large]],
    ["a 1 MiB frame in 64 KiB reads", reads(large)],
    ["4000 100-byte frames in 64 KiB reads", reads(stream(100, 4000))],
    ["30 40 KB frames in 64 KiB reads", reads(stream(40_000, 30))],
  ] as const
) {
  const d = new FrameDecoder(codec.reader(), sampleContext, MAX);
  Deno.bench({
    name: `FrameDecoder: ${name}`,
    group: "decode frames cut by reads",
    fn() {
      for (const chunk of chunks) d.push(chunk, onFrame);
    },
  });
}
globalThis.addEventListener("unload", () => void sink);
