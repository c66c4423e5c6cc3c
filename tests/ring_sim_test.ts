// Ring rules tested one at a time in the simulator, with rogue peers forging the frames a real
// node would only send by mistake: the hop limit, finger correction on use, and delivery while a
// predecessor is falsely suspected.
import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import { type NodeEvent, type NodeOptions, type P2PNode, ringOf } from "../lib/node/node.ts";
import { encodeValue } from "../lib/wire/values.ts";
import { type FrameOf, T } from "../lib/wire/schema.ts";
import { fingerPolicy } from "../lib/core/fingers.ts";
import { collect, flush, queued, ringViolations, runUntil } from "./_ring.ts";
import { simRogue } from "./_sim_rogue.ts";
import { test } from "./_test.ts";
import { exactly } from "./_assert.ts";
import { NodeAbsentError } from "../lib/errors.ts";

/** A settled ring with exactly these ids (maxKey 1000); `of(id)`: one node's own options. */
async function ringOfIds(
  ids: number[],
  options: NodeOptions = {},
  seed = 1,
  of: (id: number) => NodeOptions = () => ({}),
): Promise<Simulator> {
  const sim = new Simulator({ seed });
  const first = sim.createNet({
    ...options,
    ...of(ids[0]),
    node: { id: ids[0] },
    net: { maxKey: 1000, ...options.net },
  });
  for (const id of ids.slice(1)) {
    await sim.settle(sim.joinNet(first, { ...options, ...of(id), node: { id } }));
  }
  sim.run(20_000);
  assert.deepEqual(ringViolations(sim), []);
  return sim;
}

function node(sim: Simulator, id: number): P2PNode {
  return sim.nodes.find((n) => n.id === id)!;
}

/** A data frame from the rogue, already `hops` hops old, used as finger `finger` of its sender. */
function forged(dst: number, hops: number, finger = -1): FrameOf<"Data"> {
  // The first hop's receiver knows the sender from the link: no sender field.
  return {
    t: T.Data,
    k: dst,
    h: hops,
    ph: 0,
    f: finger,
    s: undefined,
    r: false,
    id: 9,
    q: undefined,
    lo: undefined,
    ps: [encodeValue("forged")],
  };
}

test("a routed message that reaches the hop limit is dropped and reported undeliverable to its sender", async () => {
  const sim = await ringOfIds([100, 200, 300, 400, 500]);
  const rogue = simRogue(sim, 7);
  const c = collect(sim.live);
  const relay = node(sim, 100);
  rogue.send(relay, forged(400, 255));
  sim.run(1000);
  await flush();
  assert.deepEqual(rogue.frames.filter((f) => f.frame.t === T.Undeliverable), [{
    from: 100,
    frame: {
      t: T.Undeliverable,
      id: 9,
      n: 1,
      d: 400,
      why: "hop limit reached",
      kd: "send",
    },
  }]);
  assert.equal(relay.statistics().data.dropped, 1);
  assert.equal(relay.statistics().data.forwarded, 0);
  assert.equal(c.got.size, 0, "nobody got it");
  // One hop younger, it is forwarded and arrives with 255 hops.
  rogue.send(relay, forged(400, 254));
  sim.run(1000);
  await flush();
  assert.deepEqual(c.got.get(400), ["forged"]);
  assert.deepEqual(c.hops, [255]);
  assert.equal(relay.statistics().data.forwarded, 1);
  await c.stop();
  for (const n of sim.live) n.crash();
});

test("a node used as a finger it is not the right node for answers with a better one (correction on use)", async () => {
  const sim = await ringOfIds([100, 200, 300, 400, 500]);
  const rogue = simRogue(sim, 7);
  // Tango offsets at maxKey 1000: 1, -1, 4, -4, 12, -12, 36, -36, 108, ...; finger 8 of node 7
  // targets 7 + 108 = 115, whose responsible node is 200.
  assert.equal(fingerPolicy("tango", 1000).offsets[8], 108);
  rogue.send(node(sim, 300), forged(300, 0, 8));
  rogue.send(node(sim, 200), forged(200, 0, 8));
  sim.run(1000);
  await flush();
  assert.deepEqual(rogue.frames.filter((f) => f.frame.t === T.Fix), [{
    from: 300,
    frame: {
      t: T.Fix,
      i: 8,
      n: node(sim, 200).info().ap ? { id: 200, ap: node(sim, 200).ap } : null,
    },
  }], "only node 300 corrects it, and names node 200");
  for (const n of sim.live) n.crash();
});

test("a wrong finger is corrected the first time it is used", async () => {
  // Short successor lists, and no finger maintenance but correction on use.
  const quiet: NodeOptions = {
    net: { succListSize: 1 },
    timing: { fingersOnJoin: false, fingerRefreshMs: 10_000_000 },
  };
  const ids = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900];
  const sim = await ringOfIds(ids, quiet);
  const a = node(sim, 0);
  const table = ringOf(a).table!;
  // Finger 8 targets 0 + 108: node 200 is right; point it at node 300 instead.
  table.setFinger(8, { id: 300, ap: node(sim, 300).ap });
  const events = a.events();
  sim.run(50);
  assert.equal(table.fingers[8]?.id, 300, "nothing else corrects it meanwhile");
  // A message to node 300 goes straight through that finger; node 300 answers with node 200.
  await a.send(300, "through finger 8");
  sim.run(50);
  await flush();
  assert.equal(table.fingers[8]?.id, 200);
  const changes = (await queued(events)).filter((e: NodeEvent) => e.type === "fingers");
  await events.return?.();
  assert.deepEqual(
    changes.map((e) =>
      (e as Extract<NodeEvent, { type: "fingers" }>).changed.map((c) => [c.index, c.node!.id])
    ),
    [[[8, 200]]],
  );
  for (const n of sim.live) n.crash();
});

test("while a node falsely suspects its predecessor, its own keys are delivered to it and the predecessor counts as absent; healed, the predecessor is back", async () => {
  const sim = await ringOfIds([100, 200, 300, 400, 500, 600, 700, 800]);
  const [p, x, sender] = [node(sim, 400), node(sim, 500), node(sim, 800)];
  const events = x.events();
  const c = collect(sim.live);
  // Node 400 is cut off: it is alive, but node 500 hears nothing from it.
  sim.partition([[p], sim.live.filter((n) => n !== p)]);
  // A heartbeat of silence, a ping and the failure detector's timeout, at node 300 and at
  // node 500 (in either order), then node 300's notification (at once, or at its next
  // stabilisation when node 500 still named node 400 as its predecessor).
  runUntil(
    sim,
    () => x.info().pred?.id === 300 && node(sim, 300).info().succ.id === 500,
    "ring closed around node 400 (node 500 suspects it, node 300 routes past it)",
  );
  await flush();
  // Keys of node 500's own range, acknowledged, during the suspicion: delivered to it, once.
  const receipts = await sim.settle(Promise.all(
    [450, 499, 500].map((k) => sender.send(k, { k }, { toResp: true, ack: true })),
  ));
  assert.deepEqual(receipts.map((r) => r.node), [500, 500, 500]);
  // Node 400 itself counts as absent meanwhile: its id now lies in node 500's range.
  await assert.rejects(
    sim.settle(sender.send(400, "while suspected", { ack: true })),
    exactly(NodeAbsentError, "No node has id 400: message 4 was not delivered there"),
  );
  sim.heal();
  sim.run(20_000);
  await flush();
  assert.deepEqual(ringViolations(sim), []);
  assert.equal(x.info().pred?.id, 400, "node 400 is back as node 500's predecessor");
  const back = await sim.settle(sender.send(400, "back", { ack: true }));
  assert.equal(back.node, 400);
  await flush();
  assert.deepEqual(c.got.get(500), [{ k: 450 }, { k: 499 }, { k: 500 }], "each once");
  assert.deepEqual(c.got.get(400), ["back"]);
  const story = (await queued(events))
    .filter((e) =>
      ["suspect", "crash", "alive"].includes(e.type) &&
      (e as { peer: { id: number } }).peer.id === 400
    )
    .map((e) => e.type);
  await events.return?.();
  assert.equal(story[0], "suspect");
  assert.equal(story.at(-1), "alive");
  await c.stop();
  for (const n of sim.live) n.crash();
});

test("a node that suspects its successor does not take it back on another node's word, only when it answers itself", async () => {
  // Failure detectors judge each peer on their own: node 500's gives node 400 longer, so node
  // 300 suspects node 400 while node 500 still takes it for its predecessor.
  const slow = (id: number): NodeOptions => id === 500 ? { timing: { minTimeoutMs: 10_000 } } : {};
  const sim = await ringOfIds([100, 200, 300, 400, 500, 600, 700, 800], {}, 1, slow);
  const [a, p, b] = [node(sim, 300), node(sim, 400), node(sim, 500)];
  const table = ringOf(a).table!;
  sim.partition([[p], sim.live.filter((n) => n !== p)]);
  runUntil(sim, () => ringOf(a).suspected().some((n) => n.id === 400), "suspicion of node 400");
  assert.equal(table.succ.id, 500, "node 300 routes past node 400");
  assert.equal(b.info().pred?.id, 400, "node 500 has not noticed yet");
  // Node 500 answers node 300's notification naming node 400 as its predecessor: node 300 keeps
  // node 500, and does not notify it again at once (they would ping-pong until node 500 too
  // suspects node 400; its next stabilisation tells node 500 instead).
  const sent = a.statistics().control.sent;
  sim.run(2_000);
  assert.equal(b.info().pred?.id, 400);
  assert.equal(table.succ.id, 500, "not back on node 500's word");
  const extra = a.statistics().control.sent - sent;
  assert.ok(extra <= 10, `${extra} control frames in 2 s: no ping-pong with node 500`);
  // Another node names node 400 as the predecessor of node 500, and as a finger.
  const stale = simRogue(sim, 250);
  sim.network.group.set(stale.ref.ap.port, 2); // on node 300's side of the partition
  const ref400 = { id: 400, ap: p.ap };
  stale.send(a, { t: T.Stab, p: ref400, s: [] });
  stale.send(a, { t: T.Fix, i: 0, n: ref400 });
  const heard = a.statistics().control.received;
  sim.run(1_000);
  assert.ok(a.statistics().control.received >= heard + 2, "both frames arrived");
  assert.equal(table.succ.id, 500, "not back on another node's word");
  assert.ok(!table.fingers.some((n) => n?.id === 400), "no finger on node 400");
  // Once node 500 suspects node 400 too, the ring closes around it.
  runUntil(sim, () => b.info().pred?.id === 300, "node 300 as node 500's predecessor");
  // Node 400 answers node 300's pings once it can: it is back.
  sim.heal();
  runUntil(sim, () => table.succ.id === 400, "node 400 back as node 300's successor");
  sim.run(20_000);
  assert.deepEqual(ringViolations(sim), []);
  for (const n of sim.live) n.crash();
});
