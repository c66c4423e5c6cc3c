/**
 * Identifier-space arithmetic on a ring of `maxKey` positions.
 *
 * Every interval test of the protocol goes through these functions, so that wrapping, empty and
 * full intervals are handled in one place. Ids are safe integers in `[0, maxKey)`.
 *
 * @module
 */

/** Clockwise distance from `a` to `b` (0 when equal). */
export function cw(a: number, b: number, maxKey: number): number {
  const d = b - a;
  return d >= 0 ? d : d + maxKey;
}

/**
 * `x ∈ (a, b]` clockwise. When `a === b` the interval is the whole ring (a node alone is
 * responsible for every key), which is the convention the ring protocol relies on.
 */
export function inOC(x: number, a: number, b: number, maxKey: number): boolean {
  if (a === b) return true;
  const dx = cw(a, x, maxKey);
  return dx > 0 && dx <= cw(a, b, maxKey);
}

/** `x ∈ (a, b)` clockwise. When `a === b` it is the whole ring except `a`. */
export function inOO(x: number, a: number, b: number, maxKey: number): boolean {
  if (a === b) return x !== a;
  const dx = cw(a, x, maxKey);
  return dx > 0 && dx < cw(a, b, maxKey);
}

/** `x ∈ [a, b)` clockwise. When `a === b` it is the whole ring. */
export function inCO(x: number, a: number, b: number, maxKey: number): boolean {
  if (a === b) return true;
  return cw(a, x, maxKey) < cw(a, b, maxKey);
}

/** Shortest distance between `a` and `b` going either way round the ring. */
export function ringDistance(a: number, b: number, maxKey: number): number {
  const d = cw(a, b, maxKey);
  return d <= maxKey - d ? d : maxKey - d;
}

/** `(a + d) mod maxKey` for any signed `d` with `|d| <= maxKey`. */
export function addMod(a: number, d: number, maxKey: number): number {
  const s = a + d;
  return s >= maxKey ? s - maxKey : s < 0 ? s + maxKey : s;
}

/**
 * Hashes a string key into `[0, maxKey)`: its FNV-1a 64-bit digest, mixed by murmur3's 64-bit
 * finaliser (`fmix64`), then the top 53 bits reduced modulo `maxKey`. FNV-1a is synchronous and
 * stable across platforms, but its top bits barely change with a string's last characters
 * ("key-1", "key-2" land side by side); the finaliser spreads every input bit over the digest,
 * so such keys scatter round the ring (and over the nodes that store them). It is not a
 * cryptographic commitment.
 *
 * @example
 * ```ts
 * import { hashKey } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const k = hashKey("alice", 2 ** 52);
 * assert.ok(Number.isSafeInteger(k) && k < 2 ** 52);
 * assert.equal(hashKey("alice", 2 ** 52), k);
 * ```
 */
export function hashKey(key: string, maxKey: number): number {
  const M64 = 0xffffffffffffffffn;
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(key);
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & M64;
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M64;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M64;
  h ^= h >> 33n;
  return Number((h >> 11n) % BigInt(maxKey));
}
