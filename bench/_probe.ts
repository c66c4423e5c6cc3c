// Where the simulator's time and memory go as the network grows, with the default protocol
// timing (heartbeats, finger refresh, stabilisation). A diagnostic, not part of the suite:
//
//   deno run -A --v8-flags=--expose-gc,--max-old-space-size=16000 bench/_probe.ts \
//     20000,40000,80000 [--batch=256|grow] [--profile]
//
// At each size: the cost of growing to it (CPU, virtual time, events), one more batch of joins
// measured alone, two simulated seconds of steady state, links per node, timers pending and heap
// per node after a forced GC. CPU time (process.cpuUsage, all threads) rather than wall time, so
// that figures taken on a shared machine stay comparable. With --profile, the functions with the
// most self time in the batch and in the steady state (V8's sampling profiler, in process).
import process from "node:process";
import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import { Simulator } from "../lib/node/simulator.ts";
import type { P2PNode } from "../lib/node/node.ts";

const { values: opts, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { batch: { type: "string", default: "256" }, profile: { type: "boolean" } },
});
const sizes = (positionals[0] ?? "20000,40000,80000").split(",").map(Number);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const session = new Session();
session.connect();
function post(method: string, params: object = {}): Promise<Record<string, unknown>> {
  return new Promise((res, rej) =>
    session.post(method, params, (e: unknown, r: unknown) => (e ? rej(e) : res(r as never)))
  );
}
if (opts.profile) {
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 200 });
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
async function profiled<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
  if (!opts.profile) return await fn();
  await post("Profiler.start");
  const r = await fn();
  const { profile } = await post("Profiler.stop") as {
    profile: { nodes: { id: number; callFrame: CallFrame }[]; samples: number[] };
  };
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const cf = frames.get(id)!;
    const key = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").pop()}:${
      cf.lineNumber + 1
    }`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  console.log(`    profile, ${label} (${total} samples, self time):`);
  for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
    console.log(`      ${((100 * c) / total).toFixed(1).padStart(5)} %  ${k}`);
  }
  return r;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const sim = new Simulator({ seed: 3 });
const live: P2PNode[] = [sim.createNet()];
let failed = 0;

/** Joins `want` nodes through random members and runs until every join settled. */
async function batch(want: number): Promise<number> {
  let pending = want;
  let events = 0;
  for (let j = 0; j < want; j++) {
    const via = live[Math.floor(sim.random() * live.length)];
    sim.joinNet(via).then((n) => {
      live.push(n);
      pending--;
    }, () => {
      failed++;
      pending--;
    });
  }
  while (pending > 0) {
    events += sim.run(20);
    await Promise.resolve();
    await Promise.resolve();
  }
  return events;
}

function batchSize(n: number): number {
  return opts.batch === "grow" ? Math.max(256, Math.floor(n / 8)) : Number(opts.batch);
}

console.log(
  `default timing, seed 3, batches of ${opts.batch}; CPU time of the process (all threads)`,
);
for (const target of sizes) {
  const c0 = cpuMs(), w0 = performance.now(), v0 = sim.clock.now(), n0 = live.length;
  let events = 0;
  while (live.length < target) {
    events += await batch(Math.min(batchSize(live.length), target - live.length));
  }
  const growCpu = cpuMs() - c0;
  console.log(
    `N=${live.length}: grew ${live.length - n0} in ${(growCpu / 1000).toFixed(1)} s CPU (${
      ((performance.now() - w0) / 1000).toFixed(1)
    } s wall), ${((sim.clock.now() - v0) / 1000).toFixed(1)} s virtual, ${events} events, ${
      ((growCpu * 1000) / events).toFixed(2)
    } µs CPU/event, ${(((live.length - n0) * 1000) / growCpu).toFixed(0)} joins per CPU s`,
  );
  const b = batchSize(live.length);
  const c1 = cpuMs(), v1 = sim.clock.now();
  const bev = await profiled(`one batch of ${b} joins`, () => batch(b));
  const bCpu = cpuMs() - c1;
  console.log(
    `  one batch of ${b} at N=${live.length}: ${bCpu.toFixed(0)} ms CPU, ${
      sim.clock.now() - v1
    } ms virtual, ${bev} events (${(bev / b).toFixed(0)} per join), ${
      ((bCpu * 1000) / bev).toFixed(2)
    } µs/event`,
  );
  sim.run(10_000);
  const c2 = cpuMs();
  const sev = await profiled("2 s of steady state", () => sim.run(2000));
  const sCpu = cpuMs() - c2;
  const N = live.length;
  let links = 0;
  for (const n of live) {
    const s = n.statistics().links;
    links += s.in + s.out;
  }
  gc();
  const heap = Deno.memoryUsage().heapUsed;
  console.log(
    `  steady: ${(sCpu / 2).toFixed(0)} ms CPU per simulated s, ${
      (sev / 2 / N).toFixed(2)
    } events/node/s, ${((sCpu * 1000) / sev).toFixed(2)} µs/event, ${
      ((sCpu * 1000) / 2 / N).toFixed(1)
    } µs CPU per node per simulated s`,
  );
  console.log(
    `  memory: ${(heap / N).toFixed(0)} B/node after GC, ${
      (links / N).toFixed(1)
    } link ends/node, ${
      (sim.clock.pending / N).toFixed(2)
    } timers/node; joins failed so far ${failed}`,
  );
}
Deno.exit(0);
