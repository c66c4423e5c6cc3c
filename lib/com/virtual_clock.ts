/**
 * Virtual time for the simulator: timers run in (time, insertion) order, so that a run with the
 * same seed and the same inputs is identical every time.
 *
 * A large simulation keeps about one timer per node plus the frames in flight: a million or more.
 * A binary heap of that size costs some twenty levels of scattered memory reads per timer. The
 * queue is a calendar instead: one bucket per millisecond, filled in insertion order and sorted
 * by time (stably) when time reaches it, plus a small heap of the bucket numbers in use. Timers
 * mostly fall a few milliseconds ahead (frame latencies), so each costs a constant amount of
 * work, and the bucket being run is small enough to stay in the processor's cache.
 *
 * @module
 */

import type { Clock, Timer } from "./transport.ts";

/** How many timers wait, shared by a clock and its timers. */
interface Count {
  live: number;
}

/**
 * Something the clock runs at a time: subclassed by the simulator's busiest callers (a frame in
 * flight is one such object holding what it delivers), so that scheduling allocates one small
 * object instead of a closure, its context and a timer record. Schedule it once, with
 * {@linkcode VirtualClock.schedule}; it cannot be cancelled.
 *
 * @example
 * ```ts
 * import { ClockTask, VirtualClock } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * class Note extends ClockTask {
 *   seen = -1;
 *   constructor(readonly clock: VirtualClock) {
 *     super();
 *   }
 *   run(): void {
 *     this.seen = this.clock.now();
 *   }
 * }
 * const clock = new VirtualClock();
 * const note = new Note(clock);
 * clock.schedule(5, note);
 * clock.run();
 * assert.equal(note.seen, 5);
 * ```
 */
export abstract class ClockTask {
  /** When it runs (set by the clock). */
  at = 0;
  /** Whether it ran or was cancelled. */
  done = false;
  /** What it does when its time comes. */
  abstract run(): void;
}

/** A scheduled timer; it is also the handle returned to the caller (no closure per timer). */
class Entry extends ClockTask implements Timer {
  fn: (() => void) | null;
  readonly count: Count;

  constructor(fn: () => void, count: Count) {
    super();
    this.fn = fn;
    this.count = count;
  }

  run(): void {
    const fn = this.fn!;
    this.fn = null;
    fn();
  }

  cancel(): void {
    if (!this.done) {
      this.done = true;
      this.fn = null;
      this.count.live--;
    }
  }
}

/**
 * What a bucket holds in place of a timer once run. A bucket is made when its first timer is set,
 * mostly a node's tick a second ahead, so it is in the old generation by the time it runs; the
 * frames in flight added to it meanwhile are young, and a young-generation collection keeps alive
 * whatever an old object points to until a full collection, and promotes it. Overwritten, a spent
 * timer (a delivered frame and what it holds) dies young. At 50,000 nodes
 * (`--max-semi-space-size=128`, `--trace-gc-nvp`) the young collections promoted 148 bytes per
 * event in the steady state before and 55.5 after (two runs), and 1,463 MB before and 915–931 MB
 * after during the growth to 50,000 nodes.
 */
const DONE: ClockTask = new (class extends ClockTask {
  run(): void {}
})();

/** Earlier first; -1, 0 or 1 (small integers: a fractional difference would be boxed per call). */
function byTime(a: ClockTask, b: ClockTask): number {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : 0;
}

/**
 * A deterministic clock whose time only moves when {@linkcode VirtualClock.run} runs timers.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const clock = new VirtualClock();
 * const seen: number[] = [];
 * clock.timer(20, () => seen.push(clock.now()));
 * clock.timer(10, () => seen.push(clock.now()));
 * clock.run();
 * assert.deepEqual(seen, [10, 20]);
 * ```
 */
export class VirtualClock implements Clock {
  #now = 0;
  readonly #count: Count = { live: 0 };
  /** Timers per millisecond (`Math.floor(at)`), in insertion order until their turn comes. */
  #buckets = new Map<number, ClockTask[]>();
  /** Binary min-heap of the keys of `#buckets`. */
  #keys: number[] = [];
  /** The bucket being run, sorted by time, and the index of its next timer. */
  #cur: ClockTask[] = [];
  #curKey = -Infinity;
  #next = 0;

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Number of timers waiting to run. */
  get pending(): number {
    return this.#count.live;
  }

  /** Schedules `fn` at `now + ms`. */
  timer(ms: number, fn: () => void): Timer {
    const e = new Entry(fn, this.#count);
    this.schedule(ms, e);
    return e;
  }

  /** Schedules `task` (not scheduled before) to run at `now + ms`. */
  schedule(ms: number, task: ClockTask): void {
    const at = this.#now + (ms > 0 ? ms : 0);
    task.at = at;
    this.#count.live++;
    const key = Math.floor(at);
    if (key === this.#curKey) {
      // Into the bucket being run, after every timer due at or before the same time (they were
      // all scheduled earlier).
      const cur = this.#cur;
      let lo = this.#next, hi = cur.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cur[mid].at <= at) lo = mid + 1;
        else hi = mid;
      }
      cur.splice(lo, 0, task);
      return;
    }
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.push(task);
    else {
      this.#buckets.set(key, [task]);
      this.#pushKey(key);
    }
  }

  /**
   * Runs timers in order until none is left, virtual time would pass `until`, or `maxEvents`
   * ran. Returns the number of timers run. Time ends at `until` when it is given.
   */
  run(until = Infinity, maxEvents = Infinity): number {
    let n = 0;
    while (n < maxEvents) {
      let cur = this.#cur;
      if (this.#next >= cur.length) {
        // The bucket is done: take the next one, unless it lies wholly past `until`.
        const keys = this.#keys;
        if (keys.length === 0 || keys[0] > until) break;
        const key = this.#popKey();
        cur = this.#buckets.get(key)!;
        this.#buckets.delete(key);
        // Stable: timers due at the same time keep their insertion order.
        if (cur.length > 1) cur.sort(byTime);
        this.#cur = cur;
        this.#curKey = key;
        this.#next = 0;
      }
      const e = cur[this.#next];
      if (e.at > until) break;
      cur[this.#next++] = DONE;
      if (e.done) continue;
      e.done = true;
      this.#count.live--;
      this.#now = e.at;
      e.run();
      n++;
    }
    if (this.#next >= this.#cur.length && this.#cur.length > 0) {
      // Let the finished bucket go (its timers hold closures).
      this.#cur = [];
      this.#curKey = -Infinity;
      this.#next = 0;
    }
    if (until !== Infinity && this.#now < until && n < maxEvents) this.#now = until;
    return n;
  }

  #pushKey(key: number): void {
    const h = this.#keys;
    let i = h.length;
    h.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= key) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = key;
  }

  #popKey(): number {
    const h = this.#keys;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1] < h[c]) c++;
      if (last <= h[c]) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}

/**
 * A small, fast, seedable PRNG (mulberry32); returns floats in [0, 1) with 53 random bits, as
 * `Math.random` does. One mulberry32 output has only 32: node ids drawn from it (`random() ·
 * 2^52`) would take 2^32 values, and by the birthday bound a simulated network of 100,000 nodes
 * would hold a duplicate id about once, a million-node one about a hundred times (a joiner whose
 * id is taken is refused, or times out when another joiner races it for the id).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  const next32 = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  // 21 high bits from one output, 32 low bits from the next.
  return () => ((next32() >>> 11) * 4294967296 + next32()) / 9007199254740992;
}
