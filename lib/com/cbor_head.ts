/**
 * A small CBOR writer for the heads of compact frames (see `defineCompactFrame`): arrays of
 * integers, booleans, `null`, `undefined`, short strings and arrays of those. cbor-x spends a few
 * hundred nanoseconds setting up each call, more than such a head takes to write by hand, and
 * every application message has one. The bytes are standard CBOR (RFC 8949), read back by any
 * decoder; a value this writer does not handle makes it give up, and the caller falls back to
 * cbor-x.
 *
 * The writers write into the caller's buffer (a link's send buffer, see `FrameWriter`); the
 * readers read a received frame body. The generic pair (`writeHeadInto`, `readHead`) handles any
 * compact layout; the positional helpers (`numberAt`, `readNumberAt`, ...) are the building
 * blocks of the hand-specialised codecs of the hottest frames (data frames and runs).
 *
 * @module
 */

/** Longest head written here; longer ones fall back to cbor-x. */
export const MAX_HEAD = 4 * 1024;

const NONE = new Uint8Array(0);
const NO_VIEW = new DataView(NONE.buffer);

// The buffer being written and the write position (set by each call, cleared after it).
let arena: Uint8Array = NONE;
let view: DataView = NO_VIEW;
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

/** Arrays nest at most this deep in a head (frames hold lists of ids, not trees). */
const MAX_DEPTH = 4;

/** Writes one value; `false` when it is not one of the simple kinds handled here. */
function writeItem(v: unknown, depth = 0): boolean {
  if (pos > end) throw NO_ROOM;
  switch (typeof v) {
    case "number":
      pos = numberAt(arena, view, pos, v);
      return true;
    case "boolean":
      arena[pos++] = v ? 0xf5 : 0xf4;
      return true;
    case "undefined":
      arena[pos++] = 0xf7;
      return true;
    case "string": {
      if (pos + v.length > end) throw NO_ROOM;
      // ASCII, the common case (host names), byte for byte; anything else is left to cbor-x.
      const next = asciiAt(arena, pos, v);
      if (next < 0) return false;
      pos = next;
      return true;
    }
    case "object":
      if (v === null) {
        arena[pos++] = 0xf6;
        return true;
      }
      if (Array.isArray(v) && depth < MAX_DEPTH) {
        pos = headAt(arena, view, pos, 0x80, v.length);
        for (let i = 0; i < v.length; i++) if (!writeItem(v[i], depth + 1)) return false;
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
    pos = headAt(arena, view, pos, 0x80, items.length + extra);
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
  try {
    return writeAll(items, extra) ? pos : -1;
  } finally {
    arena = NONE; // do not keep the caller's buffer alive
    view = NO_VIEW;
  }
}

// ---- reading ------------------------------------------------------------------------------

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Any simple value at `src[p]` (as `writeItem` writes them); sets the cursor after it. */
function itemAt(src: Uint8Array, p: number, end: number, depth: number): unknown {
  if (p >= end) throw NOT_TAKEN;
  const b = src[p];
  if (b < 0x40 || b === 0xfb) return readNumberAt(src, p, end);
  switch (b >> 5) {
    case 3:
      return readAsciiAt(src, p, end);
    case 4: {
      const n = argumentAt(src, p, end, b & 31);
      if (n > end - cursor.at || depth >= MAX_DEPTH) throw NOT_TAKEN;
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = itemAt(src, cursor.at, end, depth + 1);
      return out;
    }
  }
  cursor.at = p + 1;
  switch (b) {
    case 0xf4:
      return false;
    case 0xf5:
      return true;
    case 0xf6:
      return null;
    case 0xf7:
      return undefined;
  }
  throw NOT_TAKEN;
}

/**
 * Reads the head of a compact frame written by this module from `body[start..end)`: the array
 * header, which must declare `declared` items, and its first `count` items, if they are all
 * simple values (as {@linkcode writeHeadInto} writes them). Returns the items in an array with
 * `room` more (empty) slots for the caller to fill, and the offset in `body` where the rest (the
 * embedded value) starts in `headEnd`; `null` when the head is anything else (the caller then
 * decodes the body with cbor-x).
 *
 * @example
 * ```ts
 * import { HEAD_SLACK, headEnd, readHead, writeHeadInto } from "./cbor_head.ts";
 * import { encode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(128 + HEAD_SLACK);
 * const items = [13, 2 ** 52, null, [1, "h", 2]];
 * const end = writeHeadInto(buf, new DataView(buf.buffer), 0, 100, items, 1);
 * const tail = encode({ the: "payload" });
 * buf.set(tail, end);
 * const body = buf.subarray(0, end + tail.length);
 * assert.deepEqual(readHead(body, 5, 4), items);
 * assert.equal(body.length - headEnd.at, tail.length);
 * ```
 */
export function readHead(
  body: Uint8Array,
  declared: number,
  count: number,
  start = 0,
  end = body.length,
  room = 0,
): unknown[] | null {
  try {
    if (start >= end) return null;
    const b = body[start];
    if (b >> 5 !== 4 || argumentAt(body, start, end, b & 31) !== declared) return null;
    const out = new Array(count + room);
    for (let i = 0; i < count; i++) out[i] = itemAt(body, cursor.at, end, 0);
    headEnd.at = cursor.at;
    return out;
  } catch (e) {
    if (e === NOT_TAKEN) return null;
    throw e;
  }
}

/** Where the head read by the last successful {@linkcode readHead} ended. */
export const headEnd: { at: number } = { at: 0 };

// ---- hand-specialised codecs ----------------------------------------------------------------
// Building blocks for the codecs of the hottest frame types (see `CompactCodec`). They keep the
// position in a local of the caller, which is markedly faster than the module state above.

/**
 * Writes the CBOR head of major type `major` (`0x00`, `0x20`, `0x60`, `0x80`...) with argument
 * `n` (an integer in [0, 2^32)) at `buf[p]`; returns the position after it.
 *
 * @example
 * ```ts
 * import { headAt } from "./cbor_head.ts";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(8);
 * assert.equal(headAt(buf, new DataView(buf.buffer), 0, 0x80, 300), 3);
 * assert.deepEqual([...buf.subarray(0, 3)], [0x99, 1, 44]);
 * ```
 */
export function headAt(
  buf: Uint8Array,
  view: DataView,
  p: number,
  major: number,
  n: number,
): number {
  if (n < 24) {
    buf[p] = major | n;
    return p + 1;
  }
  if (n < 0x100) {
    buf[p] = major | 24;
    buf[p + 1] = n;
    return p + 2;
  }
  if (n < 0x10000) {
    buf[p] = major | 25;
    buf[p + 1] = n >>> 8;
    buf[p + 2] = n & 0xff;
    return p + 3;
  }
  buf[p] = major | 26;
  view.setUint32(p + 1, n);
  return p + 5;
}

/**
 * Writes the number `v` at `buf[p]` as the generic writer does (an integer when it fits in 32
 * bits, otherwise a double); returns the position after it (at most 9 bytes on).
 *
 * @example
 * ```ts
 * import { numberAt } from "./cbor_head.ts";
 * import { decode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(9);
 * const end = numberAt(buf, new DataView(buf.buffer), 0, 2 ** 40 + 1);
 * assert.equal(decode(buf.subarray(0, end)), 2 ** 40 + 1);
 * ```
 */
export function numberAt(buf: Uint8Array, view: DataView, p: number, v: number): number {
  // The common case, small enough to be inlined: an integer below 24, in the head byte.
  if (v >>> 0 === v && v < 24 && (v !== 0 || 1 / v > 0)) {
    buf[p] = v;
    return p + 1;
  }
  return longerNumberAt(buf, view, p, v);
}

function longerNumberAt(buf: Uint8Array, view: DataView, p: number, v: number): number {
  if (v >>> 0 === v && (v !== 0 || 1 / v > 0)) return headAt(buf, view, p, 0x00, v);
  if (v < 0 && v >= -0x100000000 && Number.isInteger(v)) return headAt(buf, view, p, 0x20, -1 - v);
  buf[p] = 0xfb;
  view.setFloat64(p + 1, v);
  return p + 9;
}

/**
 * Writes `s` at `buf[p]` when it is ASCII and at most 255 characters long (returns the position
 * after it), or returns `-1` (anything else is left to the generic writer).
 *
 * @example
 * ```ts
 * import { asciiAt } from "./cbor_head.ts";
 * import { decode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(300);
 * assert.equal(decode(buf.subarray(0, asciiAt(buf, 0, "host"))), "host");
 * assert.equal(asciiAt(buf, 0, "hôte"), -1);
 * ```
 */
export function asciiAt(buf: Uint8Array, p: number, s: string): number {
  const n = s.length;
  if (n > 255) return -1;
  if (n < 24) buf[p++] = 0x60 | n;
  else {
    buf[p++] = 0x78;
    buf[p++] = n;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[p + i] = c;
  }
  return p + n;
}

/** Where the last `read*At` call ended. */
export const cursor: { at: number } = { at: 0 };

/**
 * Thrown by the `read*At` functions at bytes they do not take (truncated input, other kinds of
 * items); {@linkcode readWith} turns it into `null`.
 */
class NotTaken extends Error {}
const NOT_TAKEN = new NotTaken();

/**
 * Runs `read`, a hand-written reader of one frame layout, over `body[start..end)`. Returns what
 * it returns, or `null` when it met bytes it does not take (the caller then takes the generic
 * path).
 *
 * @example
 * ```ts
 * import { cursor, readNumberAt, readWith } from "./cbor_head.ts";
 * import assert from "node:assert/strict";
 *
 * const read = (b: Uint8Array, at: number, end: number) => {
 *   const n = readNumberAt(b, at, end);
 *   return { n, rest: end - cursor.at };
 * };
 * assert.deepEqual(readWith(new Uint8Array([0x18, 200, 0xf5]), 0, 3, read), { n: 200, rest: 1 });
 * assert.equal(readWith(new Uint8Array([0x18]), 0, 1, read), null);
 * ```
 */
export function readWith<T>(
  body: Uint8Array,
  start: number,
  end: number,
  read: (body: Uint8Array, start: number, end: number) => T,
): T | null {
  try {
    return read(body, start, end);
  } catch (e) {
    if (e === NOT_TAKEN) return null;
    throw e;
  }
}

/** Within {@linkcode readWith}: gives up on the bytes being read. */
export function notTaken(): never {
  throw NOT_TAKEN;
}

/** The unsigned argument of the head byte `b` at `src[p]` (info `b & 31`); sets the cursor. */
function argumentAt(src: Uint8Array, p: number, end: number, info: number): number {
  if (info < 24) {
    cursor.at = p + 1;
    return info;
  }
  if (info === 24) {
    if (p + 2 > end) throw NOT_TAKEN;
    cursor.at = p + 2;
    return src[p + 1];
  }
  if (info === 25) {
    if (p + 3 > end) throw NOT_TAKEN;
    cursor.at = p + 3;
    return (src[p + 1] << 8) | src[p + 2];
  }
  if (info === 26) {
    if (p + 5 > end) throw NOT_TAKEN;
    cursor.at = p + 5;
    return ((src[p + 1] << 24) | (src[p + 2] << 16) | (src[p + 3] << 8) | src[p + 4]) >>> 0;
  }
  throw NOT_TAKEN;
}

/**
 * Within {@linkcode readWith}: the number at `src[p]` (an integer of at most 32 bits, or a
 * double); the cursor is set after it.
 */
export function readNumberAt(src: Uint8Array, p: number, end: number): number {
  // The common case, small enough to be inlined: an integer below 24, in the head byte.
  if (p < end && src[p] < 24) {
    cursor.at = p + 1;
    return src[p];
  }
  return readLongerNumberAt(src, p, end);
}

function readLongerNumberAt(src: Uint8Array, p: number, end: number): number {
  if (p >= end) throw NOT_TAKEN;
  const b = src[p];
  if (b < 0x20) return argumentAt(src, p, end, b);
  if (b < 0x40) return -1 - argumentAt(src, p, end, b & 31);
  if (b !== 0xfb || p + 9 > end) throw NOT_TAKEN;
  for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? 7 - i : i] = src[p + 1 + i];
  cursor.at = p + 9;
  return f64[0];
}

/** Within {@linkcode readWith}: a number or `undefined` at `src[p]`; sets the cursor. */
export function readOptionalAt(src: Uint8Array, p: number, end: number): number | undefined {
  if (p < end && src[p] === 0xf7) {
    cursor.at = p + 1;
    return undefined;
  }
  return readNumberAt(src, p, end);
}

/** Within {@linkcode readWith}: a boolean at `src[p]`; sets the cursor. */
export function readBoolAt(src: Uint8Array, p: number, end: number): boolean {
  const b = p < end ? src[p] : 0;
  if (b !== 0xf4 && b !== 0xf5) throw NOT_TAKEN;
  cursor.at = p + 1;
  return b === 0xf5;
}

/**
 * Within {@linkcode readWith}: the header of a byte string at `src[p]`, whose bytes must lie
 * within `end`; returns its length, with the cursor after the bytes.
 */
export function readBytesAt(src: Uint8Array, p: number, end: number): number {
  if (p >= end) throw NOT_TAKEN;
  const b = src[p];
  if (b >> 5 !== 2) throw NOT_TAKEN;
  const n = argumentAt(src, p, end, b & 31);
  if (n > end - cursor.at) throw NOT_TAKEN;
  cursor.at += n;
  return n;
}

/** Within {@linkcode readWith}: an array header declaring exactly `n` items; sets the cursor. */
export function readArrayAt(src: Uint8Array, p: number, end: number, n: number): void {
  if (p >= end) throw NOT_TAKEN;
  const b = src[p];
  if (b >> 5 !== 4 || argumentAt(src, p, end, b & 31) !== n) throw NOT_TAKEN;
}

// The last string read, to hand out the same string for the same bytes (host names repeat).
const lastBytes = new Uint8Array(256);
let lastLength = -1;
let lastString = "";

/** Within {@linkcode readWith}: an ASCII string at `src[p]`; sets the cursor. */
export function readAsciiAt(src: Uint8Array, p: number, end: number): string {
  if (p >= end) throw NOT_TAKEN;
  const b = src[p];
  if (b >> 5 !== 3) throw NOT_TAKEN;
  const n = argumentAt(src, p, end, b & 31);
  const from = cursor.at;
  if (n > 255 || from + n > end) throw NOT_TAKEN;
  cursor.at = from + n;
  if (n === lastLength) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (src[from + i] !== lastBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastString;
  }
  let s = "";
  for (let i = 0; i < n; i++) {
    const c = src[from + i];
    if (c >= 0x80) throw NOT_TAKEN;
    s += String.fromCharCode(c);
  }
  lastBytes.set(src.subarray(from, from + n));
  lastLength = n;
  lastString = s;
  return s;
}
