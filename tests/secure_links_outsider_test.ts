// Outsiders against a private network over real TCP: the old reflection attack (one member's
// handshake answers presented to another), joiners with no secret or a wrong one, and a peer
// that sends frames after failing the secret. Nobody gets in, nothing of theirs is accepted,
// and the members keep their messages.
import assert from "node:assert/strict";
import {
  generateStaticKeyPair,
  HandshakeState,
  pskFromSecret,
  TransportSealer,
} from "../lib/com/noise/mod.ts";
import { preamble, PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";
import { PROTOCOL_VERSION } from "../lib/com/transport.ts";
import type { NodeEvent } from "../lib/core/events.ts";
import { HandshakeError } from "../lib/errors.ts";
import { createNet, joinNet } from "../lib/node/net.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { Codec } from "../lib/wire/codec.ts";
import { T } from "../lib/wire/schema.ts";
import { encodeFrame, helloBody, message } from "./_rogue.ts";
import { until } from "./_wait.ts";
import { ringOk } from "./_ring.ts";
import { test } from "./_test.ts";

const SECRET = "only the members know this";
const codec = new Codec();

/** Every id in `node`'s routing state. */
function known(node: P2PNode): Set<number> {
  const info = node.info();
  return new Set([
    info.succ.id,
    ...(info.pred ? [info.pred.id] : []),
    ...info.succList.map((n) => n.id),
    ...info.fingers.flatMap((f) => (f.node ? [f.node.id] : [])),
  ]);
}

/** A raw connection that reads in the background. */
async function raw(ap: Deno.NetAddr | { hostname: string; port: number }) {
  const conn = await Deno.connect({ hostname: ap.hostname, port: ap.port });
  let inbox = new Uint8Array(0);
  let ended = false;
  const reading = (async () => {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        const next = new Uint8Array(inbox.length + n);
        next.set(inbox);
        next.set(buf.subarray(0, n), inbox.length);
        inbox = next;
      }
    } catch {
      // Reset.
    }
    ended = true;
  })();
  return {
    write: async (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    },
    /** Everything read so far. */
    get bytes() {
      return inbox;
    },
    get ended() {
      return ended;
    },
    /** Waits for the node's preamble and handshake message; returns that message. */
    async handshakeMessage(): Promise<Uint8Array> {
      await until(
        () =>
          inbox.length >= PREAMBLE_SIZE + 2 &&
          inbox.length >=
            PREAMBLE_SIZE + 2 + ((inbox[PREAMBLE_SIZE] << 8) | inbox[PREAMBLE_SIZE + 1]),
        "a handshake message",
      );
      const n = (inbox[PREAMBLE_SIZE] << 8) | inbox[PREAMBLE_SIZE + 1];
      return inbox.slice(PREAMBLE_SIZE + 2, PREAMBLE_SIZE + 2 + n);
    },
    async close() {
      try {
        conn.close();
      } catch {
        // Closed by the node.
      }
      await reading;
    },
  };
}

function framed(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + msg.length);
  out[0] = msg.length >>> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

const PROLOGUE = new TextEncoder().encode(`p2ps/${PROTOCOL_VERSION}`);

async function privateRing() {
  const a = await createNet({ node: { id: 1 }, net: { maxKey: 1000, secret: SECRET } });
  const b = await joinNet(a.ap, { node: { id: 500 }, net: { secret: SECRET } });
  await until(() => ringOk([a, b]), "a two-node private ring");
  return [a, b];
}

test("the reflection attack fails: one member's handshake answers presented to another get the outsider nothing, and messages to the member still reach it", async () => {
  const [a, b] = await privateRing();
  const events: NodeEvent[] = [];
  const streams = [a.events(), b.events()];
  const watching = streams.map(async (s) => {
    for await (const e of s) events.push(e);
  });
  const inbox = b.messages();
  const before = [a.statistics().badLinks, b.statistics().badLinks];
  const toA = await raw(a.ap);
  const toB = await raw(b.ap);
  const toB2 = await raw(b.ap);
  try {
    // The outsider opens a handshake with each as initiator, with ephemeral keys of its own...
    const opening = () =>
      new HandshakeState({
        protocol: "Noise_XXpsk3_25519_ChaChaPoly_SHA256",
        initiator: true,
        prologue: PROLOGUE,
        s: generateStaticKeyPair(),
        psks: [pskFromSecret("not the secret", "p2ps")],
      }).writeMessage();
    for (const conn of [toA, toB]) {
      await conn.write(preamble("noise", true));
      await conn.write(framed(opening()));
    }
    const fromA = await toA.handshakeMessage();
    const fromB = await toB.handshakeMessage();
    // ...and presents each one's answer to the other as its own third message,
    await toA.write(framed(fromB));
    await toB.write(framed(fromA));
    // and a's answer to b as a first message.
    await toB2.write(preamble("noise", true));
    await toB2.write(framed(fromA));
    for (const conn of [toA, toB, toB2]) await until(() => conn.ended, "the member to hang up");
    // They answered with their preamble and message 2 at most, and nothing more.
    assert.equal(toA.bytes.length, PREAMBLE_SIZE + 2 + fromA.length);
    assert.equal(toB.bytes.length, PREAMBLE_SIZE + 2 + fromB.length);
    assert.ok(toB2.bytes.length <= PREAMBLE_SIZE, "b does not answer a reflected message");
    await until(
      () => a.statistics().badLinks > before[0] && b.statistics().badLinks >= before[1] + 2,
      "the members to count the reflections",
    );
    // Messages addressed to b reach b.
    for (let i = 0; i < 3; i++) {
      assert.equal((await a.send(500, `for b ${i}`, { ack: true })).node, 500);
      assert.equal((await inbox.next()).value?.msg, `for b ${i}`);
    }
    assert.ok(ringOk([a, b]));
  } finally {
    for (const conn of [toA, toB, toB2]) await conn.close();
    await inbox.return?.();
    for (const s of streams) await s.return?.();
    await Promise.all(watching);
    await b.leave();
    await a.leave();
  }
  assert.deepEqual(events.filter((e) => ["suspect", "crash", "alone"].includes(e.type)), []);
});

test("joiners with no secret or a wrong one are refused, and an outsider's frames after a failed handshake are never read", async () => {
  const [a, b] = await privateRing();
  try {
    const routing = [known(a), known(b)];
    const before = [a.statistics(), b.statistics()];
    const inbox = a.messages();
    const got: unknown[] = [];
    const reading = (async () => {
      for await (const m of inbox) got.push(m.msg);
    })();
    await assert.rejects(
      joinNet(a.ap, { node: { id: 200 } }),
      (e) =>
        e instanceof HandshakeError &&
        /requires a secret \(net\.secret\), and this node has none/.test(e.message),
    );
    for (const guess of ["only the members know thi", "ONLY THE MEMBERS KNOW THIS", "guess"]) {
      await assert.rejects(
        joinNet(b.ap, { node: { id: 200 }, net: { secret: guess } }),
        (e) => e instanceof HandshakeError && /holds another network secret/.test(e.message),
      );
    }
    // The right secret under another network name is another key too.
    await assert.rejects(
      joinNet(a.ap, { node: { id: 200 }, net: { secret: SECRET, name: "p2ps-other" } }),
      HandshakeError,
    );
    // An outsider that sends its hello and frames right behind its message 3, with the wrong key.
    const conn = await raw(a.ap);
    const hs = new HandshakeState({
      protocol: "Noise_XXpsk3_25519_ChaChaPoly_SHA256",
      initiator: true,
      prologue: PROLOGUE,
      s: generateStaticKeyPair(),
      psks: [pskFromSecret("guess", "p2ps")],
    });
    await conn.write(preamble("noise", true));
    await conn.write(framed(hs.writeMessage()));
    hs.readMessage(await conn.handshakeMessage());
    const m3 = framed(hs.writeMessage(helloBody(a.info().net!, 200)));
    const sealer = new TransportSealer(hs.split().send);
    const data = encodeFrame(codec, {
      t: T.Data,
      k: 1,
      h: 1,
      ph: 0,
      f: -1,
      r: true,
      id: 1,
      ps: [message("from the outsider")],
    }, 1 << 20);
    await conn.write(
      new Uint8Array([
        ...m3,
        ...sealer.seal(encodeFrame(codec, { t: T.Accept }, 1 << 20)),
        ...sealer.seal(data),
      ]),
    );
    await until(() => conn.ended, "a to hang up");
    await conn.close();
    await until(
      () => a.statistics().badLinks - before[0].badLinks >= 3,
      "a to count the refused links",
    );
    // Messages between members still flow; nothing of the outsiders got in.
    assert.equal((await b.send(1, "inside", { ack: true })).node, 1);
    await until(() => got.length === 1, "the member's message");
    assert.deepEqual(got, ["inside"]);
    assert.deepEqual([known(a), known(b)], routing);
    for (const [i, n] of [a, b].entries()) {
      const s = n.statistics();
      assert.equal(s.badFrames, before[i].badFrames);
      assert.equal(s.links.in + s.links.out, 1, "only the members' own link");
    }
    await inbox.return?.();
    await reading;
  } finally {
    await b.leave();
    await a.leave();
  }
});

test("ephemeral keys that give no shared secret (zero, of low order) are refused and counted, as responder and as initiator", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: 1000 } });
  // 0, 1 and a point of order 8: X25519 with them yields all zeros.
  const bad = [
    new Uint8Array(32),
    Uint8Array.from([1, ...new Uint8Array(31)]),
    Uint8Array.fromHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
  ];
  for (const e of bad) {
    const before = a.statistics().badLinks;
    const conn = await raw(a.ap);
    await conn.write(preamble("noise"));
    await conn.write(framed(e));
    await until(() => conn.ended, "a to hang up");
    await conn.close();
    assert.equal(conn.bytes.length, PREAMBLE_SIZE, "no message 2");
    await until(() => a.statistics().badLinks === before + 1, "the bad key counted");
  }
  // As initiator: a responder whose message 2 starts with such a key.
  for (const e of bad) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const answering = (async () => {
      const conn = await listener.accept();
      await conn.write(
        new Uint8Array([
          ...preamble("noise"),
          ...framed(new Uint8Array([...e, ...new Uint8Array(64)])),
        ]),
      );
      const buf = new Uint8Array(4096);
      while (await conn.read(buf).catch(() => null) !== null);
      conn.close();
    })();
    const before = a.statistics().badLinks;
    const err = await new Promise<Error | null>((resolve) =>
      ringOf(a).transport.dial(
        { hostname: "127.0.0.1", port: listener.addr.port },
        (err) => resolve(err),
      )
    );
    assert.ok(err instanceof HandshakeError, String(err));
    assert.match(err.message, /gives no shared secret/);
    assert.equal(a.statistics().badLinks, before + 1);
    await answering;
    listener.close();
  }
});
