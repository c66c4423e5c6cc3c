import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import { type NodeEvent, P2PNode } from "../lib/node/node.ts";
import { HandshakeError, JoinError, TimeoutError } from "../lib/errors.ts";
import { simRogue } from "./_sim_rogue.ts";
import { flush, lookups, ringViolations, settle } from "./_ring.ts";
import { test } from "./_test.ts";
import { exactly } from "./_assert.ts";
import { T } from "../lib/wire/schema.ts";

for (const seed of [1, 2, 3, 4]) {
  test(`simulator seed ${seed}: 300 nodes joining at once end in one correct ring`, async () => {
    const sim = new Simulator({ seed });
    const first = sim.createNet({ net: { succListSize: 4 } });
    // A few seeds of a ring, then hundreds of joins through random members, all at once.
    const base: P2PNode[] = [first];
    for (let i = 0; i < 4; i++) base.push(await sim.settle(sim.joinNet(first)));
    const joins: Promise<P2PNode>[] = [];
    for (let i = 0; i < 300; i++) joins.push(sim.joinNet(base[i % base.length]));
    sim.run(60_000);
    await Promise.all(joins);
    assert.deepEqual(ringViolations(sim), []);
    // Successor lists are the next nodes clockwise.
    const ids = sim.live.map((n) => n.id).sort((a, b) => a - b);
    for (const n of sim.live) {
      const i = ids.indexOf(n.id);
      const want = [1, 2, 3, 4].map((k) => ids[(i + k) % ids.length]);
      assert.deepEqual(n.info().succList.map((s) => s.id), want, `succList of ${n.id}`);
    }
    assert.equal(lookups(sim, 500).wrong, 0);
  });
}

/** Each live node's successor list as ids, and what it should be: the next `k` clockwise. */
function succLists(sim: Simulator, k: number): { got: string[]; want: string[] } {
  const ids = sim.live.map((n) => n.id).sort((a, b) => a - b);
  const byId = new Map(sim.live.map((n) => [n.id, n]));
  const want = ids.map((id, i) =>
    `${id}: ${Array.from({ length: k }, (_, j) => ids[(i + 1 + j) % ids.length]).join(" ")}`
  );
  const got = ids.map((id) => `${id}: ${byId.get(id)!.info().succList.map((n) => n.id).join(" ")}`);
  return { got, want };
}

test("a join updates the successor lists of the nodes before it at once, not at the next stabilisation", async () => {
  // The safety nets are slowed down so that only the propagation of lists can do it.
  const timing = { stabilizeMs: 600_000, fingerRefreshMs: 600_000 };
  const sim = new Simulator({ seed: 5 });
  const first = sim.createNet({
    node: { id: 100 },
    net: { maxKey: 1000, succListSize: 4 },
    timing,
  });
  for (const id of [200, 300, 400, 500, 600, 700, 800]) {
    await sim.settle(sim.joinNet(first, { node: { id }, timing }));
  }
  sim.run(5_000);
  let lists = succLists(sim, 4);
  assert.deepEqual(lists.got, lists.want);
  await sim.settle(sim.joinNet(first, { node: { id: 450 }, timing }));
  sim.run(1_000);
  lists = succLists(sim, 4);
  assert.deepEqual(lists.got, lists.want, "node 450 is in the lists of the four nodes before it");
  for (const n of sim.live) n.crash();
});

test("a join with an id already in use is refused with a JoinError naming the id", async () => {
  const sim = new Simulator({ seed: 1 });
  const first = sim.createNet({ node: { id: 7 }, net: { maxKey: 1000 } });
  await sim.settle(sim.joinNet(first, { node: { id: 300 } }));
  const dup = sim.joinNet(first, { node: { id: 300 } });
  await assert.rejects(sim.settle(dup), exactly(JoinError, "Node id 300 is already in use"));
  const outside = sim.joinNet(first, { node: { id: 5000 } });
  await assert.rejects(
    sim.settle(outside),
    exactly(JoinError, "Node id 5000 is outside the network's identifier space [0, 1000)"),
  );
  assert.deepEqual(ringViolations(sim), []);
});

test("a joiner with a provisional id may ask for the network and its place, and send nothing else", async () => {
  const sim = new Simulator({ seed: 5 });
  const first = sim.createNet({ node: { id: 7 }, net: { maxKey: 1000 } });
  const member = await sim.settle(sim.joinNet(first, { node: { id: 300 } }));
  sim.run(5_000);
  // A peer that has not joined: a negative provisional id and no network.
  const guest = simRogue(sim, -5, { hello: { net: undefined } });
  guest.send(member, { t: T.InfoReq });
  guest.send(member, { t: T.Find, q: 1, k: 500 });
  sim.run(1_000);
  assert.deepEqual(guest.frames.map((f) => [f.from, f.frame.t]), [[300, T.Info], [300, T.Found]]);
  // Anything else would speak from a place on the ring it does not have: dropped and counted.
  const routing = JSON.stringify([first.info(), member.info()]);
  guest.send(member, { t: T.Notify });
  guest.send(member, { t: T.Ping, ts: 1 });
  guest.send(member, { t: T.Join, k: 500, h: 1, ph: 0, f: -1, j: { id: 500, ap: guest.ref.ap } });
  sim.run(1_000);
  assert.equal(member.statistics().badFrameReasons.guest, 3);
  assert.equal(guest.frames.length, 2, "no answer to any of them");
  assert.equal(JSON.stringify([first.info(), member.info()]), routing);
  assert.deepEqual(ringViolations(sim), []);
  for (const n of sim.live) n.crash();
});

/** A node of `sim` whose event stream is read from its very start (before it is started). */
function watchedNode(sim: Simulator, id: number): { node: P2PNode; events: NodeEvent[] } {
  const node = new P2PNode(
    { transport: sim.network.transport(), clock: sim.clock, random: sim.random },
    { node: { id }, net: { maxKey: 100 } },
  );
  const events: NodeEvent[] = [];
  (async () => {
    for await (const e of node.events()) events.push(e);
  })();
  return { node, events };
}

/** Events as `type` or `type:id` (the node they are about), in order. */
function story(events: NodeEvent[]): string[] {
  return events.map((e) => {
    const field = ["pred", "succ", "last"].find((f) => f in e);
    const about = (field ? (e as unknown as Record<string, unknown>)[field] : undefined) as
      | { id: number }
      | null
      | undefined;
    return about === undefined ? e.type : `${e.type}:${about?.id ?? "none"}`;
  });
}

test("a new network's node emits alone; the first join makes both connected; the last leave makes it alone again", async () => {
  const sim = new Simulator({ seed: 2 });
  const a = watchedNode(sim, 10);
  a.node.startNet({ maxKey: 100 });
  await flush();
  assert.deepEqual(story(a.events), ["alone"]);
  assert.equal(a.node.status, "alone");
  const b = watchedNode(sim, 60);
  await sim.settle(b.node.startJoin(a.node.ap));
  sim.run(1000);
  await flush();
  assert.deepEqual(story(a.events), ["alone", "newpred:60", "newsucc:60", "connected", "fingers"]);
  // Node 60 covers node 10's finger targets in (10, 60]: 11, 14, 22 and 46 (Tango, maxKey 100).
  assert.deepEqual(
    (a.events[4] as Extract<NodeEvent, { type: "fingers" }>).changed
      .map((c) => [c.index, c.target, c.node!.id]),
    [[0, 11, 60], [2, 14, 60], [4, 22, 60], [6, 46, 60]],
  );
  assert.deepEqual(story(b.events).slice(0, 3), ["newpred:10", "newsucc:10", "connected"]);
  assert.deepEqual([a.node.status, b.node.status], ["connected", "connected"]);
  assert.equal(a.node.info().succ.id, 60);
  assert.equal(b.node.info().succ.id, 10);
  await b.node.leave();
  sim.run(1000);
  await flush();
  assert.deepEqual(story(a.events).slice(5), ["newpred:none", "alone:60"]);
  assert.equal(a.node.status, "alone");
  a.node.crash();
});

test("a join through an access point that never answers fails with a TimeoutError after joinTimeoutMs", async () => {
  const sim = new Simulator({ seed: 3 });
  // It completes the handshake, then ignores the joiner's request for the network's identity.
  const silent = simRogue(sim, 5);
  const join = sim.joinNet(silent.ref.ap, { timing: { joinTimeoutMs: 2000 } });
  const t0 = sim.clock.now();
  await assert.rejects(
    settle(sim, join, "the join", 10_000),
    exactly(TimeoutError, `Join through sim:${silent.ref.ap.port} did not complete within 2000 ms`),
  );
  const waited = sim.clock.now() - t0;
  assert.ok(waited >= 2000 && waited < 2200, `gave up after ${waited} ms of virtual time`);
  assert.deepEqual(silent.frames.map((f) => f.frame.t), [2], "it asked once what network this is");
});

test("graceful leaves keep the ring correct and end at a lone node", async () => {
  const sim = new Simulator({ seed: 5 });
  const first = sim.createNet();
  const nodes = [first];
  for (let i = 0; i < 30; i++) nodes.push(await sim.settle(sim.joinNet(first)));
  sim.run(20_000);
  while (sim.live.length > 1) {
    const victim = sim.live[Math.floor(sim.random() * sim.live.length)];
    await victim.leave();
    sim.run(2_000);
    assert.deepEqual(ringViolations(sim), [], `after ${victim.id} left`);
  }
  assert.equal(sim.live[0].status, "alone");
});

test("simulator: a private network refuses joiners without its secret or with another", async () => {
  const sim = new Simulator({ seed: 9 });
  const first = sim.createNet({ net: { secret: "k" } });
  const member = await sim.settle(sim.joinNet(first, { net: { secret: "k" } }));
  // The simulator settles at once what a Noise handshake would: the joiner is told why.
  await assert.rejects(
    sim.settle(sim.joinNet(first)),
    exactly(
      HandshakeError,
      `Handshake with sim:${first.ap.port} failed: The peer's network requires a secret ` +
        "(net.secret), and this node has none",
    ),
  );
  await assert.rejects(
    sim.settle(sim.joinNet(member, { net: { secret: "x" } })),
    exactly(
      HandshakeError,
      `Handshake with sim:${member.ap.port} failed: the peer holds another network secret`,
    ),
  );
  sim.run(5000);
  assert.deepEqual(ringViolations(sim), []);
  assert.deepEqual(sim.nodes.slice(2).map((n) => n.statistics().badLinks), [1, 1]);
});

/** Nodes 100 and 500 of a 1,000-id ring, every frame taking 1 ms (joins interleave alike). */
async function twoNodes() {
  const sim = new Simulator({ seed: 3, minLatency: 1, maxLatency: 1 });
  const a = sim.createNet({ node: { id: 100 }, net: { maxKey: 1000, succListSize: 4 } });
  const b = await sim.settle(sim.joinNet(a, { node: { id: 500 } }));
  sim.run(2_000);
  return { sim, a, b };
}

test("a joiner sends its Join straight to the node its Find named; if a newer node took the place meanwhile, that node routes the Join on", async () => {
  // Every frame takes 1 ms, so that the two joins below interleave the same way every run.
  const { sim, a, b } = await twoNodes();
  const forwarded = (n: P2PNode) => n.statistics().control.forwarded;
  // Alone: the access point routes the Find's lookup, and no Join (node 500 is responsible for
  // 300, and gets the Join from the joiner itself).
  const a0 = forwarded(a), joins0 = sim.network.framesByType[T.Join];
  const x = await sim.settle(sim.joinNet(a, { node: { id: 300 } }));
  assert.equal(forwarded(a) - a0, 0, "the access point forwarded nothing");
  assert.equal(sim.network.framesByType[T.Join] - joins0, 1, "one Join frame");
  assert.equal(x.info().succList[0].id, 500);
  // Racing: 350 joins through 500 itself and is adopted before 320's Join reaches 500, which
  // its Find (routed through 100) named; 500 hands that Join on to 350, responsible by then.
  const a1 = forwarded(a), b1 = forwarded(b), joins1 = sim.network.framesByType[T.Join];
  const late = sim.joinNet(a, { node: { id: 320 } });
  const early = sim.joinNet(b, { node: { id: 350 } });
  const [y, z] = await Promise.all([sim.settle(late), sim.settle(early)]);
  sim.run(2_000);
  assert.deepEqual(ringViolations(sim), []);
  assert.equal(y.info().succList[0].id, 350);
  assert.equal(z.info().succList[0].id, 500);
  assert.equal(forwarded(a) - a1, 0, "the access point forwarded nothing");
  assert.ok(forwarded(b) - b1 >= 1, "500 routed the late Join on");
  // Two from the joiners, one hop on.
  assert.equal(sim.network.framesByType[T.Join] - joins1, 3);
  for (const n of sim.live) n.crash();
});

test("a joiner whose Join went to a node that crashed before answering joins through the access point, without waiting for its timeout", async () => {
  const { sim, a, b } = await twoNodes();
  const t0 = sim.clock.now();
  const joining = sim.joinNet(a, { node: { id: 300 }, timing: { joinTimeoutMs: 20_000 } });
  // 500, responsible for 300, answers the Find's lookup and crashes before the Join reaches it.
  sim.run(6.5);
  const joins = sim.network.framesByType[T.Join];
  b.crash();
  const x = await sim.settle(joining);
  assert.ok(sim.clock.now() - t0 < 1_000, `joined after ${sim.clock.now() - t0} ms`);
  // The Join to 500 never left (its link could not open); the one through 100 did.
  assert.equal(sim.network.framesByType[T.Join] - joins, 1);
  sim.run(5_000);
  assert.deepEqual(x.info().succList.map((n) => n.id), [100]);
  assert.deepEqual(ringViolations(sim), []);
  for (const n of sim.live) n.crash();
});
