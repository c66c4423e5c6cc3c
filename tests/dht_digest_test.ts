import assert from "node:assert/strict";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import {
  bucketOf,
  BUCKETS,
  childPrefix,
  compareDigests,
  digest,
  keyHash,
  MAX_LEVEL,
  type Summarised,
  underPrefix,
} from "../lib/services/dht/digest.ts";
import { test } from "./_test.ts";

function items(n: number, seed: number): Summarised[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => ({
    key: Math.floor(r() * 2 ** 52),
    ac: 1 + Math.floor(r() * 1000),
    at: Math.floor(r() * 2 ** 52),
  }));
}

test("keyHash spreads consecutive and clustered keys evenly over the top bits", () => {
  const counts = new Array(BUCKETS).fill(0);
  for (let k = 0; k < 32_000; k++) counts[bucketOf(keyHash(k), 0)]++;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `bucket of ${c} (expect ≈ 1000)`);
});

test("a digest does not depend on order, and any change of key or accepted ballot changes it", () => {
  const a = items(500, 1);
  const d = digest(a, 0);
  assert.deepEqual(digest([...a].reverse(), 0), d);
  assert.equal(d.length, BUCKETS * 3);
  assert.equal(d.filter((_, i) => i % 3 === 0).reduce((x, y) => x + y, 0), 500);
  for (const change of [{ ac: a[7].ac + 1 }, { at: a[7].at + 1 }, { key: a[7].key + 1 }]) {
    const b = a.map((x, i) => (i === 7 ? { ...x, ...change } : x));
    assert.notDeepEqual(digest(b, 0), d, JSON.stringify(change));
  }
});

test("prefixes nest: an item in bucket b at level L is under childPrefix(prefix, b) at level L + 1", () => {
  for (const it of items(2000, 2)) {
    const h = keyHash(it.key);
    let prefix = 0;
    for (let lv = 0; lv <= MAX_LEVEL; lv++) {
      assert.ok(underPrefix(h, lv, prefix));
      prefix = childPrefix(prefix, bucketOf(h, lv));
    }
    assert.ok(underPrefix(h, MAX_LEVEL + 1, prefix));
  }
});

test("comparing digests: equal buckets are skipped, small differing ones exchanged, large ones split, everything exchanged at the deepest level", () => {
  const a = items(5000, 3);
  const changed = a.map((x, i) => (i === 42 ? { ...x, ac: x.ac + 1 } : x));
  const plan = compareDigests(digest(a, 0), digest(changed, 0), 0, 32);
  assert.equal(plan.same.length, BUCKETS - 1);
  assert.deepEqual(plan.split, [bucketOf(keyHash(a[42].key), 0)], "≈ 156 items per bucket: split");
  assert.deepEqual(plan.exchange, []);
  const deep = compareDigests(digest(a, MAX_LEVEL), digest(changed, MAX_LEVEL), MAX_LEVEL, 32);
  assert.equal(deep.split.length, 0);
  assert.equal(deep.exchange.length, 1);
  // A replica that lost everything pulls every non-empty bucket at once.
  const empty = compareDigests(digest([], 0), digest(a, 0), 0, 32);
  assert.equal(empty.exchange.length, BUCKETS);
});

test("following the split buckets narrows one difference among 100,000 items to one small bucket within 3 levels", () => {
  const a = items(100_000, 4);
  const b = a.map((x, i) => (i === 777 ? { ...x, at: x.at + 1 } : x));
  let mine = a;
  let theirs = b;
  let prefix = 0;
  let lv = 0;
  for (;; lv++) {
    const plan = compareDigests(digest(mine, lv), digest(theirs, lv), lv, 32);
    assert.equal(plan.exchange.length + plan.split.length, 1, `level ${lv}`);
    const bucket = plan.exchange[0] ?? plan.split[0];
    prefix = childPrefix(prefix, bucket);
    const under = (x: Summarised) => underPrefix(keyHash(x.key), lv + 1, prefix);
    mine = mine.filter(under);
    theirs = theirs.filter(under);
    if (plan.exchange.length) break;
  }
  assert.ok(lv <= 2, `found at level ${lv}`);
  assert.ok(mine.length <= 32 && mine.some((x) => x.key === a[777].key));
});
