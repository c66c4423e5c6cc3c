// Memory held per inbound connection that is still in its handshake, or whose link is up and
// that declared a frame as long as the frame limit and sent nothing more of it: N raw sockets
// (another process) connect to one TCP transport; this process measures its own RSS, V8
// external memory and heap before and after, and prints the difference per connection.
//
//   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-run --allow-read \
//     bench/handshake_memory.ts [--connections=2000] [--partial | --declare | --declare-up]
//     [--default-caps]
//
// - (nothing): the sockets send nothing;
// - `--partial`: a preamble and the first bytes of a Noise handshake message;
// - `--declare`: in a network in the clear, a preamble and the 4-byte length of a frame as long
//   as the frame limit (1 MiB), then, once that was read, one byte of its body;
// - `--declare-up`: the same after a complete handshake in the clear (a hello with an id of
//   its own, an accept), on a link that is up.
//
// The transport's caps on pending handshakes are raised above N for the measurement (past a cap
// it sheds connections, which is what it is for, and would hide the cost per connection), unless
// `--default-caps` is given: then the total is what the whole flood costs with the defaults. The
// handshake timeout is raised so that none expires while measuring.
import { parseArgs } from "node:util";
import { setTimeout as delay } from "node:timers/promises";
import { TcpTransport } from "../lib/com/tcp/transport.ts";
import { preamble, PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";
import { PROTOCOL_VERSION, type TransportEvents } from "../lib/com/transport.ts";
import { generateStaticKeyPair } from "../lib/com/noise/mod.ts";
import { Codec } from "../lib/wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { encodeFrame } from "../lib/wire/frame_writer.ts";
import { T } from "../lib/wire/schema.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "2000" },
    partial: { type: "boolean", default: false },
    declare: { type: "boolean", default: false },
    "declare-up": { type: "boolean", default: false },
    "default-caps": { type: "boolean", default: false },
    flood: { type: "string" },
  },
});
const N = Number(args.values.connections);
const modes = ["partial", "declare", "declare-up"] as const;
const mode = modes.find((m) => args.values[m]) ?? "idle";
if (modes.filter((m) => args.values[m]).length > 1) {
  throw new Error("Give at most one of --partial, --declare, --declare-up");
}
/** The attack is in the clear: the hole it measures was cheapest there. */
const clear = mode === "declare" || mode === "declare-up";
const NET = "bench";

/** Writes all of `bytes` (a shed or closed socket fails: that is an outcome, not an error). */
async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<boolean> {
  try {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    return true;
  } catch {
    return false;
  }
}

/** Reads `conn` until `done` says what arrived is enough, or it ends. */
async function readUntil(conn: Deno.TcpConn, done: (chunk: Uint8Array) => boolean): Promise<void> {
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null || done(buf.slice(0, n))) return;
  }
}

if (args.values.flood !== undefined) {
  // The attacker: connects N sockets, sends what its mode says on each, reports, and holds them
  // until its stdin closes.
  const port = Number(args.values.flood);
  const codec = new Codec();
  const conns: Deno.TcpConn[] = [];
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, DEFAULT_MAX_FRAME_SIZE);
  const start = (i: number): Uint8Array => {
    if (mode === "partial") return new Uint8Array([...preamble("noise"), 0x00, 0x20, 1, 2, 3]);
    if (mode === "declare") return new Uint8Array([...preamble("none"), ...prefix]);
    if (mode === "idle") return new Uint8Array(0);
    const hello = encodeFrame(codec, {
      t: T.Hello,
      v: PROTOCOL_VERSION,
      name: NET,
      net: NET,
      id: 1000 + i,
      host: "127.0.0.1",
      port: 1,
      mf: DEFAULT_MAX_FRAME_SIZE,
    }, 4096);
    const accept = encodeFrame(codec, { t: T.Accept }, 64);
    return new Uint8Array([...preamble("none"), ...hello, ...accept]);
  };
  for (let i = 0; i < N; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    await writeAll(conn, start(i));
    conns.push(conn);
  }
  // The transport writes its preamble once it has accepted a connection and started reading it
  // (and its hello and accept once it accepted ours). A connection it shed or refused is closed
  // (read returns null, or fails on a reset).
  for (const conn of conns) {
    if (mode === "declare-up") {
      // Its preamble, then frames: its hello and its accept of ours.
      let skip = PREAMBLE_SIZE;
      let accepted = false;
      const decoder = new FrameDecoder(codec.reader(), { maxKey: 2 ** 52, peer: null });
      await readUntil(conn, (chunk) => {
        const frames = chunk.subarray(Math.min(skip, chunk.length));
        skip -= chunk.length - frames.length;
        decoder.push(frames, (f) => accepted ||= f.t === T.Accept);
        return accepted;
      });
      await writeAll(conn, prefix);
    } else {
      let got = 0;
      await readUntil(conn, (chunk) => (got += chunk.length) >= PREAMBLE_SIZE);
    }
  }
  if (clear) {
    // One byte of each declared body, in a read of its own: the length prefix was read alone.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const conn of conns) await writeAll(conn, new Uint8Array([0x41]));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until EOF */ }
  for (const c of conns) c.close();
  Deno.exit(0);
}

async function settled(): Promise<Deno.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await delay(100);
  }
  return Deno.memoryUsage();
}

const caps = args.values["default-caps"]
  ? {}
  : { maxPendingHandshakes: N + 64, maxPendingPerAddress: N + 64 };
const t = await TcpTransport.listen({ handshakeTimeoutMs: 60_000, ...caps });
const events: TransportEvents = {
  hello: () => ({
    v: PROTOCOL_VERSION,
    name: NET,
    net: NET,
    id: 1,
    host: t.ap.hostname,
    port: t.ap.port,
  }),
  checkHello: () => null,
  limits: { maxKey: 2 ** 52 },
  security: clear
    ? { encryption: "none", keyPair: null, psk: null }
    : { encryption: "noise", keyPair: generateStaticKeyPair(), psk: null },
  badFrame: () => {},
  frame: () => {},
  peerDown: () => {},
};
t.bind(events);
/** Floods the transport from another process; resolves once every socket was accepted. */
async function flood(): Promise<() => Promise<void>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL(import.meta.url).pathname,
      `--connections=${N}`,
      `--flood=${t.ap.port}`,
      ...(mode === "idle" ? [] : [`--${mode}`]),
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready")) {
    const r = await reader.read();
    if (r.done) throw new Error("The flooding process ended early");
    out += r.value;
  }
  return async () => {
    await child.stdin.close();
    await reader.cancel();
    await child.status;
  };
}

/** What a flood held, per connection and in all, from memory usages `before` and `after`. */
function report(before: Deno.MemoryUsage, after: Deno.MemoryUsage): void {
  const per = (k: keyof Deno.MemoryUsage) => ((after[k] - before[k]) / N / 1024).toFixed(2);
  const all = (k: keyof Deno.MemoryUsage) => ((after[k] - before[k]) / 1024 / 1024).toFixed(2);
  console.log(
    `${N} connections (${mode}, ` +
      `${args.values["default-caps"] ? "default caps" : "caps above N"}): ` +
      `RSS +${per("rss")} KiB, external +${per("external")} KiB, ` +
      `heap +${per("heapUsed")} KiB per connection; in all RSS +${all("rss")} MiB, ` +
      `heap committed +${all("heapTotal")} MiB`,
  );
}

// Measured on a fresh process: RSS also holds what the heap and the allocators grow by to handle
// the flood (a second flood in the same process reuses that), `external` the buffers the
// connections hold, `heap` their JavaScript objects.
const before = await settled();
const stop = await flood();
report(before, await settled());
console.log(
  `shed ${t.stats.shedLinks}, bad links ${t.stats.badLinks}, links up ${t.stats.linksIn}, ` +
    `bytes read ${t.stats.bytesIn}`,
);
await stop();
await t.close();
