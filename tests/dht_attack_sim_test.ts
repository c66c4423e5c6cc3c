// Attacks on the DHT in the simulator, where they need a ring shaped on purpose or a precise
// moment rather than real sockets: forged and repeated transfer announcements (DhtStart), and
// answers forged for requests the attacker never saw.
import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { T } from "../lib/wire/schema.ts";
import { anyNode, dhtRing, stopAll } from "./_dht.ts";
import { ringViolations } from "./_ring.ts";
import { simRogue } from "./_sim_rogue.ts";
import { test } from "./_test.ts";

/** No anti-entropy round during a test: what repairs a replica is what the test looks at. */
const QUIET = { syncMs: 3_600_000 };

/** A ring of nodes with the given ids (maxKey 1000), settled. */
async function ringOf_(ids: number[], replication: number): Promise<Simulator> {
  const sim = new Simulator({ seed: 41 });
  const net = { maxKey: 1000, replication, succListSize: 4 };
  const first = sim.createNet({ node: { id: ids[0] }, net, dht: QUIET });
  const joins = ids.slice(1).map((id) => sim.joinNet(first, { node: { id }, dht: QUIET }));
  sim.run(20_000);
  await Promise.all(joins);
  assert.deepEqual(ringViolations(sim), []);
  return sim;
}

function byId(sim: Simulator, id: number): P2PNode {
  return sim.live.find((x) => x.id === id)!;
}

test("a Start from a node that is not the successor is refused and does not cancel the recovery a new DHT starts with", async () => {
  // f = 2: the replicas of key k sit at k and k + 500. Keys 110..190 live on 200 and 700; node
  // 300, and 800 across from it, never hear of the DHT, so 300 holds none when 200 crashes and
  // its range grows to (100, 300].
  const sim = await ringOf_([100, 200, 300, 600, 700, 800], 2);
  const keys = Array.from({ length: 81 }, (_, k) => 110 + k);
  await sim.settle(Promise.all(keys.map((k) => byId(sim, 600).insert(k, k))));
  const x = byId(sim, 300);
  assert.equal(x.statistics().dht.items, 0);
  sim.vanish(byId(sim, 200));
  sim.run(20_000);
  assert.equal(x.info().pred?.id, 100);
  // The first DHT frame 300 ever gets: a Start from a peer that is not its successor.
  const r = simRogue(sim, 950);
  r.send(x, { t: T.DhtStart, a: 100, b: 300 });
  sim.run(10_000);
  const s = x.statistics().dht;
  assert.equal(s.refused, 1, "the Start is refused");
  assert.equal(s.pendingRanges, 0);
  assert.equal(s.items, keys.length, "300 recovered replica 0 of every key of its grown range");
  for (const k of keys) assert.equal((await sim.settle(anyNode(sim).lookup(k)))?.value, k);
  stopAll(sim);
});

test("a successor that repeats its Start leaves one wait, and a handover that never comes is recovered instead", async () => {
  const sim = await dhtRing(12, { seed: 42, dht: QUIET });
  const want = new Map<number, number>();
  await sim.settle(
    Promise.all(
      Array.from({ length: 80 }, (_, k) =>
        anyNode(sim).insert(`s${k}`, k).then((r) => {
          want.set(r.key, k);
        })),
    ),
  );
  // The node holding the most replicas (a node with a small range may hold none at all).
  const x = sim.live.toSorted((a, b) => b.statistics().dht.items - a.statistics().dht.items)[0];
  const held = x.statistics().dht.items;
  assert.ok(held > 0);
  const succ = x.info().succ;
  const start = { t: T.DhtStart, a: x.info().pred!.id, b: x.id } as const;
  for (let n = 0; n < 50; n++) ringOf(byId(sim, succ.id)).sendControl(x, start);
  sim.run(100);
  assert.equal(x.statistics().dht.pendingRanges, 1, "one handover awaited");
  assert.equal(x.statistics().dht.items, held, "it keeps what it holds while it waits");
  // None comes: after 5 s x recovers its range from the other replicas, then serves it.
  sim.run(20_000);
  assert.equal(x.statistics().dht.pendingRanges, 0);
  for (const [key, v] of want) assert.equal((await sim.settle(x.lookup(key)))?.value, v);
  stopAll(sim);
});

test("answers forged for request ids a peer never saw teach the location table nothing: lookups never go to the forger", async () => {
  const sim = await dhtRing(20, { seed: 43, dht: QUIET });
  const v = sim.live[3];
  // The rogue's id just below a node's: the range it claims, (its id + 1, its id], is then the
  // part of the ring its id is the first one after in v's table: most of that node's range.
  const ids = sim.live.map((x) => x.id).sort((a, b) => a - b);
  const r = simRogue(sim, ids[10] - 1);
  const maxKey = v.maxKey;
  const lookups = (n: number, tag: string) =>
    Promise.all(Array.from({ length: n }, (_, k) => v.lookup(`${tag}${k}`)));
  // While v's lookups are in flight, the rogue answers every request id up to 5,000 claiming
  // the whole ring but one position.
  const first = lookups(40, "a");
  for (let q = 1; q <= 5_000; q++) {
    r.send(v, { t: T.DhtNack, q, i: 0, lo: (r.ref.id + 1) % maxKey, why: "notReady" });
  }
  await sim.settle(first);
  const asked = () => r.frames.filter((f) => f.frame.t === T.DhtRead).length;
  await sim.settle(lookups(200, "b"));
  assert.equal(asked(), 0, "no request went straight to the rogue");
  stopAll(sim);
});

test("reads flooding a node that is still recovering a range wait in a queue of at most 1,024; the rest are refused at once, and every one is answered", async () => {
  const sim = await dhtRing(12, { seed: 44, dht: QUIET });
  await sim.settle(Promise.all(Array.from({ length: 40 }, (_, k) => anyNode(sim).insert(k, k))));
  const live = sim.live.sort((a, b) => a.id - b.id);
  const [p, x] = [live[5], live[6]];
  const lost = live[4].id; // p's range, (lost, p], becomes x's
  sim.vanish(p);
  for (let t = 0; x.statistics().dht.pendingRanges === 0; t += 10) {
    assert.ok(t < 30_000, "x takes over p's range");
    sim.run(10);
  }
  const r = simRogue(sim, 950);
  const n = 2_000;
  for (let q = 1; q <= n; q++) {
    const key = lost + 1 + (q % (p.id - lost)); // replica 0 in (lost, p]
    const s = { id: r.ref.id, ap: r.ref.ap };
    r.send(x, { t: T.DhtRead, k: key, h: 1, ph: 0, f: -1, s, key, i: 0, q });
  }
  sim.run(20);
  assert.equal(x.statistics().dht.waiting, 1_024);
  const nacks = () =>
    r.frames.filter((f) => f.frame.t === T.DhtNack && f.frame.why === "notReady").length;
  assert.equal(nacks(), n - 1_024);
  sim.run(20_000);
  assert.equal(x.statistics().dht.waiting, 0);
  assert.equal(r.frames.filter((f) => f.frame.t === T.DhtState).length, 1_024);
  stopAll(sim);
});
