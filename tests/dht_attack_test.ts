// Attacks on the DHT over live TCP links: a peer that passed the handshake sends DHT frames no
// honest node would (forged read repairs, items, transfers, answers, pulls). Each is refused and
// counted, stores nothing past the node's limits, raises no event, and costs a bounded amount of
// work; what the protocol trusts peers with (a forged read repair for a position the node serves
// is believed) is shown as such.
import assert from "node:assert/strict";
import { createNet, joinNet } from "../lib/node/net.ts";
import type { P2PNode } from "../lib/node/node.ts";
import type { NodeEvent } from "../lib/core/events.ts";
import { type Frame, type FrameOf, T } from "../lib/wire/schema.ts";
import { handled, type Rogue, rogue } from "./_rogue.ts";
import { EXCHANGE_BYTES } from "../lib/services/dht/sync.ts";
import { until } from "./_wait.ts";
import { test } from "./_test.ts";

const MAX_KEY = 1000;
/** No anti-entropy round during a test: every DHT frame a node sends is one the test caused. */
const QUIET = { syncMs: 600_000 };

/** An item as a `DhtItems` frame carries it. */
function item(key: number, i: number, val: Uint8Array, ballot = 5): FrameOf<"DhtItems">["its"][0] {
  return { key, i, pc: ballot, pt: 1, ac: ballot, at: 1, ver: 1, ws: [1], val };
}

/**
 * Nodes 1 and 500 with f = 4 (replicas a quarter of the ring apart): 500 serves (1, 500], so it
 * holds replicas 0 and 1 of keys 2..250. Both serve their whole range when this returns.
 */
async function pair(dht: Record<string, number> = {}): Promise<[P2PNode, P2PNode]> {
  const a = await createNet({
    node: { id: 1 },
    net: { maxKey: MAX_KEY, replication: 4 },
    dht: QUIET,
  });
  const b = await joinNet(a.ap, { node: { id: 500 }, dht: { ...QUIET, ...dht } });
  await until(() => a.info().succ.id === 500 && b.info().succ.id === 1, "a two-node ring");
  await b.insert(7, "seed"); // both nodes hold a DHT
  await until(
    () => a.statistics().dht.pendingRanges === 0 && b.statistics().dht.pendingRanges === 0,
    "both nodes serving their ranges",
  );
  return [a, b];
}

/** Collects a node's events until `stop` is called. */
function recordEvents(node: P2PNode): { events: NodeEvent[]; stop(): Promise<void> } {
  const events: NodeEvent[] = [];
  const stream = node.events();
  const reading = (async () => {
    for await (const e of stream) events.push(e);
  })();
  return {
    events,
    async stop() {
      await stream.return?.();
      await reading;
    },
  };
}

/** Runs `attack` from a rogue peer of `node`, then closes the rogue. */
async function withRogue(node: P2PNode, attack: (r: Rogue) => Promise<void>): Promise<void> {
  const r = await rogue(node.ap, 777, { net: node.info().net! });
  try {
    await attack(r);
  } finally {
    await r.close();
  }
}

test("forged read repairs, anti-entropy items and handovers cannot store a value over maxValueBytes: each is refused and counted, and nothing else moves", async () => {
  const [a, b] = await pair({ maxValueBytes: 1000 });
  try {
    const events = recordEvents(b);
    await withRogue(b, async (r) => {
      const big = new Uint8Array(2000);
      const before = b.statistics();
      // Key 100: replica 0 at 100 and replica 1 at 350, both in b's range.
      await r.send({ t: T.DhtLearn, key: 100, i: 0, c: 5, bt: 1, ver: 1, ws: [1], val: big });
      const items = { q: 0, n: 0, ix: 1, a: 1, b: 500, last: false, rec: false } as const;
      await r.send({ t: T.DhtItems, ...items, m: "sync", its: [item(101, 1, big)] });
      await r.send({ t: T.DhtItems, ...items, q: 9, m: "handover", its: [item(102, 0, big)] });
      await r.send({
        t: T.DhtAccept,
        k: 103,
        h: 1,
        ph: 0,
        f: -1,
        s: r.ref,
        key: 103,
        i: 0,
        c: 5,
        bt: 1,
        ver: 1,
        ws: [1],
        val: big,
        q: 1,
      });
      await handled(r, 1);
      const after = b.statistics();
      assert.equal(after.dht.items, before.dht.items, "no item stored");
      assert.equal(after.dht.bytes, before.dht.bytes, "no byte stored");
      assert.equal(after.dht.refused - before.dht.refused, 4, "each refusal counted");
      assert.equal(after.badFrames, before.badFrames);
      // Answers travel in the bulk lane, which the ping's answer may overtake.
      await until(() => r.received.some((f) => f.t === T.DhtNack), "the answer to the accept");
      const nack = r.received.find((f) => f.t === T.DhtNack);
      assert.ok(nack?.t === T.DhtNack && nack.why === "full", "the accept is answered: full");
      // What the protocol trusts peers with: a read repair within the limits, for a position
      // b serves, is believed (README, "Limits and trust").
      const small = new Uint8Array([0x63, 0x62, 0x61, 0x64]); // CBOR "bad"
      await r.send({ t: T.DhtLearn, key: 7, i: 0, c: 2 ** 40, bt: 1, ver: 9, ws: [1], val: small });
      await handled(r, 2);
      assert.equal(b.statistics().dht.repaired, before.dht.repaired + 1);
      // One replica is no majority: a lookup still returns the chosen value. Forged repairs
      // sent to a majority of a key's replicas would overwrite it.
      assert.equal((await b.lookup(7))?.value, "seed");
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    await events.stop();
    assert.deepEqual(events.events, [], "no event");
  } finally {
    await b.leave();
    await a.leave();
  }
});

test("DHT frames naming a replica past the factor, or a position that is not that replica's, are counted as bad frames and answered by nothing", async () => {
  const [a, b] = await pair();
  try {
    await withRogue(b, async (r) => {
      const before = b.statistics();
      const routed = { h: 1, ph: 0, f: -1, s: r.ref, q: 1 } as const;
      const forged: Frame[] = [
        // key 100, replica 4 of 4 (its position would be 100 again).
        { t: T.DhtRead, k: 100, ...routed, key: 100, i: 4 },
        // replica 0 of key 100 sits at 100, not 101.
        { t: T.DhtPrepare, k: 101, ...routed, key: 100, i: 0, c: 1, bt: 1 },
        {
          t: T.DhtAccept,
          k: 100,
          ...routed,
          key: 100,
          i: 5,
          c: 1,
          bt: 1,
          ver: 1,
          ws: [],
          val: undefined,
        },
        { t: T.DhtLearn, key: 100, i: 6, c: 9, bt: 9, ver: 1, ws: [], val: undefined },
        { t: T.DhtSyncReq, k: 100, ...routed, i: 0, j: 7, a: 99, b: 120, lv: 0, x: 0 },
        // replica 1 of key 100 sits at 350: a sync request for it routed to 100 is forged.
        { t: T.DhtSyncReq, k: 100, ...routed, i: 0, j: 1, a: 99, b: 120, lv: 0, x: 0 },
        { t: T.DhtPull, q: 1, j: 8, ix: 0, a: 0, c: 0, lv: 1, xs: [0] },
        {
          t: T.DhtItems,
          q: 0,
          n: 0,
          m: "sync",
          ix: 9,
          a: 1,
          b: 500,
          last: false,
          rec: false,
          its: [],
        },
        { t: T.DhtState, q: 1, i: 10, lo: 1, ac: 1, at: 1, ver: 1, ws: [], val: undefined },
      ];
      for (const f of forged) await r.send(f);
      await handled(r, 1);
      const after = b.statistics();
      assert.equal(after.badFrames - before.badFrames, forged.length);
      assert.equal(
        (after.badFrameReasons.replica ?? 0) - (before.badFrameReasons.replica ?? 0),
        forged.length,
      );
      assert.deepEqual(r.received.filter((f) => f.t !== T.Pong).map((f) => f.t), [], "no answer");
      assert.equal(after.dht.items, before.dht.items);
    });
  } finally {
    await b.leave();
    await a.leave();
  }
});

test("the end of a handover from a node that hands this node nothing starts no recovery: it is refused and counted", async () => {
  const [a, b] = await pair();
  try {
    await withRogue(b, async (r) => {
      const before = b.statistics();
      const last = {
        t: T.DhtItems,
        q: 1,
        n: 0,
        m: "handover",
        ix: 0,
        a: 1,
        b: 500,
        last: true,
        rec: true,
        its: [],
      } as const;
      for (let n = 0; n < 20; n++) await r.send({ ...last, n });
      await handled(r, 1);
      await new Promise((resolve) => setTimeout(resolve, 0));
      const after = b.statistics();
      assert.equal(after.dht.refused - before.dht.refused, 20);
      assert.equal(after.dht.pendingRanges, 0, "b serves its whole range");
      // Each chunk is acknowledged (an answer, one for one), and that is all b sends.
      assert.equal(after.kinds.dht.sent - before.kinds.dht.sent, 20, "no recovery started");
      assert.equal((await b.lookup(7))?.value, "seed");
    });
  } finally {
    await b.leave();
    await a.leave();
  }
});

test("a pull naming every bucket of the whole ring is answered with at most one batch of items, which says where it stopped", async () => {
  const [a, b] = await pair();
  try {
    // 40 values of 40 kB under keys 2..41: b holds replica 0 of each (positions 2..41).
    for (let k = 2; k < 42; k++) await b.insert(k, new Uint8Array(40_000));
    await withRogue(b, async (r) => {
      const xs = Array.from({ length: 32 }, (_, x) => x);
      const pull = (q: number, from: number) =>
        r.send({ t: T.DhtPull, q, j: 0, ix: 0, a: from, c: 0, lv: 1, xs });
      const answer = (q: number) =>
        r.received.filter((f): f is FrameOf<"DhtItems"> => f.t === T.DhtItems && f.q === q);
      // The answer travels in the bulk lane, which a ping's answer may overtake: wait for the
      // frame that ends it.
      const ended = (q: number) =>
        until(() => answer(q).some((f) => f.last), `the end of answer ${q}`);
      await pull(1, 0);
      await ended(1);
      await handled(r, 1);
      const first = answer(1);
      const bytes = first.flatMap((f) => f.its).reduce((n, it) => n + (it.val?.length ?? 0), 0);
      assert.ok(bytes <= EXCHANGE_BYTES, `${bytes} bytes in answer to one pull`);
      const keys = first.flatMap((f) => f.its).map((it) => it.key);
      assert.deepEqual(keys, [...keys].sort((x, y) => x - y), "by ascending key");
      const cut = first.at(-1)!;
      assert.ok(cut.last && cut.b === keys.at(-1) && cut.b < 41, "it stopped short, and says so");
      // Asked again from there, the rest comes.
      await pull(2, cut.b);
      await ended(2);
      await handled(r, 2);
      const rest = answer(2).flatMap((f) => f.its).map((it) => it.key);
      assert.deepEqual([...keys, ...rest], Array.from({ length: 40 }, (_, k) => k + 2));
    });
  } finally {
    await b.leave();
    await a.leave();
  }
});

test("a recovery that pulls more than a link may queue (16 MiB) comes in batches: no link is dropped, and every replica is restored", async () => {
  // f = 2 on three nodes; 400 values of 64 kB (25 MB) have replica 0 on b. When b crashes, c
  // recovers them: 265 of them (17 MB) from a, which used to queue them all for c at once.
  const M = 2 ** 20;
  const dht = { ...QUIET, maxValueBytes: 65_000 };
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: M, replication: 2 }, dht });
  const b = await joinNet(a.ap, { node: { id: Math.floor(0.3 * M) }, dht });
  await using c = await joinNet(a.ap, { node: { id: Math.floor(0.6 * M) }, dht });
  await until(
    () => a.info().succ.id === b.id && b.info().succ.id === c.id && c.info().succ.id === a.id,
    "a three-node ring",
  );
  const keys = Array.from({ length: 400 }, (_, k) => Math.floor(0.01 * M) + k * 700);
  const value = new Uint8Array(64_000);
  for (const k of keys) await a.insert(k, value);
  b.crash();
  await until(
    () => a.statistics().dht.items + c.statistics().dht.items === 2 * keys.length,
    "every key held twice again",
    60_000,
  );
  assert.equal(c.statistics().dht.repaired, keys.length, "c recovered replica 0 of every key");
  assert.equal(a.statistics().badLinks + c.statistics().badLinks, 0, "no link dropped");
  for (const k of keys.slice(0, 20)) {
    assert.equal(((await c.lookup(k))?.value as Uint8Array).length, 64_000);
  }
});

test("a flood of prepares and accepts for new keys stops at maxItems and maxBytes: the rest are refused as full and counted", async () => {
  const [a, b] = await pair({ maxItems: 60, maxBytes: 20_000 });
  try {
    await withRogue(b, async (r) => {
      const held = b.statistics().dht.items;
      const routed = { h: 1, ph: 0, f: -1, s: r.ref } as const;
      for (let key = 10; key < 110; key++) {
        await r.send({ t: T.DhtPrepare, k: key, ...routed, key, i: 0, c: 1, bt: 1, q: key });
      }
      await handled(r, 1);
      let s = b.statistics().dht;
      assert.equal(s.items, 60, "items up to the limit");
      assert.equal(s.refused, 100 - (60 - held));
      const full = () => r.received.filter((f) => f.t === T.DhtNack && f.why === "full").length;
      // Answers travel in the bulk lane, which the ping's answer may overtake.
      await until(() => full() >= s.refused, `${s.refused} refusals answered`);
      assert.equal(full(), s.refused);
      // Values for the keys prepared: bytes up to the limit, no further.
      const val = new Uint8Array(500);
      for (let key = 10; key < 70; key++) {
        await r.send({
          t: T.DhtAccept,
          k: key,
          ...routed,
          key,
          i: 0,
          c: 1,
          bt: 1,
          ver: 1,
          ws: [1],
          val,
          q: 1000 + key,
        });
      }
      await handled(r, 2);
      s = b.statistics().dht;
      assert.ok(s.bytes <= 20_000 && s.bytes > 20_000 - 500, `${s.bytes} bytes`);
      assert.equal(s.items, 60);
      // Not protected (README, "Limits and trust"): a full store refuses honest writes too,
      // until the promises of writes that never completed expire (tombstoneTtlMs).
      const err = await b.insert(205, 1, { timeoutMs: 1_000 }).catch((e) => e);
      assert.match(err.message, /2 refused \(storage full\)/);
    });
  } finally {
    await b.leave();
    await a.leave();
  }
});

test("answers to requests never made change nothing, raise no event and are not bad frames (late answers are normal)", async () => {
  const [a, b] = await pair();
  try {
    const events = recordEvents(b);
    await withRogue(b, async (r) => {
      const before = b.statistics();
      const q = 123_456;
      const answers: Frame[] = [
        { t: T.DhtPromise, q, i: 0, lo: 1, ok: true, pc: 9, pt: 9, ac: 9, at: 9, ver: 3, ws: [] },
        { t: T.DhtAccepted, q, i: 1, lo: 1, ok: true, pc: 9, pt: 9 },
        { t: T.DhtState, q, i: 2, lo: 1, ac: 9, at: 9, ver: 3, ws: [], val: undefined },
        { t: T.DhtNack, q, i: 3, lo: 1, why: "notMine" },
        { t: T.DhtItemsAck, q, n: 0 },
        { t: T.DhtDigest, q, c: 5, d: new Array(96).fill(0) },
        {
          t: T.DhtItems,
          q,
          n: 0,
          m: "sync",
          ix: 0,
          a: 1,
          b: 500,
          last: true,
          rec: false,
          its: [],
        },
      ];
      for (const f of answers) await r.send(f);
      await handled(r, 1);
      const after = b.statistics();
      assert.equal(after.badFrames, before.badFrames);
      assert.deepEqual(after.dht, before.dht);
      assert.equal(after.kinds.dht.sent, before.kinds.dht.sent, "nothing sent in return");
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    await events.stop();
    assert.deepEqual(events.events, []);
  } finally {
    await b.leave();
    await a.leave();
  }
});
