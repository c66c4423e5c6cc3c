/**
 * Length-prefixed CBOR frames: a 4-byte big-endian body length, then the CBOR body.
 *
 * {@linkcode encodeFrame} builds one frame; {@linkcode FrameDecoder} turns a byte stream cut at
 * arbitrary places back into frames. Both enforce a maximum body size so that a peer cannot make
 * us buffer or allocate more than that, whatever it declares.
 *
 * @module
 */

import { Decoder, encode } from "cbor-x/encode";
import { FrameError, MessageTooLargeError } from "../errors.ts";
import type { Frame } from "./transport.ts";

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_SIZE = 4;

/** Default largest frame body accepted or sent, in bytes (4 MiB). */
export const DEFAULT_MAX_FRAME_SIZE: number = 4 * 1024 * 1024;

// Same wire format as cbor-x's default `decode` (no records, maps as objects), but byte strings
// are copied: by default cbor-x returns views into the source, and the decoder's source is a
// buffer that is reused for the next bytes, which would silently rewrite received payloads.
const cbor = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

const EMPTY = new Uint8Array(0);

/**
 * Compact layouts: a frame type registered here travels as a CBOR array `[t, ...values]` in the
 * registered field order instead of a map with string keys. Arrays encode and decode several
 * times faster, which matters for the frames every application message is carried in. The layer
 * above registers its hot frame types; the framing stays ignorant of what they mean.
 */
const layouts = new Map<number, readonly string[]>();

/**
 * Makes frames of type `t` travel in the compact positional form, with `fields` in this order
 * (absent trailing fields are left out). Both ends must register the same layout: it is part of
 * the wire protocol.
 */
export function defineCompactFrame(t: number, fields: readonly string[]): void {
  layouts.set(t, fields);
}

function toWire(frame: Frame): unknown {
  const fields = layouts.get(frame.t);
  if (!fields) return frame;
  const out: unknown[] = [frame.t];
  let last = 0;
  for (let i = 0; i < fields.length; i++) {
    const v = frame[fields[i]];
    out.push(v);
    if (v !== undefined) last = i + 1;
  }
  out.length = last + 1;
  return out;
}

function fromWire(v: unknown[]): Frame {
  const t = v[0];
  const fields = typeof t === "number" ? layouts.get(t) : undefined;
  if (!fields || v.length - 1 > fields.length) {
    throw new FrameError(`Frame body is an array that matches no compact frame layout`);
  }
  const frame: Frame = { t: t as number };
  for (let i = 1; i < v.length; i++) if (v[i] !== undefined) frame[fields[i - 1]] = v[i];
  return frame;
}

/**
 * Encodes a frame body (CBOR, without the length prefix), checking it against `maxFrameSize`.
 * The result may be a view into cbor-x's shared output buffer: it stays valid, but it is not a
 * buffer of its own.
 *
 * @throws {MessageTooLargeError} when the body is larger than `maxFrameSize` or cannot be encoded.
 */
export function encodeFrameBody(frame: Frame, maxFrameSize: number): Uint8Array {
  let body: Uint8Array;
  try {
    body = encode(toWire(frame));
  } catch (e) {
    throw new MessageTooLargeError(
      `Frame of type ${frame.t} cannot be encoded: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (body.length > maxFrameSize) {
    throw new MessageTooLargeError(
      `Frame of type ${frame.t} is ${body.length} bytes, over the ${maxFrameSize}-byte limit`,
    );
  }
  return body;
}

/** Writes the big-endian length prefix of a `length`-byte body at `buf[at..at+4)`. */
export function writeFrameHeader(buf: Uint8Array, at: number, length: number): void {
  buf[at] = length >>> 24;
  buf[at + 1] = (length >>> 16) & 0xff;
  buf[at + 2] = (length >>> 8) & 0xff;
  buf[at + 3] = length & 0xff;
}

/**
 * Encodes `frame` as one complete wire frame: length prefix and CBOR body.
 *
 * @throws {MessageTooLargeError} when the body is larger than `maxFrameSize` or cannot be encoded.
 */
export function encodeFrame(frame: Frame, maxFrameSize: number): Uint8Array {
  const body = encodeFrameBody(frame, maxFrameSize);
  const out = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  writeFrameHeader(out, 0, body.length);
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

function readLength(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return "a byte string";
  if (typeof v === "object") return `a ${v.constructor?.name ?? "prototype-less"} object`;
  return `a ${typeof v}`;
}

function decodeBody(body: Uint8Array): Frame {
  let v: unknown;
  try {
    v = cbor.decode(body);
  } catch (e) {
    throw new FrameError(
      `Undecodable frame body (${body.length} bytes): ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (Array.isArray(v)) return fromWire(v);
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) {
    throw new FrameError(`Frame body is ${describe(v)}, not an object with a numeric "t" field`);
  }
  const t = (v as { t?: unknown }).t;
  if (typeof t !== "number") {
    throw new FrameError(`Frame has no numeric "t" field (found ${describe(t)})`);
  }
  return v as Frame;
}

/**
 * Reassembles frames from a byte stream that arrives in chunks of any size.
 *
 * Whole frames inside a chunk are decoded straight from it; only the incomplete frame at the end
 * of a chunk is copied, into one buffer that is reused (and grows up to the frame limit).
 */
export class FrameDecoder {
  readonly #max: number;
  /** Bytes of the incomplete frame carried over from earlier chunks. */
  #buf: Uint8Array = EMPTY;
  #len = 0;
  /** The carried-over bytes may hold whole frames (left there by a throwing `onFrame`). */
  #several = false;

  /** Creates a decoder that rejects bodies longer than `maxFrameSize` bytes. */
  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.#max = maxFrameSize;
  }

  /** Bytes of an incomplete frame waiting for more input (0 at a frame boundary). */
  get buffered(): number {
    return this.#len;
  }

  #checkLength(length: number): void {
    if (length > this.#max) {
      this.#len = 0;
      throw new FrameError(
        `Frame declares a ${length}-byte body, over the ${this.#max}-byte limit`,
      );
    }
  }

  #reserve(size: number): void {
    if (this.#buf.length >= size) return;
    const next = new Uint8Array(Math.max(size, Math.min(this.#buf.length * 2, this.#max + 4)));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /**
   * Feeds `chunk` and calls `onFrame` for every frame it completes, in order. The decoder keeps no
   * reference to `chunk`, so the caller may reuse it as soon as this returns.
   *
   * @throws {FrameError} at the first oversize declared length, undecodable body or body that is
   * not an object with a numeric `t`; frames before it have been delivered. The stream cannot be
   * resynchronised after that: discard the decoder.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.#several) {
      // Rare: reprocess the carried-over frames as if they had arrived with this chunk.
      const joined = new Uint8Array(this.#len + chunk.length);
      joined.set(this.#buf.subarray(0, this.#len));
      joined.set(chunk, this.#len);
      chunk = joined;
      this.#len = 0;
      this.#several = false;
    }
    const n = chunk.length;
    let pos = 0;
    let broken = false;
    let threw = true;
    try {
      if (this.#len > 0) {
        if (this.#len < FRAME_HEADER_SIZE) {
          const take = Math.min(FRAME_HEADER_SIZE - this.#len, n);
          this.#buf.set(chunk.subarray(0, take), this.#len);
          this.#len += take;
          pos = take;
          if (this.#len < FRAME_HEADER_SIZE) return;
        }
        const length = readLength(this.#buf, 0);
        broken = true;
        // Only now, with the length checked, may the buffer grow towards it.
        this.#checkLength(length);
        const total = FRAME_HEADER_SIZE + length;
        this.#reserve(total);
        const take = Math.min(total - this.#len, n - pos);
        this.#buf.set(chunk.subarray(pos, pos + take), this.#len);
        this.#len += take;
        pos += take;
        if (this.#len < total) {
          broken = false;
          return;
        }
        this.#len = 0;
        const frame = decodeBody(this.#buf.subarray(FRAME_HEADER_SIZE, total));
        broken = false;
        onFrame(frame);
      }
      while (n - pos >= FRAME_HEADER_SIZE) {
        const length = readLength(chunk, pos);
        broken = true;
        this.#checkLength(length);
        const start = pos + FRAME_HEADER_SIZE;
        if (n - start < length) {
          broken = false;
          break;
        }
        pos = start + length;
        const frame = decodeBody(chunk.subarray(start, pos));
        broken = false;
        onFrame(frame);
      }
      threw = false;
    } finally {
      // Also when `onFrame` throws, so that the bytes after the frame it saw are kept. The tail
      // is at most one chunk: growing to its declared length waits until the length is checked.
      const rest = n - pos;
      if (!broken && rest > 0 && this.#len === 0) {
        this.#reserve(Math.max(rest, FRAME_HEADER_SIZE));
        this.#buf.set(chunk.subarray(pos), 0);
        this.#len = rest;
        this.#several = threw;
      }
    }
  }

  /**
   * Declares the end of the stream.
   *
   * @throws {FrameError} when it ends inside a frame (a truncated frame).
   */
  end(): void {
    const got = this.#len;
    if (got === 0) return;
    this.#len = 0;
    if (got < FRAME_HEADER_SIZE) {
      throw new FrameError(`Truncated frame: the stream ended ${got} bytes into a length prefix`);
    }
    const total = FRAME_HEADER_SIZE + readLength(this.#buf, 0);
    throw new FrameError(
      `Truncated frame: the stream ended ${got} bytes into a ${total}-byte frame`,
    );
  }
}
