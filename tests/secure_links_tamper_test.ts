// Tampering with the bytes of links between real nodes over TCP: a proxy flips one byte at every
// position of every handshake message and of the first transport message each way; the link
// closes, the nodes count it, nothing of the tampered link gets in, and honest links still work.
import assert from "node:assert/strict";
import type { NodeEvent } from "../lib/core/events.ts";
import { P2PSError, TimeoutError } from "../lib/errors.ts";
import type { NodeOptions } from "../lib/node/node.ts";
import {
  type Direction,
  nodeBehindProxy,
  type ProxiedNode,
  proxiedNode,
  RecordingProxy,
} from "./_proxy.ts";
import { until } from "./_wait.ts";
import { test } from "./_test.ts";

/** Short enough that a flipped length (a message waiting for bytes that never come) ends soon. */
const HANDSHAKE_MS = 1500;
/** Trials run at once (each is a joiner of its own, through a proxy of its own). */
const POOL = 16;

/** Runs `jobs` with at most `POOL` at once. */
async function pooled(jobs: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: POOL }, worker));
}

/** A byte of a unit to flip (see `Unit`). */
interface Target {
  dir: Direction;
  index: number;
  at: number;
}

/** What one join through a proxy that flips `target` came to. */
interface Outcome {
  joined: boolean;
  error: unknown;
  /** Bad links the joiner counted. */
  bad: number;
}

/**
 * Every byte of the handshake messages (preambles included) and of the first transport message
 * each way, on a connection recorded as `up`/`down` units.
 */
function targets(up: Uint8Array[], down: Uint8Array[]): Target[] {
  const out: Target[] = [];
  // Up: preamble, messages 1 and 3, then transport; down: preamble, message 2, then transport.
  const units: [Direction, Uint8Array[], number][] = [["up", up, 4], ["down", down, 3]];
  for (const [dir, list, count] of units) {
    for (let index = 0; index < count; index++) {
      for (let at = 0; at < list[index].length; at++) out.push({ dir, index, at });
    }
  }
  return out;
}

/** Joins `a` through a proxy of its own that flips `t` on the joiner's first connection. */
async function tamperedJoin(a: ProxiedNode, options: NodeOptions, t: Target): Promise<Outcome> {
  const proxy = new RecordingProxy(a.tcp.ap);
  proxy.tamper = (u) => {
    if (u.conn === 0 && u.dir === t.dir && u.index === t.index) {
      // Unit sizes vary by a byte or two between joiners (their provisional ids): stay inside.
      u.bytes[Math.min(t.at, u.bytes.length - 1)] ^= 0x01;
    }
  };
  const j = await nodeBehindProxy(options, { handshakeTimeoutMs: HANDSHAKE_MS });
  const outcome: Outcome = { joined: false, error: null, bad: 0 };
  try {
    await j.node.startJoin(proxy.ap);
    outcome.joined = true;
  } catch (e) {
    outcome.error = e;
  }
  outcome.bad = j.node.statistics().badLinks;
  await j[Symbol.asyncDispose]();
  await until(() => proxy.connections.every((c) => c.closed), "the tampered connections to close");
  await proxy.close();
  return outcome;
}

async function flipEveryByte(net: NonNullable<NodeOptions["net"]>): Promise<void> {
  const transport = { handshakeTimeoutMs: HANDSHAKE_MS };
  await using a = await proxiedNode({ net, node: { id: 1 } }, undefined, transport);
  const joinOptions: NodeOptions = {
    net: net.secret ? { secret: net.secret } : {},
    node: { id: 500 },
  };
  // The join timeout is long: a join fails when its link to the access point is lost, at once.
  const tampered: NodeOptions = { ...joinOptions, timing: { joinTimeoutMs: 20_000 } };
  // One honest join, recorded, to find where each message lies.
  {
    await using b = await proxiedNode(joinOptions, a.node.ap);
    await until(() => b.node.info().succ.id === 1, "an honest two-node ring");
  }
  await until(() => a.node.info().succ.id === 1, "the honest joiner gone");
  const first = a.proxy.connections[0];
  const all = targets(first.up, first.down);
  const events: NodeEvent[] = [];
  const stream = a.node.events();
  const collecting = (async () => {
    for await (const e of stream) events.push(e);
  })();
  const before = a.node.statistics();
  const outcomes: [Target, Outcome][] = [];
  await pooled(all.map((t) => async () => {
    outcomes.push([t, await tamperedJoin(a, tampered, t)]);
  }));
  const slipped = outcomes.filter(([, o]) => o.joined).map(([t]) => t);
  assert.deepEqual(slipped, [], "every flipped byte fails the join");
  // Each with a typed error, none of them a timeout.
  const untyped = outcomes.filter(([, o]) => !(o.error instanceof P2PSError));
  assert.deepEqual(untyped, []);
  const late = outcomes.filter(([, o]) => o.error instanceof TimeoutError);
  assert.deepEqual(late.map(([t]) => t), [], "no join waited for its timeout");
  // Every tampered link was counted as bad by one end or the other.
  const after = a.node.statistics();
  const counted = after.badLinks - before.badLinks + outcomes.reduce((n, [, o]) => n + o.bad, 0);
  assert.ok(counted >= all.length, `${counted} bad links counted for ${all.length} tampered links`);
  // Nothing of them got in: no routing entry, no message, no event.
  assert.equal(a.node.info().succ.id, 1);
  assert.equal(a.node.info().pred, null);
  assert.equal(after.data.received, before.data.received);
  assert.equal(after.links.in + after.links.out, 0);
  await stream.return?.();
  await collecting;
  assert.deepEqual(events, []);
  // The network still takes an honest joiner, and its first link works.
  await using c = await proxiedNode(joinOptions, a.node.ap);
  await until(() => c.node.info().succ.id === 1, "a two-node ring after the attacks");
  assert.equal((await c.node.send(1, "after the attacks", { ack: true })).node, 1);
}

test("a flipped byte anywhere in an open network's handshake or first transport messages fails the join and is counted", async () => {
  await flipEveryByte({ maxKey: 1000 });
});

test("a flipped byte anywhere in a private network's handshake or first transport messages fails the join and is counted", async () => {
  await flipEveryByte({ maxKey: 1000, secret: "tamper-proof secret" });
});
