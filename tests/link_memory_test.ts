// Attacks by peers whose link is up, over real TCP (tests/_rogue.ts completes an honest handshake
// by hand, then writes what a test gives it): many links that each declare a frame as long as the
// frame limit and send one byte of it; the same frames trickled (slowloris) and then sent in
// larger pieces. A declared length reserves nothing: the node holds about what arrived (at most
// twice that, or the read a frame started in), a length over the limit is a counted violation,
// and an honest node still joins and sends meanwhile.
//
// Memory is V8's `external` of this process, which runs the node and the rogues' ends of the
// links: growth over an attack, against a bound from what was sent.
import assert from "node:assert/strict";
import { preamble } from "../lib/com/tcp/channel.ts";
import { PROTOCOL_VERSION } from "../lib/com/transport.ts";
import { Codec } from "../lib/wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../lib/wire/frame_decoder.ts";
import { encodeFrame } from "../lib/wire/frame_writer.ts";
import { T } from "../lib/wire/schema.ts";
import { createNet } from "../mod.ts";
import type { P2PNode } from "../lib/node/node.ts";
import {
  closeAll,
  framePrefix,
  honestJoinAndSend,
  nodeRead,
  RAW_READ_SIZE,
  rawPeers,
} from "./_raw_peer.ts";
import { type Rogue, rogue } from "./_rogue.ts";
import { test } from "./_test.ts";
import { until } from "./_wait.ts";

const external = () => Deno.memoryUsage().external;
/** Room in every memory bound for garbage of the test's own making (frames, sealed messages). */
const SLACK = 256 * 1024;

/** Each rogue writes `bytes` below its frames (sealed on an encrypted link), in turn. */
async function each(rogues: Rogue[], bytes: Uint8Array): Promise<number> {
  let sent = 0;
  for (const r of rogues) {
    const wire = r.seal(bytes);
    await r.sendRaw(wire);
    sent += wire.length;
  }
  return sent;
}

/** Rogues `first`, `first + 1`, ... linked to `a`. */
async function rogues(a: P2PNode, count: number, first: number, encryption: "noise" | "none") {
  const out: Rogue[] = [];
  try {
    for (let i = 0; i < count; i++) {
      out.push(await rogue(a.ap, first + i, { net: { ...a.info().net!, encryption } }));
    }
  } catch (e) {
    await Promise.all(out.map((r) => r.close()));
    throw e;
  }
  return out;
}

for (const encryption of ["noise", "none"] as const) {
  const where = encryption === "noise" ? "an open network" : "a network in the clear";
  test(`in ${where}, links that are up and declare 1 MiB frames hold what arrived, also trickled, and a longer one is a counted violation`, async () => {
    await using a = await createNet({ node: { id: 1 }, net: { encryption } });
    const stalled = await rogues(a, 12, 100, encryption);
    const oversize = await rogues(a, 4, 200, encryption);
    try {
      const before = external();
      const from = a.statistics().bytes.in;
      // The length prefix in a read of its own, then one byte of the body in another (where a
      // decoder that reserves the declared length would do so).
      let sent = await each(stalled, framePrefix(DEFAULT_MAX_FRAME_SIZE));
      await nodeRead(a, from, sent);
      sent += await each(stalled, new Uint8Array([0x41]));
      await nodeRead(a, from, sent);
      const declared = external() - before;
      // 1 MiB each reserved would be 12 MiB.
      assert.ok(declared < stalled.length * 1024 + SLACK, `declaring grew by ${declared} bytes`);

      // One byte more than the limit: closed at the length prefix, and counted.
      await each(oversize, framePrefix(DEFAULT_MAX_FRAME_SIZE + 1));
      await until(() => oversize.every((r) => r.closed()), "the node to close the oversize ones");
      assert.equal(a.statistics().badLinks, oversize.length);

      // Slowloris: 60 pieces of 50 bytes each, every piece a read of its own.
      for (let i = 0; i < 60; i++) {
        sent += await each(stalled, new Uint8Array(50).fill(i));
        await nodeRead(a, from, sent);
      }
      // Then 64 KiB more each, in 4 KiB pieces.
      const piece = new Uint8Array(4096);
      for (let i = 0; i < 16; i++) sent += await each(stalled, piece);
      await nodeRead(a, from, sent);
      const body = 1 + 60 * 50 + 16 * 4096;
      const grown = external() - before;
      // The node holds at most twice what arrived; garbage until a collection holds the same
      // bytes again as the rogues' sealed copies and the node's reads or opened plaintexts.
      const bound = stalled.length * 4 * body + SLACK;
      assert.ok(grown < bound, `${stalled.length} links grew by ${grown} bytes (bound ${bound})`);
      // Stalled inside a frame is no violation: those links are still up.
      assert.ok(stalled.every((r) => !r.closed()));
      assert.equal(a.statistics().badLinks, oversize.length);

      await honestJoinAndSend(a, { encryption });
    } finally {
      await Promise.all([...stalled, ...oversize].map((r) => r.close()));
    }
  });
}

test("links that come up and stay quiet hold a small read buffer, not a full-size one", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { encryption: "none" } });
  const net = a.info().net!;
  const codec = new Codec();
  const N = 32;
  const linked = (n: number) => a.statistics().links.in >= n;
  const before = external();
  const peers = [];
  try {
    // A hello and an accept, in the clear, and nothing more.
    for (let i = 0; i < N; i++) {
      const hello = encodeFrame(codec, {
        t: T.Hello,
        v: PROTOCOL_VERSION,
        name: net.name,
        net: net.netId,
        id: 300 + i,
        host: "127.0.0.1",
        port: 1,
        mf: DEFAULT_MAX_FRAME_SIZE,
      }, 4096);
      const accept = encodeFrame(codec, { t: T.Accept }, 64);
      peers.push(
        ...await rawPeers(a.ap, 1, new Uint8Array([...preamble("none"), ...hello, ...accept])),
      );
    }
    await until(() => linked(N), `${N} links to come up`);
    const grown = external() - before;
    // 64 KiB each would be 2 MiB; the attackers' ends (in this process) read with 4 KiB.
    const bound = N * (RAW_READ_SIZE + 4096) + SLACK;
    assert.ok(grown < bound, `${N} quiet links grew external memory by ${grown} (bound ${bound})`);
    assert.equal(a.statistics().badLinks, 0);
  } finally {
    await closeAll(peers);
  }
});
