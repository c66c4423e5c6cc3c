// The message and event streams: independent readers, the per-reader buffer limit that keeps a
// slow reader from growing the node's memory, and readers ended by a signal or by the node.
import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { flush, queued } from "./_ring.ts";
import { test } from "./_test.ts";
import { drain } from "./_wait.ts";

async function pair(): Promise<{ sim: Simulator; a: P2PNode; b: P2PNode }> {
  const sim = new Simulator({ seed: 31 });
  const a = sim.createNet({ node: { id: 10 }, net: { maxKey: 100 } });
  const b = await sim.settle(sim.joinNet(a, { node: { id: 60 } }));
  sim.run(5_000);
  return { sim, a, b };
}

test("a message reader that falls more than bufferSize behind loses the oldest, counted as overflow", async () => {
  const { sim, a, b } = await pair();
  const small = b.messages({ bufferSize: 3 });
  const big = b.messages();
  for (let i = 0; i < 5; i++) await a.send(60, i);
  sim.run(1_000);
  await flush();
  assert.deepEqual((await queued(small)).map((m) => m.msg), [2, 3, 4], "the newest three");
  assert.deepEqual((await queued(big)).map((m) => m.msg), [0, 1, 2, 3, 4], "the other reader");
  assert.equal(b.statistics().streamOverflow, 2);
  await small.return?.();
  await big.return?.();
  a.crash();
  b.crash();
});

test("an event reader has the same limit", async () => {
  const { sim, a } = await pair();
  const events = a.events({ bufferSize: 2 });
  for (const dst of [20, 30, 40, 50]) await a.send(dst, "nobody has this id");
  sim.run(1_000);
  await flush();
  const got = (await queued(events)).map((e) => [e.type, (e as { dst?: number }).dst]);
  assert.deepEqual(got, [["undeliverable", 40], ["undeliverable", 50]]);
  assert.equal(a.statistics().streamOverflow, 2);
  await events.return?.();
  a.crash();
});

test("a reader ended by its signal still yields what it had queued, then ends", async () => {
  const { sim, a, b } = await pair();
  const ac = new AbortController();
  const inbox = b.messages({ signal: ac.signal });
  await a.send(60, "before");
  sim.run(1_000);
  await flush();
  ac.abort();
  await a.send(60, "after");
  sim.run(1_000);
  assert.deepEqual((await drain(inbox, "the aborted reader")).map((m) => m.msg), ["before"]);
  const late = b.messages({ signal: ac.signal });
  assert.deepEqual(await drain(late, "a reader given an aborted signal"), []);
  a.crash();
  b.crash();
});

test("a node's streams end when it stops, after what they had queued", async () => {
  const { sim, a, b } = await pair();
  const inbox = b.messages();
  await a.send(60, "last words");
  sim.run(1_000);
  await b.leave();
  assert.deepEqual((await drain(inbox, "the stream of a node that left")).map((m) => m.msg), [
    "last words",
  ]);
  assert.deepEqual(await drain(b.messages(), "a reader opened after the end"), []);
  a.crash();
});
