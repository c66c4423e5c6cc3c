// The DHT's repairs and guards in the simulator: read repair, anti-entropy, quorum failures,
// storage limits, bad arguments, frames from peers, churn.
import assert from "node:assert/strict";
import { hashKey } from "../lib/core/id_space.ts";
import {
  InvalidArgumentError,
  MessageTooLargeError,
  NodeClosedError,
  QuorumError,
} from "../lib/errors.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { portHost } from "../lib/services/dht/host.ts";
import { Simulator } from "../lib/node/simulator.ts";
import type { Frame } from "../lib/com/transport.ts";
import { T } from "../lib/wire/schema.ts";
import { replicaPositions } from "../lib/services/dht/replicas.ts";
import { anyNode, dhtRing, dhtTotal, holders, readBack, spreadKey, stopAll } from "./_dht.ts";
import { responsibleFor, ringViolations, runUntil } from "./_ring.ts";
import { test } from "./_test.ts";

function node(sim: Simulator, id: number): P2PNode {
  return sim.live.find((x) => x.id === id)!;
}

test("a replica that missed a write (cut off for a moment) is repaired by a lookup that hears from it", async () => {
  const sim = await dhtRing(20, { seed: 21 });
  const key = spreadKey(sim, 12345, 4);
  const [, h1] = holders(sim, key, 4);
  const writer = sim.live.find((x) => !holders(sim, key, 4).includes(x.id))!;
  await sim.settle(writer.insert(key, "v1"));
  sim.run(1_000);
  sim.partition([[node(sim, h1)], sim.live.filter((x) => x.id !== h1)]);
  const r = await sim.settle(writer.insert(key, "v2"), 5);
  assert.equal(r.replicas, 3, "a majority without the cut-off replica");
  sim.heal();
  const stale = node(sim, h1);
  const before = stale.statistics().dht.repaired;
  // A lookup asks a majority, this node's own replica first: the stale one is heard from, its
  // answer disagrees, the fourth replica is asked, three agree on v2 and the stale one learns it.
  assert.deepEqual(await sim.settle(stale.lookup(key), 5), { value: "v2", version: 2 });
  sim.run(100);
  assert.equal(stale.statistics().dht.repaired, before + 1, "read repair reached it");
  assert.deepEqual(await sim.settle(writer.lookup(key), 5), { value: "v2", version: 2 });
  stopAll(sim);
});

test("anti-entropy repairs a replica that missed writes, with traffic that follows the differences, not the items stored", async () => {
  // The DHT's frames (sent and passed on, over every node): the ring's own upkeep (pings,
  // stabilisation, finger refresh) varies by a hundred frames or more from one 10 s window to
  // the next with the phases of its timers, while a quiet DHT sends the same digests each round.
  const dhtFrames = (sim: Simulator) =>
    sim.live.reduce(
      (a, x) => a + x.statistics().kinds.dht.sent + x.statistics().kinds.dht.forwarded,
      0,
    );
  const quiet = async (keys: number) => {
    const sim = await dhtRing(20, { seed: 22, dht: { syncMs: 5_000 } });
    const ws = Array.from({ length: keys }, (_, k) => anyNode(sim).insert(`k${k}`, k));
    await sim.settle(Promise.all(ws));
    sim.run(12_000); // a round or two: every replica holds everything
    const f0 = dhtFrames(sim);
    sim.run(10_000);
    return { sim, frames: dhtFrames(sim) - f0 };
  };
  const small = await quiet(100);
  stopAll(small.sim);
  const { sim, frames } = await quiet(2_000);
  console.log(`  DHT frames in 10 s of quiet: ${small.frames} with 100 keys, ${frames} with 2,000`);
  assert.ok(frames < 1.25 * small.frames, "twenty times the items, about the same traffic");
  // One replica misses 10 updates; the next rounds bring it up to date without a lookup. Keys
  // of which it holds one replica only, so that the writes find a majority without it and it is
  // cut off for a moment, not long enough to be suspected (a node whose range spans more than
  // a quarter of the ring holds two replicas of some keys). The node with the most such keys:
  // a node with a small range may have fewer than 10.
  const reps = [...Array(2_000).keys()].map((k) => {
    const ids = holders(sim, hashKey(`k${k}`, sim.live[0].maxKey), 4);
    return { k: `k${k}`, once: ids.filter((id) => ids.indexOf(id) === ids.lastIndexOf(id)) };
  });
  const keysOf = (x: P2PNode) => reps.filter((r) => r.once.includes(x.id)).map((r) => r.k);
  const h = sim.live.toSorted((x, y) => keysOf(y).length - keysOf(x).length)[0];
  const mine = keysOf(h).slice(0, 10);
  assert.equal(mine.length, 10);
  sim.partition([[h], sim.live.filter((x) => x !== h)]);
  const writer = sim.live.find((x) => x !== h)!;
  await sim.settle(Promise.all(mine.map((k) => writer.insert(k, "new"))), 5);
  sim.heal();
  assert.deepEqual(ringOf(writer).suspected(), [], "cut off for a moment only");
  const before = h.statistics().dht.repaired;
  const f0 = dhtFrames(sim);
  sim.run(10_000);
  const extra = dhtFrames(sim) - f0 - frames;
  console.log(`  10 stale items repaired with ${extra} DHT frames beyond a quiet period's`);
  assert.equal(h.statistics().dht.repaired - before, 10);
  assert.ok(extra < 200, `${extra} extra frames`);
  stopAll(sim);
});

test("a lookup that cannot reach a majority of replicas fails with a QuorumError naming how many answered", async () => {
  const sim = await dhtRing(20, { seed: 23 });
  const key = spreadKey(sim, 777, 4);
  const hs = holders(sim, key, 4);
  const client = sim.live.find((x) => !hs.includes(x.id))!;
  await sim.settle(client.insert(key, "x"));
  const cut = [node(sim, hs[1]), node(sim, hs[2])];
  sim.partition([cut, sim.live.filter((x) => !cut.includes(x))]);
  const err = await sim.settle(client.lookup(key, { timeoutMs: 800 }), 5).catch((e) => e);
  assert.ok(err instanceof QuorumError, String(err));
  // Two replicas are cut off (and routes through cut-off nodes too, the ring has not noticed).
  assert.ok(err.answered <= 2, `${err.answered} answered`);
  assert.equal(err.needed, 3);
  assert.equal(err.replicas, 4);
  assert.match(err.message, new RegExp(`${err.answered} of 4 replicas answered within 800 ms`));
  assert.equal(client.statistics().dht.quorumFailures, 1);
  sim.heal();
  stopAll(sim);
});

test("storage limits: a node past maxItems or maxBytes refuses new items, and the write fails naming why", async () => {
  const sim = new Simulator({ seed: 24 });
  const a = sim.createNet({ net: { replication: 1 }, dht: { maxItems: 3, maxBytes: 100 } });
  for (const k of ["a", "b", "c"]) await sim.settle(a.insert(k, 1));
  const full = await sim.settle(a.insert("d", 1, { timeoutMs: 500 })).catch((e) => e);
  assert.ok(full instanceof QuorumError, String(full));
  assert.equal(full.answered, 0);
  assert.match(full.message, /1 refused \(storage full\)/);
  await sim.settle(a.insert("a", 2), 5); // an existing item may change
  const big = await sim.settle(a.insert("b", new Uint8Array(120), { timeoutMs: 500 })).catch((e) =>
    e
  );
  assert.ok(big instanceof QuorumError, "past maxBytes");
  assert.ok(a.statistics().dht.refused >= 2);
  assert.ok(a.statistics().dht.bytes <= 100);
  a.crash();
});

test("bad keys, values and options are refused with typed errors before anything is sent", async () => {
  const sim = new Simulator({ seed: 25 });
  const a = sim.createNet({ net: { maxKey: 1000 }, dht: { maxValueBytes: 1000 } });
  for (const key of [-1, 1000, 1.5, NaN, {}, null]) {
    await assert.rejects(a.insert(key as number, 1), InvalidArgumentError, String(key));
    await assert.rejects(a.lookup(key as number), InvalidArgumentError, String(key));
    await assert.rejects(a.remove(key as number), InvalidArgumentError, String(key));
  }
  await assert.rejects(a.insert(1, new Uint8Array(1001)), MessageTooLargeError);
  await assert.rejects(a.insert(1, () => 1), InvalidArgumentError);
  await assert.rejects(a.insert(1, 1, { ifVersion: -1 }), InvalidArgumentError);
  await assert.rejects(a.insert(1, 1, { timeoutMs: 0 }), InvalidArgumentError);
  await assert.rejects(a.lookup(1, { ifVersion: 1 } as object), InvalidArgumentError);
  assert.throws(() => sim.createNet({ net: { replication: 0 } }), InvalidArgumentError);
  assert.throws(() => sim.createNet({ net: { replication: 17 } }), InvalidArgumentError);
  assert.throws(
    () => sim.createNet({ maxFrameSize: 64 * 1024, dht: { maxValueBytes: 64 * 1024 } }),
    /at most the frame limit/,
  );
  assert.throws(
    () => sim.createNet({ dht: { maxitems: 5 } as object }),
    /dht.maxitems is not an option/,
  );
  // A node with small frames stores what they can carry.
  const small = sim.createNet({ maxFrameSize: 4096 });
  await assert.rejects(
    small.insert(1, new Uint8Array(3100)),
    (e) => e instanceof MessageTooLargeError && /the DHT's limit is 3072 bytes/.test(e.message),
  );
  assert.equal((await sim.settle(small.insert(1, new Uint8Array(3000)))).version, 1);
  small.crash();
  assert.equal(a.statistics().dht.items, 0);
  const pending = a.insert(5, "x");
  a.crash();
  await assert.rejects(pending, NodeClosedError);
  await assert.rejects(a.lookup(5), NodeClosedError);
});

test("joiners adopt the creator's replication factor; with f = 1 a leave still hands every item over", async () => {
  const sim = await dhtRing(10, { seed: 26, net: { replication: 1 } });
  for (const x of sim.live) assert.equal(x.info().net?.replication, 1);
  const want = new Map<number, unknown>();
  const ws = Array.from(
    { length: 100 },
    (_, k) => anyNode(sim).insert(`k${k}`, k).then((r) => want.set(r.key, k)),
  );
  await sim.settle(Promise.all(ws));
  assert.equal(dhtTotal(sim, "items"), 100);
  await sim.settle(Promise.all(sim.live.slice(2, 5).map((x) => x.leave())));
  const back = await readBack(sim, want);
  assert.deepEqual([back.wrong, back.missing, back.failed], [[], [], []]);
  stopAll(sim);
});

test("with f = 1, three ring-adjacent nodes leaving at once pass their predecessors' items on: nothing is lost", async () => {
  // Each leaver's successor is leaving too: the items it receives while its own handover is
  // under way must follow it, since no other replica holds them.
  for (let seed = 1; seed <= 5; seed++) {
    const sim = await dhtRing(8, { seed, net: { replication: 1 } });
    const want = new Map<number, unknown>();
    const ws = Array.from(
      { length: 60 },
      (_, k) => anyNode(sim).insert(`k${k}`, k).then((r) => want.set(r.key, k)),
    );
    await sim.settle(Promise.all(ws));
    const leavers = sim.live.toSorted((a, b) => a.id - b.id).slice(2, 5);
    await sim.settle(Promise.all(leavers.map((x) => x.leave())));
    const back = await readBack(sim, want);
    assert.deepEqual([back.wrong, back.missing, back.failed], [[], [], []], `seed ${seed}`);
    stopAll(sim);
  }
});

test("frames from a peer cannot make a node store outside its range, and oversize item lists are dropped whole at the edge", async () => {
  // Every frame goes through the wire codec, as over TCP: the schema checks DHT frames whole.
  const sim = await dhtRing(10, { seed: 27, codec: true });
  const maxKey = sim.live[0].maxKey;
  // The node with the smallest range (a range past a quarter of the ring holds a replica of
  // every key), and a sender that is not its predecessor (a leaving predecessor's range is b's
  // to take).
  const range = (x: P2PNode) => (x.id - x.info().pred!.id + maxKey) % maxKey;
  const b = sim.live.toSorted((x, y) => range(x) - range(y))[0];
  const a = sim.live.find((x) => x !== b && x.id !== b.info().pred?.id)!;
  const ref = { id: b.id, ap: b.ap };
  // Keys whose every replica lies outside b's range.
  const foreign: number[] = [];
  for (let k = 1; foreign.length < 5 && k < 1_000 * 7919; k += 7919) {
    const key = Math.floor((k * 2 ** 40) % maxKey);
    if (replicaPositions(key, 4, maxKey).every((p) => responsibleFor(sim, p) !== b.id)) {
      foreign.push(key);
    }
  }
  assert.equal(foreign.length, 5);
  const items = foreign.map((key) => ({
    key,
    i: 0,
    pc: 1,
    pt: 1,
    ac: 1,
    at: 1,
    ver: 1,
    ws: [1],
    val: new Uint8Array([1]),
  }));
  const before = b.statistics();
  const send = (f: Frame) => ringOf(a).sendControl(ref, f);
  const chunk = { q: 1, n: 0, ix: 0, a: 0, b: 0, last: true, rec: false, its: items } as const;
  send({ t: T.DhtItems, ...chunk, m: "handover" });
  send({ t: T.DhtItems, ...chunk, q: 2, m: "leave", b: a.id });
  send({ t: T.DhtItems, ...chunk, q: 0, m: "sync", last: false });
  for (const key of foreign) {
    send({ t: T.DhtLearn, key, i: 0, c: 9, bt: 9, ver: 9, ws: [9], val: new Uint8Array([9]) });
  }
  send({ t: T.DhtItems, ...chunk, q: 3, m: "handover", its: new Array(129).fill(items[0]) });
  sim.run(1_000);
  const after = b.statistics();
  assert.equal(after.dht.items, before.dht.items, "nothing stored");
  assert.ok(after.dht.refused >= 10);
  assert.equal(after.badFrames, before.badFrames + 1, "129 items: dropped as a bad frame");
  assert.deepEqual(after.badFrameReasons, { ...before.badFrameReasons, range: 1 });
  stopAll(sim);
});

test("under churn (joins, leaves, silent crashes) every acknowledged write reads back, or a later write whose outcome was unknown; every frame passes the wire codec", async () => {
  const sim = await dhtRing(50, { seed: 28, dht: { syncMs: 10_000 }, codec: true });
  const last = new Map<string, { v: number; maybe: Set<number> }>();
  const busy = new Set<string>();
  let acked = 0;
  let failed = 0;
  for (let t = 0; t < 60; t++) {
    const r = sim.random();
    if (r < 0.3) sim.joinNet(anyNode(sim)).catch(() => {});
    else if (r < 0.45 && sim.live.length > 30) sim.vanish(anyNode(sim));
    else if (r < 0.6 && sim.live.length > 30) anyNode(sim).leave();
    for (let i = 0; i < 10; i++) {
      const key = `c${Math.floor(sim.random() * 100)}`;
      if (busy.has(key)) continue;
      busy.add(key);
      const v = t * 100 + i;
      const entry = last.get(key) ?? { v: -1, maybe: new Set<number>() };
      last.set(key, entry);
      anyNode(sim).insert(key, v).then(
        () => {
          entry.v = v;
          entry.maybe.clear();
          acked++;
        },
        () => {
          entry.maybe.add(v);
          failed++;
        },
      ).finally(() => busy.delete(key));
    }
    sim.run(1_000);
    await Promise.resolve();
  }
  sim.run(60_000);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(ringViolations(sim), []);
  let good = 0;
  for (const [key, { v, maybe }] of last) {
    const e = await sim.settle(anyNode(sim).lookup(key));
    if (v < 0 && e === undefined) continue;
    assert.ok(e, `${key}: absent, acknowledged ${v}`);
    assert.ok(
      e.value === v || maybe.has(e.value as number),
      `${key}: ${e.value}, acknowledged ${v}`,
    );
    good++;
  }
  console.log(
    `  ${acked} writes acknowledged, ${failed} failed during churn; ${good} keys read back`,
  );
  assert.ok(acked > 400);
  // Every frame went through the wire codec: honest nodes sent none the schema refuses.
  assert.deepEqual(sim.nodes.map((n) => n.statistics().badFrames).filter((b) => b > 0), []);
  stopAll(sim);
});

test("a node crashed during its leave's handover stops at once, and its leave resolves", async () => {
  const sim = await dhtRing(8, { seed: 29 });
  await sim.settle(
    Promise.all(Array.from({ length: 50 }, (_, k) => anyNode(sim).insert(`k${k}`, k))),
  );
  const x = sim.live.find((n) => n.statistics().dht.items > 0)!;
  const leaving = x.leave();
  assert.equal(x.status, "connected", "still on the ring while handing over");
  x.crash();
  assert.equal(x.status, "crashed");
  await leaving;
  stopAll(sim);
});

test("while a node repairs a lost predecessor its DHT claims nothing below the lost one; once the new predecessor is known it recovers the grown range and every key reads back", async () => {
  const sim = await dhtRing(20, { seed: 31 });
  const want = new Map<number, unknown>();
  const ws = Array.from(
    { length: 60 },
    (_, k) => anyNode(sim).insert(`r${k}`, k).then((r) => want.set(r.key, k)),
  );
  await sim.settle(Promise.all(ws));
  sim.run(5_000);
  const live = sim.live.sort((x, y) => x.id - y.id);
  const [q, p, s] = live.slice(3, 6);
  const host = portHost(ringOf(s));
  assert.deepEqual(host.range(), [p.id, s.id]);
  sim.vanish(p);
  // Event by event: the repair may last a millisecond (when q suspects p just after s, its
  // notification arrives one link latency later).
  runUntil(sim, () => ringOf(s).table!.repairing, "suspicion of the lost predecessor", {
    eachEvent: true,
  });
  // The routing does not claim the keys below the lost node, and neither does the DHT.
  assert.equal(s.info().pred, null);
  assert.deepEqual(host.range(), [p.id, s.id], "the lost predecessor still bounds the range");
  const repairedBefore = s.statistics().dht.repaired;
  runUntil(sim, () => s.info().pred?.id === q.id, "new predecessor");
  assert.deepEqual(host.range(), [q.id, s.id]);
  sim.run(20_000);
  assert.equal(s.statistics().dht.pendingRanges, 0, "the grown range was recovered");
  const held = replicaPositionsOf(want, q.id, p.id, sim.live[0].maxKey);
  assert.ok(held > 0, "the lost node held replicas");
  assert.ok(
    s.statistics().dht.repaired - repairedBefore >= held,
    `${
      s.statistics().dht.repaired - repairedBefore
    } repaired, ${held} replicas were on the lost node`,
  );
  const back = await readBack(sim, want);
  assert.deepEqual([back.wrong, back.missing, back.failed], [[], [], []]);
  assert.equal(dhtTotal(sim, "items"), 4 * want.size, "every key 4-fold again");
  stopAll(sim);
});

/** How many replicas of the keys of `want` lie in the position range `(lo, hi]`. */
function replicaPositionsOf(want: Map<number, unknown>, lo: number, hi: number, maxKey: number) {
  let n = 0;
  for (const key of want.keys()) {
    for (const pos of replicaPositions(key, 4, maxKey)) if (pos > lo && pos <= hi) n++;
  }
  return n;
}
