// Flow control over real TCP, with a node that reads slowly (behind a port forward that passes
// bytes on at a fixed rate): a relay whose outgoing link is full stops reading the link feeding
// it, and a sender that awaits send() waits, so nothing is dropped on the way to a live node; and
// frames that keep the ring going (acknowledgements, lookup answers, heartbeats) overtake the
// data queued on a saturated link.
import assert from "node:assert/strict";
import { TcpTransport } from "../lib/com/tcp/transport.ts";
import type { Transport } from "../lib/com/transport.ts";
import type { NodeEvent } from "../lib/core/events.ts";
import { type NodeOptions, P2PNode, ringOf } from "../lib/node/node.ts";
import { behind, slowForward } from "./_slow_link.ts";
import { test } from "./_test.ts";
import { until, within } from "./_wait.ts";

const MAX_KEY = 2 ** 16;

/** A node on `transport` that creates a network (no `join`) or joins through `join`. */
async function start(
  transport: Transport,
  options: NodeOptions,
  join?: P2PNode,
): Promise<P2PNode> {
  const node = new P2PNode({ transport, keys: true }, options);
  if (join) {
    try {
      await node.startJoin(join.ap);
    } catch (e) {
      await node.leave();
      throw e;
    }
  } else node.startNet(options.net);
  return node;
}

/** Suspicions and crash reports raised by `nodes`, from now on. */
function suspicions(nodes: P2PNode[]): { seen: NodeEvent[]; stop(): Promise<void> } {
  const seen: NodeEvent[] = [];
  const its = nodes.map((n) => n.events());
  const loops = its.map(async (it) => {
    for await (const e of it) if (e.type === "suspect" || e.type === "crash") seen.push(e);
  });
  return {
    seen,
    async stop() {
      for (const it of its) await it.return?.();
      await Promise.all(loops);
    },
  };
}

test("a relay whose link to a slow reader is full stops reading its feeder: 12 MiB sent, every message delivered, nothing dropped", async () => {
  // Ring 0 → 100 → 101 → 40000 with successor lists of one: node 0 knows 100 and 40000 only, so
  // its messages to 101 go through 100, and 101 takes its bytes at 4 MiB/s. Send queues hold at
  // most 1 MiB (congested past 256 KiB), far less than what is sent.
  const net = { maxKey: MAX_KEY, succListSize: 1 };
  const small = () => TcpTransport.listen({ maxQueuedBytes: 1 << 20 });
  const slowTransport = await TcpTransport.listen();
  const forward = slowForward(slowTransport.ap, 4 << 20);
  const nodes: P2PNode[] = [];
  try {
    const slow = await start(behind(slowTransport, forward.ap), { node: { id: 101 }, net });
    nodes.push(slow);
    const relayTransport = await small();
    const relay = await start(relayTransport, { node: { id: 100 } }, slow);
    nodes.push(relay);
    const src = await start(await small(), { node: { id: 0 } }, relay);
    nodes.push(src);
    nodes.push(await start(await small(), { node: { id: 40000 } }, relay));
    await until(
      () => src.info().pred?.id === 40000 && slow.info().succ.id === 40000,
      "the ring 0 → 100 → 101 → 40000",
    );
    const probe = slow.messages();
    await src.send(101, "probe");
    const first = await within(probe.next(), "the probe");
    await probe.return?.();
    assert.equal(first.value?.hops, 2, "the messages to 101 go through a relay");
    const watch = suspicions(nodes);
    // A few MiB of it fit in the relay's socket buffer before its send queue grows at all.
    const count = 1536;
    const payload = new Uint8Array(8192).fill(7);
    const lost = () =>
      nodes.reduce((sum, n) => sum + n.statistics().frames.dropped + n.statistics().badLinks, 0) +
      src.statistics().undeliverable;
    for (let i = 0; i < count && lost() === 0; i++) {
      await within(src.send(101, payload), `send() of message ${i} to return`, 30_000);
    }
    await until(
      () => slow.statistics().kinds.send.received === count + 1 || lost() > 0,
      "every message at the slow reader, or a loss",
      90_000,
    );
    assert.equal(lost(), 0, "no frame dropped, no link closed, no message reported undeliverable");
    assert.equal(slow.statistics().kinds.send.received, count + 1);
    assert.equal(relay.statistics().kinds.send.forwarded, count + 1);
    // The relay did have to hold its feeder back: the test put the mechanism to work.
    assert.ok(relayTransport.stats.pauses > 0, "the relay paused the link from node 0");
    await watch.stop();
    assert.deepEqual(watch.seen, [], "nobody was suspected");
  } finally {
    // The forward goes first: whatever is still queued for the slow node is not waited for.
    await forward.close();
    await Promise.all(nodes.map((n) => n.leave()));
    await slowTransport.close();
  }
});

test("acknowledgements and lookup answers overtake the data queued on a saturated link, and neither end is suspected", async () => {
  // Node 2 takes its bytes at 4 MiB/s through a forward, and node 1's link to it goes through
  // that forward. Node 1 queues 20 MiB for node 2 at once: a few MiB of it fit in the kernel's
  // socket buffers, the rest waits in node 1's send queue, where frames that keep the ring going
  // jump the queue. What tells is the order: how much of the data arrived before the answers.
  const net = { maxKey: MAX_KEY };
  const slowTransport = await TcpTransport.listen();
  const forward = slowForward(slowTransport.ap, 4 << 20);
  const nodes: P2PNode[] = [];
  try {
    const slow = await start(behind(slowTransport, forward.ap), { node: { id: 2 }, net });
    nodes.push(slow);
    const busyTransport = await TcpTransport.listen({ maxQueuedBytes: 64 << 20 });
    const busy = await start(busyTransport, { node: { id: 1 } }, slow);
    nodes.push(busy);
    await until(() => busy.info().succ.id === 2 && slow.info().succ.id === 1, "a two-node ring");
    const watch = suspicions(nodes);
    const count = 320;
    const payload = new Uint8Array(65536).fill(7);
    // send() queues before it resolves: all of it is queued now.
    const sends = Array.from({ length: count }, () => busy.send(2, payload));
    const arrived = () => slow.statistics().kinds.send.received;
    // Node 1 answers node 2 on the saturated link: an acknowledgement and a lookup answer.
    const lookup = Promise.withResolvers<number>();
    const answers: number[] = [];
    ringOf(slow).lookup(1, (n) => {
      answers.push(arrived());
      lookup.resolve(n.id);
    });
    const receipt = await slow.send(1, "acknowledge me", { ack: true, timeoutMs: 60_000 });
    answers.push(arrived());
    assert.equal(receipt.node, 1);
    assert.equal(await within(lookup.promise, "the answer to a lookup of key 1", 60_000), 1);
    assert.ok(
      answers.every((n) => n < count / 2),
      `the answers came after ${answers.join(" and ")} of ${count} messages queued before them`,
    );
    // The rest of the data takes seconds more (a heartbeat and a ping timeout): nobody is
    // suspected meanwhile, and nothing is lost.
    await until(() => arrived() === count, `all ${count} messages at node 2`, 90_000);
    await Promise.all(sends);
    await watch.stop();
    assert.deepEqual(watch.seen, [], "nobody was suspected");
    assert.deepEqual(nodes.map((n) => n.statistics().frames.dropped), [0, 0]);
  } finally {
    await forward.close();
    await Promise.all(nodes.map((n) => n.leave()));
    await slowTransport.close();
  }
});
