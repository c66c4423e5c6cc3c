/**
 * Fault experiments after the Chord paper (Stoica et al., SIGCOMM 2001, §6.4–6.5), run in the
 * deterministic simulator with the real protocol code and its default timing:
 *
 * 1. Repair time after one silent crash versus the failure detector's settings, and maintenance
 *    messages per node per second in a stable ring.
 * 2. Simultaneous failures: a stable ring, a fraction p of nodes fails at once (silently: only
 *    failure detectors can tell), then lookups after repair; we count lookups that fail for
 *    routing reasons (no answer, or an answer that is not the live responsible node).
 * 3. Lookups during churn: joins and silent crashes as Poisson processes at rate R each, one
 *    lookup per node per second, no retries.
 *
 * Each experiment runs at every scale given: network sizes multiplied by it, and with them the
 * churn rates (so that each node sees the same churn) and the lookups after simultaneous
 * failures. Figures that do not depend on the network's size should come out the same.
 *
 * Usage: deno run --v8-flags=--max-old-space-size=16000,--max-semi-space-size=64 \
 *          bench/faults.ts [--quick] [--seed N] [--scales 1,10] [--only repair,simultaneous,churn]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Simulator } from "../lib/node/simulator.ts";
import { responsibleAmong } from "./_lib.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { DEFAULT_TIMING, type RingTiming } from "../lib/core/ring.ts";

const args = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seed: { type: "string", default: "1" },
    scales: { type: "string", default: "1" },
    only: { type: "string", default: "repair,simultaneous,churn" },
  },
});
const only = new Set(args.values.only!.split(","));
const quick = args.values.quick!;
const seed = Number(args.values.seed);
const scales = args.values.scales!.split(",").map(Number);

function log(s: string): void {
  console.log(s);
}

function progress(s: string): void {
  console.error(`  ${s}`);
}

const n0 = (n: number) => n.toLocaleString("en-US");
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

async function build(
  n: number,
  succListSize: number,
  timing: Partial<RingTiming> = {},
  s = seed,
): Promise<Simulator> {
  const sim = new Simulator({ seed: s });
  const first = sim.createNet({ net: { succListSize }, timing });
  const joins: Promise<P2PNode>[] = [];
  for (let i = 1; i < n; i++) {
    joins.push(sim.joinNet(first, { timing }));
    if (i % 100 === 0) {
      sim.run(300);
      if (i % 2000 === 0) progress(`built ${n0(i)}/${n0(n)}`);
    }
  }
  sim.run(60_000);
  await Promise.all(joins);
  return sim;
}

/**
 * The live node responsible for a key, as the live set is when asked: the sorted ids are kept
 * until a node is crashed (`crashed()`) or a joiner given to `joining()` is on the ring.
 */
class Oracle {
  #sim: Simulator;
  #responsible: ((key: number) => number) | null = null;
  #joiners: P2PNode[] = [];

  constructor(sim: Simulator) {
    this.#sim = sim;
  }

  joining(node: Promise<P2PNode>, joiner: P2PNode): void {
    this.#joiners.push(joiner);
    node.catch(() => {}).finally(() => {
      this.#joiners = this.#joiners.filter((j) => j !== joiner);
    });
  }

  crashed(): void {
    this.#responsible = null;
  }

  responsible(key: number): number {
    if (this.#joiners.some((j) => j.status === "connected")) {
      this.#joiners = this.#joiners.filter((j) => j.status === "joining");
      this.#responsible = null;
    }
    this.#responsible ??= responsibleAmong(
      this.#sim.live.map((n) => n.id).sort((a, b) => a - b),
    );
    return this.#responsible(key);
  }
}

function lookupBatch(
  sim: Simulator,
  count: number,
  waitMs: number,
): { failed: number; hops: number } {
  const live = sim.live;
  const oracle = new Oracle(sim);
  let ok = 0;
  let hops = 0;
  for (let i = 0; i < count; i++) {
    const src = live[Math.floor(sim.random() * live.length)];
    const key = Math.floor(sim.random() * src.maxKey);
    const want = oracle.responsible(key);
    ringOf(src).lookup(key, (n, _p, h) => {
      if (n.id === want) ok++;
      hops += h;
    });
  }
  sim.run(waitMs);
  return { failed: (count - ok) / count, hops: hops / Math.max(1, ok) };
}

/** A Poisson-distributed count with mean `mean` (Knuth), drawn from the simulation's seed. */
function poisson(sim: Simulator, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = sim.random(); p > limit; p *= sim.random()) k++;
  return k;
}

async function repairTime(k: number) {
  const n = 200 * k;
  const rows = [];
  const settings = [[250, 250], [500, 500], [1000, 1000], [2000, 2000], [
    DEFAULT_TIMING.heartbeatMs,
    DEFAULT_TIMING.minTimeoutMs,
  ]];
  for (const [hb, to] of settings) {
    const timing = { heartbeatMs: hb, minTimeoutMs: to };
    const sim = await build(n, 4, timing);
    // Maintenance load in a stable ring: control messages per node per second.
    const c0 = sim.live.reduce((a, n) => a + n.statistics().control.sent, 0);
    sim.run(60_000);
    const c1 = sim.live.reduce((a, n) => a + n.statistics().control.sent, 0);
    const perNode = (c1 - c0) / sim.live.length / 60;
    const victim = sim.live[17];
    const t0 = sim.clock.now();
    let suspected = -1;
    const pred = sim.live.find((n) => n.info().succ.id === victim.id)!;
    const ev = pred.events();
    (async () => {
      for await (const e of ev) if (e.type === "suspect" && suspected < 0) suspected = e.time - t0;
    })();
    sim.vanish(victim);
    const live = sim.live.map((n) => ringOf(n).table!);
    let repaired = -1;
    for (let t = 0; t < 120_000 && repaired < 0; t += 50) {
      sim.run(50);
      const stale = live.some((tb) =>
        tb.pred?.id === victim.id || tb.succList.some((s) => s.id === victim.id) ||
        tb.fingers.some((f) => f?.id === victim.id)
      );
      if (!stale) repaired = sim.clock.now() - t0;
    }
    await new Promise((r) => setTimeout(r, 0));
    await ev.return?.();
    rows.push({ hb, to, suspected, repaired, perNode });
    progress(`repair, N = ${n0(n)}, heartbeat ${hb} ms: done`);
  }
  return { n, rows };
}

async function simultaneous(k: number) {
  const n = (quick ? 2000 : 10_000) * k;
  const count = (quick ? 2000 : 10_000) * k;
  const rows = [];
  for (const p of [0.05, 0.1, 0.2, 0.5]) {
    const sim = await build(n, 16);
    const live = sim.live;
    for (const node of live) if (sim.random() < p) sim.vanish(node);
    sim.run(60_000); // detection and repair
    rows.push({ p, ...lookupBatch(sim, count, 30_000) });
    progress(`simultaneous, N = ${n0(n)}, p = ${p}: done`);
  }
  return { n, count, rows };
}

async function churn(k: number) {
  const n = 500 * k;
  const duration = quick ? 300_000 : 1_200_000;
  const rows = [];
  for (const R of [0.05, 0.1, 0.2, 0.4]) {
    const rate = R * k;
    const sim = await build(n, 8);
    const oracle = new Oracle(sim);
    const first = sim.live[0];
    let total = 0;
    let failed = 0;
    let answered = 0;
    let hops = 0;
    const step = 1000;
    for (let t = 0; t < duration; t += step) {
      const live = sim.live;
      // Joins and silent crashes as Poisson processes: their counts in each one-second step.
      for (let j = poisson(sim, (rate * step) / 1000); j > 0; j--) {
        const via = live[Math.floor(sim.random() * live.length)] ?? first;
        const joiner = sim.joinNet(via);
        joiner.catch(() => {});
        oracle.joining(joiner, sim.nodes.at(-1)!);
      }
      for (let j = poisson(sim, (rate * step) / 1000); j > 0; j--) {
        if (live.length > 10) {
          const victim = live[Math.floor(sim.random() * live.length)];
          if (victim.status === "connected") {
            sim.vanish(victim);
            oracle.crashed();
          }
        }
      }
      // One lookup per node per second, judged against the live set when it answers.
      for (const src of live) {
        if (src.status !== "connected") continue;
        const key = Math.floor(sim.random() * src.maxKey);
        total++;
        let done = false;
        ringOf(src).lookup(key, (node, _p, h) => {
          done = true;
          answered++;
          hops += h;
          if (node.id !== oracle.responsible(key)) failed++;
        });
        sim.clock.timer(5_000, () => {
          if (!done) failed++;
        });
      }
      sim.run(step);
      await Promise.resolve();
    }
    sim.run(10_000);
    rows.push({
      R,
      rate,
      total,
      failed: failed / total,
      hops: hops / Math.max(1, answered),
      live: sim.live.length,
    });
    progress(`churn, N ≈ ${n0(n)}, R = ${rate}/s: done`);
  }
  return { n, duration, rows };
}

const t0 = performance.now();
log(`# Fault experiments (seed ${seed}${quick ? ", quick" : ""}; scales ${scales.join(", ")})`);

const repairs = [];
if (only.has("repair")) { for (const k of scales) repairs.push(await repairTime(k)); }
if (repairs.length) {
  log("\n## Repair time after one silent crash, versus failure-detector settings\n");
  log(
    `| heartbeat / min timeout | ${
      repairs.map((r) =>
        `N = ${
          n0(r.n)
        }: suspected after | all pointers repaired after | maintenance msgs / node / s`
      ).join(" | ")
    } |`,
  );
  log(`|---|${repairs.map(() => "---|---|---|").join("")}`);
  for (let i = 0; i < repairs[0].rows.length; i++) {
    const r0 = repairs[0].rows[i];
    log(
      `| ${r0.hb} / ${r0.to} ms${
        r0.hb === DEFAULT_TIMING.heartbeatMs && r0.to === DEFAULT_TIMING.minTimeoutMs
          ? " (default)"
          : ""
      } | ${
        repairs.map((r) => {
          const x = r.rows[i];
          return `${x.suspected.toFixed(0)} ms | ${x.repaired.toFixed(0)} ms | ${
            x.perNode.toFixed(2)
          }`;
        }).join(" | ")
      } |`,
    );
  }
}

const sims = [];
if (only.has("simultaneous")) { for (const k of scales) sims.push(await simultaneous(k)); }
if (sims.length) {
  log("\n## Simultaneous failures (successor list 16, silent crashes)\n");
  log(
    `| p (fraction failed) | ${
      sims.map((s) => `N = ${n0(s.n)} (${n0(s.count)} lookups): failed | mean hops`).join(" | ")
    } | Chord paper (failed ≈ lost keys) |`,
  );
  log(`|---|${sims.map(() => "---|---|").join("")}---|`);
  for (let i = 0; i < sims[0].rows.length; i++) {
    const p = sims[0].rows[i].p;
    log(
      `| ${p} | ${
        sims.map((s) => `${pct(s.rows[i].failed)} | ${s.rows[i].hops.toFixed(2)}`).join(" | ")
      } | ≈ ${(p * 100).toFixed(0)} % |`,
    );
  }
}

const churns = [];
if (only.has("churn")) { for (const k of scales) churns.push(await churn(k)); }
const paper: Record<number, string> = {
  0.05: "≈ 3 %",
  0.1: "≈ 6–7 %",
  0.2: "≈ 12 %",
  0.4: "≈ 23 %",
};
if (churns.length) {
  log(
    `\n## Lookups during churn (joins and silent crashes each at rate R, 1 lookup/node/s, no retries, ${
      churns[0].duration / 1000
    } s simulated)\n`,
  );
  log(
    `| R per 500 nodes (events/s) | ${
      churns.map((c) => `N ≈ ${n0(c.n)}: R | lookups | failed | mean hops | failed per hop`).join(
        " | ",
      )
    } | Chord paper (N = 500, 30 s stabilisation) |`,
  );
  log(`|---|${churns.map(() => "---|---|---|---|---|").join("")}---|`);
  for (let i = 0; i < churns[0].rows.length; i++) {
    const R = churns[0].rows[i].R;
    log(
      `| ${R} | ${
        churns.map((c) => {
          const x = c.rows[i];
          return `${x.rate} | ${n0(x.total)} | ${pct(x.failed)} | ${x.hops.toFixed(2)} | ${
            pct(x.failed / x.hops)
          }`;
        }).join(" | ")
      } | ${paper[R]} |`,
    );
  }
}
log(`\n(ran in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
Deno.exit(0);
