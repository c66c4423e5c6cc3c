/**
 * The simulator's per-transport connection table, kept as sorted number arrays rather than a map
 * (see {@linkcode Links}).
 *
 * @module
 */

import { findSorted } from "./sorted.ts";

/**
 * A transport's connections by peer id: ids ascending in one array, connections alongside, and
 * the virtual time at which the last frame this end sent on each arrives (FIFO order; the
 * opening time before the first). A node of a large simulation holds ~50 connection ends; a Map
 * entry with its boxed id key cost ~65 bytes each, this 24, and a binary search over a few cache
 * lines finds one.
 *
 * The arrays are managed by hand: `count` entries are in use and the arrays grow by an eighth
 * (at least 4 entries) when full. Growing by half, as arrays do by themselves, leaves a third of
 * every node's link arrays unused; reallocating at every opening keeps them exact but turns each
 * of the ~17 links a join opens into three new arrays that outlive a scavenge.
 */
export class Links<C> {
  count = 0;
  ids: number[] = [];
  conns: (C | undefined)[] = [];
  sent: number[] = [];

  /** Index of `id`, or `-1 - (where it would go)`. */
  find(id: number): number {
    return findSorted(this.ids, this.count, id);
  }

  /** Adds (or replaces) the connection to `id`, opened at `now`. */
  set(id: number, conn: C, now: number): void {
    const found = this.find(id);
    if (found >= 0) {
      this.conns[found] = conn;
      this.sent[found] = now;
      return;
    }
    const at = -1 - found;
    const n = this.count;
    if (n === this.ids.length) this.#grow(n + Math.max(4, n >> 3));
    const { ids, conns, sent } = this;
    for (let j = n; j > at; j--) {
      ids[j] = ids[j - 1];
      conns[j] = conns[j - 1];
      sent[j] = sent[j - 1];
    }
    ids[at] = id;
    conns[at] = conn;
    sent[at] = now;
    this.count = n + 1;
  }

  /** Removes the connection at index `i`. */
  remove(i: number): void {
    const n = --this.count;
    const { ids, conns, sent } = this;
    for (let j = i; j < n; j++) {
      ids[j] = ids[j + 1];
      conns[j] = conns[j + 1];
      sent[j] = sent[j + 1];
    }
    conns[n] = undefined;
  }

  #grow(capacity: number): void {
    const n = this.count;
    // Filled with a fraction first, so that the number arrays hold unboxed numbers.
    const ids = new Array<number>(capacity).fill(0.5);
    const sent = new Array<number>(capacity).fill(0.5);
    const conns = new Array<C | undefined>(capacity).fill(undefined);
    for (let j = 0; j < n; j++) {
      ids[j] = this.ids[j];
      conns[j] = this.conns[j];
      sent[j] = this.sent[j];
    }
    this.ids = ids;
    this.conns = conns;
    this.sent = sent;
  }
}
