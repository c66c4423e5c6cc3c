import assert from "node:assert/strict";
import { createNet, joinNet } from "../lib/node/net.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { ConnectError, HandshakeError, InvalidArgumentError, JoinError } from "../lib/errors.ts";
import { fingerPolicy } from "../lib/core/fingers.ts";
import { CLOSED_PORT } from "./_values.ts";
import { nextWithin, until, within } from "./_wait.ts";
import { test } from "./_test.ts";
import { exactly } from "./_assert.ts";
import { cbor } from "./_rogue.ts";

function ringOk(nodes: P2PNode[]): boolean {
  const live = nodes.filter((n) => n.status === "connected").sort((a, b) => a.id - b.id);
  return live.every((n, i) => {
    const info = n.info();
    return info.succ.id === live[(i + 1) % live.length].id &&
      info.pred?.id === live[(i - 1 + live.length) % live.length].id;
  });
}

/** `n` distinct ids in `[0, maxKey)` drawn from `random`. */
function distinctIds(n: number, maxKey: number, random: () => number): number[] {
  const ids = new Set<number>();
  while (ids.size < n) ids.add(Math.floor(random() * maxKey));
  return [...ids];
}

function responsible(nodes: P2PNode[], key: number): number {
  const ids = nodes.map((n) => n.id).sort((a, b) => a - b);
  return ids.find((id) => id >= key) ?? ids[0];
}

test("the seed talk's three nodes over TCP: create, join, join, send to key 42 and to node 16", async () => {
  await using n1 = await createNet({ node: { id: 1 }, ap: { hostname: "127.0.0.1", port: 0 } });
  await using n2 = await joinNet(`127.0.0.1:${n1.ap.port}`, { node: { id: 16 }, ap: { port: 0 } });
  await using n3 = await joinNet(n2.ap);
  await until(() => ringOk([n1, n2, n3]), "a three-node ring");
  const nodes = [n1, n2, n3];
  const inboxes = new Map(nodes.map((n) => [n.id, n.messages()]));
  await n3.send(42, { any: "cbor value", big: 2n ** 64n, bytes: new Uint8Array([1, 2]) }, {
    toResp: true,
  });
  const at42 = responsible(nodes, 42);
  const m = await nextWithin(inboxes.get(at42)!, "the message for key 42");
  assert.deepEqual(m.msg, { any: "cbor value", big: 2n ** 64n, bytes: new Uint8Array([1, 2]) });
  assert.equal(m.src, n3.id);
  assert.equal(m.kind, "send");
  await n3.send(16, "hello");
  const h = await nextWithin(inboxes.get(16)!, "hello at node 16");
  assert.equal(h.msg, "hello");
  assert.equal(h.hops, 1, "in a ring of three every node knows the others");
  const stats = n3.statistics();
  assert.equal(stats.data.sent, 2);
  assert.equal(stats.links.out + stats.links.in, 2, "linked to its two neighbours");
  assert.ok(stats.bytes.out > 0);
  const info = n3.info();
  assert.equal(info.id, n3.id);
  const clockwise = [1, 16, n3.id].sort((a, b) => a - b);
  const at = clockwise.indexOf(n3.id);
  assert.deepEqual(
    info.succList.map((n) => n.id),
    [clockwise[(at + 1) % 3], clockwise[(at + 2) % 3]],
    `the successors of node ${n3.id}`,
  );
  assert.equal(info.fingers.length, fingerPolicy("tango", 2 ** 52).offsets.length);
  for (const it of inboxes.values()) await it.return?.();
});

test("16 nodes over TCP: sends to random keys reach the responsible node; leaves keep the ring correct", async (ctx) => {
  const ids = distinctIds(16, 2 ** 32, ctx.random);
  const nodes: P2PNode[] = [await createNet({ node: { id: ids[0] }, net: { maxKey: 2 ** 32 } })];
  try {
    for (let i = 1; i < 16; i++) {
      nodes.push(await joinNet(nodes[i - 1].ap, { node: { id: ids[i] } }));
    }
    await until(() => ringOk(nodes), "a 16-node ring");
    const inbox = new Map(nodes.map((n) => [n.id, n.messages()]));
    for (let i = 0; i < 40; i++) {
      const key = ctx.int(2 ** 32);
      const src = nodes[i % nodes.length];
      await src.send(key, { key }, { toResp: true });
      const m = await nextWithin(inbox.get(responsible(nodes, key))!, `key ${key}`);
      assert.deepEqual(m.msg, { key });
    }
    for (const it of inbox.values()) await it.return?.();
    for (const victim of [nodes[3], nodes[9], nodes[0]]) {
      await victim.leave();
      const rest = nodes.filter((n) => n.status === "connected");
      await until(() => ringOk(rest), `the ring after ${victim.id} left`);
    }
    const rest = nodes.filter((n) => n.status === "connected");
    const receipt = await rest[2].send(rest[7].id, "after leaves", { ack: true });
    assert.equal(receipt.node, rest[7].id);
  } finally {
    await Promise.all(nodes.map((n) => n.leave()));
  }
});

test("bad access points and handshakes are refused with typed errors naming the problem", async () => {
  await using n1 = await createNet({ node: { id: 5 }, net: { name: "alpha" } });
  await assert.rejects(
    joinNet(`127.0.0.1:${CLOSED_PORT}`),
    exactly(ConnectError, `Cannot connect to 127.0.0.1:${CLOSED_PORT}: Connection refused`),
  );
  await assert.rejects(
    joinNet(n1.ap, { node: { id: 5 } }),
    exactly(JoinError, "Node id 5 is already in use"),
  );
  await assert.rejects(
    joinNet(n1.ap, { net: { name: "beta" } }),
    exactly(JoinError, 'Access point belongs to network "alpha", not "beta"'),
  );
  await assert.rejects(
    joinNet("nonsense"),
    exactly(InvalidArgumentError, 'Access point must look like "host:port", got "nonsense"'),
  );
  await using n2 = await joinNet(n1.ap, { node: { id: 99 } });
  await assert.rejects(
    joinNet(n2.ap, { node: { id: 99 } }),
    exactly(JoinError, "Node id 99 is already in use"),
  );
  assert.equal(n1.status, "connected");
  assert.equal(n1.statistics().badLinks + n2.statistics().badLinks, 0, "none was a violation");
});

test("garbage, truncated and oversize frames from a raw socket close that link only; the node keeps working", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: 1000 }, maxFrameSize: 4096 });
  await using b = await joinNet(a.ap, { node: { id: 500 } });
  const inbox = b.messages();
  const attacks: Uint8Array[] = [
    new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
    Uint8Array.from([0, 0, 0, 50, 1, 2, 3]),
    Uint8Array.from([0x7f, 0xff, 0xff, 0xff]),
    (() => {
      // A hello of another protocol version.
      const body = cbor([0, 99, "", null, -7, "x", 1, 1024, null, false]);
      const f = new Uint8Array(4 + body.length);
      new DataView(f.buffer).setUint32(0, body.length);
      f.set(body, 4);
      return f;
    })(),
  ];
  for (const [i, bytes] of attacks.entries()) {
    const conn = await Deno.connect(a.ap);
    // The node may hang up before all of it is written (an oversize length condemns at once).
    await conn.write(bytes).catch(() => 0);
    // Half-close so a truncated frame really is truncated; then wait for the node to hang up.
    await conn.closeWrite().catch(() => {});
    await within(
      (async () => {
        const buf = new Uint8Array(4096);
        while ((await conn.read(buf).catch(() => null)) !== null) { /* drain until closed */ }
      })(),
      `the node to close the connection of attack ${i}`,
    );
    conn.close();
    await until(() => a.statistics().badLinks === i + 1, `attack ${i} counted as a bad link`);
  }
  assert.equal(a.statistics().badLinks, attacks.length);
  await a.send(500, "still fine");
  assert.equal((await nextWithin(inbox, "a message after the attacks")).msg, "still fine");
  assert.equal(a.status, "connected");
  await inbox.return?.();
});

test("32 nodes over TCP: broadcast reaches every node exactly once with N−1 messages; multicast reaches exactly its targets", async (ctx) => {
  const ids = distinctIds(32, 2 ** 52, ctx.random);
  const nodes: P2PNode[] = [await createNet({ node: { id: ids[0] } })];
  try {
    for (let i = 1; i < 32; i++) {
      nodes.push(await joinNet(nodes[ctx.int(i)].ap, { node: { id: ids[i] } }));
    }
    await until(() => ringOk(nodes), "a 32-node ring");
    const got = new Map<number, unknown[]>(nodes.map((n) => [n.id, []]));
    const readers = nodes.map((n) => {
      const it = n.messages();
      (async () => {
        for await (const m of it) got.get(n.id)!.push(m.msg);
      })();
      return it;
    });
    const sent = () =>
      nodes.reduce((a, n) => a + n.statistics().data.sent + n.statistics().data.forwarded, 0);
    const before = sent();
    const report = await nodes[5].broadcast("everyone", { ack: true });
    const others = nodes.filter((n) => n !== nodes[5]).map((n) => n.id);
    assert.deepEqual(report.reached.toSorted((a, b) => a - b), others.sort((a, b) => a - b));
    await until(() => [...got.values()].filter((v) => v.length > 0).length === 31, "31 deliveries");
    for (const n of nodes) assert.deepEqual(got.get(n.id), n === nodes[5] ? [] : ["everyone"]);
    // N−1 data messages.
    assert.equal(sent() - before, 31);
    for (const v of got.values()) v.length = 0;
    const targets = nodes.filter((_, i) => i % 4 === 1).map((n) => n.id);
    const mreport = await nodes[0].multicast(targets, "some", { ack: true });
    assert.deepEqual(mreport.reached.toSorted((a, b) => a - b), targets.toSorted((a, b) => a - b));
    await until(() => targets.every((t) => got.get(t)!.length === 1), "multicast deliveries");
    for (const n of nodes) assert.equal(got.get(n.id)!.length, targets.includes(n.id) ? 1 : 0);
    for (const r of readers) await r.return?.();
  } finally {
    await Promise.all(nodes.map((n) => n.leave()));
  }
});

test("a private network: members share the secret; a joiner without it or with another is refused", async () => {
  await using a = await createNet({ net: { secret: "s3cret", maxKey: 1000 }, node: { id: 1 } });
  await using b = await joinNet(a.ap, { net: { secret: "s3cret" }, node: { id: 500 } });
  await until(() => ringOk([a, b]), "a two-node private ring");
  assert.deepEqual([a.statistics().badLinks, b.statistics().badLinks], [0, 0]);
  // Each side checks the other: the preambles disagree, so the joiner refuses a member that asks
  // for a secret it lacks, and the member refuses a joiner that has none, each on its own.
  await assert.rejects(
    joinNet(a.ap),
    exactly(
      HandshakeError,
      `Handshake with 127.0.0.1:${a.ap.port} failed: The peer's network requires a secret ` +
        "(net.secret), and this node has none",
    ),
  );
  await until(() => a.statistics().badLinks === 1, "the member to refuse the joiner too");
  await assert.rejects(
    joinNet(b.ap, { net: { secret: "guess" } }),
    exactly(
      HandshakeError,
      `Handshake with 127.0.0.1:${b.ap.port} failed: the peer closed the connection (it holds ` +
        "another network secret, or refused us)",
    ),
  );
  await until(() => b.statistics().badLinks === 1, "the member to refuse the wrong secret too");
  await assert.rejects(
    createNet({ net: { secret: "" } }),
    exactly(InvalidArgumentError, "net.secret must be a non-empty string"),
  );
  const receipt = await b.send(1, "inside", { ack: true });
  assert.equal(receipt.node, 1);
  assert.deepEqual([a.statistics().badLinks, b.statistics().badLinks], [1, 1]);
});

test("streams over TCP travel as runs of messages per frame, through relays, in order and complete", async () => {
  // Fixed ids and short successor lists, so that some node is two hops from node 7.
  const net = { maxKey: 2 ** 16, succListSize: 2 };
  const nodes: P2PNode[] = [await createNet({ node: { id: 7 }, net })];
  try {
    for (let i = 1; i < 12; i++) {
      nodes.push(await joinNet(nodes[i - 1].ap, { node: { id: 7 + i * 5000 } }));
    }
    await until(() => ringOk(nodes), "a 12-node ring");
    const src = nodes[0];
    // The destination farthest from the sender: its messages go through relays, which pass runs
    // on whole (their own links may join them further).
    let dst = nodes[1];
    let hops = 0;
    for (const n of nodes.slice(1)) {
      const inbox = n.messages();
      await src.send(n.id, "probe");
      const h = (await nextWithin(inbox, `a probe to ${n.id}`)).hops;
      await inbox.return?.();
      if (h > hops) [dst, hops] = [n, h];
    }
    assert.ok(hops >= 2, `node ${dst.id} is ${hops} hops away`);
    const relays = nodes.filter((n) => n !== src && n !== dst);
    const forwarded = () => relays.reduce((sum, n) => sum + n.statistics().data.forwarded, 0);
    const forwardedBefore = forwarded();
    const inbox = dst.messages();
    const framesBefore = dst.statistics().frames.in;
    const count = 2000;
    for (let i = 0; i < count; i++) src.send(dst.id, { i, pad: new Uint8Array(i % 200) });
    let previous = -1;
    let relayed = 0;
    for (let i = 0; i < count; i++) {
      const m = await nextWithin(inbox, `message ${i}`);
      assert.deepEqual(m.msg, { i, pad: new Uint8Array(i % 200) });
      assert.equal(m.src, src.id);
      assert.equal(m.id, previous < 0 ? m.id : previous + 1, "ids follow each other");
      assert.ok(m.hops >= 2, `message ${i} went through a relay (${m.hops} hops)`);
      previous = m.id;
      relayed += m.hops - 1;
    }
    await inbox.return?.();
    assert.equal(forwarded() - forwardedBefore, relayed, "each relay hop counted once");
    // Far fewer frames than messages arrived (control traffic included).
    const frames = dst.statistics().frames.in - framesBefore;
    assert.ok(frames < count / 4, `${frames} frames for ${count} messages`);
    assert.equal(dst.statistics().kinds.send.received, count + 1, "the probe and the stream");
  } finally {
    await Promise.all(nodes.map((n) => n.leave()));
  }
});

test("runs respect the receiver's smaller frame limit; a run to a missing node comes back as one report per run", async () => {
  const small = await createNet({ node: { id: 100 }, maxFrameSize: 4096, net: { maxKey: 1000 } });
  const big = await joinNet(small.ap, { node: { id: 200 } });
  try {
    await until(() => big.status === "connected" && small.status === "connected", "two nodes");
    const inbox = small.messages();
    // 10 KB in ten messages: one run would be over the receiver's 4 KiB limit.
    for (let i = 0; i < 10; i++) big.send(100, { i, pad: new Uint8Array(1000) });
    for (let i = 0; i < 10; i++) {
      assert.equal(((await nextWithin(inbox, `message ${i}`)).msg as { i: number }).i, i);
    }
    await inbox.return?.();
    assert.equal(small.statistics().badLinks, 0);
    // Sent back to back to id 50, which nobody has (node 100 is responsible for it): each run
    // gets one report back, and the sender one event per report, counting its messages.
    const events = big.events();
    const ids: number[] = [];
    const framesBefore = small.statistics().frames.in;
    const droppedBefore = small.statistics().data.dropped;
    for (let i = 0; i < 20; i++) big.send(50, i);
    let reports = 0;
    while (ids.length < 20) {
      const e = await nextWithin(events, "undeliverable events");
      if (e.type !== "undeliverable") continue;
      reports++;
      for (let i = 0; i < e.count; i++) ids.push(e.id + i);
    }
    await events.return?.();
    assert.ok(reports < 20, `${reports} reports for 20 messages`);
    assert.deepEqual(ids, ids.slice().sort((a, b) => a - b));
    assert.equal(new Set(ids).size, 20);
    assert.equal(big.statistics().undeliverable, 20);
    assert.equal(small.statistics().data.dropped - droppedBefore, 20);
    assert.ok(small.statistics().frames.in - framesBefore < 20, "the messages came as a run");
  } finally {
    await Promise.all([big.leave(), small.leave()]);
  }
});

test("a node that left or crashed rejoins at once under its id, with a fresh key, through the same access point", async () => {
  // Node 111112 sits between 500000 and 300000: both learn of its joins before it links with
  // them (the access point from the joiner's Find, 300000 from its Join), and both remembered
  // its first key.
  const net = { maxKey: 1_000_000 };
  await using a = await createNet({ node: { id: 500_000 }, net });
  await using b = await joinNet(a.ap, { node: { id: 300_000 } });
  await until(() => ringOk([a, b]), "a two-node ring");
  for (const end of ["leave", "crash"] as const) {
    const c = await joinNet(a.ap, { node: { id: 111_112 }, timing: { joinTimeoutMs: 5000 } });
    await until(() => ringOk([a, b, c]), `a three-node ring before the ${end}`);
    // Its links to both neighbours are up (a crash in the middle of a handshake counts as a bad
    // link at the other end; only refusals should count below).
    for (const to of [a, b]) assert.equal((await c.send(to.id, "hi", { ack: true })).node, to.id);
    if (end === "leave") await c.leave();
    else c.crash();
    await until(() => ringOk([a, b]), `the ring closed after the ${end}`);
    await using again = await joinNet(a.ap, {
      node: { id: 111_112 },
      timing: { joinTimeoutMs: 5000 },
    });
    await until(() => ringOk([a, b, again]), `111112 back on the ring after its ${end}`);
    // Both old neighbours take the fresh key: messages go both ways on links with each.
    assert.equal((await again.send(300_000, "back", { ack: true })).node, 300_000);
    assert.equal((await again.send(500_000, "back", { ack: true })).node, 500_000);
    assert.equal(
      a.statistics().badLinks + b.statistics().badLinks,
      0,
      `no link was refused after the ${end}`,
    );
    // (A link still in its handshake when the node leaves ends unfinished, and counts as bad.)
    await again.leave();
    await until(() => ringOk([a, b]), `the ring closed after the second ${end}`);
  }
});
