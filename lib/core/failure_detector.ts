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

/** Per-peer liveness evidence. */
export class FailureDetector {
  readonly options: DetectorOptions;
  /**
   * Watched peers' ids in ascending order, and for the peer at index i its clock at 3i: last
   * heard, smoothed round trip, round-trip deviation. Flat arrays of numbers rather than a map of
   * records: a simulated network keeps one detector per node and ~25 peers in each, and a record
   * object with three boxed numbers and a map entry cost ~160 bytes per peer.
   */
  #ids: number[] = [];
  #clocks: number[] = [];

  /** Creates a detector. */
  constructor(options: DetectorOptions) {
    this.options = options;
  }

  /** Index of `id` in `#ids`, or `-1 - (where it would go)`. */
  #find(id: number): number {
    const ids = this.#ids;
    let lo = 0, hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = ids[mid];
      if (x === id) return mid;
      if (x < id) lo = mid + 1;
      else hi = mid;
    }
    return -1 - lo;
  }

  /** Index of the record of `id`, created (heard `now`) if missing. */
  #peer(id: number, now: number): number {
    const i = this.#find(id);
    if (i >= 0) return i;
    const at = -1 - i;
    this.#ids = inserted(this.#ids, at, [id]);
    this.#clocks = inserted(this.#clocks, 3 * at, [now, 0, 0]);
    this.#lastId = NaN;
    return at;
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
    if (i >= 0) this.#clocks[3 * i] = clock.now();
  }

  /** A heartbeat round trip to `id` took `ms`. */
  roundTrip(id: number, ms: number, now: number): void {
    const c = this.#clocks;
    const i = 3 * this.#peer(id, now);
    if (c[i + 1] === 0) {
      c[i + 1] = ms;
      c[i + 2] = ms / 2;
    } else {
      c[i + 2] = 0.75 * c[i + 2] + 0.25 * Math.abs(c[i + 1] - ms);
      c[i + 1] = 0.875 * c[i + 1] + 0.125 * ms;
    }
  }

  /** The silence allowed for the peer at `index` (or an unknown one, -1), ms. */
  #timeout(index: number, scale: number): number {
    const c = this.#clocks;
    const adaptive = index >= 0 ? c[3 * index + 1] + 4 * c[3 * index + 2] : 0;
    return this.options.heartbeatMs * scale + Math.max(this.options.minTimeoutMs, adaptive);
  }

  /** Silence after which `id` is suspected, ms, for a heartbeat period `scale` times the base. */
  timeout(id: number, scale = 1): number {
    return this.#timeout(this.#find(id), scale);
  }

  /**
   * What to do about `id` at `now`: nothing, ping it, or suspect it. `scale` stretches the
   * heartbeat period for links that matter less (fingers) than ring neighbours.
   */
  check(id: number, now: number, scale = 1): "ok" | "ping" | "suspect" {
    const i = this.#peer(id, now);
    const silent = now - this.#clocks[3 * i];
    if (silent > this.#timeout(i, scale)) return "suspect";
    return silent >= this.options.heartbeatMs * scale ? "ping" : "ok";
  }

  /** Forgets `id`. */
  drop(id: number): void {
    const i = this.#find(id);
    if (i < 0) return;
    this.#ids.splice(i, 1);
    this.#clocks.splice(3 * i, 3);
    this.#lastId = NaN;
  }
}
