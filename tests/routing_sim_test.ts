import assert from "node:assert/strict";
import { fingerPolicy } from "../lib/core/fingers.ts";
import { Phase, RoutingTable } from "../lib/core/routing_table.ts";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import { buildRing, lookups, mean, quantile, ringViolations } from "./_ring.ts";
import { test } from "./_test.ts";

const ap = { hostname: "h", port: 1 };

/** Perfect tables for `ids` under `policy`, optionally with some entries deleted. */
function tables(
  ids: number[],
  M: number,
  policy: string,
  broken = 0,
  seed = 1,
): Map<number, RoutingTable> {
  const rnd = seededRandom(seed);
  const sorted = [...ids].sort((a, b) => a - b);
  const out = new Map<number, RoutingTable>();
  for (const [i, id] of sorted.entries()) {
    const tb = new RoutingTable({ id, ap }, M, fingerPolicy(policy, M), 3);
    tb.pred = { id: sorted[(i - 1 + sorted.length) % sorted.length], ap };
    tb.succList = [1, 2, 3].map((k) => ({ id: sorted[(i + k) % sorted.length], ap }));
    for (const other of sorted) if (other !== id) tb.considerFinger({ id: other, ap });
    for (let j = 0; j < tb.fingers.length; j++) if (rnd() < broken) tb.setFinger(j, null);
    out.set(id, tb);
  }
  return out;
}

function walk(t: Map<number, RoutingTable>, from: number, key: number): number[] {
  const path = [from];
  let at = from;
  let phase: number = Phase.Approach;
  for (;;) {
    const hop = t.get(at)!.nextHop(key, phase);
    if (hop.node === null) return path;
    at = hop.node.id;
    phase = hop.phase;
    assert.ok(!path.includes(at), `loop routing ${key}: ${[...path, at].join(" → ")}`);
    path.push(at);
  }
}

test("next hop is loop-free and ends at the responsible node for every key and start, with complete and broken tables", () => {
  const M = 243;
  const rnd = seededRandom(5);
  for (const policy of ["tango", "chord", "dks:3"]) {
    for (const broken of [0, 0.5, 0.9]) {
      const ids = [...new Set(Array.from({ length: 40 }, () => Math.floor(rnd() * M)))];
      const t = tables(ids, M, policy, broken);
      const sorted = [...ids].sort((a, b) => a - b);
      for (const from of ids) {
        for (let key = 0; key < M; key++) {
          const path = walk(t, from, key);
          const resp = sorted.find((id) => id >= key) ?? sorted[0];
          assert.equal(path.at(-1), resp, `${policy} broken=${broken} key ${key} from ${from}`);
        }
      }
    }
  }
});

/**
 * The table of node 500 in a space of 1000 keys: it knows its predecessor 400, its successor 510
 * (node spacing 10) and node 200 further back.
 */
function handMadeTable(): RoutingTable {
  const n = (id: number) => ({ id, ap });
  const tb = new RoutingTable(n(500), 1000, fingerPolicy("tango", 1000), 4);
  tb.pred = n(400);
  tb.setSuccList(n(510), []);
  tb.considerFinger(n(200));
  return tb;
}

test("next hop on a hand-made table: approach ties go past the key, a jump past the key settles, settling moves down", () => {
  const tb = handMadeTable();
  const hop = (key: number, phase: number) => {
    const h = tb.nextHop(key, phase);
    return [h.node?.id ?? null, h.phase === Phase.Settle ? "settle" : "approach"];
  };
  // Key 300: nodes 200 and 400 are both 100 away; the one past the key may be responsible.
  assert.deepEqual(hop(300, Phase.Approach), [400, "approach"]);
  // Key 395: node 400 lies within two node spacings past it, so it is probably responsible:
  // straight there, and settle.
  assert.deepEqual(hop(395, Phase.Approach), [400, "settle"]);
  // Settling, a message only moves to a known node closer to the key from above.
  assert.deepEqual(hop(180, Phase.Settle), [200, "settle"]);
  assert.deepEqual(hop(350, Phase.Settle), [400, "settle"]);
  // Its own keys stay here.
  assert.deepEqual(hop(450, Phase.Approach), [null, "settle"]);
});

test("a node that lost its predecessor answers only for the keys above the lost one until a new one is known", () => {
  const tb = handMadeTable();
  assert.equal(tb.repairing, false);
  tb.pred = null; // suspected, dropped
  assert.equal(tb.repairing, true);
  // Keys in (400, 500] are still its own; keys at or below 400 may belong to 400, or to a node
  // between 200 and 400 this node never heard of.
  assert.deepEqual([450, 401, 500].map((k) => tb.responsible(k)), [true, true, true]);
  assert.deepEqual([400, 399, 300, 201].map((k) => tb.responsible(k)), [
    false,
    false,
    false,
    false,
  ]);
  // Such a key is approached through the nearest known node, not delivered here.
  const h = tb.nextHop(300, Phase.Settle);
  assert.equal(h.node?.id, 200);
  // A new predecessor ends the repair: the range is (pred, self] again.
  tb.pred = { id: 350, ap };
  assert.equal(tb.repairing, false);
  assert.deepEqual([351, 349].map((k) => tb.responsible(k)), [true, false]);
});

for (const seed of [1, 2]) {
  test(`simulator seed ${seed}: in a 1,000-node ring every key routes to its responsible node`, async () => {
    const sim = await buildRing(1000, { seed });
    assert.deepEqual(ringViolations(sim), []);
    const { hops, wrong, lost } = lookups(sim, 3000);
    assert.equal(wrong, 0);
    assert.equal(lost, 0);
    console.log(
      `  tango N=1000 seed=${seed}: mean hops ${mean(hops).toFixed(2)}, p99 ${
        quantile(hops, 0.99)
      }, max ${Math.max(...hops)} (½·log2 N = 4.98)`,
    );
    assert.ok(mean(hops) < Math.log2(1000), "mean hops below log2 N");
  });
}

test("routing under each finger policy reaches the responsible node; Tango takes fewer hops than Chord", async () => {
  const result: Record<string, number> = {};
  for (const fingers of ["tango", "chord", "dks:4", "fullmesh"] as const) {
    const sim = await buildRing(400, { seed: 9, node: { net: { fingers } } });
    const { hops, wrong, lost } = lookups(sim, 2000);
    assert.equal(wrong, 0, fingers);
    assert.equal(lost, 0, fingers);
    result[fingers] = mean(hops);
  }
  console.log(
    "  mean hops at N=400:",
    JSON.stringify(result, (_k, v) => typeof v === "number" ? +v.toFixed(2) : v),
  );
  assert.ok(result.tango < result.chord);
  assert.ok(result.fullmesh <= result.tango);
});
