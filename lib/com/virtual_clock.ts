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

  // Sifting moves a hole instead of swapping pairs: no temporary arrays on the hot path.
  #push(e: Entry): void {
    const h = this.#heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const q = h[p];
      if (q.at < e.at || (q.at === e.at && q.seq < e.seq)) break;
      h[i] = q;
      i = p;
    }
    h[i] = e;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (h[r].at < h[c].at || (h[r].at === h[c].at && h[r].seq < h[c].seq))) c = r;
      const m = h[c];
      if (last.at < m.at || (last.at === m.at && last.seq < m.seq)) break;
      h[i] = m;
      i = c;
    }
    h[i] = last;
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
