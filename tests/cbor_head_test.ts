import assert from "node:assert/strict";
import { decode, encode } from "cbor-x/encode";
import { encodeHead, headEnd, readHead } from "../lib/com/cbor_head.ts";

/** A deterministic generator of simple values (the kinds frame heads hold). */
function values(seed: number): () => unknown {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const numbers = [
    0,
    1,
    23,
    24,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 52,
    2 ** 53 - 1,
  ];
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

Deno.test("values the head writer does not handle make it give up, and earlier heads stay intact", () => {
  const kept = encodeHead([1, "ok"], 0)!;
  const copy = kept.slice();
  for (const bad of [{ a: 1 }, new Uint8Array(2), "héllo", 10n, [1, [2, { x: 1 }]]]) {
    assert.equal(encodeHead([1, bad], 0), null, String(bad));
  }
  // Too long for a head (a fallback to cbor-x handles it).
  assert.equal(encodeHead([Array.from({ length: 3000 }, (_, i) => i)], 0), null);
  // Many heads fill and replace the arena without writing over earlier results.
  for (let i = 0; i < 20_000; i++) encodeHead([i, "127.0.0.1", [i, i]], 0);
  assert.deepEqual(kept, copy);
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
