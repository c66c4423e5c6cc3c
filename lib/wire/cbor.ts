/**
 * The CBOR bytes of the wire format: every byte literal the frame codec writes or reads lives in
 * this file. Frames use a strict subset of CBOR (RFC 8949): definite lengths, no tags, integers
 * as integers (up to 2^53 − 1), one float kind (64-bit), `null`, `undefined`, booleans, text and
 * byte strings, arrays. Any CBOR decoder reads them; the readers here refuse everything else
 * with a {@linkcode WireError} naming the problem, so that hostile bytes cost no more than their
 * length to reject.
 *
 * Writers take the position to write at and return the position after what they wrote; the
 * caller guarantees room (see `sizeBound` in the codec). Readers keep their position in a
 * {@linkcode CborReader} (one per decoder: no module state).
 *
 * @module
 */

/** Major type 0: unsigned integer. */
export const UINT = 0x00;
/** Major type 1: negative integer (−1 − argument). */
export const NEGINT = 0x20;
/** Major type 2: byte string. */
export const BYTES = 0x40;
/** Major type 3: UTF-8 text string. */
export const TEXT = 0x60;
/** Major type 4: array. */
export const ARRAY = 0x80;
/** An array head with a two-byte count: frames that links may extend in place use it. */
export const ARRAY16 = 0x99;
/** Simple value `false`. */
export const FALSE = 0xf4;
/** Simple value `true`. */
export const TRUE = 0xf5;
/** Simple value `null`: how an absent optional field travels. */
export const NULL = 0xf6;
/** Simple value `undefined` (read as absent too). */
export const UNDEFINED = 0xf7;
/** A 64-bit float follows. */
export const FLOAT64 = 0xfb;

/** Bytes a number takes at most (head byte and 8 bytes). */
export const MAX_NUMBER_BYTES = 9;

/** Bytes the head of a string or array of `n` items takes. */
export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/**
 * A frame (or one field of it) broke the wire format: it is dropped and counted by `reason`.
 *
 * @example
 * ```ts
 * import { WireError } from "./cbor.ts";
 * import assert from "node:assert/strict";
 *
 * const e = new WireError("range", 'Field "k" of Data is 7, outside [0, 5)');
 * assert.equal(e.reason, "range");
 * ```
 */
export class WireError extends Error {
  /** A short reason, the key under which the node counts dropped frames. */
  readonly reason: string;
  /** Creates the error. */
  constructor(reason: string, message: string) {
    super(message);
    this.name = "WireError";
    this.reason = reason;
  }
}

// ---- writing --------------------------------------------------------------------------------

/**
 * Writes the head of major type `major` with argument `n` (an integer in [0, 2^53)) at `p`.
 *
 * @example
 * ```ts
 * import { ARRAY, headAt } from "./cbor.ts";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(9);
 * assert.equal(headAt(buf, new DataView(buf.buffer), 0, ARRAY, 300), 3);
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
  if (n < 0x100000000) {
    buf[p] = major | 26;
    view.setUint32(p + 1, n);
    return p + 5;
  }
  buf[p] = major | 27;
  view.setUint32(p + 1, Math.floor(n / 0x100000000));
  view.setUint32(p + 5, n >>> 0);
  return p + 9;
}

/**
 * Writes the integer `v` (a safe integer of either sign) at `p`.
 *
 * @example
 * ```ts
 * import { intAt } from "./cbor.ts";
 * import { decode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(9);
 * const end = intAt(buf, new DataView(buf.buffer), 0, 2 ** 40 + 1);
 * assert.equal(end, 9);
 * assert.equal(decode(buf.subarray(0, end)), 2n ** 40n + 1n); // cbor-x reads 8-byte integers as bigints
 * ```
 */
export function intAt(buf: Uint8Array, view: DataView, p: number, v: number): number {
  if (v >= 0 && v < 24) {
    buf[p] = v;
    return p + 1;
  }
  return v >= 0 ? headAt(buf, view, p, UINT, v) : headAt(buf, view, p, NEGINT, -1 - v);
}

/** Writes the 64-bit float `v` at `p`. */
export function floatAt(buf: Uint8Array, view: DataView, p: number, v: number): number {
  buf[p] = FLOAT64;
  view.setFloat64(p + 1, v);
  return p + 9;
}

/** Bytes {@linkcode textAt} may write for `s`. */
export function textBound(s: string): number {
  return 9 + 3 * s.length;
}

const utf8 = new TextEncoder();

/**
 * Writes the text string `s` at `p` (ASCII byte for byte, anything else through UTF-8); room for
 * {@linkcode textBound} bytes is the caller's.
 *
 * @example
 * ```ts
 * import { textAt } from "./cbor.ts";
 * import { decode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const buf = new Uint8Array(64);
 * const view = new DataView(buf.buffer);
 * assert.equal(decode(buf.subarray(0, textAt(buf, view, 0, "hôte"))), "hôte");
 * ```
 */
export function textAt(buf: Uint8Array, view: DataView, p: number, s: string): number {
  const n = s.length;
  if (n < 24) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      buf[p + 1 + i] = c;
    }
    if (ascii) {
      buf[p] = TEXT | n;
      return p + 1 + n;
    }
  }
  // Written after a head wide enough for any length, then the head is fixed to the real one.
  const { written } = utf8.encodeInto(s, buf.subarray(p + 5));
  const h = headSize(written);
  if (h !== 5) buf.copyWithin(p + h, p + 5, p + 5 + written);
  headAt(buf, view, p, TEXT, written);
  return p + h + written;
}

/** Writes `bytes` as a byte string at `p`. */
export function bytesAt(buf: Uint8Array, view: DataView, p: number, bytes: Uint8Array): number {
  p = headAt(buf, view, p, BYTES, bytes.length);
  buf.set(bytes, p);
  return p + bytes.length;
}

// ---- reading --------------------------------------------------------------------------------

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the items of a frame body. Each method reads one item at `p` (below `end`), sets
 * {@linkcode CborReader.at} after it and returns its value, or throws a
 * {@linkcode WireError} (`"malformed"`) for anything else.
 *
 * @example
 * ```ts
 * import { CborReader } from "./cbor.ts";
 * import assert from "node:assert/strict";
 *
 * const r = new CborReader();
 * const b = new Uint8Array([0x18, 200, 0x63, 0x61, 0x62, 0x63]);
 * assert.equal(r.uint(b, 0, b.length), 200);
 * assert.equal(r.text(b, r.at, b.length, 8), "abc");
 * assert.throws(() => r.uint(b, 2, b.length), /Expected an unsigned integer at byte 2/);
 * ```
 */
export class CborReader {
  /** Where the last item read ends. */
  at = 0;
  /** The last text read, handed out again for the same bytes (host names repeat). */
  #lastBytes = new Uint8Array(64);
  #lastLength = -1;
  #lastText = "";

  /** A malformed-item error for the item at `p`. */
  malformed(what: string, p: number): WireError {
    return new WireError("malformed", `Expected ${what} at byte ${p}`);
  }

  /** The argument of the head at `p` (of any major type); sets `at` after the head. */
  argument(b: Uint8Array, p: number, end: number): number {
    const info = b[p] & 31;
    if (info < 24) {
      this.at = p + 1;
      return info;
    }
    if (info === 24 && p + 2 <= end) {
      this.at = p + 2;
      return b[p + 1];
    }
    if (info === 25 && p + 3 <= end) {
      this.at = p + 3;
      return (b[p + 1] << 8) | b[p + 2];
    }
    if (info === 26 && p + 5 <= end) {
      this.at = p + 5;
      return ((b[p + 1] << 24) | (b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4]) >>> 0;
    }
    if (info === 27 && p + 9 <= end) {
      const hi = ((b[p + 1] << 24) | (b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4]) >>> 0;
      if (hi < 0x200000) {
        this.at = p + 9;
        const lo = ((b[p + 5] << 24) | (b[p + 6] << 16) | (b[p + 7] << 8) | b[p + 8]) >>> 0;
        return hi * 0x100000000 + lo;
      }
    }
    throw this.malformed("a length or integer argument below 2^53", p);
  }

  /** An unsigned integer below 2^53. */
  uint(b: Uint8Array, p: number, end: number): number {
    if (p < end) {
      const c = b[p];
      if (c < 24) {
        this.at = p + 1;
        return c;
      }
      if (c < 0x20) return this.argument(b, p, end);
    }
    throw this.malformed("an unsigned integer", p);
  }

  /** An integer of either sign whose magnitude is below 2^53. */
  int(b: Uint8Array, p: number, end: number): number {
    if (p < end && (b[p] & 0xe0) === NEGINT) return -1 - this.argument(b, p, end);
    return this.uint(b, p, end);
  }

  /** A 64-bit float (or an integer, read as a number). */
  float(b: Uint8Array, p: number, end: number): number {
    if (p < end && b[p] === FLOAT64 && p + 9 <= end) {
      this.at = p + 9;
      return new DataView(b.buffer, b.byteOffset + p + 1, 8).getFloat64(0);
    }
    if (p < end && b[p] < 0x40) return this.int(b, p, end);
    throw this.malformed("a number", p);
  }

  /** A boolean. */
  bool(b: Uint8Array, p: number, end: number): boolean {
    const c = p < end ? b[p] : 0;
    if (c !== FALSE && c !== TRUE) throw this.malformed("a boolean", p);
    this.at = p + 1;
    return c === TRUE;
  }

  /** Whether the item at `p` is `null` or `undefined` (an absent field); sets `at` after it. */
  absent(b: Uint8Array, p: number, end: number): boolean {
    if (p < end && (b[p] === NULL || b[p] === UNDEFINED)) {
      this.at = p + 1;
      return true;
    }
    return false;
  }

  /** The head of an array; returns its item count. */
  array(b: Uint8Array, p: number, end: number): number {
    if (p >= end || (b[p] & 0xe0) !== ARRAY) throw this.malformed("an array", p);
    const n = this.argument(b, p, end);
    // Every item takes a byte at least: a count beyond the bytes left is a lie.
    if (n > end - this.at) throw this.malformed(`an array of at most ${end - this.at} items`, p);
    return n;
  }

  /** A byte string of at most `max` bytes, as a view of `b` (not a copy). */
  bytes(b: Uint8Array, p: number, end: number, max: number): Uint8Array {
    if (p >= end || (b[p] & 0xe0) !== BYTES) throw this.malformed("a byte string", p);
    const n = this.argument(b, p, end);
    const from = this.at;
    if (n > end - from || n > max) throw this.malformed(`a byte string of at most ${max} bytes`, p);
    this.at = from + n;
    return b.subarray(from, from + n);
  }

  /** A UTF-8 text string of at most `max` bytes. */
  text(b: Uint8Array, p: number, end: number, max: number): string {
    if (p >= end || (b[p] & 0xe0) !== TEXT) throw this.malformed("a text string", p);
    const n = this.argument(b, p, end);
    const from = this.at;
    if (n > end - from || n > max) throw this.malformed(`a text string of at most ${max} bytes`, p);
    this.at = from + n;
    if (n <= 64 && n === this.#lastLength) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (b[from + i] !== this.#lastBytes[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastText;
    }
    let s = "";
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = b[from + i];
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      s += String.fromCharCode(c);
    }
    if (!ascii) {
      try {
        s = utf8Strict.decode(b.subarray(from, from + n));
      } catch {
        throw this.malformed("valid UTF-8 text", p);
      }
    }
    if (n <= 64) {
      this.#lastBytes.set(b.subarray(from, from + n));
      this.#lastLength = n;
      this.#lastText = s;
    }
    return s;
  }
}
