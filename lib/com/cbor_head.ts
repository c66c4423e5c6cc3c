/**
 * A small CBOR writer for the heads of compact frames (see `defineCompactFrame`): arrays of
 * integers, booleans, `null`, `undefined`, short strings and arrays of those. cbor-x spends a few
 * hundred nanoseconds setting up each call, more than such a head takes to write by hand, and
 * every application message has one. The bytes are standard CBOR (RFC 8949), read back by any
 * decoder; a value this writer does not handle makes it give up, and the caller falls back to
 * cbor-x.
 *
 * The writers write into the caller's buffer (a link's send buffer, see `FrameWriter`); the
 * reader reads a received frame body.
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
class NotSimple extends Error {}
const NOT_SIMPLE = new NotSimple();

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

/** Arrays nest at most this deep in a head (frames hold lists of ids, not trees). */
const MAX_DEPTH = 4;

/** Whether `v` goes as a CBOR integer: cbor-x writes larger ones as doubles, as does this. */
function isSmallInt(v: number): boolean {
  // 64-bit CBOR integers would decode as bigints. -0 goes as a double so that it stays -0.
  return Number.isInteger(v) && v < 0x100000000 && v >= -0x100000000 && (v !== 0 || 1 / v > 0);
}

/** Writes one value; `false` when it is not one of the simple kinds handled here. */
function writeItem(v: unknown, depth = 0): boolean {
  if (pos > end) throw NO_ROOM;
  switch (typeof v) {
    case "number":
      if (isSmallInt(v)) {
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
      if (Array.isArray(v) && depth < MAX_DEPTH) {
        writeHead(0x80, v.length);
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
 * Writes a head with `write(frame)`, a hand-specialised writer made of the `put*` functions
 * below, into `buf` at `at` (same contract as {@linkcode writeHeadInto}). Returns the offset
 * after the head, or `-1` when the writer gave up (returned `false`, or a `put*` met a value it
 * does not take) or the head did not fit.
 *
 * @example
 * ```ts
 * import { HEAD_SLACK, putArray, putItem, putNumber, writeHeadWith } from "./cbor_head.ts";
 * import { decode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(64 + HEAD_SLACK);
 * const end = writeHeadWith(buf, new DataView(buf.buffer), 0, 64, (f: { a: number }) => {
 *   putArray(2);
 *   putNumber(f.a);
 *   putItem(null);
 *   return true;
 * }, { a: 7 });
 * assert.deepEqual(decode(buf.subarray(0, end)), [7, null]);
 * ```
 */
export function writeHeadWith<F>(
  buf: Uint8Array,
  view_: DataView,
  at: number,
  limit: number,
  write: (frame: F) => boolean,
  frame: F,
): number {
  arena = buf;
  view = view_;
  pos = at;
  end = limit;
  try {
    return write(frame) ? pos : -1;
  } catch (e) {
    if (e === NO_ROOM || e === NOT_SIMPLE) return -1;
    throw e;
  } finally {
    arena = NONE; // do not keep the caller's buffer alive
    view = NO_VIEW;
  }
}

/** Within {@linkcode writeHeadWith}: an array of `n` items follows. */
export function putArray(n: number): void {
  if (pos > end) throw NO_ROOM;
  writeHead(0x80, n);
}

/** Within {@linkcode writeHeadWith}: a number (anything else makes the head give up). */
export function putNumber(v: number): void {
  if (pos > end) throw NO_ROOM;
  if (v >>> 0 === v && (v !== 0 || 1 / v > 0)) writeHead(0x00, v);
  else if (typeof v !== "number" || !writeItem(v)) throw NOT_SIMPLE;
}

/** Within {@linkcode writeHeadWith}: a number, or `undefined`. */
export function putOptional(v: number | undefined): void {
  if (v === undefined) {
    if (pos > end) throw NO_ROOM;
    arena[pos++] = 0xf7;
  } else putNumber(v);
}

/** Within {@linkcode writeHeadWith}: any simple value (anything else makes the head give up). */
export function putItem(v: unknown): void {
  if (!writeItem(v)) throw NOT_SIMPLE;
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
  return writeHeadWith(buf, view_, at, limit, (list) => writeAll(list, extra), items);
}

// ---- reading ------------------------------------------------------------------------------

// The bytes being read, the read position and the end of the readable range (set by each call,
// cleared after it).
let src: Uint8Array = NONE;
let at = 0;
let lim = 0;
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function readLength(info: number): number {
  if (info < 24) return info;
  if (info === 24) {
    if (at + 1 > lim) throw NOT_SIMPLE;
    return src[at++];
  }
  if (info === 25) {
    if (at + 2 > lim) throw NOT_SIMPLE;
    const v = (src[at] << 8) | src[at + 1];
    at += 2;
    return v;
  }
  if (info === 26) {
    if (at + 4 > lim) throw NOT_SIMPLE;
    const v = ((src[at] << 24) | (src[at + 1] << 16) | (src[at + 2] << 8) | src[at + 3]) >>> 0;
    at += 4;
    return v;
  }
  throw NOT_SIMPLE; // 64-bit lengths and integers (cbor-x makes bigints of those)
}

function readFloat64(): number {
  if (at + 8 > lim) throw NOT_SIMPLE;
  for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? 7 - i : i] = src[at + i];
  at += 8;
  return f64[0];
}

function readItem(depth = 0): unknown {
  if (at >= lim) throw NOT_SIMPLE;
  const b = src[at++];
  const major = b >> 5;
  const info = b & 31;
  switch (major) {
    case 0:
      return readLength(info);
    case 1:
      return -1 - readLength(info);
    case 3: {
      const n = readLength(info);
      if (at + n > lim || n > 64) throw NOT_SIMPLE;
      let s = "";
      for (let i = 0; i < n; i++) {
        const c = src[at + i];
        if (c >= 0x80) throw NOT_SIMPLE;
        s += String.fromCharCode(c);
      }
      at += n;
      return s;
    }
    case 4: {
      const n = readLength(info);
      if (n > lim - at || depth >= MAX_DEPTH) throw NOT_SIMPLE;
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readItem(depth + 1);
      return out;
    }
    case 7:
      switch (b) {
        case 0xf4:
          return false;
        case 0xf5:
          return true;
        case 0xf6:
          return null;
        case 0xf7:
          return undefined;
        case 0xfb:
          return readFloat64();
      }
      throw NOT_SIMPLE;
    default:
      throw NOT_SIMPLE;
  }
}

/**
 * Reads the head of a compact frame written by this module from `body[start..end)`: the array
 * header, which must declare `declared` items, and its first `count` items, if they are all
 * simple values (as {@linkcode writeItem} writes them). Returns the items in an array with
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
  src = body;
  at = start;
  lim = end;
  try {
    if (at >= lim) return null;
    const b = body[at++];
    if (b >> 5 !== 4 || readLength(b & 31) !== declared) return null;
    const out = new Array(count + room);
    for (let i = 0; i < count; i++) out[i] = readItem();
    headEnd.at = at;
    return out;
  } catch (e) {
    if (e === NOT_SIMPLE) return null;
    throw e;
  } finally {
    src = NONE;
  }
}

/** Where the head read by the last successful {@linkcode readHead} ended. */
export const headEnd: { at: number } = { at: 0 };

/**
 * Runs `read`, a hand-written reader of one frame layout made of the `take*` functions below,
 * over `body[start..end)`. Returns what it returns, or `null` when the bytes are not what it
 * expects (the caller then takes the generic path).
 *
 * @example
 * ```ts
 * import { HEAD_SLACK, readWith, takeArray, takeNumber, takeRest, writeHeadInto } from "./cbor_head.ts";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(64 + HEAD_SLACK);
 * const end = writeHeadInto(buf, new DataView(buf.buffer), 0, 64, [7, 2 ** 40], 1);
 * buf[end] = 0xf5; // the embedded item: `true`
 * const read = () => {
 *   takeArray(3);
 *   return { t: takeNumber(), k: takeNumber(), rest: takeRest() };
 * };
 * const got = readWith(buf, 0, end + 1, read);
 * assert.equal(got?.k, 2 ** 40);
 * assert.deepEqual(got?.rest, new Uint8Array([0xf5]));
 * ```
 */
export function readWith<T>(body: Uint8Array, start: number, end: number, read: () => T): T | null {
  src = body;
  at = start;
  lim = end;
  try {
    return read();
  } catch (e) {
    if (e === NOT_SIMPLE) return null;
    throw e;
  } finally {
    src = NONE;
  }
}

/** Within {@linkcode readWith}: an array header declaring exactly `n` items. */
export function takeArray(n: number): void {
  if (at >= lim) throw NOT_SIMPLE;
  const b = src[at++];
  if (b >> 5 !== 4 || readLength(b & 31) !== n) throw NOT_SIMPLE;
}

/** Within {@linkcode readWith}: a number (an integer, or a double as large ones are written). */
export function takeNumber(): number {
  if (at >= lim) throw NOT_SIMPLE;
  const b = src[at++];
  switch (b >> 5) {
    case 0:
      return readLength(b & 31);
    case 1:
      return -1 - readLength(b & 31);
  }
  if (b === 0xfb) return readFloat64();
  throw NOT_SIMPLE;
}

/** Within {@linkcode readWith}: a number or `undefined`. */
export function takeOptional(): number | undefined {
  if (at < lim && src[at] === 0xf7) {
    at++;
    return undefined;
  }
  return takeNumber();
}

/** Within {@linkcode readWith}: any simple value, as {@linkcode readHead} reads items. */
export function takeItem(): unknown {
  return readItem();
}

/** Within {@linkcode readWith}: the rest of the range (at least one byte), as a view. */
export function takeRest(): Uint8Array {
  if (at >= lim) throw NOT_SIMPLE;
  const rest = src.subarray(at, lim);
  at = lim;
  return rest;
}
