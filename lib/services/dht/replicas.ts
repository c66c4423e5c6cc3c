/**
 * Symmetric replication (Ghodsi et al., "Symmetric Replication for Structured Peer-to-Peer
 * Systems", 2005): the `f` replicas of key `k` sit at fixed positions spread evenly round the
 * ring, so any node computes any key's replica set, and the replica sets of the keys of one
 * range are themselves ranges (the range shifted by a fixed offset).
 *
 * Replica `i` (`0 ≤ i < f`) of key `k` is at `(k + ⌊i·maxKey/f⌋) mod maxKey`. The floor is the
 * exact integer rule for a `maxKey` that `f` does not divide: offsets then differ by
 * `⌊maxKey/f⌋` or `⌈maxKey/f⌉`, replica 0 is the key itself, and the offsets are computed
 * without leaving safe integers (`i·maxKey` could pass 2^53).
 *
 * Key ranges: the keys whose replica `i` falls in the position range `(lo, hi]` are
 * `(lo − off(i), hi − off(i)]`. A range `(a, a]` is the whole ring, as everywhere in the library.
 *
 * @module
 */

import { addMod, cw } from "../../core/id_space.ts";

export { MAX_REPLICATION } from "../../wire/schema.ts";

/**
 * The offset of replica `i` from its key: `⌊i·maxKey/f⌋`.
 *
 * @example
 * ```ts
 * import { replicaOffset } from "./replicas.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(replicaOffset(1, 4, 100), 25);
 * assert.equal(replicaOffset(2, 3, 10), 6); // ⌊20/3⌋
 * ```
 */
export function replicaOffset(i: number, f: number, maxKey: number): number {
  const q = Math.floor(maxKey / f);
  const r = maxKey - q * f;
  return i * q + Math.floor((i * r) / f);
}

/**
 * The positions of the `f` replicas of `key`, replica 0 first.
 *
 * @example
 * ```ts
 * import { replicaPositions } from "./replicas.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(replicaPositions(90, 4, 100), [90, 15, 40, 65]);
 * ```
 */
export function replicaPositions(key: number, f: number, maxKey: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < f; i++) out.push(addMod(key, replicaOffset(i, f, maxKey), maxKey));
  return out;
}

/** The position of replica `i` of `key`. */
export function replicaPosition(key: number, i: number, f: number, maxKey: number): number {
  return addMod(key, replicaOffset(i, f, maxKey), maxKey);
}

/**
 * Replies that make a majority of `f` replicas: `⌊f/2⌋ + 1`. Any two majorities share a
 * replica, which is what lets a read or a write see the last chosen value.
 *
 * @example
 * ```ts
 * import { majority } from "./replicas.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
 * ```
 */
export function majority(f: number): number {
  return Math.floor(f / 2) + 1;
}

/** The number of positions in `(a, b]`; `(a, a]` is the whole ring. */
export function span(a: number, b: number, maxKey: number): number {
  return a === b ? maxKey : cw(a, b, maxKey);
}

/** The keys whose replica `i` lies in the position range `(lo, hi]`, as a key range. */
export function keyRange(
  lo: number,
  hi: number,
  i: number,
  f: number,
  maxKey: number,
): [number, number] {
  const off = replicaOffset(i, f, maxKey);
  return [addMod(lo, -off, maxKey), addMod(hi, -off, maxKey)];
}

/**
 * Where a walk over the key range `(a, b]` stops at a node that covers the keys `(x, y]` and
 * the first key after `a`: at `b` when the node covers the rest of the walk, else at `y`.
 */
export function coverEnd(a: number, b: number, x: number, y: number, maxKey: number): number {
  if (x === y) return b;
  return span(a, b, maxKey) <= cw(a, y, maxKey) ? b : y;
}
