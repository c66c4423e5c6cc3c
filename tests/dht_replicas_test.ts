import assert from "node:assert/strict";
import { inOC } from "../lib/core/id_space.ts";
import {
  coverEnd,
  keyRange,
  majority,
  replicaOffset,
  replicaPosition,
  replicaPositions,
  span,
} from "../lib/services/dht/replicas.ts";
import { test } from "./_test.ts";

/** ⌊i·M/f⌋ computed exactly with bigints. */
function refOffset(i: number, f: number, M: number): number {
  return Number((BigInt(i) * BigInt(M)) / BigInt(f));
}

test("replica offsets are exactly ⌊i·maxKey/f⌋, for divisible and non-divisible spaces up to 2^52", () => {
  const spaces = [2, 3, 7, 10, 100, 999, 1000, 2 ** 31 - 1, 2 ** 52 - 1, 2 ** 52, 2 ** 52 - 3];
  for (const M of spaces) {
    for (let f = 1; f <= 16; f++) {
      for (let i = 0; i < f; i++) {
        assert.equal(replicaOffset(i, f, M), refOffset(i, f, M), `i=${i} f=${f} M=${M}`);
      }
    }
  }
});

test("replica positions: replica 0 is the key, all f distinct when f ≤ maxKey, wrapping past maxKey − 1", () => {
  for (const M of [4, 5, 10, 13, 64]) {
    for (let f = 1; f <= Math.min(M, 8); f++) {
      for (let k = 0; k < M; k++) {
        const ps = replicaPositions(k, f, M);
        assert.equal(ps.length, f);
        assert.equal(ps[0], k);
        assert.equal(new Set(ps).size, f, `k=${k} f=${f} M=${M}: ${ps}`);
        for (const p of ps) assert.ok(Number.isInteger(p) && p >= 0 && p < M);
        ps.forEach((p, i) => assert.equal(replicaPosition(k, i, f, M), p));
      }
    }
  }
  assert.deepEqual(replicaPositions(9, 4, 10), [9, 1, 4, 6]); // offsets 0, 2, 5, 7
});

test("replica sets are symmetric: the keys with a replica in one range form one range per index", () => {
  const M = 97;
  const f = 4;
  for (const [lo, hi] of [[10, 30], [90, 5], [40, 40], [0, 96]]) {
    for (let i = 0; i < f; i++) {
      const [a, b] = keyRange(lo, hi, i, f, M);
      for (let k = 0; k < M; k++) {
        const inside = inOC(replicaPosition(k, i, f, M), lo, hi, M);
        assert.equal(inOC(k, a, b, M), inside, `k=${k} i=${i} range (${lo}, ${hi}]`);
      }
    }
  }
});

test("majority is ⌊f/2⌋ + 1, and two majorities always share a replica", () => {
  for (let f = 1; f <= 16; f++) {
    const m = majority(f);
    assert.equal(m, Math.floor(f / 2) + 1);
    assert.ok(2 * m > f);
    assert.ok(m <= f);
  }
});

test("span counts the positions of (a, b], the whole ring when a = b", () => {
  assert.equal(span(3, 3, 10), 10);
  assert.equal(span(3, 5, 10), 2);
  assert.equal(span(8, 1, 10), 3);
});

test("coverEnd stops a walk at the node's last key, or at the walk's end when it covers the rest", () => {
  const M = 100;
  for (let a = 0; a < M; a += 7) {
    for (let len = 1; len <= M; len += 9) {
      const b = (a + len) % M;
      for (const [x, y] of [[a, (a + 5) % M], [(a + M - 3) % M, (a + 40) % M], [5, 5]]) {
        const c = coverEnd(a, b, x, y, M);
        // The covered part (a, c] lies inside both the walk and the node's keys.
        const walk = (k: number) => inOC(k, a, b, M);
        const node = (k: number) => inOC(k, x, y, M);
        for (let k = 0; k < M; k++) {
          if (inOC(k, a, c, M) && c !== a) assert.ok(walk(k) && node(k), `k=${k} a=${a} b=${b}`);
        }
        // It ends at b when the node covers the rest, else at the node's end y.
        const coversRest = [...Array(M).keys()].every((k) => !walk(k) || node(k));
        assert.equal(c, coversRest ? b : y, `a=${a} b=${b} x=${x} y=${y}`);
      }
    }
  }
});
