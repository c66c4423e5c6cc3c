import assert from "node:assert/strict";
import { decode, encode } from "cbor-x/encode";
import { EDGE_NUMBERS, seeded } from "./_values.ts";
import {
  asciiAt,
  cursor,
  HEAD_SLACK,
  headEnd,
  numberAt,
  readAsciiAt,
  readHead,
  readNumberAt,
  readOptionalAt,
  readWith,
  writeHeadInto,
} from "../lib/com/cbor_head.ts";

/** `items` as a head declaring `extra` more items, followed by `tail`; `null` when not written. */
function encodeHead(items: unknown[], extra: number, tail?: Uint8Array): Uint8Array | null {
  const buf = new Uint8Array(4096 + (tail?.length ?? 0) + HEAD_SLACK);
  const end = writeHeadInto(buf, new DataView(buf.buffer), 0, 4096, items, extra);
  if (end < 0) return null;
  if (tail) buf.set(tail, end);
  return buf.slice(0, end + (tail?.length ?? 0));
}

/** A deterministic generator of simple values (the kinds frame heads hold). */
function values(seed: number): () => unknown {
  const rnd = seeded(seed);
  const numbers = EDGE_NUMBERS;
  const item = (depth: number): unknown => {
    switch (Math.floor(rnd() * 8)) {
      case 0:
        return numbers[Math.floor(rnd() * numbers.length)] * (rnd() < 0.3 ? -1 : 1);
      case 1:
        return Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1);
      case 2:
        return rnd() < 0.5;
      case 3:
        return rnd() < 0.5 ? null : undefined;
      case 4:
        return "h".repeat(Math.floor(rnd() * 40)) + ".example";
      case 5:
        return rnd() * 1000 - 500;
      default:
        return depth > 2 ? 7 : Array.from({ length: Math.floor(rnd() * 6) }, () => item(depth + 1));
    }
  };
  return () => item(0);
}

Deno.test("frame heads written by hand decode, with cbor-x, to the values written", () => {
  const next = values(42);
  for (let i = 0; i < 2000; i++) {
    const items = Array.from({ length: 1 + (i % 12) }, next);
    const head = encodeHead(items, 0);
    assert.ok(head, `simple values are handled (case ${i})`);
    assert.deepEqual(decode(head), items);
  }
});

Deno.test("a head declaring one more item is completed by a spliced CBOR value", () => {
  const head = encodeHead([13, 5, null], 1)!;
  const tail = encode({ the: "value", bytes: new Uint8Array([1, 2]) });
  const whole = new Uint8Array(head.length + tail.length);
  whole.set(head);
  whole.set(tail, head.length);
  assert.deepEqual(decode(whole), [13, 5, null, { the: "value", bytes: new Uint8Array([1, 2]) }]);
});

Deno.test("values the head writer does not handle make it give up", () => {
  for (const bad of [{ a: 1 }, new Uint8Array(2), "héllo", 10n, [1, [2, { x: 1 }]]]) {
    assert.equal(encodeHead([1, bad], 0), null, String(bad));
  }
  // Too long for a head (a fallback to cbor-x handles it).
  assert.equal(encodeHead([Array.from({ length: 3000 }, (_, i) => i)], 0), null);
});

Deno.test("heads read by hand come back as written; anything else is left to cbor-x", () => {
  const next = values(7);
  let read = 0;
  for (let i = 0; i < 2000; i++) {
    const items = Array.from({ length: 1 + (i % 12) }, next);
    const body = encodeHead(items, 1, encode("payload"))!;
    const got = readHead(body, items.length + 1, items.length);
    if (got === null) continue; // e.g. a long string: the caller decodes with cbor-x
    read++;
    assert.deepEqual(got, items);
    assert.equal(decode(body.subarray(headEnd.at)), "payload");
  }
  assert.ok(read > 1500, `most heads are read by hand (${read} of 2000)`);
  // A wrong item count, a map, a 64-bit integer: not read here.
  const body = encodeHead([1, 2], 1, encode(3))!;
  assert.equal(readHead(body, 4, 2), null);
  assert.equal(readHead(encode({ a: 1 }), 1, 1), null);
  assert.equal(readHead(new Uint8Array([0x82, 0x1b, 0, 0, 0, 1, 0, 0, 0, 0, 1]), 2, 1), null);
});

Deno.test("edge values: -0, NaN, infinities and the 32-bit edges read back as written", () => {
  const items = [-0, NaN, Infinity, -Infinity, -(2 ** 32), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32];
  const head = encodeHead(items, 0)!;
  assert.deepEqual(decode(head), items);
  const body = encodeHead(items, 1, encode(true))!;
  assert.deepEqual(readHead(body, items.length + 1, items.length), items);
});

Deno.test("the writers give up, and leave nothing behind, on what does not fit or is not simple", () => {
  const buf = new Uint8Array(64 + HEAD_SLACK);
  const view = new DataView(buf.buffer);
  assert.equal(writeHeadInto(buf, view, 8, 40, ["x".repeat(40)], 0), -1, "a string past the limit");
  assert.equal(writeHeadInto(buf, view, 8, 64, [[[[[[1]]]]]], 0), -1, "arrays nested too deep");
  assert.ok(writeHeadInto(buf, view, 8, 64, [[[[1]]]], 0) > 8, "four levels are fine");
});

Deno.test("numbers written by position read back as written, and as cbor-x reads them", () => {
  const buf = new Uint8Array(16);
  const view = new DataView(buf.buffer);
  const edge = [0, -0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
  const all = [...edge, ...edge.map((v) => -v), 0.5, NaN, Infinity, -Infinity, -(2 ** 32) - 1];
  for (const v of all) {
    const end = numberAt(buf, view, 0, v);
    assert.ok(Object.is(decode(buf.subarray(0, end)), v), `cbor-x reads ${v}`);
    assert.ok(Object.is(readNumberAt(buf, 0, end), v), `read back ${v}`);
    assert.equal(cursor.at, end);
    // Truncated: not taken, never read past the end.
    for (let cut = 0; cut < end; cut++) {
      assert.equal(readWith(buf, 0, cut, (b, at, e) => readNumberAt(b, at, e)), null);
    }
  }
  buf[0] = 0xf7;
  assert.equal(readOptionalAt(buf, 0, 1), undefined);
  assert.equal(readWith(buf, 0, 1, (b, at, e) => readNumberAt(b, at, e)), null, "not a number");
});

Deno.test("strings read by position are the strings written, also when the last one is reused", () => {
  const buf = new Uint8Array(600);
  const read = (s: string) => {
    const end = asciiAt(buf, 0, s);
    assert.ok(end > 0);
    assert.equal(decode(buf.subarray(0, end)), s);
    return readWith(buf, 0, end, (b, at, e) => readAsciiAt(b, at, e));
  };
  for (const s of ["127.0.0.1", "127.0.0.1", "127.0.0.2", "", "x".repeat(24), "y".repeat(255)]) {
    assert.equal(read(s), s);
  }
  assert.equal(asciiAt(buf, 0, "z".repeat(256)), -1, "longer than 255");
  assert.equal(asciiAt(buf, 0, "hôte"), -1, "not ASCII");
  // Non-ASCII bytes from a peer are not taken (cbor-x reads them instead).
  const utf8 = encode("hôte");
  assert.equal(readWith(utf8, 0, utf8.length, (b, at, e) => readAsciiAt(b, at, e)), null);
});

Deno.test("the head reader refuses truncated input and deep nesting, and reads short tails", () => {
  const body = encodeHead([13, [1, "h", 2]], 1, encode(5))!;
  for (let cut = 1; cut < body.length - 1; cut++) {
    const got = readHead(body.subarray(0, cut), 3, 2);
    assert.ok(got === null || headEnd.at <= cut, `cut at ${cut}`);
  }
  const deep = new Uint8Array([0x82, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x05]);
  assert.equal(readHead(deep, 2, 1), null);
  // One-byte lengths right before a one-byte payload (a data frame carrying `true`).
  const short = encodeHead([13, 100, 200], 1, encode(true))!;
  assert.deepEqual(readHead(short, 4, 3), [13, 100, 200]);
  assert.equal(short.length - headEnd.at, 1);
});
