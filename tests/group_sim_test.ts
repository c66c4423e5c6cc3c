import assert from "node:assert/strict";
import { InvalidArgumentError, MessageTooLargeError, NodeAbsentError } from "../lib/errors.ts";
import { buildRing, collect, flush, queued, responsibleFor } from "./_ring.ts";
import { exactly } from "./_assert.ts";
import { test } from "./_test.ts";

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

test("broadcast() in a 1,000-node ring reaches every node exactly once with N−1 messages and depth O(log N)", async () => {
  const sim = await buildRing(1000, { seed: 3 });
  const live = sim.live;
  const c = collect(live);
  const traffic = () =>
    sum(live.map((n) => n.statistics().data.sent + n.statistics().data.forwarded));
  const before = traffic();
  await live[17].broadcast({ note: "hello" });
  sim.run(5000);
  await flush();
  const sent = traffic() - before;
  const depth = Math.max(...c.hops);
  console.log(`  broadcast N=1000: messages ${sent}, depth ${depth} (log2 N ≈ 10)`);
  assert.equal(c.got.size, 999, "every other node received it");
  assert.ok(!c.got.has(live[17].id), "not the sender without toMyself");
  for (const [id, msgs] of c.got) assert.equal(msgs.length, 1, `node ${id} got it once`);
  assert.equal(sent, 999, "N−1 messages");
  assert.ok(depth <= 2 * Math.log2(1000), `depth ${depth}`);
  await c.stop();
});

test("broadcast() in a 50-node ring hands each node its own stretch: 49 messages, each node once", async () => {
  const sim = await buildRing(50, { seed: 13 });
  const live = sim.live;
  const c = collect(live);
  const traffic = () =>
    sum(live.map((n) => n.statistics().data.sent + n.statistics().data.forwarded));
  const before = traffic();
  await live[9].broadcast("small");
  sim.run(5000);
  await flush();
  assert.equal(traffic() - before, 49);
  assert.deepEqual(
    [...c.got.keys()].sort((a, b) => a - b),
    live.filter((n) => n !== live[9]).map((n) => n.id).sort((a, b) => a - b),
  );
  for (const [id, msgs] of c.got) assert.deepEqual(msgs, ["small"], `node ${id}`);
  const dups = sum(live.map((n) => n.statistics().kinds.broadcast.duplicates));
  assert.equal(dups, 0, "no node was handed it twice");
  await c.stop();
});

test("multicast() to 1, 10 and 100 random nodes reaches exactly them with fewer messages than separate sends", async () => {
  const sim = await buildRing(1000, { seed: 4 });
  const live = sim.live;
  const c = collect(live);
  for (const size of [1, 10, 100]) {
    c.got.clear();
    const dst = new Set<number>();
    while (dst.size < size) dst.add(live[Math.floor(sim.random() * live.length)].id);
    const traffic = () =>
      sum(live.map((n) => n.statistics().data.sent + n.statistics().data.forwarded));
    const t0 = traffic();
    await live[0].multicast([...dst], { size });
    sim.run(5000);
    await flush();
    const mcast = traffic() - t0;
    const t1 = traffic();
    for (const d of dst) await live[0].send(d, { size, single: true });
    sim.run(5000);
    await flush();
    const separate = traffic() - t1;
    console.log(`  multicast to ${size}: ${mcast} messages; separate sends: ${separate}`);
    assert.deepEqual([...c.got.keys()].sort(), [...dst].sort());
    for (const d of dst) assert.deepEqual(c.got.get(d), [{ size }, { size, single: true }]);
    if (size > 1) assert.ok(mcast < separate, `${mcast} < ${separate}`);
  }
  await c.stop();
});

test("multicast() with toResp delivers once to a node responsible for several keys", async () => {
  const sim = await buildRing(50, { seed: 5 });
  const live = sim.live;
  const c = collect(live);
  const target = live[10];
  const pred = target.info().pred!.id;
  const keys = [target.id, target.id - 1, pred + 1].filter((k) => k > pred);
  const report = await sim.settle(live[3].multicast(keys, "k", { toResp: true, ack: true }));
  await flush();
  assert.deepEqual(report.reached, [target.id]);
  assert.deepEqual(c.got.get(target.id), ["k"]);
  assert.equal(c.got.size, 1);
  await c.stop();
});

test("sendToSucc() reaches the next n nodes clockwise, more than the successor list holds", async () => {
  const sim = await buildRing(40, { seed: 6 });
  const live = sim.live;
  const c = collect(live);
  const ids = live.map((n) => n.id).sort((a, b) => a - b);
  const src = live[5];
  const i = ids.indexOf(src.id);
  const want = Array.from({ length: 9 }, (_, k) => ids[(i + 1 + k) % ids.length]);
  const report = await sim.settle(src.sendToSucc("replica", 9, { ack: true }));
  await flush();
  assert.deepEqual(report.reached.sort(), [...want].sort());
  assert.deepEqual([...c.got.keys()].sort(), [...want].sort());
  const all = await sim.settle(src.sendToSucc("all", 255, { ack: true }));
  assert.deepEqual(
    all.reached.toSorted((a, b) => a - b),
    ids.filter((id) => id !== src.id),
    "a count beyond the ring stops after going round once",
  );
  await c.stop();
});

test("with 10 % of frames lost, acknowledged sends and broadcasts are delivered exactly once, in order", async () => {
  const sim = await buildRing(100, { seed: 7 });
  const live = sim.live;
  const c = collect(live);
  sim.network.options.loss = 0.1;
  const src = live[1];
  // Three messages to each of ten keys: order is promised per sender and destination key.
  const ten = Array.from({ length: 10 }, () => Math.floor(sim.random() * src.maxKey));
  const keys = [...ten, ...ten, ...ten];
  const sends = keys.map((k, i) =>
    src.send(k, { i }, { toResp: true, ack: true, timeoutMs: 60_000 })
  );
  const receipts = await sim.settle(Promise.all(sends));
  for (const [i, r] of receipts.entries()) assert.equal(r.node, responsibleFor(sim, keys[i]));
  const bcasts = [];
  for (let b = 0; b < 5; b++) {
    bcasts.push(live[2].broadcast({ b }, { ack: true, timeoutMs: 60_000 }));
  }
  const reports = await sim.settle(Promise.all(bcasts));
  sim.network.options.loss = 0;
  sim.run(10_000);
  await flush();
  const others = live.filter((n) => n !== live[2]).map((n) => n.id).sort((a, b) => a - b);
  for (const r of reports) assert.deepEqual(r.reached.toSorted((a, b) => a - b), others);
  // Exactly once: each node got each send addressed to it once, and every broadcast once, in order.
  for (const n of live) {
    const got = c.got.get(n.id) ?? [];
    const b = got.filter((m) => (m as { b?: number }).b !== undefined).map((m) =>
      (m as { b: number }).b
    );
    if (n !== live[2]) assert.deepEqual(b, [0, 1, 2, 3, 4], `broadcasts at ${n.id}`);
    const s = got.filter((m) => (m as { i?: number }).i !== undefined).map((m) =>
      (m as { i: number }).i
    );
    const expected = keys.map((k, i) => [k, i] as const).filter(([k]) =>
      responsibleFor(sim, k) === n.id
    );
    assert.deepEqual([...s].sort((a, b) => a - b), expected.map(([, i]) => i), `sends at ${n.id}`);
    for (const key of new Set(expected.map(([k]) => k))) {
      const perKey = s.filter((i) => keys[i] === key);
      assert.deepEqual(perKey, [...perKey].sort((a, b) => a - b), `order for key ${key}`);
    }
  }
  const stats = live.map((n) => n.statistics().kinds);
  const retrans = sum(stats.map((k) => k.send.retransmitted + k.broadcast.retransmitted));
  const dups = sum(stats.map((k) => k.send.duplicates + k.broadcast.duplicates));
  console.log(`  10 % loss: ${retrans} retransmissions, ${dups} duplicates suppressed`);
  assert.ok(retrans > 0, "loss forced retransmissions");
  await c.stop();
});

test("an acknowledged broadcast keeps retrying a child the failure detector still trusts, and gives up one that vanished", async () => {
  // Failure detectors slow enough that a 20 s cut raises no suspicion.
  const patient = { heartbeatMs: 30_000, minTimeoutMs: 60_000 };
  const sim = await buildRing(20, { seed: 12, node: { timing: patient } });
  const live = sim.live.toSorted((a, b) => a.id - b.id);
  const others = (src: (typeof live)[number], but: number[] = []) =>
    live.filter((n) => n !== src && !but.includes(n.id)).map((n) => n.id);
  // The source's successor is a child whose stretch holds no other node. It is cut off for
  // 20 s, longer than the 7 tries (12 s) after which a child that does not answer was given
  // up: the broadcast reaches it after the cut.
  const src = live[0];
  const child = live[1];
  sim.partition([[child], live.filter((n) => n !== child)]);
  const cut = src.broadcast("through a cut", { ack: true, timeoutMs: 60_000 });
  sim.run(20_000);
  sim.heal();
  const report = await sim.settle(cut);
  assert.deepEqual(report.reached.toSorted((a, b) => a - b), others(src));
  // A child that vanished is suspected by the source (patient: after 90 s), then given up: its
  // stretch goes to the node after it, and the report lists every other node.
  const gone = live[2];
  sim.vanish(gone);
  const after = await sim.settle(
    src.broadcast("past a vanished node", { ack: true, timeoutMs: 300_000 }),
  );
  assert.deepEqual(after.reached.toSorted((a, b) => a - b), others(src, [gone.id]));
  for (const n of sim.live) n.crash();
});

test("acknowledged send to a missing id rejects with NodeAbsentError; bad arguments fail before sending", async () => {
  const sim = await buildRing(20, { seed: 8 });
  const n = sim.live[0];
  const ev = n.events();
  const absent = (n.id + 1) % n.maxKey;
  await assert.rejects(sim.settle(n.send(absent, "x", { ack: true })), (e) => {
    assert.ok(e instanceof NodeAbsentError, String(e));
    assert.deepEqual(e.missing, [absent]);
    assert.equal(e.message, `No node has id ${absent}: message 1 was not delivered there`);
    return true;
  });
  await n.send(absent, "y");
  sim.run(1000);
  await flush();
  const reports = (await queued(ev)).filter((e) => e.type === "undeliverable");
  await ev.return?.();
  assert.deepEqual(
    reports.map(({ id, dst, kind, reason }) => ({ id, dst, kind, reason })),
    [1, 2].map((id) => ({ id, dst: absent, kind: "send", reason: `no node has id ${absent}` })),
    "an undeliverable event for each send, acknowledged or not",
  );
  assert.equal(n.statistics().undeliverable, 2);
  const before = n.statistics().data.sent;
  const M = n.maxKey;
  await assert.rejects(
    n.multicast([], "x"),
    exactly(InvalidArgumentError, "multicast needs a non-empty array of destinations"),
  );
  await assert.rejects(
    n.multicast([1, 2.5], "x"),
    exactly(InvalidArgumentError, `dst[1] must be an integer in [0, ${M}), got 2.5`),
  );
  await assert.rejects(
    n.send(-1, "x"),
    exactly(InvalidArgumentError, `dst must be an integer in [0, ${M}), got -1`),
  );
  await assert.rejects(
    n.send(M, "x"),
    exactly(InvalidArgumentError, `dst must be an integer in [0, ${M}), got ${M}`),
  );
  await assert.rejects(
    n.sendToSucc("x", 0),
    exactly(InvalidArgumentError, "nrSucc must be an integer in [1, 255], got 0"),
  );
  await assert.rejects(
    n.sendToSucc("x", 256),
    exactly(InvalidArgumentError, "nrSucc must be an integer in [1, 255], got 256"),
  );
  await assert.rejects(
    n.broadcast(() => 1),
    exactly(InvalidArgumentError, /^Message cannot be encoded as CBOR: ./),
  );
  // 2 MiB of bytes encode with a 5-byte head; the limit leaves 512 bytes of a 1 MiB frame.
  await assert.rejects(
    n.send(1, new Uint8Array(2 * 1024 * 1024)),
    exactly(MessageTooLargeError, "Message is 2097157 bytes; the limit is 1048064 bytes"),
  );
  assert.equal(n.statistics().data.sent, before, "nothing was sent");
});
