/**
 * Receiver-side ordering and duplicate suppression for acknowledged messages.
 *
 * Each acknowledged message carries a sequence number `q` in a stream (per sender and
 * destination key, or per sender for broadcast and successor messages) and `lo`, the lowest
 * sequence number of that stream its sender has not yet seen acknowledged. A receiver delivers in
 * `q` order; it may skip to `lo` because everything below it was acknowledged, hence delivered
 * already wherever it was addressed (this is what lets a node that takes over a key, or that
 * joined late, start mid-stream). Duplicates (`q` below the next expected) are acknowledged again
 * but never delivered twice.
 *
 * @module
 */

interface Stream {
  /** Next sequence number to deliver. */
  next: number;
  /** Out-of-order arrivals waiting for the gap to fill. */
  held: Map<number, () => void>;
  /** Last use, for eviction. */
  used: number;
}

/** What became of an arrival. */
export type Arrival = "delivered" | "held" | "duplicate" | "overflow";

/** Per-stream ordering state of one receiving node. */
export class InOrder {
  readonly #streams = new Map<string, Stream>();
  readonly #maxStreams: number;
  readonly #maxHeld: number;
  #clock = 0;

  /** Keeps at most `maxStreams` streams (least recently used evicted) of `maxHeld` each. */
  constructor(maxStreams = 65536, maxHeld = 4096) {
    this.#maxStreams = maxStreams;
    this.#maxHeld = maxHeld;
  }

  /**
   * Handles arrival `q` (with floor `lo`) on `stream`: runs `deliver` now, later (once the gap
   * fills), or never (duplicate). Returns what happened; the caller acknowledges unless the
   * answer is `held` or `overflow`.
   */
  arrive(stream: string, q: number, lo: number, deliver: () => void): Arrival {
    let s = this.#streams.get(stream);
    if (!s) {
      if (this.#streams.size >= this.#maxStreams) this.#evict();
      s = { next: lo, held: new Map(), used: 0 };
      this.#streams.set(stream, s);
    }
    s.used = ++this.#clock;
    if (lo > s.next) {
      s.next = lo;
      this.#drain(s);
    }
    if (q < s.next) return "duplicate";
    if (q === s.next) {
      s.next++;
      deliver();
      this.#drain(s);
      return "delivered";
    }
    if (s.held.has(q)) return "duplicate";
    if (s.held.size >= this.#maxHeld) return "overflow";
    s.held.set(q, deliver);
    return "held";
  }

  /** Delivers held arrivals that are now in order (and drops those the floor passed). */
  #drain(s: Stream): void {
    for (const q of s.held.keys()) if (q < s.next) s.held.delete(q);
    for (let d = s.held.get(s.next); d; d = s.held.get(s.next)) {
      s.held.delete(s.next);
      s.next++;
      d();
    }
  }

  #evict(): void {
    let oldest: string | null = null;
    let at = Infinity;
    for (const [k, s] of this.#streams) {
      if (s.used < at && s.held.size === 0) {
        at = s.used;
        oldest = k;
      }
    }
    if (oldest !== null) this.#streams.delete(oldest);
  }
}

/** Sender-side sequence numbers per stream, with the floor of unacknowledged ones. */
export class Sequencer {
  readonly #next = new Map<string, number>();
  readonly #pending = new Map<string, Set<number>>();

  /** A new sequence number on `stream`, marked pending. */
  take(stream: string): number {
    const q = this.#next.get(stream) ?? 1;
    this.#next.set(stream, q + 1);
    let p = this.#pending.get(stream);
    if (!p) this.#pending.set(stream, p = new Set());
    p.add(q);
    return q;
  }

  /** The lowest pending sequence number of `stream` (or the next one when none is pending). */
  floor(stream: string): number {
    const p = this.#pending.get(stream);
    let lo = this.#next.get(stream) ?? 1;
    if (p) { for (const q of p) if (q < lo) lo = q; }
    return lo;
  }

  /** Marks `q` settled (acknowledged, or given up on). */
  settle(stream: string, q: number): void {
    const p = this.#pending.get(stream);
    if (!p) return;
    p.delete(q);
    if (p.size === 0) this.#pending.delete(stream);
  }
}
