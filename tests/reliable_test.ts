// Acknowledged delivery: the receiver's ordering and duplicate suppression (InOrder) with its
// bounds, cancelling with an AbortSignal, pending sends failing when the node stops, and
// multicast and sendToSucc delivering exactly once through frame loss.
import assert from "node:assert/strict";
import { InOrder } from "../lib/services/reliable.ts";
import { NodeClosedError } from "../lib/errors.ts";
import type { Simulator } from "../lib/node/simulator.ts";
import { buildRing, collect, flush, outcome } from "./_ring.ts";
import { exactly } from "./_assert.ts";
import { test } from "./_test.ts";

/** Arrivals on an InOrder, recording what each one delivered. */
function recorder(order: InOrder) {
  const delivered: string[] = [];
  return {
    delivered,
    arrive: (stream: string, q: number, lo = 1) =>
      order.arrive(stream, q, lo, () => delivered.push(`${stream}${q}`)),
  };
}

test("InOrder delivers in sequence, holds early arrivals until the gap fills, and suppresses duplicates", () => {
  const r = recorder(new InOrder());
  assert.equal(r.arrive("a", 2), "held");
  assert.equal(r.arrive("a", 3), "held");
  assert.equal(r.arrive("a", 3), "duplicate", "a second copy of a held arrival");
  assert.deepEqual(r.delivered, []);
  assert.equal(r.arrive("a", 1), "delivered");
  assert.deepEqual(r.delivered, ["a1", "a2", "a3"]);
  for (const q of [1, 2, 3]) assert.equal(r.arrive("a", q), "duplicate");
  assert.deepEqual(r.delivered, ["a1", "a2", "a3"], "never twice");
});

test("InOrder starts a stream at the sender's floor and skips to a floor that moved past a gap", () => {
  const r = recorder(new InOrder());
  assert.equal(r.arrive("a", 7, 7), "delivered", "a late joiner starts mid-stream");
  assert.equal(r.arrive("a", 10, 8), "held");
  // Everything below 10 was acknowledged elsewhere: the held arrival is next.
  assert.equal(r.arrive("a", 11, 10), "delivered");
  assert.deepEqual(r.delivered, ["a7", "a10", "a11"]);
});

test("InOrder refuses an arrival past maxHeld held ones (overflow) and takes it when it comes again", () => {
  const r = recorder(new InOrder(16, 3));
  for (const q of [2, 3, 4]) assert.equal(r.arrive("a", q), "held");
  assert.equal(r.arrive("a", 5), "overflow");
  assert.equal(r.arrive("a", 1), "delivered");
  assert.deepEqual(r.delivered, ["a1", "a2", "a3", "a4"], "the overflowed one was not kept");
  // Not acknowledged, so the sender sends it again.
  assert.equal(r.arrive("a", 5), "delivered");
  assert.deepEqual(r.delivered.at(-1), "a5");
});

test("InOrder evicts the least recently used stream that holds nothing, past maxStreams", () => {
  const r = recorder(new InOrder(2, 16));
  assert.equal(r.arrive("a", 1), "delivered");
  assert.equal(r.arrive("b", 1), "delivered");
  assert.equal(r.arrive("a", 2), "delivered"); // a is now the more recently used
  assert.equal(r.arrive("c", 1), "delivered"); // evicts b
  assert.equal(r.arrive("a", 2), "duplicate", "a was kept");
  // b was forgotten: a copy of its first message starts it afresh (the sender's floor, lo, is
  // what protects a real stream: it moves past what was acknowledged).
  assert.equal(r.arrive("b", 1, 1), "delivered");
  assert.equal(r.arrive("b", 1, 2), "duplicate");
});

test("InOrder never evicts a stream that holds arrivals, however old", () => {
  const r = recorder(new InOrder(2, 16));
  assert.equal(r.arrive("a", 2), "held");
  assert.equal(r.arrive("b", 1), "delivered");
  assert.equal(r.arrive("c", 1), "delivered"); // evicts b, not the older a
  assert.equal(r.arrive("a", 1), "delivered");
  assert.deepEqual(r.delivered, ["b1", "c1", "a1", "a2"]);
  assert.equal(r.arrive("b", 1), "delivered", "b was the one evicted");
});

/** A settled ring whose network then loses every frame: acknowledgements never come. */
async function deafRing(seed: number): Promise<Simulator> {
  const sim = await buildRing(8, { seed });
  sim.network.options.loss = 1;
  return sim;
}

function retransmitted(sim: Simulator): number {
  return sim.live.reduce((sum, n) => {
    const k = n.statistics().kinds;
    return sum + k.send.retransmitted + k.multicast.retransmitted + k.succ.retransmitted;
  }, 0);
}

test("aborting an acknowledged send rejects it with the signal's reason and stops its retransmissions", async () => {
  const sim = await deafRing(21);
  const [a, b] = sim.live;
  const ac = new AbortController();
  const sent = a.send(b.id, "x", { ack: true, signal: ac.signal, timeoutMs: 600_000 });
  const result = outcome(sent);
  sim.run(2_000);
  const before = retransmitted(sim);
  assert.ok(before > 0, "it was being retransmitted");
  const reason = new Error("the user gave up");
  ac.abort(reason);
  await flush();
  assert.deepEqual(result.now, { state: "rejected", error: reason }, "rejected with the reason");
  assert.equal(result.now.error, reason, "the very reason given");
  sim.run(20_000);
  assert.equal(retransmitted(sim), before, "no retransmission after the abort");
  for (const n of sim.live) n.crash();
});

test("an abort without a reason rejects with the signal's AbortError; an aborted signal rejects at once", async () => {
  const sim = await deafRing(22);
  const [a, b] = sim.live;
  const ac = new AbortController();
  const pending = [
    a.multicast([b.id], "x", { ack: true, signal: ac.signal }),
    a.broadcast("x", { ack: true, signal: ac.signal }),
    a.sendToSucc("x", 2, { ack: true, signal: ac.signal }),
  ].map(outcome);
  sim.run(1_000);
  ac.abort();
  await flush();
  for (const p of pending) {
    assert.equal(p.now.state, "rejected");
    assert.ok(p.now.error instanceof DOMException, String(p.now.error));
    assert.equal(p.now.error.name, "AbortError");
  }
  const late = outcome(a.send(b.id, "y", { ack: true, signal: AbortSignal.abort("too late") }));
  await flush();
  assert.deepEqual(late.now, { state: "rejected", error: "too late" });
  for (const n of sim.live) n.crash();
});

for (const how of ["leave", "crash"] as const) {
  test(`acknowledged deliveries still pending when the node ${how === "leave" ? "leaves" : "crashes"} reject with NodeClosedError`, async () => {
    const sim = await deafRing(23);
    const [a, b] = sim.live;
    const pending = [
      a.send(b.id, "x", { ack: true }) as Promise<unknown>,
      a.multicast([b.id], "x", { ack: true }),
      a.broadcast("x", { ack: true }),
      a.sendToSucc("x", 2, { ack: true }),
    ].map(outcome);
    sim.run(1_000);
    if (how === "leave") await a.leave();
    else a.crash();
    await flush();
    for (const p of pending) {
      assert.equal(p.now.state, "rejected", "settled when the node stopped");
      exactly(NodeClosedError, `Node ${a.id} stopped before delivery was acknowledged`)(
        p.now.error,
      );
    }
    for (const n of sim.live) n.crash();
  });
}

/** Ten messages in a row: enough that the loss hits some of them and their acknowledgements. */
const MESSAGES = Array.from({ length: 10 }, (_, m) => m);

/**
 * A failure detector too patient for a lossy network to fool: these tests are about
 * retransmission and duplicates, not about routing around nodes wrongly suspected (a suspected
 * successor is skipped, and the next node clockwise then takes its place in a replica set).
 */
const PATIENT = { node: { timing: { heartbeatMs: 30_000, minTimeoutMs: 60_000 } } };

test("with 10 % of frames lost, acknowledged multicasts reach exactly their targets, each once", async () => {
  const sim = await buildRing(60, { seed: 24, ...PATIENT });
  const live = sim.live;
  const c = collect(live);
  sim.network.options.loss = 0.1;
  const src = live[3];
  const targets = new Set<number>();
  while (targets.size < 15) {
    const n = live[Math.floor(sim.random() * live.length)];
    if (n !== src) targets.add(n.id);
  }
  const reports = await sim.settle(Promise.all(
    MESSAGES.map((m) => src.multicast([...targets], { m }, { ack: true, timeoutMs: 60_000 })),
  ));
  sim.network.options.loss = 0;
  sim.run(10_000);
  await flush();
  const want = [...targets].sort((a, b) => a - b);
  for (const r of reports) assert.deepEqual(r.reached.toSorted((a, b) => a - b), want);
  assert.deepEqual([...c.got.keys()].sort((a, b) => a - b), want, "nobody else got it");
  for (const t of want) {
    assert.deepEqual(
      c.got.get(t),
      MESSAGES.map((m) => ({ m })),
      `once each, in order, at ${t}`,
    );
  }
  const k = src.statistics().kinds.multicast;
  assert.ok(k.retransmitted > 0, "the loss forced retransmissions");
  await c.stop();
});

test("with 10 % of frames lost, acknowledged sendToSucc reaches exactly the next n nodes, each once", async () => {
  const sim = await buildRing(40, { seed: 25, ...PATIENT });
  const live = sim.live;
  const c = collect(live);
  sim.network.options.loss = 0.1;
  const src = live[7];
  const ids = live.map((n) => n.id).sort((a, b) => a - b);
  const at = ids.indexOf(src.id);
  const next = Array.from({ length: 6 }, (_, k) => ids[(at + 1 + k) % ids.length]);
  const reports = await sim.settle(Promise.all(
    MESSAGES.map((m) => src.sendToSucc({ m }, 6, { ack: true, timeoutMs: 60_000 })),
  ));
  sim.network.options.loss = 0;
  sim.run(10_000);
  await flush();
  const want = next.toSorted((a, b) => a - b);
  for (const r of reports) assert.deepEqual(r.reached.toSorted((a, b) => a - b), want);
  assert.deepEqual([...c.got.keys()].sort((a, b) => a - b), want, "nobody else got it");
  for (const t of next) {
    assert.deepEqual(
      c.got.get(t),
      MESSAGES.map((m) => ({ m })),
      `once each, in order, at ${t}`,
    );
  }
  assert.ok(src.statistics().kinds.succ.retransmitted > 0, "the loss forced retransmissions");
  await c.stop();
});
