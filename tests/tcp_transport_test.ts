import assert from "node:assert/strict";
import { Codec } from "../lib/wire/codec.ts";
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { encodeFrame as encodeWith, FRAME_HEADER_SIZE } from "../lib/wire/frame_writer.ts";
import { type FrameOf, T } from "../lib/wire/schema.ts";
import { TcpTransport, type TcpTransportOptions } from "../lib/com/tcp/transport.ts";
import { wholeFrames } from "../lib/com/tcp/send_queue.ts";
import { preamble, PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";
import {
  type AccessPoint,
  type Frame,
  type Hello,
  type LinkSecurity,
  type NodeRef,
  PROTOCOL_VERSION,
  type TransportEvents,
} from "../lib/com/transport.ts";
import { ConnectError, HandshakeError, MessageTooLargeError } from "../lib/errors.ts";
import { test } from "./_test.ts";
import { within } from "./_wait.ts";
import { CLOSED_PORT } from "./_values.ts";

const MAX = 1024 * 1024;
const codec = new Codec();

function encodeFrame(frame: Frame, max: number): Uint8Array {
  return encodeWith(codec, frame, max);
}

function writeFrameHeader(buf: Uint8Array, at: number, length: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(at, length);
}

/** A small frame that carries a sequence number (a heartbeat's time stamp). */
function ping(seq: number): FrameOf<"Ping"> {
  return { t: T.Ping, ts: seq };
}

/** A data frame carrying `bytes` as its message. */
function data(bytes: Uint8Array): FrameOf<"Data"> {
  return {
    t: T.Data,
    k: 0,
    h: 1,
    ph: 0,
    f: -1,
    s: undefined,
    r: true,
    id: 1,
    q: undefined,
    lo: undefined,
    ps: [bytes],
  };
}

interface Down {
  peer: NodeRef;
  reason: string;
  unsent?: Frame[];
}

/** A transport bound to a recording node. */
interface TestNode {
  t: TcpTransport;
  ref: NodeRef;
  frames: { from: number; frame: Frame }[];
  downs: Down[];
  /** Reasons of frames dropped as bad. */
  bad: string[];
}

interface NodeSetup {
  hello?: Partial<Omit<Hello, "mf">>;
  /** Link security. @default frames in the clear: these tests are about the transport itself */
  security?: LinkSecurity;
  checkHello?: (peer: Hello) => string | null;
  onFrame?: (from: NodeRef, frame: Frame) => void;
}

async function node(
  id: number,
  setup: NodeSetup = {},
  options: TcpTransportOptions = {},
): Promise<TestNode> {
  const t = await TcpTransport.listen({ maxFrameSize: MAX, ...options });
  const n: TestNode = { t, ref: { id, ap: t.ap }, frames: [], downs: [], bad: [] };
  const events: TransportEvents = {
    hello: () => ({
      v: PROTOCOL_VERSION,
      name: "test",
      net: "net-1",
      id,
      host: t.ap.hostname,
      port: t.ap.port,
      ...setup.hello,
    }),
    checkHello: setup.checkHello ?? (() => null),
    limits: { maxKey: 2 ** 52 },
    security: setup.security ?? { encryption: "none", keyPair: null, psk: null },
    badFrame: (_from, e) => n.bad.push(e.reason),
    frame: (from, frame) => {
      n.frames.push({ from: from.id, frame });
      setup.onFrame?.(from, frame);
    },
    peerDown: (peer, reason, unsent) => n.downs.push({ peer, reason, unsent }),
  };
  t.bind(events);
  return n;
}

/** Polls `cond` until it holds, failing with `what` after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function dial(t: TcpTransport, ap: AccessPoint): Promise<NodeRef> {
  return within(
    new Promise((resolve, reject) => {
      t.dial(ap, (err, peer) => err ? reject(err) : resolve(peer!));
    }),
    `the dial to ${ap.hostname}:${ap.port} to succeed or fail`,
  );
}

function seqs(n: TestNode, from: number): number[] {
  return n.frames.filter((f) => f.from === from).map((f) => (f.frame as FrameOf<"Ping">).ts);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

async function closeAll(...nodes: TestNode[]): Promise<void> {
  await within(Promise.all(nodes.map((n) => n.t.close())), "the transports to close");
}

/** Reads from a raw socket until the other end closes it; returns the frames it sent. */
function readUntilClosed(conn: Deno.Conn, timeoutMs = 10_000): Promise<Frame[]> {
  return within(readToEnd(conn), "the node to close the connection", timeoutMs);
}

/** The frames a plain link's other end sent after its preamble, until it closed. */
async function readToEnd(conn: Deno.Conn): Promise<Frame[]> {
  const decoder = new FrameDecoder(codec.reader(), { maxKey: 2 ** 52, peer: null }, MAX);
  const frames: Frame[] = [];
  const buf = new Uint8Array(4096);
  let skip = PREAMBLE_SIZE;
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      const from = Math.min(skip, n);
      skip -= from;
      decoder.push(buf.slice(from, n), (f) => frames.push(f));
    }
  } catch (e) {
    // A reset is also a close.
    if (!(e instanceof Deno.errors.ConnectionReset)) throw e;
  }
  return frames;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** A raw client's first bytes: the preamble of a plain link, then `bytes`. */
function plainly(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(PREAMBLE_SIZE + bytes.length);
  out.set(preamble("none"));
  out.set(bytes, PREAMBLE_SIZE);
  return out;
}

function rawHello(id: number, overrides: Partial<Hello> = {}): Frame {
  return {
    t: T.Hello,
    v: PROTOCOL_VERSION,
    name: "test",
    net: "net-1",
    id,
    host: "127.0.0.1",
    port: 1,
    mf: MAX,
    ...overrides,
  };
}

test("two transports exchange ten thousand frames each way in order", async () => {
  const a = await node(1);
  const b = await node(2);
  const count = 10_000;
  for (let seq = 0; seq < count; seq++) {
    a.t.send(b.ref, ping(seq));
    b.t.send(a.ref, ping(seq));
  }
  await waitFor(() => a.frames.length === count && b.frames.length === count, "all frames");
  assert.deepEqual(seqs(b, 1), range(count));
  assert.deepEqual(seqs(a, 2), range(count));
  assert.equal(a.t.stats.framesOut, count);
  assert.equal(a.t.stats.framesIn, count);
  assert.equal(a.t.stats.bytesOut, b.t.stats.bytesIn);
  assert.equal(a.t.stats.linksIn + a.t.stats.linksOut, 1);
  assert.deepEqual([a.downs, b.downs], [[], []]);
  await closeAll(a, b);
});

test("frames sent while a link is busy are coalesced and still arrive in order", async () => {
  const a = await node(1);
  const b = await node(2);
  // Bursts separated by turns of the event loop, so that later bursts queue behind writes.
  let seq = 0;
  for (let burst = 0; burst < 50; burst++) {
    for (let i = 0; i < 200; i++) a.t.send(b.ref, ping(seq++));
    await Promise.resolve();
  }
  await waitFor(() => b.frames.length === seq, "all frames");
  assert.deepEqual(seqs(b, 1), range(seq));
  await closeAll(a, b);
});

test("a frame carrying bytes arrives intact", async () => {
  const a = await node(1);
  const b = await node(2);
  const payload = new Uint8Array(200_000).map((_, i) => i & 0xff);
  a.t.send(b.ref, data(payload));
  a.t.send(b.ref, data(payload.subarray(5, 10)));
  await waitFor(() => b.frames.length === 2, "both frames");
  assert.deepEqual((b.frames[0].frame as FrameOf<"Data">).ps, [payload]);
  assert.deepEqual((b.frames[1].frame as FrameOf<"Data">).ps, [payload.subarray(5, 10)]);
  await closeAll(a, b);
});

test("simultaneous dials from both sides end with one shared link and no lost frames", async () => {
  for (let round = 0; round < 10; round++) {
    // Alternate which side has the lower id.
    const [lowId, highId] = round % 2 === 0 ? [1, 2] : [2, 1];
    const a = await node(lowId);
    const b = await node(highId);
    const count = 500;
    for (let seq = 0; seq < count; seq++) {
      a.t.send(b.ref, ping(seq));
      b.t.send(a.ref, ping(seq));
    }
    await waitFor(() => a.frames.length === count && b.frames.length === count, "all frames");
    assert.deepEqual(seqs(b, lowId), range(count), `round ${round}: low → high in order`);
    assert.deepEqual(seqs(a, highId), range(count), `round ${round}: high → low in order`);
    // Both ends keep the connection the lower id dialed.
    const low = lowId < highId ? a : b;
    const high = lowId < highId ? b : a;
    await waitFor(
      () => low.t.stats.linksOut === 1 && high.t.stats.linksIn === 1,
      "the lower id's connection to be kept",
    );
    assert.equal(low.t.stats.linksIn, 0);
    assert.equal(high.t.stats.linksOut, 0);
    // The kept link carries later frames too.
    a.t.send(b.ref, ping(count));
    b.t.send(a.ref, ping(count));
    await waitFor(() => a.frames.length === count + 1 && b.frames.length === count + 1, "more");
    assert.deepEqual([a.downs, b.downs], [[], []]);
    assert.equal(a.t.stats.framesDropped + b.t.stats.framesDropped, 0);
    assert.equal(a.t.stats.badLinks + b.t.stats.badLinks, 0);
    await closeAll(a, b);
  }
});

test("dialing an address reports the peer's identity and keeps the link open", async () => {
  const a = await node(1);
  const b = await node(2);
  const peer = await dial(a.t, b.t.ap);
  assert.deepEqual(peer, b.ref);
  assert.equal(a.t.stats.linksOut, 1);
  await waitFor(() => b.t.stats.linksIn === 1, "b to count the link");
  // The link is registered under the peer's id: no second connection is opened.
  a.t.send(peer, ping(0));
  b.t.send(a.ref, ping(0));
  await waitFor(() => a.frames.length === 1 && b.frames.length === 1, "frames");
  assert.equal(a.t.stats.linksOut + a.t.stats.linksIn, 1);
  // Dialing it again reuses the link.
  assert.deepEqual(await dial(a.t, b.t.ap), b.ref);
  await waitFor(() => b.t.stats.linksIn === 1 && a.t.stats.linksOut === 1, "one link");
  await closeAll(a, b);
});

test("a peer speaking another protocol version is refused with both versions named", async () => {
  const a = await node(1);
  const b = await node(2, { hello: { v: PROTOCOL_VERSION + 1 } });
  await assert.rejects(dial(a.t, b.t.ap), (e) => {
    assert.ok(e instanceof HandshakeError);
    assert.match(
      e.message,
      new RegExp(
        `^Handshake with 127\\.0\\.0\\.1:${b.t.ap.port} refused: Protocol version ` +
          `${PROTOCOL_VERSION + 1} is not supported \\(expected ${PROTOCOL_VERSION}\\)$`,
      ),
    );
    return true;
  });
  assert.equal(a.t.stats.badLinks, 1);
  assert.equal(a.t.stats.linksOut, 0);
  await closeAll(a, b);
});

test("a refusal sent by the peer reaches the dialer with the peer's message", async () => {
  const a = await node(1, { hello: { net: "net-2" } });
  const b = await node(2, {
    checkHello: (peer) => peer.net === "net-1" ? null : `Network ${peer.net} is not net-1`,
  });
  await assert.rejects(
    dial(a.t, b.t.ap),
    (e) =>
      e instanceof HandshakeError &&
      e.message === `Handshake with 127.0.0.1:${b.t.ap.port} refused: Network net-2 is not net-1`,
  );
  await waitFor(() => b.t.stats.badLinks === 1, "b to count the refused link");
  assert.equal(a.t.stats.badLinks, 0);
  // Frames sent over a refused link are handed back, and counted as dropped.
  a.t.send(b.ref, ping(0));
  await waitFor(() => a.downs.length === 1, "peerDown");
  assert.equal(a.downs[0].peer, b.ref);
  assert.match(a.downs[0].reason, /refused: Network net-2 is not net-1/);
  assert.deepEqual(a.downs[0].unsent, [ping(0)]);
  assert.equal(a.t.stats.framesDropped, 1);
  assert.deepEqual(b.frames, []);
  await closeAll(a, b);
});

test("a peer with our own id is refused as a duplicate", async () => {
  const a = await node(7);
  const b = await node(7);
  await assert.rejects(dial(a.t, b.t.ap), /refused: Duplicate node id 7$/);
  await waitFor(() => b.t.stats.badLinks === 1, "b to refuse too");
  assert.equal(a.t.stats.badLinks, 1);
  await closeAll(a, b);
});

test("a node found where another was expected is reported down with its frames", async () => {
  const a = await node(1);
  const b = await node(2);
  const stale: NodeRef = { id: 99, ap: b.t.ap };
  a.t.send(stale, ping(0));
  a.t.send(stale, ping(1));
  await waitFor(() => a.downs.length === 1, "peerDown");
  assert.equal(a.downs[0].peer, stale);
  assert.match(a.downs[0].reason, /Expected node 99 at 127\.0\.0\.1:\d+, found node 2/);
  assert.deepEqual(a.downs[0].unsent?.map((f) => (f as FrameOf<"Ping">).ts), [0, 1]);
  assert.equal(a.t.stats.framesDropped, 2);
  assert.deepEqual(b.frames, []);
  // Not a protocol violation on either side.
  assert.equal(a.t.stats.badLinks + b.t.stats.badLinks, 0);
  await closeAll(a, b);
});

test("a raw client with the wrong version receives a refusal frame, then EOF", async () => {
  const b = await node(2);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.t.ap.port });
  await writeAll(conn, plainly(encodeFrame(rawHello(5, { v: 99 }), MAX)));
  const frames = await readUntilClosed(conn);
  conn.close();
  assert.equal(frames.length, 2);
  assert.equal(frames[0].t, T.Hello);
  assert.equal((frames[0] as FrameOf<"Hello">).id, 2);
  assert.deepEqual(frames[1], {
    t: T.Refuse,
    why: `Protocol version 99 is not supported (expected ${PROTOCOL_VERSION})`,
  });
  assert.equal(b.t.stats.badLinks, 1);
  await closeAll(b);
});

/** Checks that `b` still serves a well-behaved peer. */
async function stillWorks(b: TestNode): Promise<void> {
  const a = await node(1);
  assert.deepEqual(await dial(a.t, b.t.ap), b.ref);
  a.t.send(b.ref, ping(0));
  await waitFor(() => b.frames.some((f) => f.from === 1), "a frame from the good peer");
  await closeAll(a);
}

test("garbage bytes close the connection, count a bad link, and harm nobody else", async () => {
  const b = await node(2);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.t.ap.port });
  await writeAll(conn, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const frames = await readUntilClosed(conn);
  conn.close();
  assert.deepEqual(frames.map((f) => f.t), [0]);
  await waitFor(() => b.t.stats.badLinks === 1, "a bad link");
  // Undecodable CBOR in a well-formed length prefix is just as bad.
  const conn2 = await Deno.connect({ hostname: "127.0.0.1", port: b.t.ap.port });
  const junk = new Uint8Array(FRAME_HEADER_SIZE + 3).fill(0xff);
  writeFrameHeader(junk, 0, 3);
  await writeAll(conn2, plainly(junk));
  await readUntilClosed(conn2);
  conn2.close();
  await waitFor(() => b.t.stats.badLinks === 2, "a second bad link");
  await stillWorks(b);
  // Nothing was reported: the raw sockets never became peers, and the good peer closed on purpose.
  assert.deepEqual(b.downs, []);
  await closeAll(b);
});

test("a frame truncated by the end of the stream closes the connection as bad", async () => {
  const b = await node(2);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.t.ap.port });
  const hello = plainly(encodeFrame(rawHello(5), MAX));
  await writeAll(conn, hello.subarray(0, hello.length - 3));
  await conn.closeWrite();
  await readUntilClosed(conn);
  conn.close();
  await waitFor(() => b.t.stats.badLinks === 1, "a bad link");
  await stillWorks(b);
  await closeAll(b);
});

test("an oversize declared length closes the connection at once, before any body", async () => {
  const b = await node(2, {}, { maxFrameSize: 1024, handshakeTimeoutMs: 30_000 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.t.ap.port });
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  writeFrameHeader(header, 0, 1025);
  await writeAll(conn, plainly(header));
  // Long before the handshake timeout of 30 s: the length alone condemns the connection.
  assert.deepEqual((await readUntilClosed(conn, 10_000)).map((f) => f.t), [0]);
  conn.close();
  assert.equal(b.t.stats.badLinks, 1);
  await stillWorks(b);
  await closeAll(b);
});

test("a connection that never says hello is closed after the handshake timeout", async () => {
  const b = await node(2, {}, { handshakeTimeoutMs: 100 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.t.ap.port });
  await readUntilClosed(conn);
  conn.close();
  assert.equal(b.t.stats.badLinks, 1);
  await closeAll(b);
});

test("a dialed peer that never answers the hello fails the dial after the timeout", async () => {
  const a = await node(1, {}, { handshakeTimeoutMs: 100 });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const result = dial(a.t, { hostname: "127.0.0.1", port: listener.addr.port });
  const silent = await within(accepted, "the node to dial the silent peer");
  listener.close();
  await assert.rejects(
    result,
    (e) =>
      e instanceof HandshakeError &&
      e.message ===
        `Handshake with 127.0.0.1:${listener.addr.port} did not complete within 100 ms`,
  );
  assert.equal(a.t.stats.badLinks, 1);
  await readUntilClosed(silent);
  silent.close();
  await closeAll(a);
});

test("dialing a port nothing listens on fails with a ConnectError naming the address", async () => {
  const a = await node(1);
  const port = CLOSED_PORT;
  await assert.rejects(
    dial(a.t, { hostname: "127.0.0.1", port }),
    (e) =>
      e instanceof ConnectError &&
      e.message === `Cannot connect to 127.0.0.1:${port}: Connection refused`,
  );
  // send() reports the same through peerDown, handing back the frames.
  const ghost: NodeRef = { id: 9, ap: { hostname: "127.0.0.1", port } };
  a.t.send(ghost, ping(0));
  a.t.send(ghost, ping(1));
  await waitFor(() => a.downs.length === 1, "peerDown");
  assert.equal(a.downs[0].peer, ghost);
  assert.equal(a.downs[0].reason, `Cannot connect to 127.0.0.1:${port}: Connection refused`);
  assert.equal(a.downs[0].unsent?.length, 2);
  assert.equal(a.t.stats.framesDropped, 2);
  assert.equal(a.t.stats.badLinks, 0);
  await closeAll(a);
});

test("peerDown fires once when the peer aborts", async () => {
  const a = await node(1);
  const b = await node(2);
  a.t.send(b.ref, ping(0));
  await waitFor(() => b.frames.length === 1, "the link");
  b.t.abort();
  await waitFor(() => a.downs.length === 1, "peerDown");
  assert.equal(a.downs[0].peer.id, 2);
  assert.equal(a.downs[0].reason, "connection closed by peer");
  assert.equal(a.t.stats.linksOut, 0);
  await b.t.close(); // after abort(): waits for b's loops to end
  // The next frame dials again, and fails: nobody listens there any more. Its report comes after
  // any second report of the abort would have: the abort was reported once.
  a.t.send(b.ref, ping(1));
  await waitFor(() => a.downs.length >= 2, "a second peerDown");
  assert.equal(a.downs.length, 2);
  assert.equal(
    a.downs[1].reason,
    `Cannot connect to 127.0.0.1:${b.t.ap.port}: Connection refused`,
  );
  assert.deepEqual(a.downs[1].unsent, [ping(1)]);
  assert.deepEqual(b.downs, []);
  await closeAll(a);
});

test("close() flushes queued frames and the peer sees an orderly close, not a failure", async () => {
  const a = await node(1);
  const b = await node(2);
  for (let seq = 0; seq < 2000; seq++) a.t.send(b.ref, ping(seq));
  await a.t.close();
  await waitFor(() => b.t.stats.linksIn === 0, "b's side closed");
  assert.deepEqual(seqs(b, 1), range(2000));
  assert.deepEqual(b.downs, []);
  assert.deepEqual(a.downs, []);
  await closeAll(b);
});

test("a peer that closes without saying so (a crash) is reported down", async () => {
  const a = await node(1);
  const b = await node(2);
  await dial(a.t, b.t.ap);
  a.t.send(b.ref, ping(0));
  await waitFor(() => b.frames.length === 1, "the frame");
  a.t.abort();
  await waitFor(() => b.downs.length === 1, "b's peerDown");
  assert.equal(b.downs[0].peer.id, 1);
  await closeAll(a, b);
});

test("disconnect() flushes and closes; neither side reports a failure", async () => {
  const a = await node(1);
  const b = await node(2);
  for (let seq = 0; seq < 100; seq++) a.t.send(b.ref, ping(seq));
  a.t.disconnect(b.ref.id);
  assert.equal(a.t.stats.linksOut, 0);
  await waitFor(() => b.frames.length === 100 && b.t.stats.linksIn === 0, "frames, then the close");
  assert.deepEqual(seqs(b, 1), range(100));
  assert.deepEqual(b.downs, []);
  // A later frame opens a fresh link; by then a report of the old link would have come.
  a.t.send(b.ref, ping(100));
  await waitFor(() => b.frames.length === 101, "the frame over a new link");
  assert.deepEqual(a.downs, []);
  assert.deepEqual(b.downs, []);
  await closeAll(a, b);
});

test("disconnect() of an established link flushes it and a new link replaces it", async () => {
  const a = await node(1);
  const b = await node(2);
  await dial(a.t, b.t.ap);
  for (let seq = 0; seq < 1000; seq++) a.t.send(b.ref, ping(seq));
  a.t.disconnect(b.ref.id);
  // Sent at once, over a second connection, while the first one still drains.
  for (let seq = 1000; seq < 2000; seq++) a.t.send(b.ref, ping(seq));
  await waitFor(() => b.frames.length === 2000, "all frames");
  assert.deepEqual(seqs(b, 1), range(2000));
  await waitFor(() => a.t.stats.linksOut === 1 && b.t.stats.linksIn === 1, "one link");
  assert.deepEqual(a.downs, []);
  await closeAll(a, b);
});

test("a throwing frame handler is logged and does not break the link", async () => {
  const logged: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const b = await node(2, {
      onFrame: (_from, frame) => {
        if ((frame as FrameOf<"Ping">).ts === 0) throw new Error("bug in the node");
      },
    });
    const a = await node(1);
    for (let seq = 0; seq < 10; seq++) a.t.send(b.ref, ping(seq));
    await waitFor(() => b.frames.length === 10, "all frames");
    assert.equal(logged.length, 1);
    assert.deepEqual([a.downs, b.downs], [[], []]);
    await closeAll(a, b);
  } finally {
    console.error = original;
  }
});

test("a frame handler may reply, disconnect or send again from inside the callback", async () => {
  const b = await node(2, {
    onFrame: (from, frame) => {
      if (frame.t === T.Ping) b.t.send(from, { t: T.Pong, ts: (frame as FrameOf<"Ping">).ts });
    },
  });
  const a = await node(1);
  for (let seq = 0; seq < 100; seq++) a.t.send(b.ref, ping(seq));
  await waitFor(() => a.frames.length === 100, "pongs");
  assert.deepEqual(seqs(a, 2), range(100));
  await closeAll(a, b);
});

test("a frame over the size limit is refused by send() with MessageTooLargeError", async () => {
  const a = await node(1, {}, { maxFrameSize: 100 });
  assert.throws(
    () => a.t.send({ id: 2, ap: a.t.ap }, data(new Uint8Array(200))),
    MessageTooLargeError,
  );
  await closeAll(a);
});

test("a peer that stops reading is dropped once its queue passes the high-water mark", async () => {
  const a = await node(1, {}, { maxQueuedBytes: 1024 * 1024 });
  // A raw peer that completes the handshake, then never reads again.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer: NodeRef = { id: 2, ap: { hostname: "127.0.0.1", port: listener.addr.port } };
  const accepted = listener.accept();
  a.t.send(peer, ping(0));
  const conn = await within(accepted, "the node to dial the raw peer");
  listener.close();
  await writeAll(conn, plainly(encodeFrame(rawHello(2), MAX)));
  await writeAll(conn, encodeFrame({ t: T.Accept }, MAX));
  await waitFor(() => a.t.stats.linksOut === 1, "the link");
  const chunk = new Uint8Array(256 * 1024);
  let waited = false;
  for (let i = 0; i < 1000 && a.downs.length === 0; i++) {
    a.t.send(peer, data(chunk));
    // Past the soft limit (a quarter of the hard one), senders are told to wait.
    let settled = false;
    a.t.ready().then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (!settled) waited = true;
  }
  assert.ok(waited, "ready() waited while the backlog was over the soft limit");
  await within(a.t.ready(), "ready() once the stuck link is gone");
  assert.equal(a.downs.length, 1);
  assert.match(a.downs[0].reason, /More than 1048576 bytes queued for 127\.0\.0\.1:\d+/);
  assert.ok((a.downs[0].unsent?.length ?? 0) > 0);
  assert.equal(a.t.stats.framesDropped, a.downs[0].unsent?.length);
  assert.equal(a.t.stats.badLinks, 1);
  assert.equal(a.t.stats.linksOut, 0);
  conn.close();
  await closeAll(a);
});

test("close() leaves no socket, timer or pending operation behind", async () => {
  // The test sanitizers fail this test if anything opened here outlives close().
  const a = await node(1, {}, { handshakeTimeoutMs: 60_000 });
  const b = await node(2, {}, { handshakeTimeoutMs: 60_000 });
  await dial(a.t, b.t.ap);
  a.t.send(b.ref, ping(0));
  b.t.send(a.ref, ping(0));
  // A connection still in its handshake, and a dial still pending (to a peer that never says
  // hello), when close() is called.
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: a.t.ap.port });
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = silent.accept();
  const pending = dial(a.t, { hostname: "127.0.0.1", port: silent.addr.port }).then(
    () => new Error("The dial succeeded"),
    (e: Error) => e,
  );
  const silentConn = await within(accepted, "the node to dial the silent peer");
  silent.close();
  await Promise.all([a.t.close(), b.t.close()]);
  const e = await pending;
  assert.ok(e instanceof ConnectError, String(e));
  assert.equal(e.message, `Cannot connect to 127.0.0.1:${silent.addr.port}: transport closed`);
  await readUntilClosed(raw);
  raw.close();
  await readUntilClosed(silentConn);
  silentConn.close();
  // Closing twice is harmless; sending afterwards drops the frame.
  await a.t.close();
  a.t.send(b.ref, ping(1));
  assert.equal(a.t.stats.framesDropped, 1);
});

test("after a partial write, a run counts as sent only when all of it went out", () => {
  // Byte ends of queued frames: 100 (single), a run at 200/-250/-300, then 400 (single).
  const ends = [100, 200, -250, -300, 400];
  const cases: [number, number][] = [
    [0, 0],
    [99, 0],
    [100, 1],
    [199, 1],
    [200, 1], // the run's first message is written, the rest of its frame is not
    [260, 1],
    [299, 1],
    [300, 4],
    [399, 4],
    [400, 5],
  ];
  for (const [written, whole] of cases) {
    assert.equal(wholeFrames(ends, written), whole, `${written} bytes written`);
  }
  // Two runs back to back: 50/-60/-70, then 80/-90.
  assert.equal(wholeFrames([50, -60, -70, 80, -90], 65), 0);
  assert.equal(wholeFrames([50, -60, -70, 80, -90], 75), 3);
  assert.equal(wholeFrames([50, -60, -70, 80, -90], 85), 3);
  assert.equal(wholeFrames([50, -60, -70, 80, -90], 90), 5);
  assert.equal(wholeFrames([], 10), 0);
});
