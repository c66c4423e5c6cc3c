import assert from "node:assert/strict";
import { encode } from "cbor-x/encode";
import {
  defineCompactFrame,
  Embedded,
  encodeFrame,
  encodeValue,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  writeFrameHeader,
} from "../lib/com/framing.ts";
import { FrameError, MessageTooLargeError } from "../lib/errors.ts";
import type { Frame } from "../lib/com/transport.ts";

const MAX = 64 * 1024;

function collect(decoder: FrameDecoder, ...chunks: Uint8Array[]): Frame[] {
  const out: Frame[] = [];
  for (const chunk of chunks) decoder.push(chunk, (f) => out.push(f));
  return out;
}

/** A frame with the given raw body bytes. */
function rawFrame(body: Uint8Array, declared = body.length): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  writeFrameHeader(out, 0, declared);
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const sample: Frame = {
  t: 13,
  k: 123456,
  h: 2,
  text: "héllo wörld",
  list: [1, 2.5, null, true],
  bytes: new Uint8Array([1, 2, 3, 250]),
  nested: { a: { b: "c" } },
};

Deno.test("a frame split at every byte boundary decodes to the same object", () => {
  const wire = encodeFrame(sample, MAX);
  for (let cut = 0; cut <= wire.length; cut++) {
    const frames = collect(new FrameDecoder(MAX), wire.slice(0, cut), wire.slice(cut));
    assert.deepEqual(frames, [sample], `cut at byte ${cut}`);
  }
});

Deno.test("a stream fed one byte at a time yields every frame in order", () => {
  const wire = concat([0, 1, 2].map((i) => encodeFrame({ ...sample, i }, MAX)));
  const decoder = new FrameDecoder(MAX);
  const frames: Frame[] = [];
  for (const byte of wire) decoder.push(new Uint8Array([byte]), (f) => frames.push(f));
  assert.deepEqual(frames.map((f) => f.i), [0, 1, 2]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("many frames in one chunk are all decoded in order", () => {
  const wire = concat(Array.from({ length: 1000 }, (_, i) => encodeFrame({ t: 7, i }, MAX)));
  const frames = collect(new FrameDecoder(MAX), wire);
  assert.equal(frames.length, 1000);
  frames.forEach((f, i) => assert.equal(f.i, i));
});

Deno.test("chunks that end inside frames carry the remainder over to the next chunk", () => {
  const wire = concat(Array.from({ length: 200 }, (_, i) => encodeFrame({ t: 7, i }, MAX)));
  for (const size of [3, 7, 64, 1000]) {
    const decoder = new FrameDecoder(MAX);
    const frames: Frame[] = [];
    for (let at = 0; at < wire.length; at += size) {
      decoder.push(wire.slice(at, at + size), (f) => frames.push(f));
    }
    assert.deepEqual(frames.map((f) => f.i), Array.from({ length: 200 }, (_, i) => i));
  }
});

Deno.test("a declared length over the limit is rejected before its body arrives", () => {
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  writeFrameHeader(header, 0, MAX + 1);
  assert.throws(
    () => collect(new FrameDecoder(MAX), header),
    (e) => e instanceof FrameError && /65537-byte body, over the 65536-byte limit/.test(e.message),
  );
  // The same when the length prefix itself arrives in pieces.
  const decoder = new FrameDecoder(MAX);
  collect(decoder, header.slice(0, 2));
  assert.throws(() => collect(decoder, header.slice(2)), FrameError);
  // A huge declared length does not make the decoder allocate it.
  writeFrameHeader(header, 0, 0xffffffff);
  assert.throws(() => collect(new FrameDecoder(MAX), header), /4294967295-byte body/);
});

Deno.test("a frame exactly at the limit is accepted", () => {
  const body = encode({ t: 1, pad: "x".repeat(100) });
  const frames = collect(new FrameDecoder(body.length), rawFrame(body));
  assert.equal(frames.length, 1);
});

Deno.test("garbage bytes are rejected as an undecodable body", () => {
  assert.throws(
    () => collect(new FrameDecoder(MAX), rawFrame(new Uint8Array([0xff, 0xff, 0xff]))),
    (e) => e instanceof FrameError && /Undecodable frame body \(3 bytes\)/.test(e.message),
  );
  // An HTTP request read as a frame declares an absurd length.
  assert.throws(
    () => collect(new FrameDecoder(MAX), new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")),
    FrameError,
  );
});

Deno.test("a body with bytes after its CBOR value is rejected", () => {
  const body = concat([encode({ t: 1 }), new Uint8Array([0])]);
  assert.throws(() => collect(new FrameDecoder(MAX), rawFrame(body)), /Undecodable/);
});

Deno.test("a zero-length body is rejected", () => {
  assert.throws(() => collect(new FrameDecoder(MAX), rawFrame(new Uint8Array(0))), FrameError);
});

Deno.test("bodies that are not objects with a numeric t are rejected", () => {
  const cases: [unknown, RegExp][] = [
    [[1, 2], /an array/],
    ["text", /a string/],
    [42, /a number/],
    [null, /null/],
    [new Uint8Array([1]), /a byte string/],
    [{ x: 1 }, /no numeric "t" field/],
    [{ t: "1" }, /no numeric "t" field \(found a string\)/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => collect(new FrameDecoder(MAX), rawFrame(encode(value))),
      (e) => e instanceof FrameError && message.test(e.message),
      `body ${JSON.stringify(value)}`,
    );
  }
});

Deno.test("frames before a bad frame in the same chunk are still delivered", () => {
  const wire = concat([
    encodeFrame({ t: 1, i: 0 }, MAX),
    encodeFrame({ t: 1, i: 1 }, MAX),
    rawFrame(encode([1])),
  ]);
  const frames: Frame[] = [];
  assert.throws(() => new FrameDecoder(MAX).push(wire, (f) => frames.push(f)), FrameError);
  assert.deepEqual(frames.map((f) => f.i), [0, 1]);
});

Deno.test("a stream that ends inside a frame is reported as truncated", () => {
  const wire = encodeFrame(sample, MAX);
  const decoder = new FrameDecoder(MAX);
  collect(decoder, wire.slice(0, 10));
  assert.equal(decoder.buffered, 10);
  assert.throws(
    () => decoder.end(),
    (e) =>
      e instanceof FrameError &&
      new RegExp(`ended 10 bytes into a ${wire.length}-byte frame`).test(e.message),
  );
  const inPrefix = new FrameDecoder(MAX);
  collect(inPrefix, wire.slice(0, 2));
  assert.throws(() => inPrefix.end(), /2 bytes into a length prefix/);
});

Deno.test("a stream that ends at a frame boundary ends cleanly", () => {
  const decoder = new FrameDecoder(MAX);
  assert.equal(collect(decoder, encodeFrame(sample, MAX)).length, 1);
  decoder.end();
});

Deno.test("byte strings are views of the chunk a frame lay in, never of the decoder's own buffer", () => {
  // Zero copy for a frame inside one chunk (the caller gives every chunk a buffer of its own).
  const wire = encodeFrame({ t: 1, bytes: new Uint8Array([9, 9, 9]) }, MAX);
  const [whole] = collect(new FrameDecoder(MAX), wire);
  assert.deepEqual(whole.bytes, new Uint8Array([9, 9, 9]));
  assert.equal((whole.bytes as Uint8Array).buffer, wire.buffer);
  // Frames that span chunks are decoded from a copy: the carry-over buffer is reused.
  const decoder = new FrameDecoder(MAX);
  const a = encodeFrame({ t: 1, bytes: new Uint8Array([1, 1, 1]) }, MAX);
  const b = encodeFrame({ t: 1, bytes: new Uint8Array([2, 2, 2]) }, MAX);
  const frames = collect(decoder, a.slice(0, 5), a.slice(5), b.slice(0, 5), b.slice(5));
  assert.deepEqual(frames.map((f) => f.bytes), [
    new Uint8Array([1, 1, 1]),
    new Uint8Array([2, 2, 2]),
  ]);
});

Deno.test("a throwing frame handler does not lose the bytes after its frame", () => {
  const wire = concat([0, 1, 2].map((i) => encodeFrame({ t: 1, i }, MAX)));
  const decoder = new FrameDecoder(MAX);
  const seen: unknown[] = [];
  assert.throws(() =>
    decoder.push(wire.slice(0, wire.length - 3), (f) => {
      seen.push(f.i);
      if (f.i === 0) throw new Error("handler bug");
    })
  );
  decoder.push(wire.slice(wire.length - 3), (f) => seen.push(f.i));
  assert.deepEqual(seen, [0, 1, 2]);
});

Deno.test("encoding a frame over the limit throws MessageTooLargeError", () => {
  assert.throws(
    () => encodeFrame({ t: 13, data: "x".repeat(2000) }, 1000),
    (e) => e instanceof MessageTooLargeError && /over the 1000-byte limit/.test(e.message),
  );
  assert.equal(encodeFrame({ t: 1 }, 1000).length, FRAME_HEADER_SIZE + encode({ t: 1 }).length);
});

Deno.test("an encoded frame starts with its body length in big-endian order", () => {
  const wire = encodeFrame({ t: 3, s: "x".repeat(300) }, MAX);
  const length = new DataView(wire.buffer, wire.byteOffset).getUint32(0);
  assert.equal(length, wire.length - FRAME_HEADER_SIZE);
});

Deno.test("a registered compact layout travels as a positional array and decodes to the same frame", () => {
  defineCompactFrame(250, ["a", "b", "c"]);
  const frame = { t: 250, a: 1, b: "two", c: new Uint8Array([3]) };
  const wire = encodeFrame(frame, MAX);
  const got: Frame[] = [];
  new FrameDecoder(MAX).push(wire, (f) => got.push(f));
  assert.deepEqual(got, [frame]);
  // Trailing absent fields are left out of the array; an array of an unknown type is refused.
  const short = encodeFrame({ t: 250, a: 7 }, MAX);
  assert.ok(short.length < encodeFrame({ t: 249, a: 7 }, MAX).length);
  const bogus = encodeFrame({ t: 251, x: 1 }, MAX);
  bogus[FRAME_HEADER_SIZE] = 0x82; // turn the map into a two-element array
  assert.throws(() => new FrameDecoder(MAX).push(bogus, () => {}), FrameError);
});

Deno.test("an embedded field is spliced in as CBOR bytes and decoded once, with the frame", () => {
  defineCompactFrame(245, ["a", "b", "c"], "p");
  const value = { d: 7, bytes: new Uint8Array([1, 2, 3]), text: "héllo" };
  const spliced = encodeFrame({ t: 245, a: 1, c: "three", p: encodeValue(value) }, MAX);
  // The same wire bytes as when the value itself is encoded in place (a forwarded frame).
  assert.deepEqual(spliced, encodeFrame({ t: 245, a: 1, c: "three", p: new Embedded(value) }, MAX));
  // The payload's bytes are spliced in as they are, not encoded again.
  const big = encodeValue(new Uint8Array(10_000));
  const wire = encodeFrame({ t: 245, a: 1, p: big }, MAX);
  assert.deepEqual(wire.subarray(wire.length - big.length), big);
  const got = collect(new FrameDecoder(MAX), spliced);
  assert.equal(got.length, 1);
  const f = got[0];
  assert.deepEqual({ ...f, p: undefined }, { t: 245, a: 1, c: "three", p: undefined });
  assert.ok(!("b" in f), "an absent field in the middle stays absent");
  assert.ok(f.p instanceof Embedded);
  assert.deepEqual(f.p.value, value);
  // Received byte strings are plain Uint8Arrays (not Node Buffers).
  assert.equal((f.p.value as typeof value).bytes.constructor, Uint8Array);
});

Deno.test("an embedded layout refuses arrays of the wrong length and counts the payload in the limit", () => {
  defineCompactFrame(246, ["a"], "p");
  for (const items of [[246, 1], [246, 1, 2, 3], [246]]) {
    assert.throws(
      () => new FrameDecoder(MAX).push(rawFrame(encode(items)), () => {}),
      FrameError,
      JSON.stringify(items),
    );
  }
  assert.throws(
    () => encodeFrame({ t: 246, a: 1, p: encode("x".repeat(2000)) }, 1000),
    MessageTooLargeError,
  );
  assert.throws(() => encodeFrame({ t: 246, a: 1, p: "raw" }, MAX), MessageTooLargeError);
  assert.throws(() => defineCompactFrame(247, ["a", "p"], "p"), RangeError);
});
