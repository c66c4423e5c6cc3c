/**
 * Scale: how large a network one process builds, keeps and routes in, with the real protocol
 * code in the simulator and the **default protocol timing**: heartbeats (1 s; a ping unanswered
 * for 3 s is suspected), finger refresh (one finger every 2 s), stabilisation (5 s), revival
 * pings (5 s), and every finger looked up once after joining. Nothing is turned off or slowed.
 *
 * One network grows through the sizes given. Nodes join in waves through random members (each a
 * real relaxed-ring join: routed lookup of its id, the join sent to the node found, answer with
 * predecessor, successors and fingers, notify/stabilise, then a lookup per finger); a wave adds
 * an eighth of the network (at least 256 nodes), so that joins arrive at a rate proportional to
 * the network's size, and the next wave starts once all but 2 % of a wave are on the ring. At each
 * size:
 * the cost of growing to it, a stretch of steady state (every node running its maintenance),
 * the heap per node after a forced GC, and 20,000 lookups of random keys from random nodes, each
 * checked against the live node responsible for the key.
 *
 * The steady state is measured over one whole rhythm of the heartbeats: a finger silent for five
 * heartbeat periods is pinged at the node's next heartbeat, so a node pings each of its fingers
 * every 6 s. A network that grew in a few simulated seconds learnt most of its fingers at once,
 * and its finger pings come in bursts 6 s apart that fade out slowly (at 2,000 nodes: 9.1 pings
 * per node in the second of the first burst against 0.4–2.6 in the others, 3.9 against about 2
 * after 25 s). A shorter window measures wherever it falls in that rhythm: a 10,000-node network
 * gave 15.5 and 7.5 events per node per second in 2-s windows 10 s apart. 6 s cover each rhythm once, wherever it
 * starts; the events of each second are printed too.
 *
 * Costs are given in wall time and in CPU time of the process (all threads, GC included): the
 * machine may be shared, and CPU time is what the ratios between sizes are computed from.
 *
 * Usage: deno run --v8-flags=--max-old-space-size=16000,--max-semi-space-size=256,--expose-gc \
 *          bench/scale.ts [sizes, default 10000,100000,1000000] [--shards N]
 *
 * With `--shards N` (N ≥ 2; needs `--allow-run`) the network is split over N shard processes
 * (`bench/_scale_shard.ts`, each started with the same V8 flags), which exchange what crosses
 * between them once per window of the minimum latency, 1 ms (see `lib/com/memory_shard.ts`): a
 * connection between shards opens by a message each way, and frames between shards go as the
 * wire codec's bytes. The simulated network is the same kind but not the same run (each shard
 * draws its own random sequence); CPU time is the sum over all processes.
 *
 * An old generation of at most 16,000 MB: the million-node network holds 8.2 GiB after a full
 * GC, and its process peaked at 13.6 GB of RSS; a larger limit lets the heap grow further before
 * it collects, towards what a 24-GB machine has. A young generation of 256 MB
 * (`--max-semi-space-size=256`): at 40,000 nodes it cut the steady-state CPU per node by a fifth
 * against 64 MB (fewer scavenges, each promoting what lives longer than a simulated second, and
 * no major GC within the measured stretch).
 *
 * Progress goes to stderr; stdout gets one JSON line with every figure.
 *
 * @module
 */

import { DEFAULT_TIMING } from "../lib/core/ring.ts";
import { T } from "../lib/wire/schema.ts";
import { LocalNet, type ScaleNet } from "./_scale_net.ts";
import { ShardedNet } from "./_scale_sharded.ts";

const positional = Deno.args.filter((a, i) =>
  !a.startsWith("--") && Deno.args[i - 1] !== "--shards"
);
const SIZES = (positional[0] ?? "10000,100000,1000000").split(",").map(Number);
const shardsAt = Deno.args.indexOf("--shards");
const SHARDS = shardsAt >= 0 ? Number(Deno.args[shardsAt + 1]) : 1;
if (!(Number.isInteger(SHARDS) && SHARDS >= 1 && SHARDS <= 64)) {
  throw new Error(`--shards must be an integer from 1 to 64, got ${Deno.args[shardsAt + 1]}`);
}
/** The V8 flags of the shard processes: those of `deno task bench:scale`. */
const SHARD_V8_FLAGS = "--max-old-space-size=16000,--max-semi-space-size=256,--expose-gc";
/**
 * Simulated time every node runs its maintenance before the steady state is measured, ms: the
 * joiners' finger lookups (one after another, about 20 of a few hops each) end within a second.
 */
const SETTLE_MS = 2_000;
/**
 * Simulated time of the measured steady state, ms: one rhythm of the finger pings (a finger is
 * pinged after five silent heartbeat periods, at the sixth heartbeat), see above.
 */
const STEADY_MS = 6 * DEFAULT_TIMING.heartbeatMs;
const LOOKUPS = 20_000;
const SEED = 1;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc (heap is measured after a full GC)");

function log(s: string): void {
  console.error(`  ${s}`);
}

const net: ScaleNet = SHARDS > 1
  ? await ShardedNet.start(SHARDS, SEED, SHARD_V8_FLAGS)
  : new LocalNet(SEED, gc);
let events = 0;

const TYPE_NAMES = new Map(Object.entries(T).map(([name, t]) => [t as number, name]));

/** Frames sent per `per` since `before` (a copy of the frame counts), by type, largest first. */
async function framesPer(before: number[], per: number): Promise<Record<string, number>> {
  const now = await net.framesByType();
  const out: [string, number][] = [];
  for (let t = 0; t < now.length; t++) {
    const d = Number(((now[t] - before[t]) / per).toFixed(2));
    if (d > 0) out.push([TYPE_NAMES.get(t) ?? `type ${t}`, d]);
  }
  return Object.fromEntries(out.sort((a, b) => b[1] - a[1]));
}

/** Runs simulated time in slices until `done()`, letting join promises settle in between. */
async function runUntil(done: () => boolean): Promise<void> {
  while (!done()) events += await net.run(20);
}

/** Grows the network to `target` nodes (joins that fail, e.g. by timing out, are retried). */
async function grow(target: number): Promise<void> {
  let lastLog = performance.now();
  while (net.size + net.pending < target) {
    const size = Math.min(
      Math.max(256, Math.floor(net.size / 8)),
      target - net.size - net.pending,
    );
    net.wave(size);
    await runUntil(() => net.pending <= size / 50);
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      log(`${net.size.toLocaleString("en-US")} nodes on the ring, ${net.pending} joining`);
    }
  }
  await runUntil(() => net.pending === 0);
  if (net.size < target) await grow(target);
}

/** `count` lookups of random keys from random nodes; how many reached the responsible node. */
async function lookups(count: number) {
  const w0 = performance.now(), c0 = await net.cpuMs();
  const got = await net.lookups(count, 10_000);
  return {
    count,
    answered: got.answered,
    right: got.right,
    meanHops: got.hops / Math.max(1, got.answered),
    maxHops: got.maxHops,
    wallS: (performance.now() - w0) / 1000,
    cpuS: (await net.cpuMs() - c0) / 1000,
  };
}

const settings = {
  timing: DEFAULT_TIMING,
  turnedOff: [] as string[],
  fingers: "tango",
  succListSize: 4,
  latencyMs: [1, 5],
  waves: "an eighth of the network (at least 256) through random members; next wave at 98 %",
  settleMs: SETTLE_MS,
  steadyMs: STEADY_MS,
  lookups: LOOKUPS,
  seed: SEED,
  shards: SHARDS,
};
log(
  `default protocol timing (heartbeat ${DEFAULT_TIMING.heartbeatMs} ms, finger refresh ${DEFAULT_TIMING.fingerRefreshMs} ms, ` +
    `stabilise ${DEFAULT_TIMING.stabilizeMs} ms, fingers looked up on join); sizes ${
      SIZES.join(", ")
    }${SHARDS > 1 ? `; ${SHARDS} shard processes` : ""}`,
);

/** What the ratios between sizes are computed from (each step holds more, all printed). */
interface Step {
  nodes: number;
  joinCpuUsPerJoin: number;
  steady: { cpuUsPerNodePerSimS: number; eventsPerNodePerS: number };
}
const steps: Step[] = [];
const t0 = performance.now();
for (const target of SIZES) {
  const from = net.size;
  const w0 = performance.now(), c0 = await net.cpuMs(), v0 = net.now(), e0 = events;
  const f0 = await net.framesByType();
  await grow(target);
  const join = {
    joined: net.size - from,
    wallS: (performance.now() - w0) / 1000,
    cpuS: (await net.cpuMs() - c0) / 1000,
    simulatedS: (net.now() - v0) / 1000,
    events: events - e0,
    failedSoFar: net.failed,
    /** Frames per joiner by type (the maintenance of the nodes already there included). */
    framesPerJoin: await framesPer(f0, net.size - from),
  };
  log(
    `${net.size.toLocaleString("en-US")} nodes: joined ${join.joined.toLocaleString("en-US")} in ${
      join.wallS.toFixed(0)
    } s (${join.cpuS.toFixed(0)} s CPU, ${join.simulatedS.toFixed(1)} s simulated)`,
  );
  log(
    `  frames per joiner: ${
      Object.entries(join.framesPerJoin).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
  );
  events += await net.run(SETTLE_MS);
  const f1 = await net.framesByType();
  const w1 = performance.now(), c1 = await net.cpuMs();
  const perSecond: number[] = [];
  for (let t = 0; t < STEADY_MS; t += 1000) {
    perSecond.push(await net.run(Math.min(1000, STEADY_MS - t)));
  }
  const steadyEvents = perSecond.reduce((a, b) => a + b, 0);
  const size = net.size;
  const steady = {
    wallPerSimS: (performance.now() - w1) / (STEADY_MS / 1000) / 1000,
    cpuPerSimS: (await net.cpuMs() - c1) / (STEADY_MS / 1000) / 1000,
    eventsPerNodePerS: steadyEvents / size / (STEADY_MS / 1000),
    eventsPerNodeEachS: perSecond.map((x) => Number((x / size).toFixed(2))),
    /** Frames sent per node per simulated second, by type. */
    framesPerNodePerS: await framesPer(f1, size * (STEADY_MS / 1000)),
    cpuUsPerNodePerSimS: 0,
  };
  steady.cpuUsPerNodePerSimS = (steady.cpuPerSimS * 1e6) / size;
  log(
    `  steady state: ${steady.wallPerSimS.toFixed(2)} s wall (${
      steady.cpuPerSimS.toFixed(2)
    } s CPU) per simulated second, ${steady.eventsPerNodePerS.toFixed(1)} events per node per s (${
      steady.eventsPerNodeEachS.join(", ")
    } second by second)`,
  );
  log(
    `  frames per node per s: ${
      Object.entries(steady.framesPerNodePerS).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
  );
  const look = await lookups(LOOKUPS);
  log(`  lookups: ${look.right}/${look.count} to the right node, ${look.meanHops.toFixed(2)} hops`);
  // Routing entries (distinct nodes) and connection ends per node, over the oldest nodes.
  const mem = await net.heap(2000);
  const step = {
    nodes: size,
    join,
    joinCpuUsPerJoin: (join.cpuS * 1e6) / join.joined,
    steady,
    lookups: look,
    heapUsed: mem.heapUsed,
    external: mem.external,
    rss: mem.rss,
    heapPerNode: mem.heapUsed / size,
    timersPerNode: mem.timers / size,
    table: { distinctEntries: mem.distinct / mem.sampled, linkEnds: mem.ends / mem.sampled },
  };
  log(
    `  heap ${(mem.heapUsed / 2 ** 30).toFixed(2)} GiB after GC, ${
      step.heapPerNode.toFixed(0)
    } B per node`,
  );
  steps.push(step);
}
/** Cost per node of each size against the size before it (the scale target: ≤ 1.5× per 10×). */
const ratios = steps.slice(1).map((s, i) => {
  const p = steps[i];
  const r = {
    sizes: `${p.nodes}→${s.nodes}`,
    steadyCpuPerNode: s.steady.cpuUsPerNodePerSimS / p.steady.cpuUsPerNodePerSimS,
    eventsPerNode: s.steady.eventsPerNodePerS / p.steady.eventsPerNodePerS,
    joinCpuPerJoin: s.joinCpuUsPerJoin / p.joinCpuUsPerJoin,
  };
  log(
    `${r.sizes}: steady CPU per node ×${r.steadyCpuPerNode.toFixed(2)} (events per node ×${
      r.eventsPerNode.toFixed(2)
    }, CPU per event ×${(r.steadyCpuPerNode / r.eventsPerNode).toFixed(2)}), CPU per join ×${
      r.joinCpuPerJoin.toFixed(2)
    }`,
  );
  return r;
});
console.log(JSON.stringify({
  settings,
  steps,
  ratios,
  totalWallS: (performance.now() - t0) / 1000,
  load: (() => {
    try {
      return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
    } catch {
      return "unknown";
    }
  })(),
}));
await net.close();
// Pending virtual timers hold nothing real; exit without waiting for anything.
Deno.exit(0);
