// Statistics that add up: after a mix of every kind of message, each node's data counters are
// the sums of its per-kind counters, `received` is what its message stream delivered, and the
// messages the network carried match what the senders and the streams saw. The gateway's JSON
// and Prometheus views say the same.
import assert from "node:assert/strict";
import { createNet, joinNet, type Message, type P2PNode, type Statistics } from "../mod.ts";
import { serveGateway } from "../gateway/mod.ts";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import { buildRing, flush, responsibleFor } from "./_ring.ts";
import { until } from "./_wait.ts";
import { test } from "./_test.ts";

const KINDS = ["send", "multicast", "broadcast", "succ", "dht"] as const;
const EVENTS = ["sent", "forwarded", "received", "dropped"] as const;

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Every message each node's stream delivers, until stopped. */
function record(nodes: P2PNode[]): { got: Message[]; stop(): Promise<void> } {
  const got: Message[] = [];
  const its = nodes.map((n) => {
    const it = n.messages();
    (async () => {
      for await (const m of it) got.push(m);
    })();
    return it;
  });
  return {
    got,
    async stop() {
      for (const it of its) await it.return?.();
    },
  };
}

function assertAddsUp(s: Statistics, who: string): void {
  for (const e of EVENTS) {
    assert.equal(s.data[e], sum(KINDS.map((k) => s.kinds[k][e])), `${who}: data.${e}`);
  }
  // The DHT's frames are handled, not delivered to the stream.
  assert.equal(
    s.data.received - s.kinds.dht.received,
    s.hops.count,
    `${who}: received = delivered`,
  );
}

test("after a mix of every kind of message, per-kind counters sum to the totals and match the deliveries", async () => {
  // Random ids, but distinct: 24 ids drawn in a space of 4,096 repeat one about once in 15
  // seeds, and a joiner racing another for its id is refused (or times out).
  const random = seededRandom(7);
  const ids = new Set<number>();
  while (ids.size < 24) ids.add(Math.floor(random() * 4096));
  const sim = await buildRing(24, { seed: 7, ids: [...ids], node: { net: { maxKey: 4096 } } });
  const nodes = sim.live.sort((a, b) => a.id - b.id);
  const N = nodes.length;
  const rec = record(nodes);
  const run = async () => {
    sim.run(2000);
    await flush();
  };
  const stats = () => nodes.map((n) => n.statistics());
  const total = (f: (s: Statistics) => number) => sum(stats().map(f));
  const [a, b, c] = [nodes[0], nodes[9], nodes[17]];

  // Point-to-point sends: plain, acknowledged, to a key, to a key acknowledged.
  await a.send(c.id, "plain");
  await sim.settle(a.send(nodes[20].id, "acked", { ack: true }));
  // Keys held by other nodes than their senders (a send to oneself takes no hop).
  await b.send(nodes[14].id - 1, "to a key", { toResp: true });
  await sim.settle(c.send(nodes[5].id - 1, "to a key", { toResp: true, ack: true }));
  await run();
  const sends = rec.got.filter((m) => m.kind === "send");
  assert.equal(sends.length, 4);
  // Every hop of a delivered send is one message: the origin's first hop, then forwards.
  assert.equal(
    total((s) => s.kinds.send.sent + s.kinds.send.forwarded),
    sum(sends.map((m) => m.hops)),
  );
  assert.equal(total((s) => s.kinds.send.sent), 4);

  // Group kinds: multicast (plain and acknowledged to keys), broadcast (plain and acknowledged
  // to every node including the sender), successors (plain and acknowledged).
  const group = [nodes[3].id, nodes[11].id, nodes[19].id];
  await b.multicast(group, "multicast");
  await sim.settle(c.multicast([10, 2000, 4000], "multicast to keys", { toResp: true, ack: true }));
  await a.broadcast("broadcast");
  await sim.settle(b.broadcast("broadcast acked", { ack: true, toMyself: true }));
  await c.sendToSucc("three successors", 3);
  await sim.settle(a.sendToSucc("five successors", 5, { ack: true }));
  await run();
  const of = (kind: string) => rec.got.filter((m) => m.kind === kind).length;
  const holders = new Set([10, 2000, 4000].map((k) => responsibleFor(sim, k)));
  assert.equal(of("multicast"), group.length + holders.size);
  assert.equal(of("broadcast"), (N - 1) + N);
  assert.equal(of("succ"), 3 + 5);
  // Interval splitting: a broadcast is N − 1 messages; the successors are one message each.
  assert.equal(total((s) => s.kinds.broadcast.sent + s.kinds.broadcast.forwarded), 2 * (N - 1));
  assert.equal(total((s) => s.kinds.succ.sent + s.kinds.succ.forwarded), 3 + 5);

  // Messages that cannot be delivered: to an id nobody has, alone and within a multicast.
  const missing = [...Array(4096).keys()].find((k) => !nodes.some((n) => n.id === k))!;
  await a.send(missing, "nobody");
  await b.multicast([missing, c.id], "partly nobody");
  await run();
  assert.equal(total((s) => s.kinds.send.dropped), 1);
  assert.equal(total((s) => s.kinds.multicast.dropped), 1);
  assert.equal(total((s) => s.data.dropped), 2);
  assert.equal(total((s) => s.undeliverable), 2);

  // The DHT's frames (a write and a read from two nodes, and the replicas' own recovery when
  // their DHT starts): each one sent is handled once where it went.
  await sim.settle(a.insert("counted", 1));
  assert.deepEqual(await sim.settle(c.lookup("counted")), { value: 1, version: 1 });
  await run();
  assert.ok(total((s) => s.kinds.dht.received) > 0);
  assert.equal(total((s) => s.kinds.dht.sent), total((s) => s.kinds.dht.received));
  assert.equal(total((s) => s.kinds.dht.dropped), 0);

  // The totals add up on every node, and the received counters are the streams' deliveries.
  for (const [i, s] of stats().entries()) assertAddsUp(s, `node ${nodes[i].id}`);
  for (const kind of KINDS.filter((k) => k !== "dht")) {
    assert.equal(total((s) => s.kinds[kind].received), of(kind), `${kind} received`);
  }
  assert.equal(total((s) => s.data.received - s.kinds.dht.received), rec.got.length);
  assert.equal(total((s) => sum(KINDS.map((k) => s.kinds[k].retransmitted))), 0);
  await rec.stop();
  for (const n of nodes) n.crash();
});

/** The samples of one metric family, by their label text. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? "", Number(m[2]));
  }
  return out;
}

async function promtool(text: string): Promise<{ code: number; output: string } | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const d = new TextDecoder();
  return { code: out.code, output: d.decode(out.stdout) + d.decode(out.stderr) };
}

test("over TCP, /stats and /metrics agree: data totals are the sums over kinds, received is delivered, the DHT's gauges and counters are there", async () => {
  const nodes: P2PNode[] = [await createNet({ node: { id: 100 }, net: { maxKey: 1024 } })];
  for (const id of [300, 520, 760, 900]) nodes.push(await joinNet(nodes[0].ap, { node: { id } }));
  await using server = serveGateway(nodes[2], { port: 0 });
  try {
    const watched = nodes[2];
    const inbox = record([watched]);
    await nodes[0].send(520, "plain");
    await nodes[4].send(500, "to a key", { toResp: true, ack: true });
    await nodes[1].multicast([520, 900], "multicast", { ack: true });
    await nodes[3].broadcast("broadcast", { ack: true });
    await nodes[1].sendToSucc("successors", 2, { ack: true });
    await watched.send(100, "from the watched node", { ack: true });
    await until(() => inbox.got.length === 5, "five deliveries at node 520");
    await inbox.stop();
    await nodes[0].insert("stored", "value");
    assert.deepEqual(await watched.lookup("stored"), { value: "value", version: 1 });

    const stats = await (await fetch(`${server.url}/stats`)).json() as Statistics;
    assertAddsUp(stats, "node 520");
    assert.equal(stats.data.received - stats.kinds.dht.received, 5);
    for (const kind of KINDS.filter((k) => k !== "dht")) {
      assert.equal(stats.kinds[kind].received, kind === "send" ? 2 : 1);
    }
    assert.ok(stats.kinds.dht.received >= 3, "a majority of replicas answered the lookup");

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const data = samples(text, "p2ps_data_messages_total");
    const app = samples(text, "p2ps_app_messages_total");
    for (const e of EVENTS) {
      const perKind = [...app].filter(([l]) => l.includes(`event="${e}"`)).map(([, v]) => v);
      assert.equal(perKind.length, KINDS.length, `${e} for every kind`);
      assert.equal(data.get(`{event="${e}"}`), sum(perKind), `p2ps_data_messages_total ${e}`);
    }
    assert.equal(
      samples(text, "p2ps_delivered_messages_total").get(""),
      data.get(`{event="received"}`)! - app.get(`{kind="dht",event="received"}`)!,
    );
    for (const [name, value] of [["items", stats.dht.items], ["quorum_failures_total", 0]]) {
      assert.equal(samples(text, `p2ps_dht_${name}`).get(""), value, name as string);
    }
    assert.match(text, /^# TYPE p2ps_dht_items gauge$/m);
    assert.match(text, /^# TYPE p2ps_dht_repaired_total counter$/m);
    const checked = await promtool(text);
    if (checked === null) console.log("  promtool not installed: apt-get install -y prometheus");
    else assert.equal(checked.code, 0, checked.output);
  } finally {
    for (const n of nodes.reverse()) await n.leave();
  }
});
