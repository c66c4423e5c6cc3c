/**
 * An adaptive heartbeat failure detector, as plain bookkeeping: the ring feeds it evidence (any
 * frame heard from a peer, heartbeat round trips) and asks it whom to ping and whom to suspect.
 * Any traffic counts as a heartbeat, so busy links send no pings.
 *
 * A peer is suspected only after a ping went unanswered: it must have been silent for a
 * heartbeat period, been pinged, and stayed silent for the timeout since — the round-trip
 * estimate (TCP's Jacobson/Karels: smoothed round trip plus four deviations), never less than
 * `minTimeoutMs`. Silence is judged from what this node received, so time during which this node
 * itself could not listen (its event loop was blocked: a check that runs late) is discounted. A
 * suspicion is only an opinion: a suspected peer that is heard again is trusted again.
 *
 * @module
 */

import { findSorted } from "../com/sorted.ts";

/** Detector settings. */
export interface DetectorOptions {
  /** A peer not heard from for this long is pinged, ms. @default 1000 */
  heartbeatMs: number;
  /**
   * Least time a ping is given to be answered before its peer is suspected, ms (it must cover a
   * few TCP retransmissions on a lossy path). @default 3000
   */
  minTimeoutMs: number;
}

/** Numbers kept per peer: last heard, first pinged since (NaN: none), pinged last, srtt, rttvar. */
const STRIDE = 5;
const LAST = 0, PINGED_AT = 1, LAST_PING = 2, SRTT = 3, RTTVAR = 4;

/**
 * `a` with `xs` inserted at `i`, in a new array of exactly the size needed: growing in place
 * leaves up to half of the capacity unused, in the detector of every simulated node.
 */
function inserted(a: readonly number[], i: number, xs: readonly number[]): number[] {
  const b = new Array<number>(a.length + xs.length);
  for (let j = 0; j < i; j++) b[j] = a[j];
  for (let j = 0; j < xs.length; j++) b[i + j] = xs[j];
  for (let j = i; j < a.length; j++) b[j + xs.length] = a[j];
  return b;
}

/** What the detector advises about a peer. */
export type Verdict = "ok" | "ping" | "suspect";

/**
 * Per-peer liveness evidence.
 *
 * @example A silent peer is pinged, then suspected once the ping went unanswered
 * ```ts
 * import { FailureDetector } from "./failure_detector.ts";
 * import assert from "node:assert/strict";
 *
 * const d = new FailureDetector({ heartbeatMs: 1000, minTimeoutMs: 3000 });
 * assert.equal(d.check(7, 0), "ok"); // first seen now
 * assert.equal(d.check(7, 1000), "ping");
 * d.pinged(7, 1000);
 * assert.equal(d.check(7, 3500), "ping"); // pinged again each period while waiting
 * d.pinged(7, 3500);
 * assert.equal(d.check(7, 4001), "suspect");
 * ```
 */
export class FailureDetector {
  readonly options: DetectorOptions;
  /**
   * Watched peers' ids in ascending order, and for the peer at index i its STRIDE numbers at
   * STRIDE·i. Flat arrays of numbers rather than a map of records: a simulated network keeps one
   * detector per node and ~25 peers in each, and a record object with boxed numbers and a map
   * entry cost ~160 bytes per peer.
   */
  #ids: number[] = [];
  #clocks: number[] = [];

  /** Creates a detector. */
  constructor(options: DetectorOptions) {
    this.options = options;
  }

  /** Index of `id` in `#ids`, or `-1 - (where it would go)`. */
  #find(id: number): number {
    return findSorted(this.#ids, this.#ids.length, id);
  }

  /** Offset of the numbers of `id` in `#clocks`, created (heard `now`) if missing. */
  #peer(id: number, now: number): number {
    const i = this.#find(id);
    if (i >= 0) return STRIDE * i;
    const at = -1 - i;
    this.#ids = inserted(this.#ids, at, [id]);
    this.#clocks = inserted(this.#clocks, STRIDE * at, [now, NaN, NaN, 0, 0]);
    this.#lastId = NaN;
    return STRIDE * at;
  }

  /** The index `heard` found last (frames come in runs from one peer): saves a search. */
  #lastId = NaN;
  #lastIndex = -1;

  /** Something arrived from `id` (recorded only for peers being watched). */
  heard(id: number, clock: { now(): number }): void {
    let i = this.#lastIndex;
    if (id !== this.#lastId) {
      i = this.#lastIndex = this.#find(id);
      this.#lastId = id;
    }
    if (i >= 0) {
      const o = STRIDE * i;
      this.#clocks[o + LAST] = clock.now();
      this.#clocks[o + PINGED_AT] = NaN;
    }
  }

  /** `id` was just pinged. */
  pinged(id: number, now: number): void {
    const o = this.#peer(id, now);
    const c = this.#clocks;
    if (Number.isNaN(c[o + PINGED_AT])) c[o + PINGED_AT] = now;
    c[o + LAST_PING] = now;
  }

  /** A heartbeat round trip to `id` took `ms`. */
  roundTrip(id: number, ms: number, now: number): void {
    const o = this.#peer(id, now);
    const c = this.#clocks;
    if (c[o + SRTT] === 0) {
      c[o + SRTT] = ms;
      c[o + RTTVAR] = ms / 2;
    } else {
      c[o + RTTVAR] = 0.75 * c[o + RTTVAR] + 0.25 * Math.abs(c[o + SRTT] - ms);
      c[o + SRTT] = 0.875 * c[o + SRTT] + 0.125 * ms;
    }
  }

  /** The time a ping to the peer at offset `o` (or an unknown one, -1) is given, ms. */
  #timeout(o: number): number {
    const c = this.#clocks;
    const adaptive = o >= 0 ? c[o + SRTT] + 4 * c[o + RTTVAR] : 0;
    return Math.max(this.options.minTimeoutMs, adaptive);
  }

  /** How long a ping to `id` is given to be answered, ms. */
  timeout(id: number): number {
    const i = this.#find(id);
    return this.#timeout(i >= 0 ? STRIDE * i : -1);
  }

  /** Silence of `id` after which it is suspected at the earliest, ms (for reports). */
  silence(id: number, scale = 1): number {
    return this.options.heartbeatMs * scale + this.timeout(id);
  }

  /**
   * What to do about `id` at `now`: nothing, ping it, or suspect it. `scale` stretches the
   * heartbeat period for links that matter less (fingers) than ring neighbours.
   */
  check(id: number, now: number, scale = 1): Verdict {
    const o = this.#peer(id, now);
    const c = this.#clocks;
    const period = this.options.heartbeatMs * scale;
    if (now - c[o + LAST] < period) return "ok";
    const pingedAt = c[o + PINGED_AT];
    if (Number.isNaN(pingedAt)) return "ping";
    if (now - pingedAt > this.#timeout(o)) return "suspect";
    return now - c[o + LAST_PING] >= this.options.heartbeatMs ? "ping" : "ok";
  }

  /**
   * This node could not listen for `ms` (its checks ran that late): what peers sent meanwhile
   * may still be waiting to be read, so their silence is shortened by as much.
   */
  discount(ms: number): void {
    if (!(ms > 0)) return;
    const c = this.#clocks;
    for (let o = 0; o < c.length; o += STRIDE) {
      c[o + LAST] += ms;
      if (!Number.isNaN(c[o + PINGED_AT])) c[o + PINGED_AT] += ms;
    }
  }

  /** Forgets `id`. */
  drop(id: number): void {
    const i = this.#find(id);
    if (i < 0) return;
    this.#ids.splice(i, 1);
    this.#clocks.splice(STRIDE * i, STRIDE);
    this.#lastId = NaN;
  }
}
