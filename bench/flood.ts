// Flow control under a flood: unacknowledged messages sent as fast as `await send()` allows, for
// `--seconds`, to a node 3 hops away in a ring of separate processes, then the same with two
// senders competing for a shared relay. Prints how many of the messages whose send() resolved
// were delivered, the sustained rate, the suspicions raised and every process's peak RSS.
//
//   deno run --allow-run --allow-read bench/flood.ts [--seconds=15] [--nodes=8] [--size=100]
//
// No credits and no acknowledgements: what keeps the sender from outrunning the path is the
// transport's backpressure alone (a congested link stops the reading of the links feeding it).
import { parseArgs } from "node:util";
import { fmt, LineChannel, mdTable, readProc } from "./_lib.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "15" },
    nodes: { type: "string", default: "8" },
    size: { type: "string", default: "100" },
    encryption: { type: "string", default: "noise" },
    fingers: { type: "string", default: "chord" },
  },
});
const SECONDS = Number(args.values.seconds);
const NODES = Number(args.values.nodes);
const SIZE = Number(args.values.size);
const ENCRYPTION = args.values.encryption;
const HERE = new URL(".", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

type Peer = LineChannel & { child: Deno.ChildProcess };

function peer(): Peer {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", CONFIG, "--allow-net=127.0.0.1", "--allow-read", "_peer.ts"],
    cwd: HERE,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ch = new LineChannel(child.stdin, child.stdout) as Peer;
  ch.child = child;
  return ch;
}

async function call(p: Peer, cmd: Record<string, unknown>, ms = 120_000) {
  const r = await p.request(cmd, ms);
  if (r.error) throw new Error(`${cmd.op}: ${r.error}`);
  return r;
}

/** Peak resident set of a process, MiB (VmHWM). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s*(\d+)/.exec(readProc(`${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface NodeReport {
  id: number;
  from: Record<string, number>;
  suspicions: number;
  stats: { frames: { dropped: number }; badLinks: number };
}

async function ring(): Promise<{ peers: Peer[]; ids: number[] }> {
  const peers = Array.from({ length: NODES }, peer);
  // Evenly spaced ids and successor lists of 2, so that paths of several hops exist.
  const maxKey = 2 ** 16;
  const ids = Array.from({ length: NODES }, (_, i) => 100 + i * Math.floor(maxKey / NODES));
  const first = await call(peers[0], {
    op: "create",
    id: ids[0],
    maxKey,
    succListSize: 2,
    encryption: ENCRYPTION,
    fingers: args.values.fingers,
  });
  for (let i = 1; i < NODES; i++) {
    await call(peers[i], { op: "join", aps: [first.ap], ids: [ids[i]] });
  }
  // Let stabilisation and finger refresh settle.
  await new Promise((r) => setTimeout(r, 3000));
  return { peers, ids };
}

async function hopsBetween(p: Peer, dst: number): Promise<number> {
  return Number((await call(p, { op: "probe", from: 0, dst })).hops);
}

async function reports(peers: Peer[]): Promise<NodeReport[]> {
  const out: NodeReport[] = [];
  for (const p of peers) out.push(...((await call(p, { op: "flooded" })).nodes as NodeReport[]));
  return out;
}

async function stop(peers: Peer[]): Promise<void> {
  await Promise.allSettled(peers.map((p) => p.request({ op: "quit" }, 5000)));
  await Promise.allSettled(peers.map((p) => p.child.status));
}

const out: string[] = [];
const say = (s: string) => {
  out.push(s);
  console.log(s);
};

say(`# Flood: ${SECONDS} s of unacknowledged sends, ${SIZE}-byte messages, ${NODES} processes`);
say(
  `encryption: ${ENCRYPTION}; load average at start: ${
    readProc("loadavg").split(" ").slice(0, 3).join(" ")
  }`,
);

const { peers, ids } = await ring();
try {
  // The destination 3 hops from node 0 (or the farthest there is).
  let dst = ids[1];
  let hops = 0;
  for (const id of ids.slice(1)) {
    const h = await hopsBetween(peers[0], id);
    if (h > hops || (h === 3 && hops !== 3)) [dst, hops] = [id, h];
    if (hops === 3) break;
  }
  say(`\n## One sender, ${hops} hops (node ${ids[0]} → node ${dst})`);
  const flood = await call(
    peers[0],
    { op: "flood", from: 0, dst, seconds: SECONDS, size: SIZE },
    (SECONDS + 60) * 1000,
  );
  await new Promise((r) => setTimeout(r, 3000)); // what is in flight arrives
  let rep = await reports(peers);
  const got = rep.find((r) => r.id === dst)!.from[String(ids[0])] ?? 0;
  const sent = Number(flood.sent);
  say(
    mdTable([
      "sends resolved",
      "delivered",
      "delivered / resolved",
      "msgs/s (resolved)",
      "suspicions (all nodes)",
      "frames dropped",
    ], [[
      fmt(sent, 0),
      fmt(got, 0),
      `${(100 * got / sent).toFixed(4)} %`,
      fmt(sent / (Number(flood.ms) / 1000), 0),
      rep.reduce((s, r) => s + r.suspicions, 0),
      rep.reduce((s, r) => s + r.stats.frames.dropped, 0),
    ]]),
  );

  // Two senders in two processes towards one destination, their paths sharing a relay: node 0
  // and the node after it (their first hops differ, the last ones meet).
  const second = 1;
  say(`\n## Two senders (nodes ${ids[0]} and ${ids[second]}) → node ${dst}, competing`);
  const before = rep.find((r) => r.id === dst)!.from;
  const [a, b] = await Promise.all([
    call(
      peers[0],
      { op: "flood", from: 0, dst, seconds: SECONDS, size: SIZE },
      (SECONDS + 60) * 1000,
    ),
    call(
      peers[second],
      { op: "flood", from: 0, dst, seconds: SECONDS, size: SIZE },
      (SECONDS + 60) * 1000,
    ),
  ]);
  await new Promise((r) => setTimeout(r, 3000));
  rep = await reports(peers);
  const after = rep.find((r) => r.id === dst)!.from;
  const gotA = (after[String(ids[0])] ?? 0) - (before[String(ids[0])] ?? 0);
  const gotB = (after[String(ids[second])] ?? 0) - (before[String(ids[second])] ?? 0);
  const sA = Number(a.sent), sB = Number(b.sent);
  say(
    mdTable(
      ["sender", "sends resolved", "delivered", "delivered / resolved", "share of delivered"],
      [
        [
          ids[0],
          fmt(sA, 0),
          fmt(gotA, 0),
          `${(100 * gotA / sA).toFixed(4)} %`,
          `${(100 * gotA / (gotA + gotB)).toFixed(1)} %`,
        ],
        [
          ids[second],
          fmt(sB, 0),
          fmt(gotB, 0),
          `${(100 * gotB / sB).toFixed(4)} %`,
          `${(100 * gotB / (gotA + gotB)).toFixed(1)} %`,
        ],
      ],
    ),
  );
  say(
    `ratio of the shares: ${
      (Math.max(gotA, gotB) / Math.max(1, Math.min(gotA, gotB))).toFixed(2)
    } (target ≤ 2)`,
  );
  say(`suspicions over both runs: ${rep.reduce((s, r) => s + r.suspicions, 0)}`);
  say(
    `\npeak RSS per process (MiB): ${peers.map((p) => peakRss(p.child.pid).toFixed(0)).join(", ")}`,
  );
} finally {
  await stop(peers);
}
