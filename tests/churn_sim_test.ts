import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { lookups, ringViolations } from "./_ring.ts";
import { DEFAULT_TIMING } from "../lib/core/ring.ts";
import { test } from "./_test.ts";
import { drain } from "./_wait.ts";

/**
 * A random run of joins, leaves, crashes and silent crashes, then quiet. Every frame passes
 * through the wire codec, as over TCP.
 */
async function churn(seed: number, ops: number): Promise<Simulator> {
  const sim = new Simulator({ seed, codec: true });
  // Simulated links lose nothing and take a few ms: a ping needs no more than a second to be
  // answered, and the churn below (a node every 2–3 s) is judged at that pace.
  const timing = { minTimeoutMs: 1000 };
  const first = sim.createNet({ net: { succListSize: 3 }, timing });
  for (let i = 0; i < 12; i++) await sim.settle(sim.joinNet(first, { timing }));
  sim.run(10_000);
  const pending: Promise<unknown>[] = [];
  for (let op = 0; op < ops; op++) {
    const live = sim.live;
    const r = sim.random();
    const pick = () => live[Math.floor(sim.random() * live.length)];
    if (r < 0.4 || live.length < 5) {
      pending.push(sim.joinNet(pick(), { timing }).catch(() => null));
    } else if (r < 0.6) {
      pending.push(pick().leave());
    } else if (r < 0.8) {
      pick().crash();
    } else if (r < 0.9) {
      sim.vanish(pick());
    } else {
      // Two adjacent nodes crash together (fewer than succListSize).
      const ids = live.map((n) => n.id).sort((a, b) => a - b);
      const i = Math.floor(sim.random() * ids.length);
      for (const id of [ids[i], ids[(i + 1) % ids.length]]) live.find((n) => n.id === id)!.crash();
    }
    sim.run(sim.random() * 3000);
  }
  sim.run(120_000);
  await Promise.all(pending);
  return sim;
}

test("simulator, 200 seeds: random joins, leaves, crashes and silent crashes end in one correct ring that routes every key", async () => {
  for (let seed = 1; seed <= 200; seed++) {
    const sim = await churn(seed, 25);
    assert.deepEqual(ringViolations(sim), [], `seed ${seed}`);
    const { wrong, lost } = lookups(sim, 100);
    assert.equal(wrong + lost, 0, `seed ${seed}: ${wrong} wrong, ${lost} lost lookups`);
    // Honest nodes only ever send frames the schema accepts.
    const bad = sim.nodes.reduce((sum, n) => sum + n.statistics().badFrames, 0);
    assert.equal(bad, 0, `seed ${seed}: ${bad} frames refused by the codec`);
  }
});

test("a ring survives succListSize − 1 adjacent simultaneous crashes", async () => {
  const sim = new Simulator({ seed: 42 });
  const first = sim.createNet({ net: { succListSize: 4 } });
  for (let i = 0; i < 40; i++) await sim.settle(sim.joinNet(first));
  sim.run(20_000);
  const ids = sim.live.map((n) => n.id).sort((a, b) => a - b);
  for (const id of ids.slice(10, 13)) sim.nodes.find((n) => n.id === id)!.crash();
  sim.run(30_000);
  assert.deepEqual(ringViolations(sim), []);
  assert.equal(lookups(sim, 300).wrong, 0);
});

test("a silent crash is suspected, declared crashed and repaired; the events say so", async () => {
  const sim = new Simulator({ seed: 43 });
  const first = sim.createNet();
  const nodes: P2PNode[] = [first];
  for (let i = 0; i < 10; i++) nodes.push(await sim.settle(sim.joinNet(first)));
  sim.run(10_000);
  const victim = nodes[4];
  const pred = sim.live.find((n) => n.info().succ.id === victim.id)!;
  const ev = pred.events();
  const t0 = sim.clock.now();
  sim.vanish(victim);
  sim.run(20_000);
  pred.crash();
  const seen = await drain(ev, "the events of a crashed node");
  const suspect = seen.find((e) => e.type === "suspect");
  const crash = seen.find((e) => e.type === "crash");
  assert.ok(suspect && crash, seen.map((e) => e.type).join());
  console.log(
    `  suspected after ${(suspect.time - t0).toFixed(0)} ms, declared crashed after ${
      (crash.time - t0).toFixed(0)
    } ms`,
  );
  // Heard last at most a heartbeat before it vanished; pinged at the first check a heartbeat
  // after that; suspected at the first check a timeout after the ping.
  const { heartbeatMs, minTimeoutMs } = DEFAULT_TIMING;
  assert.ok(
    suspect.time - t0 <= 3 * heartbeatMs + minTimeoutMs,
    "within three heartbeats and a timeout",
  );
  sim.run(20_000);
  assert.deepEqual(ringViolations(sim), []);
});

test("a false suspicion heals: a partitioned node comes back and the rings merge", async () => {
  const sim = new Simulator({ seed: 44 });
  const first = sim.createNet();
  const nodes: P2PNode[] = [first];
  for (let i = 0; i < 15; i++) nodes.push(await sim.settle(sim.joinNet(first)));
  sim.run(10_000);
  const island = [nodes[3]];
  sim.partition([island, nodes.filter((n) => n !== nodes[3])]);
  // It suspects each node it knows in turn (and tries those it heard from lately) until none is
  // left: a minute of silence is more than enough.
  sim.run(60_000);
  assert.equal(nodes[3].status, "alone", "cut off, it is alone");
  const ev = nodes[3].events();
  sim.heal();
  sim.run(60_000);
  assert.deepEqual(ringViolations(sim), []);
  const types: string[] = [];
  nodes[3].crash();
  for (const e of await drain(ev, "the events of a crashed node")) types.push(e.type);
  assert.ok(types.includes("alive") && types.includes("connected"), types.join());
});

test("a two-way partition heals into one ring", async () => {
  const sim = new Simulator({ seed: 45 });
  const first = sim.createNet();
  const nodes: P2PNode[] = [first];
  for (let i = 0; i < 20; i++) nodes.push(await sim.settle(sim.joinNet(first)));
  sim.run(10_000);
  const a = nodes.filter((_, i) => i % 3 === 0);
  const b = nodes.filter((_, i) => i % 3 !== 0);
  sim.partition([a, b]);
  sim.run(20_000);
  sim.heal();
  sim.run(120_000);
  assert.deepEqual(ringViolations(sim), []);
});

test("simultaneous silent failure of 20 % of a 1,000-node ring: after repair no lookup fails", async () => {
  const sim = new Simulator({ seed: 46 });
  const first = sim.createNet({ net: { succListSize: 12 } });
  const joins: Promise<P2PNode>[] = [];
  for (let i = 1; i < 1000; i++) {
    joins.push(sim.joinNet(first));
    if (i % 100 === 0) sim.run(300);
  }
  sim.run(30_000);
  await Promise.all(joins);
  let failed = 0;
  for (const n of sim.live) {
    if (sim.random() < 0.2) {
      sim.vanish(n);
      failed++;
    }
  }
  sim.run(60_000);
  assert.deepEqual(ringViolations(sim), []);
  const { wrong, lost, hops } = lookups(sim, 3000);
  console.log(
    `  ${failed} of 1000 failed at once; after repair: ${wrong} wrong, ${lost} lost of 3000 lookups, mean ${
      (hops.reduce((a, b) => a + b, 0) / hops.length).toFixed(2)
    } hops`,
  );
  assert.equal(wrong + lost, 0);
});

test("a ring smaller than the successor list survives crashes down to one node", async () => {
  const sim = new Simulator({ seed: 47 });
  const first = sim.createNet({ net: { succListSize: 6 } });
  const nodes = [first];
  for (let i = 0; i < 2; i++) nodes.push(await sim.settle(sim.joinNet(first)));
  sim.run(10_000);
  for (const n of sim.live) {
    assert.equal(n.info().succList.length, 2, "the list holds the other two");
  }
  nodes[1].crash();
  sim.run(10_000);
  assert.deepEqual(ringViolations(sim), []);
  sim.vanish(nodes[2]);
  sim.run(10_000);
  assert.equal(first.status, "alone");
  const back = await sim.settle(sim.joinNet(first));
  sim.run(10_000);
  assert.deepEqual(ringViolations(sim), []);
  assert.equal(back.info().succ.id, first.id);
});

test("all successors of a node crashing together: the ring recovers through fingers", async () => {
  const sim = new Simulator({ seed: 48 });
  const first = sim.createNet({ net: { succListSize: 3 } });
  for (let i = 0; i < 40; i++) await sim.settle(sim.joinNet(first));
  sim.run(20_000);
  const ids = sim.live.map((n) => n.id).sort((a, b) => a - b);
  // The three successors of ids[5] — its whole list — vanish at once.
  for (const id of ids.slice(6, 9)) sim.vanish(sim.nodes.find((n) => n.id === id)!);
  sim.run(60_000);
  assert.deepEqual(ringViolations(sim), []);
  assert.equal(lookups(sim, 300).wrong, 0);
});

/** Every node `node`'s routing table holds (predecessor, successors, fingers), sorted. */
function tableOf(node: P2PNode): number[] {
  const info = node.info();
  const ids = new Set<number>();
  if (info.pred) ids.add(info.pred.id);
  for (const n of info.succList) ids.add(n.id);
  for (const f of info.fingers) if (f.node) ids.add(f.node.id);
  return [...ids].sort((a, b) => a - b);
}

test("a node whose every known node crashes finds its way back through a node it heard from lately", async () => {
  // With successor lists of one, node 923 knows five nodes and only two know it (917 and 953).
  const sim = new Simulator({ seed: 49 });
  const ids = [113, 504, 690, 774, 788, 917, 923, 953];
  const first = sim.createNet({ node: { id: ids[0] }, net: { maxKey: 1000, succListSize: 1 } });
  for (const id of ids.slice(1)) await sim.settle(sim.joinNet(first, { node: { id } }));
  sim.run(30_000);
  assert.deepEqual(ringViolations(sim), []);
  const byId = (id: number) => sim.live.find((n) => n.id === id)!;
  const x = byId(923);
  const known = tableOf(x);
  assert.deepEqual(known, [113, 504, 690, 917, 953]);
  for (const id of [774, 788]) assert.ok(!tableOf(byId(id)).includes(923), `${id} knows 923`);
  // Node 774 acknowledges a message from node 923 straight to it: 923 has heard from 774.
  assert.equal((await sim.settle(x.send(774, "hello", { ack: true }))).node, 774);
  for (const id of known) byId(id).crash();
  sim.run(60_000);
  assert.equal(x.status, "connected", "not left alone");
  assert.deepEqual(ringViolations(sim), []);
  assert.equal((await sim.settle(x.send(788, "back", { ack: true }))).node, 788);
  for (const n of sim.live) n.crash();
});
