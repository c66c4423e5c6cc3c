/**
 * The simulator's per-transport connection table, kept as sorted number arrays rather than a map
 * (see {@linkcode Links}).
 *
 * @module
 */

import { findSorted } from "./sorted.ts";

/**
 * A transport's connections by peer id: ids ascending in one array and, alongside, the peer's
 * end, the connection's number and the virtual time at which the last frame this end sent on it
 * arrives (FIFO order; the opening time before the first). Both ends of a connection hold its
 * number, positive at the end that dialled and negative at the other, so that each end can tell
 * whether the other still holds the same connection (and not a newer one to the same peer).
 *
 * A node of a large simulation holds ~130 connection ends, which are most of its memory: a Map
 * entry with its boxed id key cost ~65 bytes each, and an object per connection shared by its
 * two ends another ~28 per end; here each end is 32 bytes, found by a binary search over a few
 * cache lines.
 *
 * The arrays are managed by hand: `count` entries are in use and the arrays grow by an eighth
 * (at least 4 entries) when full. Growing by half, as arrays do by themselves, leaves a third of
 * every node's link arrays unused; reallocating at every opening keeps them exact but turns each
 * of the ~17 links a join opens into new arrays that outlive a scavenge.
 */
export class Links<P> {
  count = 0;
  ids: number[] = [];
  peers: (P | undefined)[] = [];
  serials: number[] = [];
  sent: number[] = [];

  /** Index of `id`, or `-1 - (where it would go)`. */
  find(id: number): number {
    return findSorted(this.ids, this.count, id);
  }

  /** Adds (or replaces) the connection numbered `serial` to `id` at `peer`, opened at `now`. */
  set(id: number, peer: P, serial: number, now: number): void {
    const found = this.find(id);
    if (found >= 0) {
      this.peers[found] = peer;
      this.serials[found] = serial;
      this.sent[found] = now;
      return;
    }
    const at = -1 - found;
    const n = this.count;
    if (n === this.ids.length) this.#grow(n + Math.max(4, n >> 3));
    const { ids, peers, serials, sent } = this;
    for (let j = n; j > at; j--) {
      ids[j] = ids[j - 1];
      peers[j] = peers[j - 1];
      serials[j] = serials[j - 1];
      sent[j] = sent[j - 1];
    }
    ids[at] = id;
    peers[at] = peer;
    serials[at] = serial;
    sent[at] = now;
    this.count = n + 1;
  }

  /** Removes the connection at index `i`. */
  remove(i: number): void {
    const n = --this.count;
    const { ids, peers, serials, sent } = this;
    for (let j = i; j < n; j++) {
      ids[j] = ids[j + 1];
      peers[j] = peers[j + 1];
      serials[j] = serials[j + 1];
      sent[j] = sent[j + 1];
    }
    peers[n] = undefined;
  }

  #grow(capacity: number): void {
    const n = this.count;
    // Filled with a fraction first, so that the number arrays hold unboxed numbers.
    const ids = new Array<number>(capacity).fill(0.5);
    const serials = new Array<number>(capacity).fill(0.5);
    const sent = new Array<number>(capacity).fill(0.5);
    const peers = new Array<P | undefined>(capacity).fill(undefined);
    for (let j = 0; j < n; j++) {
      ids[j] = this.ids[j];
      peers[j] = this.peers[j];
      serials[j] = this.serials[j];
      sent[j] = this.sent[j];
    }
    this.ids = ids;
    this.peers = peers;
    this.serials = serials;
    this.sent = sent;
  }
}
