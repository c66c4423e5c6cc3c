// The DHT in the simulator: reads after writes, crashes, graceful leaves, joins, compare-and-set
// races. (The 1,000-node versions are in bench/dht.ts.)
import assert from "node:assert/strict";
import { VersionConflictError } from "../lib/errors.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { replicaPositions } from "../lib/services/dht/replicas.ts";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import { anyNode, dhtRing, dhtTotal, holders, readBack, stopAll } from "./_dht.ts";
import { responsibleFor, ringViolations } from "./_ring.ts";
import { test } from "./_test.ts";

test("on a 100-node ring, keys inserted, overwritten and removed from random nodes read back as last written from random nodes; every frame passes the wire codec", async () => {
  // Every frame is encoded and read back through the wire codec, validated as over TCP.
  const sim = await dhtRing(100, { seed: 11, codec: true });
  const want = new Map<number, unknown>();
  const writes: Promise<unknown>[] = [];
  for (let k = 0; k < 400; k++) {
    const key = k % 2 ? `key-${k}` : Math.floor(sim.random() * 2 ** 52);
    writes.push(anyNode(sim).insert(key, { k, v: 1 }).then((r) => want.set(r.key, { k, v: 1 })));
  }
  await sim.settle(Promise.all(writes));
  const keys = [...want.keys()];
  const updates = keys.slice(0, 100).map((key) =>
    anyNode(sim).insert(key, { v: 2 }).then((r) => {
      assert.equal(r.version, 2);
      assert.ok(r.replicas >= 3);
      want.set(key, { v: 2 });
    })
  );
  const removes = keys.slice(100, 150).map((key) =>
    anyNode(sim).remove(key).then((r) => {
      assert.equal(r.version, 2);
      want.delete(key);
    })
  );
  await sim.settle(Promise.all([...updates, ...removes]));
  const back = await readBack(sim, want);
  assert.deepEqual([back.wrong, back.missing, back.failed], [[], [], []]);
  assert.equal(back.good, 350);
  for (const key of keys.slice(100, 150)) {
    assert.equal(await sim.settle(anyNode(sim).lookup(key)), undefined, `removed ${key}`);
  }
  sim.run(5_000);
  assert.equal(dhtTotal(sim, "items"), 4 * 400, "tombstones are items until they expire");
  // Honest nodes only ever send DHT frames the schema accepts.
  assert.deepEqual(sim.nodes.map((n) => n.statistics().badFrames).filter((b) => b > 0), []);
  stopAll(sim);
});

test("after 38 of 150 nodes (25 %) crash at once and repair runs, every key with a surviving replica returns its value; only keys that lost all four are absent", async () => {
  const sim = await dhtRing(150, { seed: 22, dht: { syncMs: 10_000 } });
  const want = new Map<number, unknown>();
  const writes = Array.from(
    { length: 600 },
    (_, k) => anyNode(sim).insert(`item-${k}`, k).then((r) => want.set(r.key, k)),
  );
  await sim.settle(Promise.all(writes));
  sim.run(25_000); // anti-entropy: every replica holds the last write
  assert.equal(dhtTotal(sim, "items"), 4 * 600);
  // The victims are drawn apart from the protocol's random numbers; this draw makes some keys
  // lose all four replicas (they come in clusters: the keys of one arc share their four nodes),
  // so that the test sees both outcomes.
  const pick = seededRandom(3);
  const dead = new Set(
    sim.live.map((x) => [pick(), x.id]).sort((a, b) => a[0] - b[0]).slice(0, 38)
      .map((p) => p[1]),
  );
  const lost = [...want.keys()].filter((key) => holders(sim, key, 4).every((id) => dead.has(id)));
  for (const x of sim.live) if (dead.has(x.id)) sim.vanish(x);
  sim.run(30_000);
  assert.deepEqual(ringViolations(sim), []);
  const back = await readBack(sim, want);
  console.log(
    `  ${dead.size} of 150 crashed; ${lost.length} of 600 keys lost every replica ` +
      `(≈ ${(600 * (38 / 150) ** 4).toFixed(1)} expected); ${back.good} read back`,
  );
  assert.deepEqual(back.wrong, []);
  assert.deepEqual(back.failed, []);
  assert.deepEqual(back.missing.sort(), lost.sort());
  assert.equal(
    dhtTotal(sim, "items"),
    4 * (600 - lost.length),
    "every surviving key is 4-fold again",
  );
  stopAll(sim);
});

test("graceful leaves of 30 % of a 120-node ring at once lose nothing: leavers hand their items over first", async () => {
  const sim = await dhtRing(120, { seed: 13 });
  const want = new Map<number, unknown>();
  const writes = Array.from(
    { length: 500 },
    (_, k) => anyNode(sim).insert(`item-${k}`, { k }).then((r) => want.set(r.key, { k })),
  );
  await sim.settle(Promise.all(writes));
  sim.run(5_000);
  const leavers = sim.live.filter(() => sim.random() < 0.3);
  const handed = leavers.map((x) => x.statistics().dht.items).reduce((a, b) => a + b, 0);
  const stats = new Map<P2PNode, number>();
  await sim.settle(
    Promise.all(
      leavers.map((x) => x.leave().then(() => stats.set(x, x.statistics().dht.handedOver))),
    ),
  );
  // Leavers next to leavers hand on what they were handed too.
  const sent = [...stats.values()].reduce((a, b) => a + b, 0);
  assert.ok(sent >= handed, `${sent} handed over, ${handed} held`);
  const back = await readBack(sim, want);
  assert.deepEqual([back.wrong, back.missing, back.failed], [[], [], []]);
  sim.run(5_000);
  assert.equal(dhtTotal(sim, "items"), 4 * 500);
  stopAll(sim);
});

test("joiners take over their ranges: after 40 joins every item sits on the node now responsible for its position", async () => {
  const sim = await dhtRing(40, { seed: 14 });
  const want = new Map<number, unknown>();
  const writes = Array.from(
    { length: 400 },
    (_, k) => anyNode(sim).insert(`item-${k}`, k).then((r) => want.set(r.key, k)),
  );
  await sim.settle(Promise.all(writes));
  sim.run(5_000);
  const joins: Promise<P2PNode>[] = [];
  for (let i = 0; i < 40; i++) {
    joins.push(sim.joinNet(anyNode(sim)));
    sim.run(200); // joins overlap the lookups below
  }
  const during = await readBack(sim, want);
  await sim.settle(Promise.all(joins));
  sim.run(10_000);
  assert.deepEqual(ringViolations(sim), []);
  assert.deepEqual([during.wrong, during.missing, during.failed], [[], [], []]);
  const expected = new Map<number, number>();
  for (const key of want.keys()) {
    for (const p of replicaPositions(key, 4, sim.live[0].maxKey)) {
      const id = responsibleFor(sim, p);
      expected.set(id, (expected.get(id) ?? 0) + 1);
    }
  }
  for (const x of sim.live) {
    assert.equal(x.statistics().dht.items, expected.get(x.id) ?? 0, `node ${x.id}`);
  }
  assert.ok(dhtTotal(sim, "handedOver") > 0);
  stopAll(sim);
});

test("compare-and-set races: 8 writers on one key, each reading then writing its version + 1, get exactly one winner per version", async () => {
  const sim = await dhtRing(30, { seed: 15 });
  const winners = new Map<number, number[]>();
  let conflicts = 0;
  const writer = async (w: number, node: P2PNode) => {
    for (let round = 0; round < 8; round++) {
      const seen = (await node.lookup("counter"))?.version ?? 0;
      try {
        const r = await node.insert("counter", { w, round }, { ifVersion: seen });
        assert.equal(r.version, seen + 1);
        winners.set(r.version, [...(winners.get(r.version) ?? []), w]);
      } catch (e) {
        if (!(e instanceof VersionConflictError)) throw e;
        assert.ok(e.current > seen, "a conflict reports a newer version");
        conflicts++;
      }
    }
  };
  await sim.settle(Promise.all(sim.live.slice(0, 8).map((x, w) => writer(w, x))), 5);
  const last = await sim.settle(anyNode(sim).lookup("counter"));
  console.log(`  ${winners.size} versions won, ${conflicts} conflicts`);
  assert.equal(last?.version, winners.size, "every version has a reported winner");
  for (const [v, ws] of winners) assert.equal(ws.length, 1, `version ${v}: ${ws}`);
  assert.equal(winners.size + conflicts, 64);
  stopAll(sim);
});
