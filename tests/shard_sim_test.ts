// One simulated network split over shards (simulators that exchange messages at the end of each
// window of the minimum latency): the same protocol must form one ring across them, route to the
// right node, refuse what a single network refuses, and repair crashes, deterministically.
import assert from "node:assert/strict";
import { Simulator } from "../lib/node/simulator.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { ConnectError, HandshakeError, InvalidArgumentError } from "../lib/errors.ts";
import { ringOk } from "./_ring.ts";
import { test } from "./_test.ts";
import { PROTOCOL_VERSION } from "../lib/com/transport.ts";
import { T } from "../lib/wire/schema.ts";

function shards(count: number, seed = 1, codec = false): Simulator[] {
  return Array.from(
    { length: count },
    (_, index) => new Simulator({ seed, codec, shard: { index, count } }),
  );
}

function live(all: Simulator[]): P2PNode[] {
  return all.flatMap((s) => s.live);
}

/** How each promise stands once the runs are over (none may still be pending). */
async function outcomes<T>(ps: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  const pending = Symbol("pending");
  return await Promise.all(ps.map(async (p) => {
    const r = await Promise.race([
      p.then((value) => ({ status: "fulfilled" as const, value }), (reason) => ({
        status: "rejected" as const,
        reason,
      })),
      Promise.resolve().then(() => Promise.resolve(pending)),
    ]);
    if (r === pending) throw new Error("a promise is still pending after the run");
    return r as PromiseSettledResult<T>;
  }));
}

/** `n` nodes, joining through the first node (in shard 0) from every shard in turn. */
async function grow(all: Simulator[], n: number): Promise<P2PNode> {
  const first = all[0].createNet({ net: { succListSize: 4 } });
  const joins: Promise<P2PNode>[] = [];
  for (let i = 1; i < n; i++) {
    joins.push(all[i % all.length].joinNet(first));
    if (i % 50 === 0) Simulator.runShards(all, 200);
  }
  Simulator.runShards(all, 30_000);
  const got = await outcomes(joins);
  assert.deepEqual(got.filter((r) => r.status === "rejected"), []);
  return first;
}

/** Runs the shards until `p` settles (as `Simulator.settle` does for one simulator). */
async function settleShards<T>(all: Simulator[], p: Promise<T>, limitMs = 60_000): Promise<T> {
  let done = false;
  const q = p.finally(() => (done = true));
  for (let t = 0; !done && t < limitMs; t += 100) {
    Simulator.runShards(all, 100);
    await Promise.resolve();
    await Promise.resolve();
  }
  return await q;
}

function crashAll(all: Simulator[]): void {
  for (const s of all) for (const n of s.live) n.crash();
}

/** Lookups of random keys from random nodes of every shard: how many the right node answered. */
function lookups(all: Simulator[], count: number): { right: number; answered: number } {
  const nodes = live(all);
  const ids = nodes.map((n) => n.id).sort((a, b) => a - b);
  const random = all[0].random;
  let right = 0, answered = 0;
  for (let i = 0; i < count; i++) {
    const src = nodes[Math.floor(random() * nodes.length)];
    const key = Math.floor(random() * src.maxKey);
    const want = ids.find((id) => id >= key) ?? ids[0];
    ringOf(src).lookup(key, (n) => {
      answered++;
      if (n.id === want) right++;
    });
  }
  Simulator.runShards(all, 10_000);
  return { right, answered };
}

for (const count of [2, 3]) {
  test(`${count} shards: 300 nodes form one ring, and lookups from every shard reach the right node`, async () => {
    const all = shards(count, 7, true);
    await grow(all, 300);
    const nodes = live(all);
    assert.equal(nodes.length, 300);
    for (const s of all) assert.ok(s.live.length >= 300 / count - 1, "every shard holds nodes");
    assert.ok(ringOk(nodes), "every successor and predecessor is the next node by id");
    assert.deepEqual(lookups(all, 400), { right: 400, answered: 400 });
    // Links really cross: each shard sent frames to the others.
    for (const s of all) assert.ok(s.network.linksOpened > 0);
    crashAll(all);
  });
}

test("shards: the same seeds give the same run, event for event", async () => {
  const run = async () => {
    const all = shards(2, 11);
    await grow(all, 120);
    const digest = all.map((s) => ({
      frames: s.network.framesSent,
      links: s.network.linksOpened,
      ids: s.live.map((n) => n.id).sort((a, b) => a - b),
      now: s.clock.now(),
    }));
    crashAll(all);
    return digest;
  };
  assert.deepEqual(await run(), await run());
});

test("shards: a join through an address of another shard where nobody listens is refused", async () => {
  const all = shards(2, 3);
  all[0].createNet();
  // Port 2 belongs to shard 1, which made no transport.
  const e = await settleShards(all, all[0].joinNet({ hostname: "sim", port: 2 })).then(
    () => assert.fail("joined nobody"),
    (e) => e,
  );
  assert.ok(e instanceof ConnectError || e.cause instanceof ConnectError, String(e));
  assert.match(String(e.message), /connection refused/);
  crashAll(all);
});

test("shards: a joiner with another network secret is refused across shards, naming why", async () => {
  const all = shards(2, 5);
  const first = all[0].createNet({ net: { secret: "one" } });
  const e = await settleShards(all, all[1].joinNet(first, { net: { secret: "two" } })).then(
    () => assert.fail("joined with another secret"),
    (e) => e,
  );
  assert.ok(e instanceof HandshakeError || e.cause instanceof HandshakeError, String(e));
  assert.match(String(e.message), /another network secret/);
  assert.equal(first.statistics().badLinks, 1);
  crashAll(all);
});

test("shards: crashes in one shard are repaired by the nodes of the others", async () => {
  const all = shards(2, 9);
  await grow(all, 120);
  // Crash a third of shard 1's nodes (their links reset, as when a process dies).
  const victims = all[1].live.filter((_, i) => i % 3 === 0);
  for (const v of victims) v.crash();
  Simulator.runShards(all, 60_000);
  const nodes = live(all);
  assert.equal(nodes.length, 120 - victims.length);
  assert.ok(ringOk(nodes), "the ring closes over the crashed nodes");
  assert.deepEqual(lookups(all, 200), { right: 200, answered: 200 });
  crashAll(all);
});

test("shards: bad shard options and mismatched simulators are refused", () => {
  assert.throws(
    () => new Simulator({ shard: { index: 2, count: 2 } }),
    (e) => e instanceof InvalidArgumentError && /index 2 of 2/.test(e.message),
  );
  assert.throws(
    () => new Simulator({ minLatency: 0, shard: { index: 0, count: 2 } }),
    (e) => e instanceof InvalidArgumentError && /positive minimum latency/.test(e.message),
  );
  const [a, b] = shards(2);
  assert.throws(
    () => Simulator.runShards([b, a], 10),
    (e) => e instanceof InvalidArgumentError && /not shard 0 of 2/.test(e.message),
  );
});

// Raw transports of two shards, with events that record what reaches them.
function transport(sim: Simulator, id: number, psk: Uint8Array | null, seen: string[]) {
  const t = sim.network.transport();
  t.bind({
    hello: () => ({ v: PROTOCOL_VERSION, name: "n", net: "n", id, host: "sim", port: t.ap.port }),
    checkHello: () => null,
    limits: { maxKey: 2 ** 20 },
    security: { encryption: "none", keyPair: null, psk },
    frame: (from, f) => seen.push(`${id} got ${f.t} from ${from.id}`),
    badFrame: (from) => seen.push(`${id} bad frame from ${from.id}`),
    peerDown: (p, why, unsent) =>
      seen.push(`${id} lost ${p.id}: ${why} (${unsent?.length ?? 0} back)`),
  });
  return t;
}

/** Two raw transports, ids 100 (shard 0) and 200 (shard 1, holding `pskB`). */
function pair(pskB: Uint8Array | null = null) {
  const all = shards(2, 3);
  const seen: string[] = [];
  const a = transport(all[0], 100, null, seen);
  const b = transport(all[1], 200, pskB, seen);
  return { all, seen, a, b };
}

test("shards: frames sent on a link the other end refuses are not read there, and come back to the sender", () => {
  const { all, seen, a, b } = pair(new Uint8Array([1]));
  for (let i = 0; i < 3; i++) a.send({ id: 200, ap: b.ap }, { t: T.Ping, ts: i });
  Simulator.runShards(all, 50);
  assert.deepEqual(seen, [
    "100 lost 200: Handshake with sim:2 failed: The peer's network requires a secret (net.secret), and this node has none (3 back)",
  ]);
  assert.equal(b.stats.framesIn, 0);
  assert.equal(b.stats.badLinks, 1);
  assert.equal(a.isLinked(200), false);
  a.abort();
  b.abort();
});

test("shards: a partition refuses connections across shards, as on one network", () => {
  const { all, seen, a, b } = pair();
  for (const s of all) s.network.group.set(a.ap.port, 1).set(b.ap.port, 2);
  a.send({ id: 200, ap: b.ap }, { t: T.Ping, ts: 0 });
  let dialled = "";
  a.dial(b.ap, (err) => (dialled = err ? err.message : "linked"));
  Simulator.runShards(all, 50);
  assert.match(dialled, /connection refused/);
  assert.deepEqual(seen, ["100 lost 200: Cannot connect to sim:2: connection refused (1 back)"]);
  assert.equal(b.stats.linksIn, 0);
  a.abort();
  b.abort();
});

test("shards: a dialler gone before the answer leaves no link at the other end, and its dial ends", () => {
  const { all, a, b } = pair();
  let dialled = "";
  a.dial(b.ap, (err) => (dialled = err ? err.message : "linked"));
  Simulator.runShards(all, 1);
  a.abort();
  Simulator.runShards(all, 100);
  assert.equal(dialled, "Transport is closed");
  assert.equal(b.isLinked(100), false);
  assert.equal(b.stats.linksIn, 0);
  b.abort();
});
