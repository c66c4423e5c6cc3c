import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { JoinError } from "../lib/errors.ts";
import { flush, lookups, ringViolations } from "./_ring.ts";
import { test } from "./_test.ts";

for (const seed of [1, 2, 3, 4]) {
  Deno.test(`simulator seed ${seed}: 300 nodes joining at once end in one correct ring`, async () => {
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

test("a join with an id already in use is refused with a JoinError naming the id", async () => {
  const sim = new Simulator({ seed: 1 });
  const first = sim.createNet({ node: { id: 7 }, net: { maxKey: 1000 } });
  await sim.settle(sim.joinNet(first, { node: { id: 300 } }));
  const dup = sim.joinNet(first, { node: { id: 300 } });
  await assert.rejects(
    sim.settle(dup),
    (e) => e instanceof JoinError && /300 is already in use/.test(e.message),
  );
  const outside = sim.joinNet(first, { node: { id: 5000 } });
  await assert.rejects(sim.settle(outside), /outside the network's identifier space/);
  assert.deepEqual(ringViolations(sim), []);
});

test("a lone node emits alone; the first join makes both connected", async () => {
  const sim = new Simulator({ seed: 2 });
  const a = sim.createNet({ node: { id: 10 }, net: { maxKey: 100 } });
  const ev = a.events();
  const b = await sim.settle(sim.joinNet(a, { node: { id: 60 } }));
  sim.run(1000);
  const types: string[] = [];
  for (;;) {
    const r = await Promise.race([ev.next(), flush().then(() => null)]);
    if (!r || r.done) break;
    types.push(r.value.type);
  }
  assert.ok(types.includes("connected"), types.join());
  assert.equal(a.info().succ.id, 60);
  assert.equal(b.info().succ.id, 10);
  assert.equal(a.status, "connected");
  await ev.return?.();
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

test("simulator: a private network refuses joiners without its secret", async () => {
  const sim = new Simulator({ seed: 9 });
  const first = sim.createNet({ net: { secret: "k" } });
  const member = await sim.settle(sim.joinNet(first, { net: { secret: "k" } }));
  await assert.rejects(sim.settle(sim.joinNet(first)), /requires a secret|did not prove/);
  await assert.rejects(
    sim.settle(sim.joinNet(member, { net: { secret: "x" } })),
    /different network secret/,
  );
  sim.run(5000);
  assert.deepEqual(ringViolations(sim), []);
});
