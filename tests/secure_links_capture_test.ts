// What crosses the wire: three real nodes over TCP, each behind a recording proxy that every
// connection to it goes through (the nodes announce the proxies as their access points), so the
// proxies together hold every byte the nodes wrote. Messages carrying a marker go every way. In
// an open and in a private network the capture holds neither the marker nor the secret; with
// encryption "none" it holds the marker (so the check can fail).
import assert from "node:assert/strict";
import { pskFromSecret } from "../lib/com/noise/mod.ts";
import type { NodeOptions } from "../lib/node/node.ts";
import { contains, proxiedNode } from "./_proxy.ts";
import { until } from "./_wait.ts";
import { test } from "./_test.ts";

const encoder = new TextEncoder();

/** Runs three proxied nodes with `net`, sends `marker` every way, returns everything captured. */
async function capture(net: NonNullable<NodeOptions["net"]>, marker: string) {
  const join: NodeOptions["net"] = net.secret ? { secret: net.secret } : {};
  const a = await proxiedNode({ node: { id: 1 }, net: { maxKey: 1000, ...net } });
  const b = await proxiedNode({ node: { id: 400 }, net: join }, a.node.ap);
  const c = await proxiedNode({ node: { id: 700 }, net: join }, b.node.ap);
  const all = [a, b, c];
  try {
    await until(
      () => all.every((p) => p.node.info().succList.length === 2),
      "a three-node ring",
    );
    const inboxes = all.map((p) => p.node.messages());
    const got = all.map(() => [] as unknown[]);
    const reading = inboxes.map(async (inbox, i) => {
      for await (const m of inbox) got[i].push(m.msg);
    });
    assert.equal((await b.node.send(700, { marker, n: 1 }, { ack: true })).node, 700);
    assert.equal((await c.node.send(5, `${marker} by key`, { toResp: true, ack: true })).node, 400);
    assert.equal(
      (await a.node.send(400, encoder.encode(`${marker} as bytes`), { ack: true })).node,
      400,
    );
    const report = await c.node.broadcast([marker, "to all"], { ack: true });
    assert.deepEqual(report.reached.sort((x, y) => x - y), [1, 400]);
    await until(
      () =>
        got.slice(0, 2).every((msgs) => msgs.some((m) => Array.isArray(m) && m[1] === "to all")),
      "the broadcast delivered to a and b",
    );
    for (const inbox of inboxes) await inbox.return?.();
    await Promise.all(reading);
  } finally {
    for (const p of [c, b, a]) await p.node.leave();
    for (const p of all) {
      await until(() => p.proxy.connections.every((x) => x.closed), "every connection closed");
      await p.proxy.close();
    }
  }
  // Every connection went through a proxy: they forwarded exactly what the nodes wrote.
  const written = all.reduce((n, p) => n + p.node.statistics().bytes.out, 0);
  const read = all.reduce((n, p) => n + p.node.statistics().bytes.in, 0);
  const captured = all.reduce((n, p) => n + p.proxy.total, 0);
  assert.equal(captured, written, "the proxies saw every byte written");
  assert.equal(captured, read, "and every byte read");
  return {
    bytes: all.map((p) => p.proxy.bytes()),
    connections: all.map((p) => p.proxy.connections.length),
  };
}

function marker(): string {
  return `MARKER-${crypto.randomUUID()}`;
}

test("a capture of an open network's traffic holds no marker of the messages", async () => {
  const m = marker();
  const { bytes, connections } = await capture({}, m);
  assert.ok(connections.reduce((x, y) => x + y) >= 3, "links went through the proxies");
  for (const b of bytes) assert.equal(contains(b, encoder.encode(m)), false);
});

test("a capture of a private network's traffic holds neither the marker nor the secret", async () => {
  const secret = `secret-${crypto.randomUUID()}`;
  const m = marker();
  const { bytes } = await capture({ secret }, m);
  const psk = pskFromSecret(secret, "p2ps");
  for (const b of bytes) {
    assert.equal(contains(b, encoder.encode(m)), false, "no marker");
    assert.equal(contains(b, encoder.encode(secret)), false, "no secret");
    assert.equal(contains(b, psk), false, "no pre-shared key");
  }
});

test("with encryption none, the same capture holds the marker: the check can fail", async () => {
  const m = marker();
  const { bytes } = await capture({ encryption: "none" }, m);
  const found = bytes.filter((b) => contains(b, encoder.encode(m))).length;
  assert.ok(found >= 2, `the marker is seen by ${found} proxies`);
});
