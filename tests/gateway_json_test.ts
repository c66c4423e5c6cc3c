// The JSON forms of CBOR values used by the gateway: out (toJsonValue), in (fromJsonValue), and
// the round trip HTTP JSON → value → CBOR → value → HTTP JSON.
import assert from "node:assert/strict";
import { decode, encode, Tag } from "cbor-x/encode";
import { fromJsonValue, JsonFormError, MAX_JSON_DEPTH, toJsonValue } from "../gateway/mod.ts";
import { test } from "./_test.ts";

const throughCbor = (v: unknown) => decode(encode(v));

test("plain JSON values pass through unchanged both ways", () => {
  const v = { a: 1, b: "two", c: [true, false, null], d: { e: -1.5 } };
  assert.deepEqual(toJsonValue(v), v);
  assert.deepEqual(fromJsonValue(v), v);
});

test("each value JSON cannot express has a one-key $ form", () => {
  const cases: [unknown, unknown][] = [
    [new Uint8Array([0, 255, 16]), { $bytes: "AP8Q" }],
    [123456789012345678901234567890n, { $bigint: "123456789012345678901234567890" }],
    [-5n, { $bigint: "-5" }],
    [new Map<unknown, unknown>([[1, "a"], ["k", [2]]]), { $map: [[1, "a"], ["k", [2]]] }],
    [new Set([1, "x"]), { $set: [1, "x"] }],
    [new Date(Date.UTC(2004, 5, 1)), { $date: "2004-06-01T00:00:00.000Z" }],
    [undefined, { $undefined: true }],
    [NaN, { $number: "NaN" }],
    [Infinity, { $number: "Infinity" }],
    [-Infinity, { $number: "-Infinity" }],
    [new Float32Array([1.5, -2]), { $typed: ["Float32Array", [1.5, -2]] }],
    [new BigInt64Array([3n]), { $typed: ["BigInt64Array", [{ $bigint: "3" }]] }],
    [new Tag("payload", 40000), { $tag: [40000, "payload"] }],
    [{ $bytes: "literal" }, { $object: { $bytes: "literal" } }],
  ];
  for (const [value, form] of cases) {
    assert.deepEqual(toJsonValue(value), form);
    assert.deepEqual(fromJsonValue(form), value);
  }
});

test("undefined inside arrays and objects survives instead of vanishing", () => {
  const v = throughCbor({ a: undefined, b: [1, undefined] });
  const json = JSON.stringify(toJsonValue(v));
  assert.equal(json, '{"a":{"$undefined":true},"b":[1,{"$undefined":true}]}');
});

test("a value survives HTTP JSON → CBOR → HTTP JSON", () => {
  const form = {
    bytes: { $bytes: "AQIDBA==" },
    big: { $bigint: "18446744073709551617" },
    map: { $map: [[{ $bigint: "1" }, { $set: [1, 2] }]] },
    when: { $date: "2020-02-02T02:02:02.000Z" },
    nested: [{ $undefined: true }, { $number: "NaN" }, { $object: { $set: "not a set" } }],
  };
  assert.deepEqual(toJsonValue(throughCbor(fromJsonValue(form))), form);
});

test("objects with several keys, one of them $-prefixed, are not forms", () => {
  const v = { $bytes: "x", other: 1 };
  assert.deepEqual(toJsonValue(v), v);
  assert.deepEqual(fromJsonValue(v), v);
});

test("malformed or unknown forms are refused with a message naming the path", () => {
  const bad: [unknown, RegExp][] = [
    [{ x: [{ $bytes: 5 }] }, /msg\.x\[0\]: \{"\$bytes": \.\.\.\} needs a base64 string/],
    [{ $bigint: "12.5" }, /decimal integer/],
    [{ $map: [[1]] }, /\[key, value\] pairs/],
    [{ $set: {} }, /an array/],
    [{ $date: "yesterday" }, /ISO date/],
    [{ $number: "1" }, /"NaN"/],
    [{ $typed: ["Nope", []] }, /typedArrayName/],
    [{ $typed: ["Float32Array", ["x"]] }, /numbers/],
    [{ $tag: [-1, 0] }, /tagNumber/],
    [{ $object: [] }, /an object/],
    [{ $what: 1 }, /unknown form "\$what"/],
  ];
  for (const [form, message] of bad) {
    assert.throws(
      () => fromJsonValue(form),
      (e) => e instanceof JsonFormError && message.test(e.message),
    );
  }
});

test("nesting is bounded both ways", () => {
  let deep: unknown = 0;
  for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = [deep];
  assert.throws(() => fromJsonValue(deep), /nested deeper than/);
  let out = toJsonValue(deep);
  let depth = 0;
  while (Array.isArray(out)) {
    out = out[0];
    depth++;
  }
  assert.equal(depth, MAX_JSON_DEPTH);
  assert.deepEqual(out, { $truncated: true });
});
