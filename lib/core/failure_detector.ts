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

interface PeerClock {
  /** When the peer was last heard from. */
  last: number;
  /** When it was first pinged since (NaN: no ping outstanding), and pinged last. */
  pingedAt: number;
  lastPing: number;
  srtt: number;
  rttvar: number;
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
  readonly #peers = new Map<number, PeerClock>();

  /** Creates a detector. */
  constructor(options: DetectorOptions) {
    this.options = options;
  }

  #peer(id: number, now: number): PeerClock {
    let p = this.#peers.get(id);
    if (!p) {
      this.#peers.set(id, p = { last: now, pingedAt: NaN, lastPing: NaN, srtt: 0, rttvar: 0 });
      if (id === this.#lastId) this.#last = p;
    }
    return p;
  }

  /** The record `heard` used last (frames come in runs from one peer): saves a lookup. */
  #lastId = NaN;
  #last: PeerClock | undefined = undefined;

  /** Something arrived from `id` (recorded only for peers being watched). */
  heard(id: number, clock: { now(): number }): void {
    let p = this.#last;
    if (id !== this.#lastId) {
      p = this.#last = this.#peers.get(id);
      this.#lastId = id;
    }
    if (p) {
      p.last = clock.now();
      p.pingedAt = NaN;
    }
  }

  /** `id` was just pinged. */
  pinged(id: number, now: number): void {
    const p = this.#peer(id, now);
    if (Number.isNaN(p.pingedAt)) p.pingedAt = now;
    p.lastPing = now;
  }

  /** A heartbeat round trip to `id` took `ms`. */
  roundTrip(id: number, ms: number, now: number): void {
    const p = this.#peer(id, now);
    if (p.srtt === 0) {
      p.srtt = ms;
      p.rttvar = ms / 2;
    } else {
      p.rttvar = 0.75 * p.rttvar + 0.25 * Math.abs(p.srtt - ms);
      p.srtt = 0.875 * p.srtt + 0.125 * ms;
    }
  }

  /** How long a ping to `id` is given to be answered, ms. */
  timeout(id: number): number {
    const p = this.#peers.get(id);
    const adaptive = p ? p.srtt + 4 * p.rttvar : 0;
    return Math.max(this.options.minTimeoutMs, adaptive);
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
    const p = this.#peer(id, now);
    const period = this.options.heartbeatMs * scale;
    if (now - p.last < period) return "ok";
    if (Number.isNaN(p.pingedAt)) return "ping";
    if (now - p.pingedAt > this.timeout(id)) return "suspect";
    return now - p.lastPing >= this.options.heartbeatMs ? "ping" : "ok";
  }

  /**
   * This node could not listen for `ms` (its checks ran that late): what peers sent meanwhile
   * may still be waiting to be read, so their silence is shortened by as much.
   */
  discount(ms: number): void {
    if (!(ms > 0)) return;
    for (const p of this.#peers.values()) {
      p.last += ms;
      if (!Number.isNaN(p.pingedAt)) p.pingedAt += ms;
    }
  }

  /** Forgets `id`. */
  drop(id: number): void {
    this.#peers.delete(id);
    if (id === this.#lastId) this.#last = undefined;
  }
}
