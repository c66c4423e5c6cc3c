// Frames on a byte stream: the writer that coalesces and merges them, and the decoder that cuts
// them out of chunks of any size, skips bad ones and gives up at a lying length.
import assert from "node:assert/strict";
import { FrameError, MessageTooLargeError } from "../lib/errors.ts";
import { Codec } from "../lib/wire/codec.ts";
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { FrameWriter } from "../lib/wire/frame_writer.ts";
import { type Frame, type FrameOf, T } from "../lib/wire/schema.ts";
import type { NodeRef } from "../lib/wire/types.ts";
import { dataFrame, FRAME_NAMES, randomFrame } from "./_frames.ts";
import { message } from "./_rogue.ts";
import { seeded } from "./_values.ts";
import { test } from "./_test.ts";

const codec = new Codec();
const peer: NodeRef = { id: 42, ap: { hostname: "127.0.0.1", port: 4000 } };

function decoder(max = 1 << 20): FrameDecoder {
  return new FrameDecoder(codec.reader(), { maxKey: 2 ** 52, peer }, max);
}

function data(id: number, text: string, extra: Partial<FrameOf<"Data">> = {}): FrameOf<"Data"> {
  return dataFrame(peer, id, [message(text)], extra);
}

test("frames cut at every byte position come out whole and in order", () => {
  const rng = seeded(21);
  const frames = FRAME_NAMES.map((n) => randomFrame(n, rng, 2 ** 52, peer));
  const w = new FrameWriter(codec);
  for (const f of frames) w.append(f, 1 << 20);
  const bytes = w.bytes().slice();
  for (let cut = 0; cut <= bytes.length; cut += 7) {
    const d = decoder();
    const got: Frame[] = [];
    d.push(bytes.slice(0, cut), (f) => got.push(f));
    d.push(bytes.slice(cut), (f) => got.push(f));
    assert.deepEqual(got, frames, `cut at ${cut}`);
    assert.equal(d.buffered, 0);
    d.end();
  }
  // One byte at a time.
  const d = decoder();
  const got: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) d.push(bytes.slice(i, i + 1), (f) => got.push(f));
  assert.deepEqual(got, frames);
});

test("a bad frame between good ones is skipped and reported; the stream goes on", () => {
  const w = new FrameWriter(codec);
  w.append({ t: T.Ping, ts: 1 }, 1024);
  w.append({ t: T.Fix, i: 0, n: { id: 5000, ap: { hostname: "h", port: 1 } } }, 1024);
  w.append({ t: T.Ping, ts: 2 }, 1024);
  const got: Frame[] = [];
  const bad: string[] = [];
  const d = new FrameDecoder(codec.reader(), { maxKey: 1000, peer });
  d.push(w.bytes().slice(), (f) => got.push(f), (e) => bad.push(`${e.reason}: ${e.message}`));
  assert.deepEqual(got, [{ t: T.Ping, ts: 1 }, { t: T.Ping, ts: 2 }]);
  assert.deepEqual(bad, ["range: Fix.n is 5000, outside [0, 1000)"]);
});

test("a length over the limit ends the stream at once, before any body arrives", () => {
  const d = decoder(1024);
  const header = new Uint8Array([0, 0, 4, 1]); // 1025 bytes declared
  assert.throws(() => d.push(header, () => {}), FrameError);
  // Three bytes of a length are not enough to judge it; the fourth is.
  const split = decoder(1024);
  split.push(new Uint8Array([0, 0, 4]), () => {});
  assert.throws(
    () => split.push(new Uint8Array([1]), () => {}),
    /1025-byte body, over the 1024-byte limit/,
  );
});

test("a stream that ends inside a frame is a truncated frame", () => {
  const w = new FrameWriter(codec);
  w.append({ t: T.Ping, ts: 1 }, 1024);
  const bytes = w.bytes().slice();
  for (let n = 1; n < bytes.length; n++) {
    const d = decoder();
    d.push(bytes.slice(0, n), () => assert.fail("no frame yet"));
    assert.throws(() => d.end(), /Truncated frame/, `${n} bytes`);
  }
});

test("a frame over the limit is refused by the writer, which keeps what it had", () => {
  const w = new FrameWriter(codec);
  w.append({ t: T.Ping, ts: 1 }, 64);
  const before = w.bytes().slice();
  assert.throws(
    () => w.append(data(1, "x".repeat(100)), 64),
    (e) =>
      e instanceof MessageTooLargeError &&
      /Frame Data is \d+ bytes, over the 64-byte limit/.test(e.message),
  );
  assert.deepEqual(w.bytes(), before);
  assert.equal(w.count, 1);
});

test("the writer joins consecutive messages into runs within the run limit, and the reader splits nothing", () => {
  const w = new FrameWriter(codec);
  for (let i = 0; i < 100; i++) w.append(data(1 + i, `m${i}`), 1 << 20, 256);
  const got: Frame[] = [];
  decoder().push(w.bytes().slice(), (f) => got.push(f));
  const runs = got as FrameOf<"Data">[];
  assert.equal(w.count, runs.length);
  assert.ok(runs.length > 1 && runs.length < 50, `${runs.length} frames`);
  let next = 1;
  for (const r of runs) {
    assert.equal(r.id, next);
    next += r.ps.length;
  }
  assert.equal(next, 101);
  // Without a run limit, every message is a frame of its own; an acknowledged one never joins.
  const single = new FrameWriter(codec);
  single.append(data(1, "a"), 1 << 20);
  single.append(data(2, "b"), 1 << 20);
  single.append(data(3, "c", { q: 1, lo: 1 }), 1 << 20, 4096);
  assert.equal(single.count, 3);
});
