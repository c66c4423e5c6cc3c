// Attacks on a node's connections before their link is up, over real TCP: what each connection
// makes the node hold stays bounded by the pre-link caps (lib/com/tcp/channel.ts,
// lib/com/tcp/handshake_size.ts, lib/com/tcp/admission.ts), never by what a length prefix
// declares; each violation is counted; and an honest node still joins and sends meanwhile.
//
// Memory is V8's `external` (where byte buffers live) of this process, which runs the node:
// growth over an attack, compared with a bound derived from the caps. Garbage counts until a
// collection, so the bounds hold whatever the collector does.
import assert from "node:assert/strict";
import { HANDSHAKE_INPUT_LIMIT, HANDSHAKE_READ_SIZE, preamble } from "../lib/com/tcp/channel.ts";
import { LARGEST_LINK_FRAME_BODY } from "../lib/com/tcp/handshake_size.ts";
import { DEFAULT_MAX_PENDING_HANDSHAKES } from "../lib/com/tcp/admission.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../lib/wire/frame_decoder.ts";
import type { NodeOptions } from "../lib/node/options.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { createNet } from "../mod.ts";
import {
  allClosed,
  closeAll,
  framePrefix,
  honestJoinAndSend,
  nodeRead,
  type NoisePeer,
  noiseWithoutHello,
  RAW_READ_SIZE,
  rawPeers,
} from "./_raw_peer.ts";
import { AddressFlood } from "./_address_flood.ts";
import { test } from "./_test.ts";
import { until } from "./_wait.ts";

const external = () => Deno.memoryUsage().external;
/** Room in every memory bound for garbage of the test's own making (frames, sealed messages). */
const SLACK = 256 * 1024;

/**
 * Connects `count` peers that run the Noise handshake without a hello (into `attackers`), and
 * returns the node's count of bytes read once it read all they sent.
 */
async function handshaken(a: P2PNode, count: number, attackers: NoisePeer[]): Promise<number> {
  const from = a.statistics().bytes.in;
  for (let i = 0; i < count; i++) attackers.push(await noiseWithoutHello(a.ap));
  const sent = attackers.reduce((n, x) => n + x.sent, 0);
  const peers = attackers.map((x) => x.peer);
  await nodeRead(a, from, sent, () => allClosed(peers));
  return a.statistics().bytes.in;
}

test("in a network in the clear, connections that declare a 1 MiB frame before their link is up are closed at the length prefix and counted; they hold no frame buffer", async () => {
  const net: NodeOptions["net"] = { encryption: "none" };
  await using a = await createNet({ node: { id: 1 }, net });
  const N = 48;
  const start = new Uint8Array([...preamble("none"), ...framePrefix(DEFAULT_MAX_FRAME_SIZE)]);
  // One attacker first: what the first connection allocates once for all is not counted.
  const [first] = await rawPeers(a.ap, 1, start);
  await until(() => first.closedByNode, "the node to close the first attacker");
  await first.close();
  const before = external();
  const bytesBefore = a.statistics().bytes.in;
  const peers = await rawPeers(a.ap, N, start);
  try {
    // The length prefix is read alone; then one byte of the body in a read of its own (where a
    // decoder that reserves the declared length would do so).
    await nodeRead(a, bytesBefore, N * start.length, () => allClosed(peers));
    for (const p of peers) await p.write(new Uint8Array([0x41]));
    await nodeRead(a, bytesBefore, N * (start.length + 1), () => allClosed(peers));
    // Each held a handshake read buffer and at most a link frame's worth of carried bytes (and
    // the attacker's end, in this process too, its read buffer).
    const bound = N * (HANDSHAKE_READ_SIZE + 2 * (4 + LARGEST_LINK_FRAME_BODY) + RAW_READ_SIZE) +
      SLACK;
    const grown = external() - before;
    assert.ok(grown < bound, `${N} attackers grew external memory by ${grown} bytes`);
    await until(() => allClosed(peers), "the node to close every attacker");
    assert.equal(a.statistics().badLinks, N + 1);
    assert.equal(a.statistics().shedLinks, 0);
    // Closed at the length prefix: the byte after it was never read.
    assert.equal(a.statistics().bytes.in - bytesBefore, N * start.length);
    await honestJoinAndSend(a, net);
  } finally {
    await closeAll(peers);
  }
});

test("in an open network, a peer past the Noise handshake that declares a 1 MiB frame instead of its hello is closed at the length prefix and counted", async () => {
  await using a = await createNet({ node: { id: 1 } });
  const N = 24;
  const attackers: NoisePeer[] = [];
  try {
    const bytesBefore = await handshaken(a, N, attackers);
    const peers = attackers.map((x) => x.peer);
    const before = external();
    const prefix = attackers.map(({ sealer }) => sealer.seal(framePrefix(DEFAULT_MAX_FRAME_SIZE)));
    for (let i = 0; i < N; i++) await peers[i].write(prefix[i]);
    await nodeRead(a, bytesBefore, N * prefix[0].length, () => allClosed(peers));
    const byte = attackers.map(({ sealer }) => sealer.seal(new Uint8Array([0x41])));
    for (let i = 0; i < N; i++) await peers[i].write(byte[i]);
    await nodeRead(a, bytesBefore, N * (prefix[0].length + byte[0].length), () => allClosed(peers));
    const grown = external() - before;
    assert.ok(grown < N * 4096 + SLACK, `${N} attackers grew external memory by ${grown}`);
    await until(() => allClosed(peers), "the node to close every attacker");
    assert.equal(a.statistics().badLinks, N);
    assert.equal(a.statistics().bytes.in - bytesBefore, N * prefix[0].length);
    await honestJoinAndSend(a, undefined);
  } finally {
    await closeAll(attackers.map((x) => x.peer));
  }
});

test("in an open network, transport messages announced at 64 KiB before the link is up hold what arrived, and are closed and counted at the pre-link input limit", async () => {
  await using a = await createNet({ node: { id: 1 } });
  const N = 32;
  const attackers: NoisePeer[] = [];
  try {
    const bytesBefore = await handshaken(a, N, attackers);
    const peers = attackers.map((x) => x.peer);
    const before = external();
    // The length of the largest transport message, then 100 bytes of it.
    const start = new Uint8Array([0xff, 0xff, ...new Uint8Array(100).fill(7)]);
    for (const p of peers) await p.write(start);
    await nodeRead(a, bytesBefore, N * start.length, () => allClosed(peers));
    const grown = external() - before;
    // A 64 KiB buffer each (as the opener allocated before) would be 2 MiB.
    assert.ok(grown < N * 1024 + SLACK, `${N} attackers grew external memory by ${grown}`);
    assert.equal(a.statistics().badLinks, 0);
    // Trickling on, each passes the input limit well before its message is whole.
    for (let sent = start.length; sent < HANDSHAKE_INPUT_LIMIT + 2 * HANDSHAKE_READ_SIZE;) {
      for (const p of peers) await p.write(new Uint8Array(500).fill(7));
      sent += 500;
      if (allClosed(peers)) break;
    }
    await until(() => allClosed(peers), "the node to close every attacker");
    assert.equal(a.statistics().badLinks, N);
    await honestJoinAndSend(a, undefined);
  } finally {
    await closeAll(attackers.map((x) => x.peer));
  }
});

test("half-open handshakes from 20 source addresses fill the total cap: the oldest are shed and counted, memory stays bounded, and an honest node from another address joins", async () => {
  await using a = await createNet({ node: { id: 1 } });
  const ADDRESSES = 20;
  const PER_ADDRESS = 56; // under the per-address cap: only the total cap holds them
  const total = ADDRESSES * PER_ADDRESS;
  const before = external();
  const flood = await AddressFlood.start(a.ap, {
    addresses: ADDRESSES,
    perAddress: PER_ADDRESS,
    partial: true,
  });
  try {
    await until(
      () => a.statistics().shedLinks >= total - DEFAULT_MAX_PENDING_HANDSHAKES,
      "the node to shed what the total cap does not hold",
    );
    const counts = await flood.counts();
    assert.ok(counts.open <= DEFAULT_MAX_PENDING_HANDSHAKES, `${counts.open} left open`);
    // Each pending one holds a handshake read buffer and a few bytes of handshake; the shed ones
    // held as much until they were closed.
    const grown = external() - before;
    const bound = total * (HANDSHAKE_READ_SIZE + 1024) + SLACK;
    assert.ok(grown < bound, `${total} flooding sockets grew external memory by ${grown}`);

    // From 127.0.0.1, which has none pending: it sheds one of theirs and completes.
    await honestJoinAndSend(a, undefined);
    // Every socket the node closed was shed for a newer connection (or, had the test outlasted
    // the handshake timeout, timed out: a bad link).
    await until(async () => {
      const { closed } = await flood.counts();
      const s = a.statistics();
      return closed === s.shedLinks + s.badLinks;
    }, "every closed flooding socket to be counted");
    assert.ok(a.statistics().shedLinks >= total + 1 - DEFAULT_MAX_PENDING_HANDSHAKES);
  } finally {
    await flood.close();
  }
});
