// Replayed, reordered, truncated and altered messages against real nodes over TCP: a recorded
// handshake replayed on a new connection, transport messages replayed, reordered or cut short
// by a peer that passed the handshake, and flipped bytes in messages between two members. Each
// closes that link and is counted; nothing in them is delivered; the members carry on.
import assert from "node:assert/strict";
import { PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";
import type { NodeEvent } from "../lib/core/events.ts";
import { createNet } from "../lib/node/net.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { Codec } from "../lib/wire/codec.ts";
import { type Frame, T } from "../lib/wire/schema.ts";
import { joined, proxiedNode, type Unit } from "./_proxy.ts";
import { encodeFrame, type Rogue, rogue } from "./_rogue.ts";
import { until } from "./_wait.ts";
import { test } from "./_test.ts";

const codec = new Codec();

/** The frame `frame` sealed by `r` as its next transport message (not written). */
function sealed(r: Rogue, frame: Frame): Uint8Array {
  return r.seal(encodeFrame(codec, frame, 1 << 20));
}

function pongs(r: Rogue): number[] {
  return r.received.flatMap((f) => f.t === T.Pong ? [f.ts] : []);
}

/** Reads from `conn` until it has `n` bytes or the other end closes; returns what it got. */
async function readAtLeast(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let got = 0;
  const buf = new Uint8Array(4096);
  while (got < n) {
    const r = await conn.read(buf).catch(() => null);
    if (r === null) break;
    chunks.push(buf.slice(0, r));
    got += r;
  }
  return joined(chunks);
}

/** Reads until the other end closes (or resets). */
async function readToEnd(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  while (await conn.read(buf).catch(() => null) !== null);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

for (const secret of [undefined, "replay-proof secret"]) {
  const kind = secret ? "private" : "open";
  test(`a recorded ${kind}-network handshake replayed on new connections is refused and counted`, async () => {
    await using a = await proxiedNode({ node: { id: 1 }, net: { maxKey: 1000, secret } });
    const net = secret ? { secret } : {};
    {
      await using b = await proxiedNode({ net, node: { id: 500 } }, a.node.ap);
      await until(() => b.node.info().succ.id === 1, "an honest two-node ring");
      await b.node.send(1, "recorded", { ack: true });
    }
    await until(() => a.node.info().succ.id === 1, "the honest joiner gone");
    const [preamble, m1, m3, ...transport] = a.proxy.connections[0].up;
    assert.equal(preamble.length, PREAMBLE_SIZE);
    const before = a.node.statistics();
    // Message 1 then, once the node answered with its own fresh ephemeral key, message 3.
    {
      const conn = await Deno.connect(a.tcp.ap);
      await writeAll(conn, joined([preamble, m1]));
      const answer = await readAtLeast(conn, PREAMBLE_SIZE + 2);
      const m2 = (answer[PREAMBLE_SIZE] << 8) | answer[PREAMBLE_SIZE + 1];
      if (answer.length < PREAMBLE_SIZE + 2 + m2) {
        await readAtLeast(conn, PREAMBLE_SIZE + 2 + m2 - answer.length);
      }
      await writeAll(conn, m3);
      await readToEnd(conn);
      conn.close();
    }
    // The whole recorded stream from the joiner at once.
    {
      const conn = await Deno.connect(a.tcp.ap);
      await writeAll(conn, joined([preamble, m1, m3, ...transport]));
      await readToEnd(conn);
      conn.close();
    }
    await until(
      () => a.node.statistics().badLinks - before.badLinks >= 2,
      "both replays counted as bad links",
    );
    const after = a.node.statistics();
    assert.equal(after.data.received, before.data.received);
    assert.equal(after.badFrames, before.badFrames);
    assert.equal(after.links.in + after.links.out, 0);
    assert.equal(a.node.info().pred, null);
  });
}

test("a transport message replayed, reordered, dropped or cut short closes the link and is counted; what came before it was delivered once", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: 1000 } });
  const net = a.info().net!;
  const cases: [string, (r: Rogue) => Promise<void>, number[]][] = [
    ["replayed", async (r) => {
      const m1 = sealed(r, { t: T.Ping, ts: 1 });
      await r.sendRaw(m1);
      await until(() => pongs(r).length === 1, "the first pong");
      await r.sendRaw(m1);
    }, [1]],
    ["reordered", async (r) => {
      const m1 = sealed(r, { t: T.Ping, ts: 1 });
      const m2 = sealed(r, { t: T.Ping, ts: 2 });
      await r.sendRaw(m2);
      await r.sendRaw(m1);
    }, []],
    ["dropped", async (r) => {
      sealed(r, { t: T.Ping, ts: 1 });
      await r.sendRaw(sealed(r, { t: T.Ping, ts: 2 }));
    }, []],
    ["cut short", async (r) => {
      await r.sendRaw(sealed(r, { t: T.Ping, ts: 1 }));
      await until(() => pongs(r).length === 1, "the first pong");
      const m2 = sealed(r, { t: T.Ping, ts: 2 });
      await r.sendRaw(m2.subarray(0, m2.length - 5));
      await r.close();
    }, [1]],
  ];
  for (const [what, attack, expected] of cases) {
    const before = a.statistics().badLinks;
    const r = await rogue(a.ap, 777, { net });
    try {
      await attack(r);
      await until(() => a.statistics().badLinks === before + 1, `the ${what} message counted`);
      await until(() => r.closed(), `a to close the link after the ${what} message`);
      assert.deepEqual(pongs(r), expected, what);
    } finally {
      await r.close();
    }
  }
  assert.equal(a.statistics().links.in, 0);
});

/** Whether a flip happened. */
interface Shot {
  fired: boolean;
}

/** Flips byte `at` of the first transport message going `dir` of at least `size` bytes. */
function flipFirst(dir: "up" | "down", size: number, at: number, shot: Shot) {
  return (u: Unit) => {
    if (shot.fired || u.dir !== dir || u.kind !== "transport" || u.bytes.length < size) return;
    shot.fired = true;
    u.bytes[Math.min(at, u.bytes.length - 1)] ^= 0x01;
  };
}

test("a flipped byte in a message between two members closes that link and is counted; the message is not delivered, and the members link again", async () => {
  const timing = { reviveMs: 300 };
  await using a = await proxiedNode({ node: { id: 1 }, net: { maxKey: 1000 }, timing });
  await using b = await proxiedNode({ node: { id: 500 }, timing }, a.node.ap);
  const ring = (x: P2PNode, y: P2PNode) =>
    x.info().succ.id === y.id && y.info().succ.id === x.id &&
    x.info().pred?.id === y.id && y.info().pred?.id === x.id;
  await until(() => ring(a.node, b.node), "a two-node ring");
  const inbox = a.node.messages();
  const got: unknown[] = [];
  const reading = (async () => {
    for await (const m of inbox) got.push(m.msg);
  })();
  const events: NodeEvent[] = [];
  const stream = b.node.events();
  const watching = (async () => {
    for await (const e of stream) events.push(e);
  })();
  const big = new Uint8Array(2000).fill(7);
  // Length prefix, first and middle ciphertext bytes, last tag byte.
  for (const at of [0, 1, 2, 1000, 2000 + 30]) {
    const shot: Shot = { fired: false };
    // b's messages to a go up through a's proxy (b dialed a) or down through b's (a dialed b).
    a.proxy.tamper = flipFirst("up", big.length, at, shot);
    b.proxy.tamper = flipFirst("down", big.length, at, shot);
    const bad = a.node.statistics().badLinks;
    await b.node.send(1, { at, big });
    await until(() => shot.fired, `the message carrying byte ${at} to pass a proxy`);
    await until(() => a.node.statistics().badLinks > bad, `a to count the flip at ${at}`);
    a.proxy.tamper = b.proxy.tamper = null;
    // The members find each other again, and the next message gets through.
    await until(() => ring(a.node, b.node), `the ring back after the flip at ${at}`);
    const r = await b.node.send(1, `after ${at}`, { ack: true, timeoutMs: 10_000 });
    assert.equal(r.node, 1);
  }
  await until(() => got.length === 5, "the five messages after the flips");
  assert.deepEqual(got, [0, 1, 2, 1000, 2030].map((at) => `after ${at}`));
  await inbox.return?.();
  await reading;
  await stream.return?.();
  await watching;
  // b took the closed link for a's crash each time, and a for back each time.
  assert.ok(events.some((e) => e.type === "crash"));
  assert.ok(events.some((e) => e.type === "alive"));
});
