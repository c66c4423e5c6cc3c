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
 *          bench/scale.ts [sizes, default 10000,100000,1000000]
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

import process from "node:process";
import { Simulator } from "../lib/node/simulator.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { DEFAULT_TIMING } from "../lib/core/ring.ts";
import { T } from "../lib/wire/schema.ts";

const SIZES = (Deno.args[0] ?? "10000,100000,1000000").split(",").map(Number);
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

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function log(s: string): void {
  console.error(`  ${s}`);
}

const sim = new Simulator({ seed: SEED });
const live: P2PNode[] = [sim.createNet()];
let pending = 0;
let failed = 0;
let events = 0;

/** Starts `n` joins through random members; each joiner is added to `live` once on the ring. */
function wave(n: number): void {
  for (let j = 0; j < n; j++) {
    const via = live[Math.floor(sim.random() * live.length)];
    pending++;
    sim.joinNet(via).then(
      (node) => {
        live.push(node);
        pending--;
      },
      () => {
        failed++;
        pending--;
      },
    );
  }
}

const TYPE_NAMES = new Map(Object.entries(T).map(([name, t]) => [t as number, name]));

/** Frames sent per `per` since `before` (a copy of `framesByType`), by type, largest first. */
function framesPer(before: number[], per: number): Record<string, number> {
  const now = sim.network.framesByType;
  const out: [string, number][] = [];
  for (let t = 0; t < now.length; t++) {
    const d = Number(((now[t] - before[t]) / per).toFixed(2));
    if (d > 0) out.push([TYPE_NAMES.get(t) ?? `type ${t}`, d]);
  }
  return Object.fromEntries(out.sort((a, b) => b[1] - a[1]));
}

/** Runs simulated time in slices until `done()`, letting join promises settle in between. */
async function runUntil(done: () => boolean): Promise<void> {
  while (!done()) {
    events += sim.run(20);
    await Promise.resolve();
    await Promise.resolve();
  }
}

/** Grows the network to `target` nodes (joins that fail, e.g. by timing out, are retried). */
async function grow(target: number): Promise<void> {
  let lastLog = performance.now();
  while (live.length + pending < target) {
    const size = Math.min(
      Math.max(256, Math.floor(live.length / 8)),
      target - live.length - pending,
    );
    wave(size);
    await runUntil(() => pending <= size / 50);
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      log(`${live.length.toLocaleString("en-US")} nodes on the ring, ${pending} joining`);
    }
  }
  await runUntil(() => pending === 0);
  if (live.length < target) await grow(target);
}

/** `count` lookups of random keys from random nodes; how many reached the responsible node. */
async function lookups(count: number) {
  const ids = Float64Array.from(live, (n) => n.id).sort();
  const responsible = (key: number) => {
    let lo = 0, hi = ids.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (ids[m] < key) lo = m + 1;
      else hi = m;
    }
    return lo < ids.length ? ids[lo] : ids[0];
  };
  let answered = 0, right = 0, hops = 0, maxHops = 0;
  const w0 = performance.now(), c0 = cpuMs();
  for (let i = 0; i < count; i++) {
    const src = live[Math.floor(sim.random() * live.length)];
    const key = Math.floor(sim.random() * src.maxKey);
    const want = responsible(key);
    ringOf(src).lookup(key, (n, _p, h) => {
      answered++;
      if (n.id === want) right++;
      hops += h;
      if (h > maxHops) maxHops = h;
    });
  }
  const v0 = sim.clock.now();
  await runUntil(() => answered === count || sim.clock.now() - v0 > 10_000);
  return {
    count,
    answered,
    right,
    meanHops: hops / Math.max(1, answered),
    maxHops,
    wallS: (performance.now() - w0) / 1000,
    cpuS: (cpuMs() - c0) / 1000,
  };
}

const settings = {
  timing: DEFAULT_TIMING,
  turnedOff: [] as string[],
  fingers: "tango",
  succListSize: 4,
  latencyMs: [sim.network.options.minLatency, sim.network.options.maxLatency],
  waves: "an eighth of the network (at least 256) through random members; next wave at 98 %",
  settleMs: SETTLE_MS,
  steadyMs: STEADY_MS,
  lookups: LOOKUPS,
  seed: SEED,
};
log(
  `default protocol timing (heartbeat ${DEFAULT_TIMING.heartbeatMs} ms, finger refresh ${DEFAULT_TIMING.fingerRefreshMs} ms, ` +
    `stabilise ${DEFAULT_TIMING.stabilizeMs} ms, fingers looked up on join); sizes ${
      SIZES.join(", ")
    }`,
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
  const from = live.length;
  const w0 = performance.now(), c0 = cpuMs(), v0 = sim.clock.now(), e0 = events;
  const f0 = [...sim.network.framesByType];
  await grow(target);
  const join = {
    joined: live.length - from,
    wallS: (performance.now() - w0) / 1000,
    cpuS: (cpuMs() - c0) / 1000,
    simulatedS: (sim.clock.now() - v0) / 1000,
    events: events - e0,
    failedSoFar: failed,
    /** Frames per joiner by type (the maintenance of the nodes already there included). */
    framesPerJoin: framesPer(f0, live.length - from),
  };
  log(
    `${live.length.toLocaleString("en-US")} nodes: joined ${
      join.joined.toLocaleString("en-US")
    } in ${join.wallS.toFixed(0)} s (${join.cpuS.toFixed(0)} s CPU, ${
      join.simulatedS.toFixed(1)
    } s simulated)`,
  );
  log(
    `  frames per joiner: ${
      Object.entries(join.framesPerJoin).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
  );
  events += sim.run(SETTLE_MS);
  const f1 = [...sim.network.framesByType];
  const w1 = performance.now(), c1 = cpuMs();
  const perSecond: number[] = [];
  for (let t = 0; t < STEADY_MS; t += 1000) {
    perSecond.push(sim.run(Math.min(1000, STEADY_MS - t)));
  }
  const steadyEvents = perSecond.reduce((a, b) => a + b, 0);
  const steady = {
    wallPerSimS: (performance.now() - w1) / (STEADY_MS / 1000) / 1000,
    cpuPerSimS: (cpuMs() - c1) / (STEADY_MS / 1000) / 1000,
    eventsPerNodePerS: steadyEvents / live.length / (STEADY_MS / 1000),
    eventsPerNodeEachS: perSecond.map((x) => Number((x / live.length).toFixed(2))),
    /** Frames sent per node per simulated second, by type. */
    framesPerNodePerS: framesPer(f1, live.length * (STEADY_MS / 1000)),
    cpuUsPerNodePerSimS: 0,
  };
  steady.cpuUsPerNodePerSimS = (steady.cpuPerSimS * 1e6) / live.length;
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
  // Routing entries (distinct nodes) and connection ends per node, over a sample.
  let distinct = 0, ends = 0;
  const sample = live.slice(0, 2000);
  for (const n of sample) {
    distinct += new Set(ringOf(n).table!.known.map((x) => x.id)).size;
    const l = n.statistics().links;
    ends += l.in + l.out;
  }
  gc!();
  const mem = Deno.memoryUsage();
  const step = {
    nodes: live.length,
    join,
    joinCpuUsPerJoin: (join.cpuS * 1e6) / join.joined,
    steady,
    lookups: look,
    heapUsed: mem.heapUsed,
    external: mem.external,
    rss: mem.rss,
    heapPerNode: mem.heapUsed / live.length,
    timersPerNode: sim.clock.pending / live.length,
    table: { distinctEntries: distinct / sample.length, linkEnds: ends / sample.length },
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
// Pending virtual timers hold nothing real; exit without waiting for anything.
Deno.exit(0);
