// Bytes allocated per operation on the per-message path, from heap growth between two forced
// collections (run with --v8-flags=--expose-gc). Short loops stay inside the young generation so
// that no scavenge hides allocations; each figure is the median of several rounds.
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { encodeFrame, FrameWriter } from "../lib/wire/frame_writer.ts";
import { Phase } from "../lib/core/routing_table.ts";
import { fullTable, randomKeys, randomRefs } from "./_tables.ts";
import { codec, sampleContext, sampleFrame } from "./_frames.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

function bytesPerOp(op: (i: number) => unknown, iters = 2000): number {
  for (let i = 0; i < 20_000; i++) op(i); // warm up and optimise
  const rounds: number[] = [];
  let keep: unknown = null;
  for (let r = 0; r < 7; r++) {
    gc!();
    const h0 = Deno.memoryUsage().heapUsed;
    for (let i = 0; i < iters; i++) keep = op(i);
    const h1 = Deno.memoryUsage().heapUsed;
    rounds.push((h1 - h0) / iters);
  }
  void keep;
  return rounds.sort((a, b) => a - b)[3];
}

const refs = randomRefs(4096);
const keys = randomKeys(1024);
const out: Record<string, number> = {};
for (const policy of ["tango", "chord"]) {
  const tb = fullTable(refs, 17, policy);
  out[`nextHop (${policy})`] = bytesPerOp((i) => tb.nextHop(keys[i & 1023], Phase.Approach));
}
const frame = sampleFrame(100);
out["forward copy {...frame, h, ph, f} (Ring.route)"] = bytesPerOp((i) => ({
  ...frame,
  h: i,
  ph: 0,
  f: 1,
}));
out["encodeFrame (100-byte payload, own buffer)"] = bytesPerOp(() =>
  encodeFrame(codec, frame, 1 << 22)
);
const writer = new FrameWriter(codec, 1 << 20);
out["FrameWriter.append (into a link's send buffer)"] = bytesPerOp(() => {
  if (writer.length > 1 << 19) writer.reset();
  writer.append(frame, 1 << 22);
});
const wire = encodeFrame(codec, frame, 1 << 22);
const dec = new FrameDecoder(codec.reader(), sampleContext, 1 << 22);
let f: unknown;
out["FrameDecoder.push (one frame)"] = bytesPerOp(() => dec.push(wire, (x) => (f = x)));
const jf = { ...frame, ps: ["x".repeat(100)] };
const te = new TextEncoder();
out["JSON baseline encode"] = bytesPerOp(() => te.encode(JSON.stringify(jf)));
void f;
console.log(JSON.stringify(out));
