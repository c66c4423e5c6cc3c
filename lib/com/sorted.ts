/**
 * Binary search in an ascending array of distinct numbers: the simulator keeps per-node tables
 * (connections, liveness records, DHT locations) as sorted number arrays rather than maps.
 *
 * @module
 */

/**
 * Index of `x` among the first `count` entries of the ascending array `xs`, or, when it is not
 * there, `-1 - i` where `i` is the index at which it would go.
 *
 * @example
 * ```ts
 * import { findSorted } from "./sorted.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(findSorted([2, 5, 9], 3, 5), 1);
 * assert.equal(findSorted([2, 5, 9], 3, 6), -3); // would go at index 2
 * assert.equal(findSorted([2, 5, 9], 2, 9), -3); // only the first two entries count
 * ```
 */
export function findSorted(xs: readonly number[], count: number, x: number): number {
  let lo = 0, hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const y = xs[mid];
    if (y === x) return mid;
    if (y < x) lo = mid + 1;
    else hi = mid;
  }
  return -1 - lo;
}
