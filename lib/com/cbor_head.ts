/**
 * A small CBOR writer for the heads of compact frames (see `defineCompactFrame`): arrays of
 * integers, booleans, `null`, `undefined`, short strings and arrays of those. cbor-x spends a few
 * hundred nanoseconds setting up each call, more than such a head takes to write by hand, and
 * every application message has one. The bytes are standard CBOR (RFC 8949), read back by any
 * decoder; a value this writer does not handle makes it give up, and the caller falls back to
 * cbor-x.
 *
 * {@linkcode writeHeadInto} writes into the caller's buffer (the TCP transport's send buffer);
 * {@linkcode encodeHead} into a shared arena, as cbor-x does: each result is a view of its own
 * region, never written over (a full arena is replaced, not reused).
 *
 * @module
 */

const ARENA_SIZE = 64 * 1024;
/** Longest head (and longest copied tail) written here; longer ones fall back to cbor-x. */
export const MAX_HEAD = 4 * 1024;

let shared = new Uint8Array(ARENA_SIZE);
let sharedView = new DataView(shared.buffer);
let sharedPos = 0;

// The buffer being written and the write position (set by each call).
let arena: Uint8Array = shared;
let view: DataView = sharedView;
let pos = 0;
let end = 0;

class NoRoom extends Error {}
const NO_ROOM = new NoRoom();

/**
 * Room is checked once per item, against `end`: a buffer must have this many bytes beyond the
 * limit it is given, so that any one scalar (at most 9 bytes) or length prefix fits after a
 * passed check.
 */
export const HEAD_SLACK = 16;

function writeHead(major: number, n: number): void {
  if (n < 24) {
    arena[pos++] = major | n;
  } else if (n < 0x100) {
    arena[pos++] = major | 24;
    arena[pos++] = n;
  } else if (n < 0x10000) {
    arena[pos++] = major | 25;
    arena[pos++] = n >>> 8;
    arena[pos++] = n & 0xff;
  } else {
    arena[pos++] = major | 26;
    view.setUint32(pos, n);
    pos += 4;
  }
}

/** Writes one value; `false` when it is not one of the simple kinds handled here. */
function writeItem(v: unknown): boolean {
  if (pos > end) throw NO_ROOM;
  switch (typeof v) {
    case "number":
      // Integers beyond 32 bits go as doubles, as cbor-x writes them: 64-bit CBOR integers
      // would decode as bigints. So does -0, which an integer would turn into 0.
      if (Number.isInteger(v) && v < 0x100000000 && v >= -0x100000000 && (v !== 0 || 1 / v > 0)) {
        if (v >= 0) writeHead(0x00, v);
        else writeHead(0x20, -1 - v);
      } else {
        arena[pos++] = 0xfb;
        view.setFloat64(pos, v);
        pos += 8;
      }
      return true;
    case "boolean":
      arena[pos++] = v ? 0xf5 : 0xf4;
      return true;
    case "undefined":
      arena[pos++] = 0xf7;
      return true;
    case "string": {
      const n = v.length;
      if (pos + n > end) throw NO_ROOM;
      // ASCII, the common case (host names), byte for byte; anything else is left to cbor-x.
      writeHead(0x60, n);
      for (let i = 0; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) return false;
        arena[pos + i] = c;
      }
      pos += n;
      return true;
    }
    case "object":
      if (v === null) {
        arena[pos++] = 0xf6;
        return true;
      }
      if (Array.isArray(v)) {
        writeHead(0x80, v.length);
        for (let i = 0; i < v.length; i++) if (!writeItem(v[i])) return false;
        return true;
      }
      return false;
    default:
      return false;
  }
}

/** Writes the head at `pos` (in `arena`, up to `end`); `false` when not handled here. */
function writeAll(items: readonly unknown[], extra: number): boolean {
  const start = pos;
  try {
    if (items.length + extra > MAX_HEAD) throw NO_ROOM;
    writeHead(0x80, items.length + extra);
    for (let i = 0; i < items.length; i++) {
      if (!writeItem(items[i])) {
        pos = start;
        return false;
      }
    }
    return true;
  } catch (e) {
    pos = start;
    if (e === NO_ROOM) return false;
    throw e;
  }
}

/**
 * Writes `items` as a CBOR array declaring `items.length + extra` elements into `buf` at `at`,
 * using at most `limit - at` bytes (`buf` must extend {@linkcode HEAD_SLACK} bytes beyond
 * `limit`); `view` is a DataView of `buf`'s buffer. Returns the offset after the head, or `-1`
 * when an item is not a simple value or the head does not fit.
 *
 * @example
 * ```ts
 * import { HEAD_SLACK, writeHeadInto } from "./cbor_head.ts";
 * import { decode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(64 + HEAD_SLACK);
 * const end = writeHeadInto(buf, new DataView(buf.buffer), 10, 64, [1, "two", [3]], 0);
 * assert.deepEqual(decode(buf.subarray(10, end)), [1, "two", [3]]);
 * ```
 */
export function writeHeadInto(
  buf: Uint8Array,
  view_: DataView,
  at: number,
  limit: number,
  items: readonly unknown[],
  extra: number,
): number {
  arena = buf;
  view = view_;
  pos = at;
  end = limit;
  return writeAll(items, extra) ? pos : -1;
}

/**
 * Encodes `items` as a CBOR array that declares `items.length + extra` elements (the `extra`
 * ones follow as separately encoded CBOR), followed by a copy of `tail` when given (the encoded
 * extra elements: the result is then the whole body, one contiguous view). Returns `null` when
 * an item is not a simple value or the head is too long for this writer.
 *
 * @example
 * ```ts
 * import { encodeHead } from "./cbor_head.ts";
 * import { decode, encode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const items = [13, -1, 2 ** 52 + 1, 0.5, true, null, [7, "127.0.0.1", 80]];
 * assert.deepEqual(decode(encodeHead(items, 0)!), items);
 * assert.deepEqual(decode(encodeHead([1], 1, encode("tail"))!), [1, "tail"]);
 * assert.equal(encodeHead([{ an: "object" }], 0), null);
 * ```
 */
export function encodeHead(
  items: readonly unknown[],
  extra: number,
  tail?: Uint8Array,
): Uint8Array | null {
  const tailSize = tail ? tail.length : 0;
  if (tailSize > MAX_HEAD) return null;
  if (shared.length - sharedPos < 2 * MAX_HEAD + HEAD_SLACK) {
    shared = new Uint8Array(ARENA_SIZE);
    sharedView = new DataView(shared.buffer);
    sharedPos = 0;
  }
  const start = sharedPos;
  arena = shared;
  view = sharedView;
  pos = start;
  end = start + MAX_HEAD;
  if (!writeAll(items, extra)) return null;
  if (tail) {
    shared.set(tail, pos);
    pos += tailSize;
  }
  sharedPos = pos;
  return shared.subarray(start, pos);
}
