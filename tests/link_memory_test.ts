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
import { DEFAULT_MAX_FRAME_SIZE } from "../lib/wire/frame_decoder.ts";
import { createNet } from "../mod.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { framePrefix, honestJoinAndSend, nodeRead } from "./_raw_peer.ts";
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
