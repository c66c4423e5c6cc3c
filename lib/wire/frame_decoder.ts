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

/** Whether `bytes` spans its whole buffer (keeping it keeps nothing else alive). */
function owned(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/**
 * Bytes of carry-over buffer a decoder keeps for the next frame cut by the end of a chunk. A
 * larger one, grown for a large frame, goes to that frame (whose byte strings are views of it)
 * instead of being copied out, and the next frame starts a new one: an idle link does not keep
 * the memory of the largest frame it ever received.
 */
const KEPT_BUFFER_SIZE = 16 * 1024;

/**
 * Least size of a piece of a carried frame kept by reference rather than copied: a chunk that
 * owns its buffer and lies whole inside the frame, or the end of such a chunk where the frame
 * starts (keeping it keeps that chunk: what arrived with it). Smaller pieces are copied
 * together, so that a frame arriving a few bytes per chunk does not cost an object per chunk.
 */
const PIECE_SIZE = 4 * 1024;

/**
 * Frames from a stream. Whole frames inside a chunk are read straight from it (their byte
 * strings are views of it). A frame cut by the end of a chunk is carried until its last byte
 * arrives, then copied once into a buffer of its own: its small pieces are copied together as
 * they come (into a buffer that doubles, up to the frame's declared length) and its large ones
 * are kept as they are. What a carried frame holds grows with the bytes that actually arrived,
 * never ahead of them: a length prefix alone reserves nothing, so a peer that declares a large
 * frame and sends little of it makes the decoder hold about what it sent (at most twice that, or
 * the chunk the frame started in).
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
 *
 * @example A declared 1 MiB frame holds only what arrived of it
 * ```ts
 * import { Codec } from "./codec.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 * import assert from "node:assert/strict";
 *
 * const d = new FrameDecoder(new Codec().reader(), { maxKey: 8, peer: null });
 * d.push(new Uint8Array([0, 0x10, 0, 0, 1, 2, 3]), () => assert.fail("not complete"));
 * assert.equal(d.buffered, 7);
 * assert.ok(d.reserved < 64, `${d.reserved} bytes reserved`);
 * ```
 */
export class FrameDecoder {
  readonly #reader: FrameReader;
  /**
   * Largest frame body accepted, in bytes. It may change between pushes, or from `onFrame`
   * during one: the frames after that one are checked against the new value (a link accepts
   * only small frames until its handshake completes).
   */
  maxFrameSize: number;
  /** What frames are checked against (the receiver's network, the link's peer). */
  ctx: DecodeContext;
  /**
   * The last part of the carried frame (all of it while `#parts` is empty), copied: the length
   * prefix is always here. Kept for the next frame when small.
   */
  #buf: Uint8Array = EMPTY;
  #len = 0;
  /** Earlier parts of the carried frame, in order: copied runs of small pieces, large chunks. */
  readonly #parts: Uint8Array[] = [];
  /** Bytes of the carried frame so far (0 at a frame boundary). */
  #carried = 0;
  /** Its size with its length prefix, once the prefix is whole (0 before). */
  #total = 0;

  /** A decoder whose frames are read by `reader` and checked against `ctx`. */
  constructor(reader: FrameReader, ctx: DecodeContext, maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.#reader = reader;
    this.ctx = ctx;
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes of an incomplete frame waiting for more input (0 at a frame boundary). */
  get buffered(): number {
    return this.#carried;
  }

  /**
   * Bytes of buffers the decoder holds: for an incomplete frame, at most twice what arrived of
   * it or the chunk it started in; a small buffer kept for the next one.
   */
  get reserved(): number {
    let n = this.#buf.length;
    for (const p of this.#parts) n += p.buffer.byteLength;
    return n;
  }

  /** The frame size its `length` prefix declares, once checked against the limit. */
  #checked(length: number): number {
    if (length > this.maxFrameSize) {
      this.#reset();
      throw new FrameError(
        `Frame declares a ${length}-byte body, over the ${this.maxFrameSize}-byte limit`,
      );
    }
    return FRAME_HEADER_SIZE + length;
  }

  #reset(): void {
    this.#len = this.#carried = this.#total = 0;
    if (this.#parts.length > 0) this.#parts.length = 0;
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
   * inside `chunk` are views of it, and a frame that continues past it may keep it: the caller
   * must not write into `chunk` afterwards. The callbacks must not throw (what they throw is
   * passed on, and the stream is lost).
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
    if (this.#carried > 0) {
      if (this.#total === 0) {
        // The rest of the length prefix goes next to its start, in a buffer of at least its size.
        pos = Math.min(FRAME_HEADER_SIZE - this.#len, n);
        this.#buf.set(chunk.subarray(0, pos), this.#len);
        this.#len = this.#carried += pos;
        if (this.#len < FRAME_HEADER_SIZE) return;
        this.#total = this.#checked(readLength(this.#buf, 0));
      }
      const take = Math.min(this.#total - this.#carried, n - pos);
      if (this.#carried + take < this.#total) {
        this.#append(pos === 0 ? chunk : chunk.subarray(pos));
        return;
      }
      const frame = this.#complete(chunk.subarray(pos, pos + take), onBad);
      pos += take;
      if (frame !== null) onFrame(frame);
    }
    while (n - pos >= FRAME_HEADER_SIZE) {
      const start = pos + FRAME_HEADER_SIZE;
      const end = this.#checked(readLength(chunk, pos)) + pos;
      if (end > n) break;
      pos = end;
      const frame = this.#read(chunk, start, end, onBad);
      if (frame !== null) onFrame(frame);
    }
    if (pos < n) this.#carry(chunk, pos);
  }

  /** Starts carrying the end of `chunk` from `pos`, the start of a frame later chunks complete. */
  #carry(chunk: Uint8Array, pos: number): void {
    const rest = chunk.length - pos;
    // The declared length, when it came, was checked already.
    this.#total = rest < FRAME_HEADER_SIZE ? 0 : FRAME_HEADER_SIZE + readLength(chunk, pos);
    this.#carried = rest;
    if (rest >= PIECE_SIZE && owned(chunk)) {
      // Kept as it is, and the chunk with it: what arrived, not what the frame declares.
      this.#parts.push(chunk.subarray(pos));
      return;
    }
    if (this.#buf.length < rest || this.#buf.length < FRAME_HEADER_SIZE) {
      // Twice what arrived (up to the declared length), or room for a whole length prefix.
      this.#buf = new Uint8Array(
        rest < FRAME_HEADER_SIZE ? FRAME_HEADER_SIZE : Math.min(this.#total, 2 * rest),
      );
    }
    this.#buf.set(chunk.subarray(pos), 0);
    this.#len = rest;
  }

  /** Adds `bytes` to the carried frame, which they do not complete. */
  #append(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n >= PIECE_SIZE && owned(bytes)) {
      // A chunk of its own, all of it this frame's: kept as it is until the frame is whole.
      if (this.#len > 0) {
        this.#parts.push(this.#buf.subarray(0, this.#len));
        this.#buf = EMPTY;
        this.#len = 0;
      }
      this.#parts.push(bytes);
    } else {
      if (this.#buf.length < this.#len + n) {
        // Doubling, so that a frame arriving in many pieces is copied O(its size) times in all,
        // but never past the bytes it still has to bring.
        const room = this.#total - this.#carried + this.#len;
        const next = new Uint8Array(Math.min(room, Math.max(this.#len + n, 2 * this.#buf.length)));
        next.set(this.#buf.subarray(0, this.#len));
        this.#buf = next;
      }
      this.#buf.set(bytes, this.#len);
      this.#len += n;
    }
    this.#carried += n;
  }

  /**
   * Reads the carried frame, which `last` completes. Its bytes end up in one buffer of exactly its
   * size that the frame may keep views of, copied once, unless they all sit in the small buffer
   * kept for the next frame (then the body is copied out of it).
   */
  #complete(last: Uint8Array, onBad: (e: WireError) => void): Frame | null {
    const total = this.#total;
    let whole = this.#buf;
    if (this.#parts.length > 0 || whole.length < total) {
      whole = new Uint8Array(total);
      let at = 0;
      for (const p of this.#parts) {
        whole.set(p, at);
        at += p.length;
      }
      whole.set(this.#buf.subarray(0, this.#len), at);
    }
    whole.set(last, this.#carried);
    this.#reset();
    if (whole === this.#buf && whole.length <= KEPT_BUFFER_SIZE) {
      const body = whole.slice(FRAME_HEADER_SIZE, total);
      return this.#read(body, 0, body.length, onBad);
    }
    if (this.#buf.length > KEPT_BUFFER_SIZE) this.#buf = EMPTY;
    return this.#read(whole, FRAME_HEADER_SIZE, total, onBad);
  }

  /**
   * Declares the end of the stream.
   *
   * @throws {FrameError} when it ends inside a frame (a truncated frame).
   */
  end(): void {
    const got = this.#carried;
    const total = this.#total;
    if (got === 0) return;
    this.#reset();
    if (total === 0) {
      throw new FrameError(`Truncated frame: the stream ended ${got} bytes into a length prefix`);
    }
    throw new FrameError(
      `Truncated frame: the stream ended ${got} bytes into a ${total}-byte frame`,
    );
  }
}
