/**
 * Frames encoded one after another into one growing buffer, each after its 4-byte big-endian
 * length: what a link hands to the socket in one write. Consecutive frames the schema lets share
 * a wire frame (a run of messages from one sender to one destination) are merged in place.
 *
 * @module
 */

import { MessageTooLargeError } from "../errors.ts";
import type { Codec } from "./codec.ts";
import type { Frame } from "./schema.ts";

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_SIZE = 4;

/**
 * Appends frames to one buffer, ready for one write.
 *
 * @example
 * ```ts
 * import { Codec } from "./codec.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 * import { T, type Frame } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const codec = new Codec();
 * const w = new FrameWriter(codec);
 * w.append({ t: T.Ping, ts: 1.5 }, 1024);
 * w.append({ t: T.Pong, ts: 2.5 }, 1024);
 * const got: Frame[] = [];
 * const peer = { id: 1, ap: { hostname: "h", port: 1 } };
 * new FrameDecoder(codec.reader(), { maxKey: 8, peer }).push(w.bytes().slice(), (f) => got.push(f));
 * assert.deepEqual(got, [{ t: T.Ping, ts: 1.5 }, { t: T.Pong, ts: 2.5 }]);
 * ```
 */
export class FrameWriter {
  readonly #codec: Codec;
  #buf: Uint8Array;
  #view: DataView;
  /** Bytes written so far. */
  length = 0;
  /** Whether the last frame appended went into the wire frame before it. */
  merged = false;
  /** Wire frames in the buffer (frames merged into another count once). */
  count = 0;
  /** The frame appended last, and where its length prefix is; `null` after a reset. */
  #last: Frame | null = null;
  #lastStart = 0;

  /** Starts with room for `size` bytes (it grows as needed). */
  constructor(codec: Codec, size = 0) {
    this.#codec = codec;
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Room for `n` more bytes after the end. */
  #reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(need, 2 * this.#buf.length, 16 * 1024));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /**
   * Appends `frame` with its length prefix, or, with a `runLimit`, into the wire frame before it
   * when the schema lets them share one within `runLimit` bytes of body.
   *
   * @throws {MessageTooLargeError} when its body is over `maxFrameSize`; nothing is appended.
   */
  append(frame: Frame, maxFrameSize: number, runLimit = 0): void {
    const codec = this.#codec;
    const bound = codec.bound(frame);
    this.#reserve(FRAME_HEADER_SIZE + bound);
    const last = this.#last;
    if (last !== null && runLimit > 0) {
      const body = this.#lastStart + FRAME_HEADER_SIZE;
      const end = codec.merge(
        last,
        frame,
        this.#buf,
        this.#view,
        body,
        this.length,
        Math.min(maxFrameSize, runLimit),
      );
      if (end >= 0) {
        this.#view.setUint32(this.#lastStart, end - body);
        this.length = end;
        this.merged = true;
        this.#last = frame;
        return;
      }
    }
    const start = this.length;
    const end = codec.write(frame, this.#buf, this.#view, start + FRAME_HEADER_SIZE);
    const size = end - start - FRAME_HEADER_SIZE;
    if (size > maxFrameSize) {
      throw new MessageTooLargeError(
        `Frame ${codec.nameOf(frame.t)} is ${size} bytes, over the ${maxFrameSize}-byte limit`,
      );
    }
    this.#view.setUint32(start, size);
    this.length = end;
    this.merged = false;
    this.count++;
    this.#last = frame;
    this.#lastStart = start;
  }

  /** The frames appended so far, as one byte range (valid until the next append or reset). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /** Bytes the buffer holds before it has to grow. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Forgets what was appended; the buffer is reused. */
  reset(): void {
    this.length = 0;
    this.merged = false;
    this.count = 0;
    this.#last = null;
  }
}

/**
 * One frame with its length prefix, in a buffer of its own.
 *
 * @throws {MessageTooLargeError} when its body is over `maxFrameSize`.
 */
export function encodeFrame(codec: Codec, frame: Frame, maxFrameSize: number): Uint8Array {
  // Sized for this frame: a writer grows by at least 16 KiB, which a hello would keep alive.
  const w = new FrameWriter(codec, FRAME_HEADER_SIZE + codec.bound(frame));
  w.append(frame, maxFrameSize);
  return w.bytes();
}
