// Memory held per inbound connection that is still in its handshake: N raw sockets (another
// process) connect to one TCP transport and send nothing, or a partial first handshake message;
// this process measures its own RSS, V8 external memory and heap before and after, and prints
// the difference per connection.
//
//   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-run \
//     bench/handshake_memory.ts [--connections=2000] [--partial] [--default-caps]
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

const args = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "2000" },
    partial: { type: "boolean", default: false },
    "default-caps": { type: "boolean", default: false },
    flood: { type: "string" },
  },
});
const N = Number(args.values.connections);

if (args.values.flood !== undefined) {
  // The attacker: connects N sockets, optionally writes a preamble and the first bytes of a
  // handshake message on each, reports, and holds them until its stdin closes.
  const port = Number(args.values.flood);
  const conns: Deno.TcpConn[] = [];
  const start = new Uint8Array([...preamble("noise"), 0x00, 0x20, 1, 2, 3]);
  for (let i = 0; i < N; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (args.values.partial) await conn.write(start);
    conns.push(conn);
  }
  // The transport writes its preamble once it has accepted a connection and started reading it.
  // A connection it shed is closed (read returns null, or fails on a reset).
  const got = new Uint8Array(PREAMBLE_SIZE);
  for (const conn of conns) {
    for (let n = 0; n < PREAMBLE_SIZE;) {
      const r = await conn.read(got.subarray(n)).catch(() => null);
      if (r === null) break;
      n += r;
    }
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
    name: "bench",
    net: "bench",
    id: 1,
    host: t.ap.hostname,
    port: t.ap.port,
  }),
  checkHello: () => null,
  limits: { maxKey: 2 ** 52 },
  security: { encryption: "noise", keyPair: generateStaticKeyPair(), psk: null },
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
      ...(args.values.partial ? ["--partial"] : []),
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
    `${N} connections (${args.values.partial ? "partial first message" : "idle"}, ` +
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
console.log(`shed ${t.stats.shedLinks}, bad links ${t.stats.badLinks}`);
await stop();
await t.close();
