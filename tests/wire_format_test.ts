import assert from "node:assert/strict";
import {
  decodeValue,
  Embedded,
  encodeFrame,
  encodeValue,
  FrameDecoder,
  FrameWriter,
} from "../lib/com/framing.ts";
import { dataFrame, T } from "../lib/core/messages.ts";
import type { Frame } from "../lib/com/transport.ts";

const MAX = 1 << 20;

/** Frames of the types that carry application messages, with every field shape they take. */
function samples(): Frame[] {
  const s: [number, string, number] = [2 ** 52 - 3, "127.0.0.1", 40001];
  const p = encodeValue({ d: 1, bytes: new Uint8Array([1, 2, 3]), text: "héllo" });
  const first = dataFrame(s, 5, false, 1, p);
  first.s = null;
  const acked = dataFrame(s, 2 ** 45, true, 77, p, { q: 3, lo: 1 });
  acked.h = 200;
  acked.ph = 1;
  acked.f = 31;
  return [
    first,
    acked,
    dataFrame(s, 0, true, 2 ** 31, new Embedded(["forwarded", { a: 1 }])),
    { t: T.Bcast, s, id: 4, p, h: 3, lim: 2 ** 50, a: 1, q: 9, lo: 2 },
    { t: T.Mcast, s, id: 5, ks: [1, 2 ** 49, 3], r: true, p, h: 0, ph: 0 },
    { t: T.Succ, s, id: 6, n: 3, p, h: 1 },
  ];
}

Deno.test("a send buffer holds exactly the frames encodeFrame makes, and they decode back", () => {
  const w = new FrameWriter(64); // small: it has to grow on the way
  const frames = samples();
  for (const f of frames) w.append(f, MAX);
  const expected = frames.map((f) => encodeFrame(f, MAX));
  const joined = new Uint8Array(expected.reduce((n, e) => n + e.length, 0));
  let at = 0;
  for (const e of expected) {
    joined.set(e, at);
    at += e.length;
  }
  assert.deepEqual(w.bytes(), joined);
  const got: Frame[] = [];
  new FrameDecoder(MAX).push(w.bytes().slice(), (f) => got.push(f));
  assert.equal(got.length, frames.length);
  for (let i = 0; i < frames.length; i++) {
    const { p, ...rest } = got[i];
    const { p: sent, ...sentRest } = frames[i];
    // Absent fields come back absent or undefined; the message comes back decoded.
    for (const [k, v] of Object.entries(sentRest)) assert.deepEqual(rest[k], v, `frame ${i} ${k}`);
    const value = sent instanceof Embedded ? sent.value : decodeValue(sent as Uint8Array);
    assert.deepEqual((p as Embedded).value, value);
  }
});

Deno.test("a frame over the limit leaves the send buffer as it was", () => {
  const w = new FrameWriter();
  w.append(samples()[0], MAX);
  const before = w.bytes().slice();
  const big = dataFrame([1, "h", 2], 1, false, 1, encodeValue("x".repeat(5000)));
  assert.throws(() => w.append(big, 1000), { name: "MessageTooLargeError" });
  assert.deepEqual(w.bytes(), before);
});

Deno.test("a relayed message is passed on as the bytes it came in, decoded only where it is read", () => {
  const msg = { d: 7, text: "relayed", bytes: new Uint8Array([9, 8]) };
  const sent = dataFrame([5, "127.0.0.1", 1], 99, true, 1, encodeValue(msg));
  const got: Frame[] = [];
  new FrameDecoder(MAX).push(encodeFrame(sent, MAX), (f) => got.push(f));
  const p = got[0].p as Embedded;
  assert.ok(p.bytes, "still encoded after the frame was read");
  // Forwarded: the same bytes go out again.
  const w = new FrameWriter();
  w.append({ ...got[0], h: 2 }, MAX);
  assert.deepEqual(w.bytes(), encodeFrame({ ...sent, h: 2 }, MAX));
  assert.deepEqual(p.value, msg);
  // Bytes that are not CBOR fail where the message is read, not where the frame is.
  assert.throws(() => Embedded.encoded(new Uint8Array([0x1c])).value);
});
