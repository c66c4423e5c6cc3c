/**
 * Reassembles length-prefixed frames from a byte stream that arrives in chunks of any size, and
 * reads each through the codec, which validates it whole. A frame that breaks the schema is
 * reported and skipped (its length says where the next one starts); a length over the limit
 * ends the stream, since nothing after it can be trusted.
 *
 * @module
 */

import { FrameError } from "../errors.ts";
import { WireError } from "./cbor.ts";
import type { DecodeContext, FrameReader } from "./codec.ts";
import { FRAME_HEADER_SIZE } from "./frame_writer.ts";
import type { Frame } from "./schema.ts";

/** Default largest frame body accepted or sent, in bytes (1 MiB). */
export const DEFAULT_MAX_FRAME_SIZE: number = 1024 * 1024;

const EMPTY = new Uint8Array(0);

function readLength(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/**
 * Frames from a stream. Whole frames inside a chunk are read straight from it (their byte
 * strings are views of it); only a frame cut by the end of a chunk is copied, into a buffer that
 * is reused and grows up to the frame limit.
 *
 * @example A frame split across chunks, and a bad one skipped
 * ```ts
 * import { Codec } from "./codec.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 * import { encodeFrame } from "./frame_writer.ts";
 * import { T, type Frame } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const codec = new Codec();
 * const peer = { id: 1, ap: { hostname: "h", port: 1 } };
 * const d = new FrameDecoder(codec.reader(), { maxKey: 8, peer });
 * const bytes = encodeFrame(codec, { t: T.Fix, i: 2, n: { id: 9, ap: { hostname: "h", port: 2 } } }, 64);
 * const good = encodeFrame(codec, { t: T.Ping, ts: 1 }, 64);
 * const got: Frame[] = [];
 * const bad: string[] = [];
 * d.push(bytes.slice(0, 3), (f) => got.push(f), (e) => bad.push(e.reason));
 * d.push(bytes.slice(3), (f) => got.push(f), (e) => bad.push(e.reason));
 * d.push(good.slice(), (f) => got.push(f), (e) => bad.push(e.reason));
 * assert.deepEqual(bad, ["range"]); // node 9 is outside [0, 8)
 * assert.deepEqual(got, [{ t: T.Ping, ts: 1 }]);
 * ```
 */
export class FrameDecoder {
  readonly #reader: FrameReader;
  readonly #max: number;
  /** What frames are checked against (the receiver's network, the link's peer). */
  ctx: DecodeContext;
  /** Bytes of the incomplete frame carried over from earlier chunks. */
  #buf: Uint8Array = EMPTY;
  #len = 0;

  /** A decoder whose frames are read by `reader` and checked against `ctx`. */
  constructor(reader: FrameReader, ctx: DecodeContext, maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.#reader = reader;
    this.ctx = ctx;
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

  #read(b: Uint8Array, start: number, end: number, onBad: (e: WireError) => void): Frame | null {
    try {
      return this.#reader.read(b, start, end, this.ctx);
    } catch (e) {
      // Anything else thrown while reading is a fault of the reader, but the frame is still
      // the peer's to lose: it is dropped, never the link or the node.
      onBad(
        e instanceof WireError
          ? e
          : new WireError("malformed", `Frame could not be read: ${(e as Error)?.message}`),
      );
      return null;
    }
  }

  /**
   * Feeds `chunk`: calls `onFrame` for every valid frame it completes, in order, and `onBad` for
   * every frame that breaks the schema (it is skipped). Byte strings in frames that lie whole
   * inside `chunk` are views of it: the caller must not write into `chunk` afterwards. The
   * callbacks must not throw (what they throw is passed on, and the stream is lost).
   *
   * @throws {FrameError} at a declared length over the limit; frames before it were delivered.
   * The stream cannot be resynchronised after that: discard the decoder.
   */
  push(
    chunk: Uint8Array,
    onFrame: (frame: Frame) => void,
    onBad: (error: WireError) => void = () => {},
  ): void {
    const n = chunk.length;
    let pos = 0;
    if (this.#len > 0) {
      if (this.#len < FRAME_HEADER_SIZE) {
        const take = Math.min(FRAME_HEADER_SIZE - this.#len, n);
        this.#buf.set(chunk.subarray(0, take), this.#len);
        this.#len += take;
        pos = take;
        if (this.#len < FRAME_HEADER_SIZE) return;
      }
      const length = readLength(this.#buf, 0);
      // Only now, with the length checked, may the buffer grow towards it.
      this.#checkLength(length);
      const total = FRAME_HEADER_SIZE + length;
      this.#reserve(total);
      const take = Math.min(total - this.#len, n - pos);
      this.#buf.set(chunk.subarray(pos, pos + take), this.#len);
      this.#len += take;
      pos += take;
      if (this.#len < total) return;
      this.#len = 0;
      // A copy: the carry-over buffer is reused, and the frame may keep views of its bytes.
      const body = this.#buf.slice(FRAME_HEADER_SIZE, total);
      const frame = this.#read(body, 0, body.length, onBad);
      if (frame !== null) onFrame(frame);
    }
    while (n - pos >= FRAME_HEADER_SIZE) {
      const length = readLength(chunk, pos);
      this.#checkLength(length);
      const start = pos + FRAME_HEADER_SIZE;
      if (n - start < length) break;
      pos = start + length;
      const frame = this.#read(chunk, start, pos, onBad);
      if (frame !== null) onFrame(frame);
    }
    const rest = n - pos;
    if (rest > 0) {
      // The tail is at most one chunk: growing to its declared length waits until it is checked.
      this.#reserve(Math.max(rest, FRAME_HEADER_SIZE));
      this.#buf.set(chunk.subarray(pos), 0);
      this.#len = rest;
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
