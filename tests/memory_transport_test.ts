// The simulator's in-memory transport on its own, with the wire codec on: frames sent on a link
// whose other end has just closed it still arrive (as over TCP), and the link counters stay
// right when a link is closed and opened again before the close has arrived.
import assert from "node:assert/strict";
import type { MemoryTransport } from "../lib/com/memory.ts";
import { MemoryNetwork } from "../lib/com/memory_network.ts";
import { seededRandom, VirtualClock } from "../lib/com/virtual_clock.ts";
import { type Frame, PROTOCOL_VERSION, type TransportEvents } from "../lib/com/transport.ts";
import { T } from "../lib/wire/schema.ts";
import { test } from "./_test.ts";

/** A transport whose listener records what it receives. */
function endpoint(net: MemoryNetwork, id: number) {
  const got: { from: number; frame: Frame }[] = [];
  const t: MemoryTransport = net.transport();
  const events = {
    hello: () => ({
      v: PROTOCOL_VERSION,
      name: "n",
      net: "x",
      id,
      host: t.ap.hostname,
      port: t.ap.port,
    }),
    checkHello: () => null,
    limits: { maxKey: 1000 },
    security: { encryption: "none", keyPair: null, psk: null },
    frame: (from: { id: number }, frame: Frame) => got.push({ from: from.id, frame }),
    badFrame: () => {},
    peerDown: () => {},
  } as unknown as TransportEvents;
  t.bind(events);
  return { t, got, ref: { id, ap: t.ap } };
}

test("memory transport with the codec: a frame sent as the other end closes the link arrives; counters survive close and redial", () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, seededRandom(1), {
    codec: true,
    minLatency: 5,
    maxLatency: 5,
  });
  const a = endpoint(net, 1), b = endpoint(net, 2);
  a.t.send(b.ref, { t: T.Ping, ts: 1 });
  clock.run(clock.now() + 20);
  assert.equal(b.got.length, 1);
  // b closes; a hears of it 5 ms later, and sends meanwhile.
  b.t.disconnect(1);
  a.t.send(b.ref, { t: T.Ping, ts: 2 });
  clock.run(clock.now() + 20);
  assert.deepEqual(b.got.map((g) => g.frame), [{ t: T.Ping, ts: 1 }, { t: T.Ping, ts: 2 }]);
  assert.equal(a.t.isLinked(2), false);
  // Closed and opened again before the close arrives, a hundred times.
  for (let k = 0; k < 100; k++) {
    b.t.send(a.ref, { t: T.Ping, ts: k });
    clock.run(clock.now() + 20);
    b.t.disconnect(1);
    b.t.send(a.ref, { t: T.Ping, ts: k });
    clock.run(clock.now() + 20);
    b.t.disconnect(1);
    clock.run(clock.now() + 20);
  }
  assert.equal(a.t.isLinked(2), false);
  assert.equal(b.t.isLinked(1), false);
  assert.deepEqual(
    [a.t.stats.linksOut, a.t.stats.linksIn, b.t.stats.linksOut, b.t.stats.linksIn],
    [0, 0, 0, 0],
  );
  assert.equal(a.got.length, 200);
});
