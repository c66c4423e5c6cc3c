import assert from "node:assert/strict";
import { addMod, cw, hashKey, inCO, inOC, inOO, ringDistance } from "../lib/core/id_space.ts";
import { test } from "./_test.ts";

/** Reference: walk the ring from a (exclusive) to b (inclusive) and collect what we pass. */
function walkOC(a: number, b: number, M: number): Set<number> {
  const s = new Set<number>();
  if (a === b) {
    for (let i = 0; i < M; i++) s.add(i);
    return s;
  }
  for (let x = (a + 1) % M;; x = (x + 1) % M) {
    s.add(x);
    if (x === b) break;
  }
  return s;
}

test("interval (a, b] matches a walk round the ring for every a, b, x on small rings", () => {
  for (const M of [1, 2, 3, 8, 13]) {
    for (let a = 0; a < M; a++) {
      for (let b = 0; b < M; b++) {
        const ref = walkOC(a, b, M);
        for (let x = 0; x < M; x++) {
          assert.equal(inOC(x, a, b, M), ref.has(x), `x=${x} in (${a}, ${b}] mod ${M}`);
          const oo = ref.has(x) && (a === b ? x !== a : x !== b);
          assert.equal(inOO(x, a, b, M), oo, `x=${x} in (${a}, ${b}) mod ${M}`);
          const co = a === b ? true : (x === a || (ref.has(x) && x !== b));
          assert.equal(inCO(x, a, b, M), co, `x=${x} in [${a}, ${b}) mod ${M}`);
        }
      }
    }
  }
});

test("empty, full and wrapping intervals behave as the ring protocol expects", () => {
  const M = 16;
  assert.equal(inOO(5, 5, 6, M), false, "(5, 6) is empty");
  assert.equal(inOC(6, 5, 6, M), true, "(5, 6] holds 6 only");
  assert.equal(inOC(7, 5, 6, M), false);
  assert.equal(inOC(3, 7, 7, M), true, "(a, a] is the full ring: a node alone owns every key");
  assert.equal(inOC(0, 14, 2, M), true, "wrapping (14, 2] holds 0");
  assert.equal(inOC(14, 14, 2, M), false);
  assert.equal(inOO(2, 14, 2, M), false);
});

test("distances and modular addition wrap at maxKey and stay exact at 2^52", () => {
  const M = 2 ** 52;
  assert.equal(cw(M - 1, 0, M), 1);
  assert.equal(cw(0, M - 1, M), M - 1);
  assert.equal(ringDistance(1, M - 1, M), 2);
  assert.equal(addMod(M - 1, 1, M), 0);
  assert.equal(addMod(0, -1, M), M - 1);
  assert.equal(addMod(M - 3, M / 2 + 1, M), M / 2 - 2);
});

test("hashKey maps strings into the identifier space deterministically", () => {
  for (const M of [2, 1000, 2 ** 52]) {
    for (const k of ["", "a", "hello", "ключ", "x".repeat(1000)]) {
      const h = hashKey(k, M);
      assert.ok(Number.isSafeInteger(h) && h >= 0 && h < M, `${k} → ${h}`);
      assert.equal(hashKey(k, M), h);
    }
  }
  assert.notEqual(hashKey("a", 2 ** 52), hashKey("b", 2 ** 52));
});

test("hashKey spreads keys that differ only in their last characters over the whole ring", () => {
  const M = 2 ** 52;
  const arcs = new Set<number>();
  for (let k = 0; k < 3000; k++) arcs.add(Math.floor(hashKey(`key-${k}`, M) / (M / 200)));
  // 3,000 uniform draws leave an arc of 200 empty with probability (199/200)^3000 ≈ 3e-7 each.
  assert.ok(arcs.size >= 199, `${arcs.size} of 200 arcs hit`);
});
