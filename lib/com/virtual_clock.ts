/**
 * Virtual time for the simulator: a priority queue of timers run in (time, insertion) order, so
 * that a run with the same seed and the same inputs is identical every time.
 *
 * @module
 */

import type { Clock, Timer } from "./transport.ts";

interface Entry {
  at: number;
  seq: number;
  fn: (() => void) | null;
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
  #seq = 0;
  #heap: Entry[] = [];
  #live = 0;

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Number of timers waiting to run. */
  get pending(): number {
    return this.#live;
  }

  /** Schedules `fn` at `now + ms`. */
  timer(ms: number, fn: () => void): Timer {
    const e: Entry = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(e);
    this.#live++;
    return {
      cancel: () => {
        if (e.fn) {
          e.fn = null;
          this.#live--;
        }
      },
    };
  }

  /**
   * Runs timers in order until none is left, virtual time would pass `until`, or `maxEvents`
   * ran. Returns the number of timers run. Time ends at `until` when it is given.
   */
  run(until = Infinity, maxEvents = Infinity): number {
    let n = 0;
    const h = this.#heap;
    while (h.length > 0 && n < maxEvents) {
      const e = h[0];
      if (e.at > until) break;
      this.#pop();
      const fn = e.fn;
      if (!fn) continue;
      e.fn = null;
      this.#live--;
      this.#now = e.at;
      fn();
      n++;
    }
    if (until !== Infinity && this.#now < until && n < maxEvents) this.#now = until;
    return n;
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l], h[m])) m = l;
      if (r < h.length && this.#less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

/** A small, fast, seedable PRNG (mulberry32); returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
