/**
 * A link's send queue and its coalescing writer. Frames are encoded as they are queued, one
 * after another into chunks of about 64 KiB; the writer takes a chunk at a time, so one write
 * carries everything queued for it (sealed once, on an encrypted link) without holding the link
 * for long. Frames that keep the ring alive (heartbeats, stabilisation, lookups, joins,
 * acknowledgements) go in a lane of their own that is written before any waiting chunk: a link
 * saturated with data never makes its peer look dead.
 *
 * The queue remembers which frames each byte range holds, so that when a write fails part-way,
 * the frames that did not wholly reach the peer go back to the node to be routed another way
 * instead of being lost.
 *
 * @module
 */

import type { Codec } from "../../wire/codec.ts";
import { FrameWriter } from "../../wire/frame_writer.ts";
import { type Frame, T } from "../../wire/schema.ts";
import {
  LENGTH_PREFIX_SIZE,
  MAX_TRANSPORT_PLAINTEXT,
  sealedLength,
  TAG_SIZE,
  type TransportSealer,
} from "../noise/mod.ts";

/**
 * A chunk is closed once it holds this many bytes; the writer takes one chunk per write. A KiB
 * under the most one Noise transport message carries, so that a chunk closed by a small frame is
 * sealed as one message (one cipher call, and the receiver's frames do not straddle messages).
 */
const CHUNK = MAX_TRANSPORT_PLAINTEXT - 1024;
/** A send buffer that grew past this is not kept for reuse once written. */
const KEEP_BUFFER = 256 * 1024;

/** Frame types that go in the urgent lane, ahead of queued data. */
const URGENT: ReadonlySet<number> = new Set([
  T.Ping,
  T.Pong,
  T.Notify,
  T.Stab,
  T.Fix,
  T.Lookup,
  T.LookupOk,
  T.InfoReq,
  T.Info,
  T.Find,
  T.Found,
  T.Join,
  T.JoinOk,
  T.Ack,
  T.BcastDone,
]);

/** Whether frames of type `t` travel in the urgent lane. */
export function isUrgent(t: number): boolean {
  return URGENT.has(t);
}

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

/** Frames encoded into one buffer, with the byte end of each. */
interface Chunk {
  writer: FrameWriter;
  frames: Frame[];
  ends: number[];
}

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
 * q.append({ t: T.Notify }, 1024, 0);
 * assert.equal(q.pending, true);
 * assert.deepEqual(q.takeUnsent().map((f) => f.t), [T.Ping, T.Notify]);
 * assert.equal(q.pending, false);
 * ```
 */
export class SendQueue {
  readonly #codec: Codec;
  /** Closed chunks, oldest first. */
  #chunks: Chunk[] = [];
  /** The chunk new data frames go to. */
  #current: Chunk;
  /** The urgent lane. */
  #urgent: Chunk;
  /** The chunk being written, and how much of its plaintext usably went out. */
  #inflight: Chunk | null = null;
  #written = 0;
  /** Bytes encoded and not yet handed to a write, over every chunk. */
  #waiting = 0;
  /** Buffers of written chunks, for the next ones. */
  #spare: FrameWriter[] = [];
  #sealed: Uint8Array | null = null;
  /** Changes whenever the queue is emptied from outside the writer (it then skips its update). */
  #generation = 0;

  /** An empty queue that encodes frames with `codec`. */
  constructor(codec: Codec) {
    this.#codec = codec;
    this.#current = this.#chunk();
    this.#urgent = this.#chunk();
  }

  #chunk(): Chunk {
    return { writer: this.#spare.pop() ?? new FrameWriter(this.#codec), frames: [], ends: [] };
  }

  /** Bytes queued (length prefixes included) and not yet confirmed written. */
  get queued(): number {
    const inflight = this.#inflight ? this.#inflight.writer.length - this.#written : 0;
    return this.#waiting + inflight;
  }

  /** Bytes encoded and waiting for a write. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Whether frames wait that no write has taken yet, or a write is in progress. */
  get pending(): boolean {
    return this.#waiting > 0 || this.#inflight !== null;
  }

  /**
   * Encodes `frame` at the end of its lane, into the frame before it when they can share one
   * wire frame within `runLimit` bytes (0: never).
   *
   * @throws {import("../../errors.ts").MessageTooLargeError} over `maxFrameSize` (nothing is
   * queued).
   */
  append(frame: Frame, maxFrameSize: number, runLimit: number): void {
    const urgent = URGENT.has(frame.t);
    const c = urgent ? this.#urgent : this.#current;
    const w = c.writer;
    const before = w.length;
    w.append(frame, maxFrameSize, urgent ? 0 : runLimit);
    this.#waiting += w.length - before;
    c.frames.push(frame);
    // Negative: the frame went into the previous one's (a run).
    c.ends.push(w.merged ? -w.length : w.length);
    if (!urgent && w.length >= CHUNK) {
      this.#chunks.push(c);
      this.#current = this.#chunk();
    }
  }

  /**
   * Frames queued and not wholly handed to the kernel (a write in progress may have taken only
   * part of its chunk); the queue is left empty.
   */
  takeUnsent(): Frame[] {
    const out: Frame[] = [];
    const f = this.#inflight;
    if (f) out.push(...f.frames.slice(wholeFrames(f.ends, this.#written)));
    for (const c of [...this.#chunks, this.#current, this.#urgent]) out.push(...c.frames);
    this.clear();
    return out;
  }

  /** Empties the queue (a write in progress finishes, but no longer updates it). */
  clear(): void {
    this.#chunks = [];
    this.#current = this.#chunk();
    this.#urgent = this.#chunk();
    this.#inflight = null;
    this.#written = 0;
    this.#waiting = 0;
    this.#generation++;
  }

  /** Takes over the queue of `other`, a link's that never came up (nothing of it was written). */
  adopt(other: SendQueue): void {
    this.#chunks = other.#chunks;
    this.#current = other.#current;
    this.#urgent = other.#urgent;
    this.#waiting = other.#waiting;
    other.#chunks = [];
    other.#current = other.#chunk();
    other.#urgent = other.#chunk();
    other.#waiting = 0;
    other.#generation++;
  }

  /** The next chunk to write: the urgent lane first, then data oldest first. */
  #next(): Chunk | null {
    if (this.#urgent.writer.length > 0) {
      const c = this.#urgent;
      this.#urgent = this.#chunk();
      return c;
    }
    if (this.#chunks.length > 0) return this.#chunks.shift()!;
    if (this.#current.writer.length > 0) {
      const c = this.#current;
      this.#current = this.#chunk();
      return c;
    }
    return null;
  }

  /**
   * Writes the next chunk (the urgent lane first) as one write, sealed by `sealer` when the
   * link is encrypted, and returns the number of wire frames and bytes it carried (frames −1
   * when the queue was emptied from outside meanwhile, 0 when there was nothing to write).
   * `progress` hears how much plaintext usably went out after each part of the write. A write
   * that throws leaves the frames it did not wholly deliver in the queue (see
   * {@linkcode SendQueue.takeUnsent}).
   */
  async flush(
    write: (bytes: Uint8Array) => Promise<number>,
    sealer: TransportSealer | null,
    progress: () => void,
  ): Promise<{ frames: number; bytes: number }> {
    const chunk = this.#next();
    if (!chunk) return { frames: 0, bytes: 0 };
    const generation = this.#generation;
    this.#inflight = chunk;
    this.#written = 0;
    const plain = chunk.writer.bytes();
    this.#waiting -= plain.length;
    let bytes = plain;
    if (sealer) {
      const size = sealedLength(plain.length);
      if (!this.#sealed || this.#sealed.length < size) this.#sealed = new Uint8Array(size);
      bytes = this.#sealed.subarray(0, sealer.sealInto(plain, this.#sealed, 0));
    }
    let written = 0;
    while (written < bytes.length) {
      written += await write(written === 0 ? bytes : bytes.subarray(written));
      if (this.#generation !== generation) break;
      this.#written = sealer ? openedBytes(plain.length, written) : written;
      if (written < bytes.length) progress();
    }
    if (this.#sealed && this.#sealed.length > KEEP_BUFFER) this.#sealed = null;
    if (this.#generation !== generation) return { frames: -1, bytes: written };
    this.#inflight = null;
    this.#written = 0;
    const frames = chunk.writer.count;
    chunk.writer.reset();
    if (chunk.writer.capacity <= KEEP_BUFFER && this.#spare.length < 2) {
      this.#spare.push(chunk.writer);
    }
    return { frames, bytes: bytes.length };
  }
}
