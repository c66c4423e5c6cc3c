/**
 * The JSON form of message values. Messages travel as CBOR, which can carry values JSON cannot:
 * byte strings, bigints, maps with any keys, sets, dates, `undefined`, non-finite numbers,
 * typed arrays and CBOR tags. The gateway writes them as one-key objects whose key starts with
 * `$`, and reads the same forms in request bodies, so a value survives HTTP → CBOR → HTTP:
 *
 * | value | JSON form |
 * |---|---|
 * | `Uint8Array` (CBOR byte string) | `{ "$bytes": "<base64>" }` |
 * | `bigint` | `{ "$bigint": "-123" }` (decimal) |
 * | `Map` | `{ "$map": [[key, value], ...] }` |
 * | `Set` | `{ "$set": [value, ...] }` |
 * | `Date` | `{ "$date": "1970-01-01T00:00:00.000Z" }` (`null` for an invalid date) |
 * | `undefined` | `{ "$undefined": true }` |
 * | `NaN`, `Infinity`, `-Infinity` | `{ "$number": "NaN" }`, `"Infinity"`, `"-Infinity"` |
 * | other typed arrays | `{ "$typed": ["Float32Array", [1.5, ...]] }` |
 * | an unknown CBOR tag | `{ "$tag": [tagNumber, value] }` |
 * | a plain object with exactly one key starting with `$` | `{ "$object": { ... } }` |
 * | anything nested deeper than {@linkcode MAX_JSON_DEPTH} (out only) | `{ "$truncated": true }` |
 *
 * The last row keeps the forms unambiguous: any object with a single `$` key is one of the
 * forms above, and an object that merely looks like one is wrapped.
 *
 * @module
 */

import { Tag } from "../lib/vendor/cbor_x/index.js";

/** Objects nested deeper than this are refused on the way in and cut on the way out. */
export const MAX_JSON_DEPTH = 512;

/** A value in the gateway's JSON form: plain JSON. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * A `$` form in a request body is unknown or malformed.
 *
 * @example
 * ```ts
 * import { fromJsonValue, JsonFormError } from "./json_value.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => fromJsonValue({ $nope: 1 }), JsonFormError);
 * ```
 */
export class JsonFormError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JsonFormError";
  }
}

const TYPED_ARRAYS: Record<string, { from(values: ArrayLike<number | bigint>): ArrayBufferView }> =
  {
    Int8Array,
    Uint16Array,
    Int16Array,
    Uint32Array,
    Int32Array,
    Float32Array,
    Float64Array,
    BigInt64Array: {
      from: (v) => BigInt64Array.from(v as ArrayLike<bigint>),
    },
    BigUint64Array: {
      from: (v) => BigUint64Array.from(v as ArrayLike<bigint>),
    },
  };

function bytesToBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Converts a decoded message value (anything CBOR can carry) into its JSON form.
 *
 * @param value A value as delivered by the node.
 * @returns A value `JSON.stringify` represents faithfully.
 *
 * @example Bytes, bigints and maps
 * ```ts
 * import { toJsonValue } from "./json_value.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   toJsonValue({ b: new Uint8Array([1, 2]), n: 2n ** 64n, m: new Map([[1, "one"]]) }),
 *   { b: { $bytes: "AQI=" }, n: { $bigint: "18446744073709551616" }, m: { $map: [[1, "one"]] } },
 * );
 * ```
 */
export function toJsonValue(value: unknown): JsonValue {
  return out(value, 0);
}

function out(v: unknown, depth: number): JsonValue {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return Number.isFinite(v) ? v : { $number: String(v) };
    case "bigint":
      return { $bigint: v.toString() };
    case "undefined":
      return { $undefined: true };
    case "object":
      break;
    default:
      // Functions and symbols cannot come out of CBOR; say what they are rather than fail.
      return { $undefined: true };
  }
  if (v === null) return null;
  if (depth >= MAX_JSON_DEPTH) return { $truncated: true };
  const d = depth + 1;
  if (Array.isArray(v)) {
    const a: JsonValue[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) a[i] = out(v[i], d);
    return a;
  }
  if (v instanceof Uint8Array || v instanceof Uint8ClampedArray) {
    return { $bytes: bytesToBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  }
  if (v instanceof ArrayBuffer) return { $bytes: bytesToBase64(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const arr = v as unknown as ArrayLike<number | bigint>;
    return {
      $typed: [v.constructor.name, Array.from(arr, (x) => out(x, d))],
    };
  }
  if (v instanceof Map) {
    return { $map: Array.from(v, ([k, x]) => [out(k, d), out(x, d)]) };
  }
  if (v instanceof Set) return { $set: Array.from(v, (x) => out(x, d)) };
  if (v instanceof Date) {
    return { $date: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  }
  if (v instanceof Tag) return { $tag: [v.tag, out(v.value, d)] };
  const rec = v as Record<string, unknown>;
  const o: Record<string, JsonValue> = {};
  const keys = Object.keys(rec);
  for (const k of keys) o[k] = out(rec[k], d);
  return keys.length === 1 && keys[0].startsWith("$") ? { $object: o } : o;
}

/**
 * Converts a value parsed from a JSON request body into the value to send, reading the `$`
 * forms described in this module.
 *
 * @param value The result of `JSON.parse`.
 * @returns The value to encode as CBOR.
 * @throws {JsonFormError} On an unknown or malformed `$` form, or nesting deeper than
 * {@linkcode MAX_JSON_DEPTH}.
 *
 * @example Sending bytes
 * ```ts
 * import { fromJsonValue } from "./json_value.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(fromJsonValue({ $bytes: "AQI=" }), new Uint8Array([1, 2]));
 * assert.deepEqual(fromJsonValue({ $object: { $bytes: 1 } }), { $bytes: 1 });
 * ```
 */
export function fromJsonValue(value: unknown): unknown {
  return read(value, 0, "msg");
}

function read(v: unknown, depth: number, path: string): unknown {
  if (v === null || typeof v !== "object") return v;
  if (depth >= MAX_JSON_DEPTH) {
    throw new JsonFormError(`${path} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const d = depth + 1;
  if (Array.isArray(v)) return v.map((x, i) => read(x, d, `${path}[${i}]`));
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length === 1 && keys[0].startsWith("$")) return readForm(keys[0], rec[keys[0]], d, path);
  const o: Record<string, unknown> = {};
  for (const k of keys) o[k] = read(rec[k], d, `${path}.${k}`);
  return o;
}

function readForm(key: string, x: unknown, d: number, path: string): unknown {
  const bad = (what: string): never => {
    throw new JsonFormError(`${path}: {"${key}": ...} needs ${what}, got ${JSON.stringify(x)}`);
  };
  switch (key) {
    case "$bytes":
      if (typeof x !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(x)) bad("a base64 string");
      try {
        return base64ToBytes(x as string);
      } catch {
        return bad("a base64 string");
      }
    case "$bigint":
      if (typeof x !== "string" || !/^-?\d+$/.test(x)) bad("a decimal integer string");
      return BigInt(x as string);
    case "$map":
      if (!Array.isArray(x) || !x.every((e) => Array.isArray(e) && e.length === 2)) {
        bad("an array of [key, value] pairs");
      }
      return new Map(
        (x as unknown[][]).map((
          [k, val],
          i,
        ) => [read(k, d, `${path}.$map[${i}][0]`), read(val, d, `${path}.$map[${i}][1]`)]),
      );
    case "$set":
      if (!Array.isArray(x)) bad("an array");
      return new Set((x as unknown[]).map((e, i) => read(e, d, `${path}.$set[${i}]`)));
    case "$date": {
      const t = typeof x === "string" || typeof x === "number" ? new Date(x) : null;
      if (!t || Number.isNaN(t.getTime())) bad("an ISO date string or a time in ms");
      return t;
    }
    case "$undefined":
      return undefined;
    case "$number":
      if (x !== "NaN" && x !== "Infinity" && x !== "-Infinity") {
        bad(`"NaN", "Infinity" or "-Infinity"`);
      }
      return Number(x);
    case "$typed": {
      const [name, values] = Array.isArray(x) ? x : [];
      const ctor = typeof name === "string" ? TYPED_ARRAYS[name] : undefined;
      if (!ctor || !Array.isArray(values)) bad("[typedArrayName, [numbers]]");
      const big = name === "BigInt64Array" || name === "BigUint64Array";
      try {
        return ctor!.from(
          (values as unknown[]).map((e, i) => {
            const n = read(e, d, `${path}.$typed[1][${i}]`);
            if (big ? typeof n !== "bigint" : typeof n !== "number") throw new TypeError();
            return n as number | bigint;
          }),
        );
      } catch (e) {
        if (e instanceof JsonFormError) throw e;
        return bad(big ? "[name, [bigint forms]]" : "[name, [numbers]]");
      }
    }
    case "$tag": {
      const [tag, val] = Array.isArray(x) ? x : [];
      if (!Number.isSafeInteger(tag) || tag < 0 || (x as unknown[]).length !== 2) {
        bad("[tagNumber, value]");
      }
      return new Tag(read(val, d, `${path}.$tag[1]`), tag);
    }
    case "$object":
      if (x === null || typeof x !== "object" || Array.isArray(x)) bad("an object");
      return Object.fromEntries(
        Object.entries(x as Record<string, unknown>).map((
          [k, val],
        ) => [k, read(val, d, `${path}.${k}`)]),
      );
    default:
      throw new JsonFormError(
        `${path}: unknown form "${key}"; wrap a literal object as {"$object": {...}}`,
      );
  }
}
