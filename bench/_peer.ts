// A process hosting one or more P2PS nodes over real TCP on 127.0.0.1, driven by bench/run.ts
// through line-delimited JSON on stdin/stdout (see `serveLines`).
//
//   deno run --allow-net=127.0.0.1 --allow-read bench/_peer.ts
//
// Application messages used by the experiments (all CBOR values):
//   {d: seq}          stream data; the receiver returns a credit {c: n} every CREDIT messages
//   {c: n}            credit for n delivered stream messages
//   {pi: i}           ping; answered with {po: i}
//   {b: 1}            broadcast probe; the receiver notes the wall-clock time it arrived
//   {f: seq}          flood data (no credits: the sender is paced by send() alone)
//
// Networks are created with `encryption` "noise" (the default) or "none"; joiners adopt it. The
// `links` and `dials` operations time link setup on bare transports (no node above them).
import { createNet, joinNet } from "../mod.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { generateStaticKeyPair } from "../lib/com/noise/mod.ts";
import { TcpTransport } from "../lib/com/tcp/transport.ts";
import { type Encryption, type NodeRef, PROTOCOL_VERSION } from "../lib/com/transport.ts";
import { serveLines } from "./_lib.ts";

const CREDIT = 256;
const nodes: P2PNode[] = [];
const credits = new Map<number, (n: number) => void>();
const pongs = new Map<number, () => void>();
const bcastAt = new Map<number, number>();
/** Stream messages received by each node (read by `stats`). */
const received: number[] = [];
/** Flood messages received by each node, by sender id, and suspicions each node raised. */
const flooded: Map<number, number>[] = [];
const suspicions: number[] = [];
const payload = (size: number) => new Uint8Array(size).fill(1);
/** Bare transports opened by `links`, closed on `quit`. */
const bare: TcpTransport[] = [];

/** A transport with no node above it: it presents id `id` and accepts every hello. */
async function bareTransport(id: number, encryption: Encryption): Promise<TcpTransport> {
  const t = await TcpTransport.listen({});
  t.bind({
    hello: () => ({
      v: PROTOCOL_VERSION,
      name: "bench",
      net: "bench",
      id,
      host: t.ap.hostname,
      port: t.ap.port,
    }),
    checkHello: () => null,
    limits: { maxKey: 2 ** 52 },
    security: {
      encryption,
      keyPair: encryption === "none" ? null : generateStaticKeyPair(),
      psk: null,
    },
    frame: () => {},
    badFrame: () => {},
    peerDown: () => {},
  });
  bare.push(t);
  return t;
}

/** `count` link setups from a bare transport to `ap`, one at a time: µs from dial to up. */
async function dials(ap: { hostname: string; port: number }, count: number, e: Encryption) {
  const t = await bareTransport(2, e);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const peer = await new Promise<NodeRef>((resolve, reject) =>
      t.dial(ap, (err, p) => (err ? reject(err) : resolve(p!)))
    );
    times.push((performance.now() - t0) * 1000);
    t.disconnect(peer.id);
  }
  await t.close();
  bare.splice(bare.indexOf(t), 1);
  return times;
}

/** Wall-clock time comparable across processes of this machine, in ms. */
function wall(): number {
  return performance.timeOrigin + performance.now();
}

function serve(node: P2PNode): void {
  nodes.push(node);
  const index = received.push(0) - 1;
  flooded.push(new Map());
  suspicions.push(0);
  (async () => {
    for await (const e of node.events()) {
      if (e.type === "suspect" || e.type === "crash") {
        suspicions[index]++;
        console.error(`[${node.id}] ${e.type} ${JSON.stringify(e)}`);
      }
    }
  })();
  (async () => {
    // As lean as the raw baseline's handler: a local counter, no lookups per message.
    let n = 0;
    for await (const m of node.messages({ bufferSize: 1 << 20 })) {
      const v = m.msg as Record<string, unknown>;
      if (typeof v.d === "number") {
        received[index] = ++n;
        if (n % CREDIT === 0) node.send(m.src, { c: CREDIT }).catch(() => {});
      } else if (typeof v.c === "number") credits.get(node.id)?.(v.c);
      else if (typeof v.pi === "number") node.send(m.src, { po: v.pi }).catch(() => {});
      else if (typeof v.po === "number") pongs.get(node.id)?.();
      else if (v.b === 1) bcastAt.set(node.id, wall());
      else if (typeof v.f === "number") {
        const f = flooded[index];
        f.set(m.src, (f.get(m.src) ?? 0) + 1);
      }
    }
  })();
}

function node(i: unknown): P2PNode {
  const n = nodes[Number(i ?? 0)];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

/** Streams `count` messages to `dst` with at most `window` undelivered; resolves when all are. */
async function stream(
  src: P2PNode,
  dst: number,
  count: number,
  size: number,
  toResp: boolean,
  window = 8 * CREDIT,
) {
  count = Math.ceil(count / CREDIT) * CREDIT;
  let acked = 0;
  let sent = 0;
  let wake: (() => void) | null = null;
  credits.set(src.id, (n) => {
    acked += n;
    wake?.();
  });
  const p = payload(size);
  const t0 = performance.now();
  while (acked < count) {
    while (sent < count && sent - acked < window) {
      src.send(dst, { d: sent++, p }, { toResp });
    }
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  const ms = performance.now() - t0;
  credits.delete(src.id);
  return { ms, count, perSec: count / (ms / 1000) };
}

/** `count` ping-pongs, one at a time; round-trip times in µs. */
async function ping(src: P2PNode, dst: number, count: number, toResp: boolean) {
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const { promise, resolve } = Promise.withResolvers<void>();
    pongs.set(src.id, resolve);
    const t0 = performance.now();
    src.send(dst, { pi: i }, { toResp });
    await promise;
    rtts.push((performance.now() - t0) * 1000);
  }
  pongs.delete(src.id);
  return rtts;
}

await serveLines(async (cmd) => {
  switch (cmd.op) {
    case "create": {
      const n = await createNet({
        node: cmd.id === undefined ? {} : { id: cmd.id as number },
        net: {
          fingers: (cmd.fingers as "tango") ?? "tango",
          maxKey: cmd.maxKey as number | undefined,
          succListSize: cmd.succListSize as number | undefined,
          encryption: (cmd.encryption as Encryption | undefined) ?? "noise",
        },
      });
      serve(n);
      return { id: n.id, ap: n.ap };
    }
    case "join": {
      // Joins `count` nodes, one after another, through the given access points in turn.
      const aps = cmd.aps as { hostname: string; port: number }[];
      const out = [];
      for (let i = 0; i < Number(cmd.count ?? 1); i++) {
        const n = await joinNet(aps[i % aps.length], {
          node: cmd.ids ? { id: (cmd.ids as number[])[i] } : {},
        });
        serve(n);
        out.push({ id: n.id, ap: n.ap });
      }
      return { nodes: out };
    }
    case "stream":
      return await stream(
        node(cmd.from),
        cmd.dst as number,
        cmd.count as number,
        cmd.size as number,
        !!cmd.toResp,
        cmd.window as number | undefined,
      );
    case "ping": {
      const rtts = await ping(node(cmd.from), cmd.dst as number, cmd.count as number, !!cmd.toResp);
      return { rtts };
    }
    case "acked": {
      // Acknowledged sends to random keys, `conc` in flight; hops and round trips per message.
      const src = node(cmd.from);
      const out: [number, number][] = [];
      const count = cmd.count as number;
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          const key = Math.floor(Math.random() * src.maxKey);
          const t0 = performance.now();
          const r = await src.send(key, { k: 1 }, { toResp: true, ack: true, timeoutMs: 10_000 });
          out.push([r.hops, (performance.now() - t0) * 1000]);
        }
      };
      await Promise.all(Array.from({ length: Number(cmd.conc ?? 1) }, worker));
      return { samples: out };
    }
    case "probe": {
      // Hops from `from` to the node whose id is `dst` (one acknowledged send).
      const r = await node(cmd.from).send(cmd.dst as number, { k: 1 }, { ack: true });
      return { hops: r.hops };
    }
    case "bcast": {
      bcastAt.clear();
      const before = totals();
      const t0 = wall();
      const r = await node(cmd.from).broadcast({ b: 1 }, { ack: true, timeoutMs: 60_000 });
      return { t0, reached: r.reached.length, rttMs: r.rtt, before };
    }
    case "flood": {
      // Unacknowledged sends to `dst` as fast as send() resolves, for `seconds`.
      const src = node(cmd.from);
      const p = payload(Number(cmd.size ?? 100));
      const end = performance.now() + Number(cmd.seconds) * 1000;
      let sent = 0;
      const t0 = performance.now();
      while (performance.now() < end) {
        for (let i = 0; i < 256; i++) await src.send(cmd.dst as number, { f: sent++, p });
      }
      return { sent, ms: performance.now() - t0 };
    }
    case "flooded":
      return {
        nodes: nodes.map((n, i) => ({
          id: n.id,
          from: Object.fromEntries(flooded[i]),
          suspicions: suspicions[i],
          stats: n.statistics(),
        })),
      };
    case "links": {
      // A bare transport to dial (see `dials`).
      const t = await bareTransport(1, (cmd.encryption as Encryption) ?? "noise");
      return { ap: t.ap };
    }
    case "dials":
      return {
        times: await dials(
          cmd.ap as { hostname: string; port: number },
          cmd.count as number,
          (cmd.encryption as Encryption) ?? "noise",
        ),
      };
    case "stats":
      return { totals: totals(), bcastAt: [...bcastAt.values()], received: [...received] };
    case "info":
      return { nodes: nodes.map((n) => ({ id: n.id, ap: n.ap, status: n.status })) };
    case "quit":
      await Promise.allSettled([...nodes.map((n) => n.leave()), ...bare.map((t) => t.close())]);
      setTimeout(() => Deno.exit(0), 50);
      return { ok: true };
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
});

/** Data and control messages sent by this process's nodes. */
function totals() {
  let data = 0, control = 0, bcast = 0;
  for (const n of nodes) {
    const s = n.statistics();
    data += s.data.sent + s.data.forwarded;
    control += s.control.sent;
    bcast += s.kinds.broadcast.forwarded;
  }
  return { data, control, bcast };
}
