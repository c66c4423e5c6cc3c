/**
 * Range digests for anti-entropy: a Merkle-like split of the keys of a range by the bits of a
 * hash of each key, so that two replicas compare what they hold with a few small messages and
 * exchange only the buckets that differ.
 *
 * Level `L` splits the keys matching a prefix (the top `5·L` bits of the key's hash) into
 * {@linkcode BUCKETS} buckets by the next 5 bits; each bucket is summarised by its count and two
 * 32-bit sums of per-item fingerprints (key and accepted ballot; the promise is left out, it does
 * not make replicas disagree about the value). Equal summaries mean equal contents with
 * overwhelming probability; a differing bucket is split again at the next level, or its items
 * exchanged when it is small, so repair traffic grows with the differences, not with what is
 * stored.
 *
 * @module
 */

import { DIGEST_BUCKETS, MAX_DIGEST_LEVEL } from "../../wire/schema.ts";

/** Buckets per digest (5 bits of the key hash per level). */
export const BUCKETS: number = DIGEST_BUCKETS;
/** Deepest level (6 levels of 5 bits: 30 bits of hash). */
export const MAX_LEVEL: number = MAX_DIGEST_LEVEL;

/** 32-bit mix of two 32-bit words (murmur3's finaliser over a combination). */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit hash of a key (any safe integer), spread evenly even for consecutive keys.
 *
 * @example
 * ```ts
 * import { keyHash } from "./digest.ts";
 * import assert from "node:assert/strict";
 *
 * assert.notEqual(keyHash(1) >>> 27, keyHash(2) >>> 27);
 * assert.equal(keyHash(2 ** 52 - 1), keyHash(2 ** 52 - 1));
 * ```
 */
export function keyHash(key: number): number {
  return mix(key >>> 0, Math.floor(key / 2 ** 32));
}

/** The bucket of a key hash at level `L`. */
export function bucketOf(h: number, level: number): number {
  return (h >>> (27 - 5 * level)) & 31;
}

/** Whether a key hash falls under `prefix` (the top `5·level` bits) at level `level`. */
export function underPrefix(h: number, level: number, prefix: number): boolean {
  return level === 0 || h >>> (32 - 5 * level) === prefix;
}

/** The prefix of bucket `b` under `prefix` at `level`, i.e. a prefix at `level + 1`. */
export function childPrefix(prefix: number, b: number): number {
  return prefix * BUCKETS + b;
}

/** What a digest summarises per item: its key and accepted ballot. */
export interface Summarised {
  key: number;
  ac: number;
  at: number;
}

/**
 * Digest of `items` (all under `prefix` at `level`): per bucket, count and two sums of
 * fingerprints, flattened as `[count0, a0, b0, count1, a1, b1, ...]`.
 *
 * @example
 * ```ts
 * import { digest } from "./digest.ts";
 * import assert from "node:assert/strict";
 *
 * const a = [{ key: 1, ac: 1, at: 7 }, { key: 2, ac: 1, at: 7 }];
 * assert.deepEqual(digest(a, 0), digest([...a].reverse(), 0));
 * assert.notDeepEqual(digest(a, 0), digest([{ key: 1, ac: 2, at: 7 }, a[1]], 0));
 * ```
 */
export function digest(items: Iterable<Summarised>, level: number): number[] {
  const d = new Array<number>(BUCKETS * 3).fill(0);
  for (const it of items) {
    const h = keyHash(it.key);
    const b = bucketOf(h, level) * 3;
    const f1 = mix(h, mix(it.ac >>> 0, Math.floor(it.ac / 2 ** 32)));
    const f2 = mix(f1 ^ 0x5bd1e995, mix(it.at >>> 0, Math.floor(it.at / 2 ** 32)));
    d[b]++;
    d[b + 1] = (d[b + 1] + f1) >>> 0;
    d[b + 2] = (d[b + 2] + f2) >>> 0;
  }
  return d;
}

/** What to do with each bucket after comparing two digests. */
export interface DigestPlan {
  /** Buckets equal on both sides. */
  same: number[];
  /** Buckets to exchange item by item (small, or at the deepest level). */
  exchange: number[];
  /** Buckets to split at the next level. */
  split: number[];
}

/**
 * Compares our digest with theirs at `level`: a differing bucket is exchanged whole when either
 * side holds at most `leaf` items in it (a replica that lost everything pulls at once) or at the
 * deepest level, and split further otherwise.
 *
 * @example
 * ```ts
 * import { compareDigests, digest } from "./digest.ts";
 * import assert from "node:assert/strict";
 *
 * const mine = digest([{ key: 5, ac: 1, at: 1 }], 0);
 * const plan = compareDigests(mine, digest([], 0), 0, 32);
 * assert.equal(plan.exchange.length, 1);
 * assert.equal(plan.same.length, 31);
 * ```
 */
export function compareDigests(
  mine: readonly number[],
  theirs: readonly number[],
  level: number,
  leaf: number,
): DigestPlan {
  const plan: DigestPlan = { same: [], exchange: [], split: [] };
  for (let b = 0; b < BUCKETS; b++) {
    const i = b * 3;
    if (mine[i] === theirs[i] && mine[i + 1] === theirs[i + 1] && mine[i + 2] === theirs[i + 2]) {
      plan.same.push(b);
    } else if (level >= MAX_LEVEL || Math.min(mine[i], theirs[i]) <= leaf) {
      plan.exchange.push(b);
    } else plan.split.push(b);
  }
  return plan;
}
