/**
 * A link's send queue and its coalescing writer: frames are encoded as they are queued, one
 * after another into one buffer; everything queued when the writer runs goes out in one write
 * (sealed once, on an encrypted link). The queue remembers which frames each byte range holds,
 * so that when a write fails part-way, the frames that did not wholly reach the peer go back to
 * the node to be routed another way instead of being lost.
 *
 * @module
 */

import type { Codec } from "../../wire/codec.ts";
import { FrameWriter } from "../../wire/frame_writer.ts";
import type { Frame } from "../../wire/schema.ts";
import {
  LENGTH_PREFIX_SIZE,
  MAX_TRANSPORT_PLAINTEXT,
  sealedLength,
  TAG_SIZE,
  type TransportSealer,
} from "../noise/mod.ts";

/** A send buffer that grew past this is not kept for reuse once written. */
const KEEP_BUFFER = 256 * 1024;
/** Largest slice handed to one socket write (senders waiting for room are woken between). */
const WRITE_SLICE = 256 * 1024;

/**
 * How many of the queued frames whose byte ends are `ends` lie wholly within the first `written`
 * bytes of a write. A negative end marks a frame that went into the previous one's wire frame (a
 * run): it is only out with the whole of that frame, and so are the frames of the run before it.
 *
 * @example
 * ```ts
 * import { wholeFrames } from "./send_queue.ts";
 * import assert from "node:assert/strict";
 *
 * // A frame of 100 bytes, then a run of three messages ending at 300.
 * assert.equal(wholeFrames([100, 200, -250, -300], 280), 1);
 * assert.equal(wholeFrames([100, 200, -250, -300], 300), 4);
 * ```
 */
export function wholeFrames(ends: readonly number[], written: number): number {
  let i = 0;
  while (i < ends.length && Math.abs(ends[i]) <= written) i++;
  while (i > 0 && i < ends.length && ends[i] < 0) i--;
  return i;
}

/**
 * Plaintext bytes that reached the peer usably when `wire` bytes of a write of `plaintext` bytes
 * sealed into transport messages were written: only whole messages can be opened.
 *
 * @example
 * ```ts
 * import { openedBytes } from "./send_queue.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(openedBytes(100, 117), 0); // one message of 2 + 100 + 16 bytes, one byte short
 * assert.equal(openedBytes(100, 118), 100);
 * assert.equal(openedBytes(70_000, 65_537 + 10), 65_519); // the first of two messages
 * ```
 */
export function openedBytes(plaintext: number, wire: number): number {
  const whole = LENGTH_PREFIX_SIZE + MAX_TRANSPORT_PLAINTEXT + TAG_SIZE;
  const full = Math.floor(wire / whole);
  const rest = plaintext - full * MAX_TRANSPORT_PLAINTEXT;
  if (rest <= 0) return plaintext;
  const last = Math.min(rest, MAX_TRANSPORT_PLAINTEXT);
  const lastOut = wire - full * whole >= LENGTH_PREFIX_SIZE + last + TAG_SIZE;
  return full * MAX_TRANSPORT_PLAINTEXT + (lastOut ? last : 0);
}

/** What a write reports while it goes: how much of its plaintext is usably out. */
export type WriteProgress = (opened: number, done: boolean) => void;

/**
 * The frames queued for one link.
 *
 * @example Frames queued, written, and the ones a failed write left behind
 * ```ts
 * import { SendQueue } from "./send_queue.ts";
 * import { Codec } from "../../wire/codec.ts";
 * import { T } from "../../wire/schema.ts";
 * import assert from "node:assert/strict";
 *
 * const q = new SendQueue(new Codec());
 * q.append({ t: T.Ping, ts: 1 }, 1024, 0);
 * q.append({ t: T.Ping, ts: 2 }, 1024, 0);
 * assert.equal(q.pending, true);
 * assert.deepEqual(q.takeUnsent().map((f) => f.t), [T.Ping, T.Ping]);
 * assert.equal(q.pending, false);
 * ```
 */
export class SendQueue {
  readonly #codec: Codec;
  /**
   * Queued frames from `#head` on. While a write is in progress it carries
   * `frames[head..inflightEnd)`; the frames after those are already encoded, one after another,
   * in `#out` (their byte ends in `#ends`), waiting for the next write.
   */
  #frames: Frame[] = [];
  #head = 0;
  #inflightEnd = 0;
  #out: FrameWriter;
  #ends: number[] = [];
  /** The buffers of the last completed write, for the next one. */
  #spare: FrameWriter | null = null;
  #sealed: Uint8Array | null = null;
  /** Byte ends of the frames of the write in progress, its plaintext size and what went out. */
  #inflightEnds: number[] = [];
  #inflightSize = 0;
  #written = 0;
  /** Changes whenever the queue is emptied from outside the writer (it then skips its update). */
  #generation = 0;

  /** An empty queue that encodes frames with `codec`. */
  constructor(codec: Codec) {
    this.#codec = codec;
    this.#out = new FrameWriter(codec);
  }

  /** Bytes queued (length prefixes included) and not yet confirmed written. */
  get queued(): number {
    return this.#out.length + this.#inflightSize - this.#written;
  }

  /** Bytes encoded and waiting for the next write. */
  get waiting(): number {
    return this.#out.length;
  }

  /** Whether frames wait that no write has taken yet, or a write is in progress. */
  get pending(): boolean {
    return this.#head < this.#frames.length;
  }

  /**
   * Encodes `frame` at the end of the queue, into the frame before it when they can share one
   * wire frame within `runLimit` bytes (0: never).
   *
   * @throws {import("../../errors.ts").MessageTooLargeError} over `maxFrameSize` (nothing is
   * queued).
   */
  append(frame: Frame, maxFrameSize: number, runLimit: number): void {
    this.#out.append(frame, maxFrameSize, runLimit);
    this.#frames.push(frame);
    // Negative: the frame went into the previous one's (a run).
    this.#ends.push(this.#out.merged ? -this.#out.length : this.#out.length);
  }

  /**
   * Frames queued and not wholly handed to the kernel (a write in progress may have taken only
   * part of its batch); the queue is left empty.
   */
  takeUnsent(): Frame[] {
    let from = this.#head;
    if (this.#inflightEnd > this.#head) {
      from = this.#head + wholeFrames(this.#inflightEnds, this.#written);
    }
    const out = from === 0 ? this.#frames : this.#frames.slice(from);
    this.clear();
    return out;
  }

  /** Empties the queue (a write in progress finishes, but no longer updates it). */
  clear(): void {
    this.#frames = [];
    this.#head = this.#inflightEnd = 0;
    this.#out.reset(); // the batch of a write in progress is another buffer
    this.#ends = [];
    this.#inflightEnds = [];
    this.#inflightSize = this.#written = 0;
    this.#generation++;
  }

  /** Takes over the queue of `other`, a link's that never came up (nothing of it was written). */
  adopt(other: SendQueue): void {
    this.#frames = other.#frames;
    this.#head = this.#inflightEnd = other.#head;
    this.#out = other.#out;
    this.#ends = other.#ends;
    other.#out = new FrameWriter(this.#codec);
    other.#frames = [];
    other.#ends = [];
    other.#head = other.#inflightEnd = 0;
    other.#generation++;
  }

  /**
   * Writes everything queued now as one write (sealed by `sealer`, when the link is encrypted)
   * and returns the number of wire frames it carried, or −1 when the queue was emptied from
   * outside meanwhile. `progress` hears how much plaintext usably went out after each slice. A
   * write that throws leaves the frames it did not wholly deliver in the queue (see
   * {@linkcode SendQueue.takeUnsent}).
   */
  async flush(
    write: (bytes: Uint8Array) => Promise<number>,
    sealer: TransportSealer | null,
    progress: WriteProgress,
  ): Promise<{ frames: number; bytes: number }> {
    const generation = this.#generation;
    const batch = this.#out;
    this.#out = this.#spare ?? new FrameWriter(this.#codec);
    this.#spare = null;
    this.#inflightEnds = this.#ends;
    this.#ends = [];
    this.#inflightEnd = this.#frames.length;
    this.#inflightSize = batch.length;
    this.#written = 0;
    const plain = batch.bytes();
    let bytes = plain;
    if (sealer) {
      const size = sealedLength(plain.length);
      if (!this.#sealed || this.#sealed.length < size) this.#sealed = new Uint8Array(size);
      bytes = this.#sealed.subarray(0, sealer.sealInto(plain, this.#sealed, 0));
    }
    let written = 0;
    try {
      while (written < bytes.length) {
        const slice = Math.min(bytes.length, written + WRITE_SLICE);
        written += await write(
          written === 0 && slice === bytes.length ? bytes : bytes.subarray(written, slice),
        );
        if (this.#generation === generation) {
          this.#written = sealer ? openedBytes(plain.length, written) : written;
          progress(this.#written, written === bytes.length);
        }
      }
    } catch (e) {
      if (this.#generation === generation && this.#inflightEnd > this.#head) {
        // Frames wholly handed to the kernel count as sent; the rest of the batch was not.
        this.#head += wholeFrames(this.#inflightEnds, this.#written);
        this.#inflightEnd = this.#head;
        this.#inflightSize = this.#written = 0;
      }
      throw e;
    }
    if (this.#sealed && this.#sealed.length > KEEP_BUFFER) this.#sealed = null;
    if (this.#generation !== generation) return { frames: -1, bytes: bytes.length };
    const frames = batch.count;
    this.#head = this.#inflightEnd;
    this.#inflightSize = this.#written = 0;
    batch.reset();
    if (batch.capacity <= KEEP_BUFFER) this.#spare = batch;
    if (this.#head === this.#frames.length) {
      this.#frames = [];
      this.#head = this.#inflightEnd = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = this.#inflightEnd = 0;
    }
    return { frames, bytes: bytes.length };
  }
}
