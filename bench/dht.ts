/**
 * The DHT's figures (issue 14), each printed as a Markdown table with its settings:
 *
 * 1. `sim`: a simulated ring of 1,000 nodes holding 10,000 keys with f = 4 — every acknowledged
 *    insert read back from random nodes; then 25 % of the nodes crash at once (silently), repair
 *    runs, and every key is read again: how many keys lost all four replicas (≈ 0.25^4 of them
 *    expected) and whether every other key returns its value. On a fresh ring, 30 % of the nodes
 *    leave gracefully at once: nothing may be lost.
 * 2. `churn`: joins and silent crashes as Poisson processes at rate R each (as bench/faults.ts),
 *    one DHT lookup and one routing lookup per node per second: the share of failed DHT lookups
 *    (an error, or a value other than the one stored) beside the routing-only share.
 * 3. `tcp`: 16 nodes in 4 processes over TCP on this machine: inserts/s and lookups/s with
 *    latency p50/p99, and the lookup p50 against an acknowledged routed send to the same keys
 *    measured in the same run (rounds alternate; target ≤ 1.5×), and the CPU time per operation
 *    that the four processes used for each (with the load average: on 2 shared cores a
 *    one-at-a-time operation takes about as long as the CPU its messages cost).
 * 4. `memory`: heap per stored item (one replica of one key) in a simulated network holding
 *    1,000,000 items (250,000 keys × 4 replicas).
 *
 * Usage: deno run --allow-run --allow-read --v8-flags=--expose-gc,--max-old-space-size=8000
 *          bench/dht.ts [--quick] [--only=sim,churn,tcp,memory] [--seed N]
 * (`deno task bench:dht`). `--quick` shrinks every experiment (300 nodes, 2,000 keys, 100,000
 * items, shorter churn) so that the whole script runs in a few minutes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Simulator } from "../lib/node/simulator.ts";
import { ringOf } from "../lib/node/node.ts";
import {
  anyNode,
  dhtRing,
  dhtTotal,
  holders,
  type ReadBack,
  readBack,
  stopAll,
} from "../tests/_dht.ts";
import { DhtProcess } from "../tests/_dht_process.ts";
import { cpuMicros, fmt, mdTable, quantile, readProc, responsibleAmong } from "./_lib.ts";

const args = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", default: "sim,churn,tcp,memory" },
    seed: { type: "string", default: "1" },
  },
});
const quick = args.values.quick!;
const only = new Set(args.values.only!.split(","));
const seed = Number(args.values.seed);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const T0 = performance.now();

function log(s: string): void {
  console.log(s);
}

function progress(s: string): void {
  console.error(`[${((performance.now() - T0) / 1000).toFixed(0)}s] ${s}`);
}

/** Inserts `count` keys `${prefix}${k}` from random nodes, `batch` at a time; the keys → values. */
async function fill(
  sim: Simulator,
  count: number,
  prefix: string,
  batch = 1000,
): Promise<Map<number, unknown>> {
  const want = new Map<number, unknown>();
  for (let at = 0; at < count; at += batch) {
    const ws = [];
    for (let k = at; k < Math.min(count, at + batch); k++) {
      ws.push(anyNode(sim).insert(`${prefix}${k}`, { k }).then((r) => want.set(r.key, { k })));
    }
    await sim.settle(Promise.all(ws), 100);
  }
  return want;
}

function outcome(r: ReadBack): string {
  const { good, wrong, missing, failed } = r;
  const n = (xs: unknown[], what: string) => `${xs.length} ${what}`;
  return `${good} read back, ${n(wrong, "wrong")}, ${n(missing, "missing")}, ${
    n(failed, "failed")
  }`;
}

async function simulated(): Promise<void> {
  const n = quick ? 300 : 1000;
  const keys = quick ? 2000 : 10_000;
  log(`\n## Simulator: ${n} nodes, ${keys.toLocaleString("en-US")} keys, f = 4 (seed ${seed})\n`);
  const sim = await dhtRing(n, { seed, dht: { syncMs: 30_000 } });
  progress(`sim: ${n} nodes joined`);
  let t = performance.now();
  const want = await fill(sim, keys, "key-");
  const insertS = (performance.now() - t) / 1000;
  t = performance.now();
  const first = await readBack(sim, want);
  const readS = (performance.now() - t) / 1000;
  progress(`sim: inserted and read back`);
  const rows: (string | number)[][] = [
    [
      "insert, then read every key from a random node",
      `${want.size} of ${keys} inserts acknowledged`,
      outcome(first),
      `inserts ${fmt(insertS, 1)} s, reads ${fmt(readS, 1)} s wall`,
    ],
  ];
  // 25 % crash at once, silently.
  sim.run(35_000); // a sync round: every replica holds the last write
  const live = sim.live;
  const dead = new Set(
    live.map((x) => [sim.random(), x.id]).sort((a, b) => a[0] - b[0])
      .slice(0, Math.round(live.length / 4)).map((p) => p[1]),
  );
  const sets = [...want.keys()].map((k) => [k, holders(sim, k, 4)] as const);
  const lost = new Set(sets.filter(([, h]) => h.every((id) => dead.has(id))).map(([k]) => k));
  // The losses of one draw vary a lot (the keys of one arc share their four nodes): the mean
  // over other draws of as many nodes on this ring, for comparison.
  let drawn = 0;
  for (let d = 0; d < 200; d++) {
    const shuffled = live.map((x) => [Math.random(), x.id]).sort((a, b) => a[0] - b[0]);
    const set = new Set(shuffled.slice(0, dead.size).map((p) => p[1]));
    drawn += sets.filter(([, h]) => h.every((id) => set.has(id))).length;
  }
  for (const x of live) if (dead.has(x.id)) sim.vanish(x);
  t = performance.now();
  sim.run(60_000);
  const repairS = (performance.now() - t) / 1000;
  const after = await readBack(sim, want);
  const lostRead = after.missing.filter((k) => lost.has(k)).length;
  rows.push([
    `${dead.size} nodes (25 %) crash at once; 60 s of repair; read every key`,
    `${lost.size} keys lost all 4 replicas (expected ≈ ${fmt(keys * 0.25 ** 4, 1)} = ` +
    `0.25^4 · ${keys}; mean of 200 other draws on this ring ${fmt(drawn / 200, 1)})`,
    `${after.good} of the other ${want.size - lost.size} read back; ${after.wrong.length} wrong, ${
      after.missing.length - lostRead
    } missing, ${after.failed.length} failed`,
    `repair ${fmt(repairS, 1)} s wall; items ${dhtTotal(sim, "items")} = 4 × ${
      dhtTotal(sim, "items") / 4
    }`,
  ]);
  stopAll(sim);
  progress("sim: crash done");
  // A fresh ring: 30 % graceful leaves at once.
  const sim2 = await dhtRing(n, { seed: seed + 1 });
  const want2 = await fill(sim2, keys, "item-");
  sim2.run(5_000);
  const leavers = sim2.live.filter(() => sim2.random() < 0.3);
  t = performance.now();
  await sim2.settle(Promise.all(leavers.map((x) => x.leave())), 100);
  const leaveS = (performance.now() - t) / 1000;
  const left = await readBack(sim2, want2);
  rows.push([
    `${leavers.length} nodes (30 %) leave gracefully at once; read every key`,
    `${want2.size} keys`,
    outcome(left),
    `leaves ${fmt(leaveS, 1)} s wall; items ${dhtTotal(sim2, "items")} = 4 × ${
      dhtTotal(sim2, "items") / 4
    }`,
  ]);
  stopAll(sim2);
  log(mdTable(["experiment", "keys", "outcome", "notes"], rows));
}

async function churn(): Promise<void> {
  const n = quick ? 200 : 500;
  const duration = quick ? 120_000 : 300_000;
  const keys = quick ? 1000 : 2000;
  log(
    `\n## Lookups during churn (N ≈ ${n}, f = 4, ${keys} keys; joins and silent crashes ` +
      "each at rate R; each node does 1 DHT lookup (deadline 5 s) and 1 routing lookup " +
      `(no retries) per second; ${duration / 1000} s simulated)\n`,
  );
  const rows: (string | number)[][] = [];
  for (const R of [0.05, 0.1, 0.2, 0.4]) {
    const sim = await dhtRing(n, { seed, dht: { syncMs: 30_000 } });
    const want = await fill(sim, keys, "c-");
    const keyList = [...want.keys()];
    let dht = 0, dhtFailed = 0, routing = 0, routingFailed = 0;
    for (let t = 0; t < duration; t += 1000) {
      const live = sim.live;
      if (sim.random() < R) sim.joinNet(anyNode(sim)).catch(() => {});
      if (sim.random() < R && live.length > 10) sim.vanish(anyNode(sim));
      const ids = sim.live.map((x) => x.id).sort((a, b) => a - b);
      const resp = responsibleAmong(ids);
      for (const src of sim.live) {
        const key = keyList[Math.floor(sim.random() * keyList.length)];
        dht++;
        src.lookup(key, { timeoutMs: 5_000 }).then(
          (e) => {
            if ((e?.value as { k: number } | undefined)?.k !== (want.get(key) as { k: number }).k) {
              dhtFailed++;
            }
          },
          () => dhtFailed++,
        );
        const rk = Math.floor(sim.random() * src.maxKey);
        routing++;
        let answered = false;
        ringOf(src).lookup(rk, (node) => {
          answered = true;
          if (node.id !== resp(rk)) routingFailed++;
        });
        sim.clock.timer(5_000, () => {
          if (!answered) routingFailed++;
        });
      }
      sim.run(1000);
      await new Promise((r) => setTimeout(r, 0));
    }
    sim.run(10_000);
    await new Promise((r) => setTimeout(r, 0));
    const pct = (a: number, b: number) => `${fmt((100 * a) / b, 2)} %`;
    rows.push([R, dht, pct(dhtFailed, dht), pct(routingFailed, routing)]);
    progress(`churn R=${R}: DHT ${pct(dhtFailed, dht)}, routing ${pct(routingFailed, routing)}`);
    stopAll(sim);
  }
  log(
    mdTable([
      "R (events/s)",
      "DHT lookups",
      "failed DHT lookups",
      "failed routing lookups (same run)",
    ], rows),
  );
}

async function tcp(): Promise<void> {
  const MAX_KEY = 2 ** 40;
  const per = 4;
  const count = quick ? 1000 : 4000;
  const rounds = quick ? 3 : 5;
  log(`\n## Over TCP: 16 nodes in 4 processes (f = 4, values ≈ 30 bytes), client: one node\n`);
  const procs = Array.from({ length: 4 }, () => new DhtProcess());
  // Linux only (NaN elsewhere): the load, and the CPU time the four processes used.
  const load = () => attempt(() => readProc("loadavg").split(" ").slice(0, 3).join(" "), "?");
  const cpu = () => attempt(() => procs.reduce((a, p) => a + cpuMicros(p.child.pid), 0), NaN);
  const load0 = load();
  try {
    const id = (p: number, j: number) => (p * per + j) * (MAX_KEY / 16) + 77;
    const first = await procs[0].request({ op: "create", id: id(0, 0), maxKey: MAX_KEY });
    const ap = `127.0.0.1:${(first.ap as { port: number }).port}`;
    await procs[0].request({ op: "join", ap, ids: [1, 2, 3].map((j) => id(0, j)) });
    for (let p = 1; p < 4; p++) {
      await procs[p].request({ op: "join", ap, ids: [0, 1, 2, 3].map((j) => id(p, j)) });
    }
    await new Promise((r) => setTimeout(r, 3000));
    const client = procs[1];
    // Warm-up: every node's DHT starts (recovering its range once) and links open.
    await client.request({ op: "load", node: 0, prefix: "w-", count: 500, conc: 32 }, 300_000);
    const lat = (us: number[]) =>
      `${fmt(quantile(us, 0.5) / 1000, 2)} / ${fmt(quantile(us, 0.99) / 1000, 2)} ms`;
    const rows: (string | number)[][] = [];
    // Throughput: 32 operations in flight.
    const ins = await client.request(
      { op: "load", node: 0, prefix: "t-", count, conc: 32 },
      300_000,
    );
    const rd = await client.request(
      { op: "read", node: 0, prefix: "t-", count, conc: 32 },
      300_000,
    );
    rows.push([
      "insert, 32 in flight",
      fmt(count / ((ins.ms as number) / 1000), 0),
      lat(ins.us as number[]),
    ]);
    rows.push([
      `lookup, 32 in flight (${rd.found} of ${count} found)`,
      fmt(count / ((rd.ms as number) / 1000), 0),
      lat(rd.us as number[]),
    ]);
    // Latency one at a time, lookups and acknowledged sends to the same keys in alternate rounds.
    const look: number[] = [];
    const ping: number[] = [];
    const ratios: number[] = [];
    let lookCpu = 0, pingCpu = 0;
    let c0 = cpu();
    const each = Math.floor(count / rounds);
    for (let r = 0; r < rounds; r++) {
      const prefix = `t-`;
      const a = await client.request(
        { op: "read", node: 0, prefix, count: each, conc: 1 },
        300_000,
      );
      const c1 = cpu();
      const b = await client.request(
        { op: "ping", node: 0, prefix, count: each, conc: 1 },
        300_000,
      );
      lookCpu += c1 - c0;
      c0 = cpu();
      pingCpu += c0 - c1;
      look.push(...(a.us as number[]));
      ping.push(...(b.us as number[]));
      ratios.push(quantile(a.us as number[], 0.5) / quantile(b.us as number[], 0.5));
    }
    const ins1 = await client.request(
      { op: "load", node: 0, prefix: "u-", count: each, conc: 1 },
      300_000,
    );
    rows.push([
      "insert, one at a time",
      fmt(each / ((ins1.ms as number) / 1000), 0),
      lat(ins1.us as number[]),
    ]);
    rows.push([
      "lookup, one at a time",
      fmt(look.length / (look.reduce((x, y) => x + y, 0) / 1e6), 0),
      lat(look),
    ]);
    rows.push([
      "acknowledged routed send to the same keys, one at a time",
      fmt(ping.length / (ping.reduce((x, y) => x + y, 0) / 1e6), 0),
      lat(ping),
    ]);
    log(mdTable(["operation", "ops/s", "latency p50 / p99"], rows));
    const ratio = quantile(look, 0.5) / quantile(ping, 0.5);
    log(
      `\nLookup p50 / acknowledged send p50: **${fmt(ratio, 2)}×** (target ≤ 1.5×; per round: ${
        ratios.map((x) => fmt(x, 2)).join(", ")
      }).`,
    );
    // On a machine whose cores are all busy, a one-at-a-time operation takes about as long as
    // the CPU that all its messages cost, wherever they run: this says what each one costs.
    const lookUs = lookCpu / look.length;
    const pingUs = pingCpu / ping.length;
    log(
      `\nCPU per one-at-a-time operation, the four processes together: lookup ${
        fmt(lookUs, 0)
      } µs, acknowledged send ${fmt(pingUs, 0)} µs (${fmt(lookUs / pingUs, 2)}×). ` +
        `Load average at the start and end: ${load0} → ${load()}.`,
    );
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

/** `f()`, or `fallback` when it throws (a figure this platform cannot give). */
function attempt<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

async function memory(): Promise<void> {
  const items = quick ? 100_000 : 1_000_000;
  const keys = items / 4;
  const n = 1000;
  log(
    `\n## Memory per stored item (${n} simulated nodes, ${
      keys.toLocaleString("en-US")
    } keys × 4 replicas)\n`,
  );
  const sim = await dhtRing(n, { seed, timing: { heartbeatMs: 1e9, reviveMs: 1e9 } });
  // Every node holds a DHT before the baseline, so only items are measured.
  await fill(sim, 2000, "warm-");
  sim.run(45_000);
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const itemsBefore = dhtTotal(sim, "items");
  const t = performance.now();
  await fill(sim, keys, "m-", 5000);
  // Links opened for answers close after 30 s idle: what remains is what the items cost.
  sim.run(45_000);
  gc();
  const after = Deno.memoryUsage().heapUsed;
  const held = dhtTotal(sim, "items") - itemsBefore;
  const bytes = sim.live.reduce((a, x) => a + x.statistics().dht.bytes, 0);
  log(mdTable(["items held", "heap growth", "per item", "value bytes per item", "insert time"], [[
    held.toLocaleString("en-US"),
    `${fmt((after - before) / 2 ** 20, 1)} MiB`,
    `${fmt((after - before) / held, 0)} B`,
    fmt(bytes / dhtTotal(sim, "items"), 1),
    `${fmt((performance.now() - t) / 1000, 0)} s`,
  ]]));
  log(
    "\nAn item is a register (key, replica index, promise, accepted ballot, version, writer ids) " +
      "and its value's CBOR bytes (here `{ k }`, a few bytes), in a map by key.",
  );
  stopAll(sim);
}

log(`# DHT benchmarks${quick ? " (quick)" : ""}`);
if (only.has("sim")) await simulated();
if (only.has("churn")) await churn();
if (only.has("tcp")) await tcp();
if (only.has("memory")) await memory();
log(`\n(ran in ${fmt((performance.now() - T0) / 1000, 0)} s)`);
Deno.exit(0);
