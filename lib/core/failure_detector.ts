/**
 * An adaptive heartbeat failure detector, as plain bookkeeping: the ring feeds it evidence
 * (any frame heard from a peer, heartbeat round trips) and asks it whom to ping and whom to
 * suspect. Any traffic counts as a heartbeat, so busy links send no pings.
 *
 * The timeout follows TCP's retransmission estimator (Jacobson/Karels): smoothed round trip plus
 * four deviations, never below `minTimeoutMs`, on top of the heartbeat period. A suspicion is
 * only an opinion: a suspected peer that is heard again is trusted again.
 *
 * @module
 */

/** Detector settings. */
export interface DetectorOptions {
  /** A peer not heard from for this long is pinged, ms. @default 1000 */
  heartbeatMs: number;
  /** Lower bound of the silence allowed after a heartbeat before suspicion, ms. @default 1000 */
  minTimeoutMs: number;
}

interface PeerClock {
  last: number;
  srtt: number;
  rttvar: number;
}

/** Per-peer liveness evidence. */
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
      this.#peers.set(id, p = { last: now, srtt: 0, rttvar: 0 });
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
    if (p) p.last = clock.now();
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

  /** Silence after which `id` is suspected, ms, for a heartbeat period `scale` times the base. */
  timeout(id: number, scale = 1): number {
    const p = this.#peers.get(id);
    const adaptive = p ? p.srtt + 4 * p.rttvar : 0;
    return this.options.heartbeatMs * scale + Math.max(this.options.minTimeoutMs, adaptive);
  }

  /**
   * What to do about `id` at `now`: nothing, ping it, or suspect it. `scale` stretches the
   * heartbeat period for links that matter less (fingers) than ring neighbours.
   */
  check(id: number, now: number, scale = 1): "ok" | "ping" | "suspect" {
    const p = this.#peer(id, now);
    const silent = now - p.last;
    if (silent > this.timeout(id, scale)) return "suspect";
    return silent >= this.options.heartbeatMs * scale ? "ping" : "ok";
  }

  /** Forgets `id`. */
  drop(id: number): void {
    this.#peers.delete(id);
    if (id === this.#lastId) this.#last = undefined;
  }
}
