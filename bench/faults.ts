/**
 * Fault experiments after the Chord paper (Stoica et al., SIGCOMM 2001, §6.4–6.5), run in the
 * deterministic simulator with the real protocol code:
 *
 * 1. Simultaneous failures: a stable ring, a fraction p of nodes fails at once (silently: only
 *    failure detectors can tell), then lookups after repair; we count lookups that fail for
 *    routing reasons (no answer, or an answer that is not the live responsible node).
 * 2. Lookups during churn: joins and silent crashes as Poisson processes at rate R each, one
 *    lookup per node per second, no retries.
 * 3. Repair time after one crash versus the failure detector's settings, and maintenance
 *    messages per node per second in a stable ring.
 *
 * Usage: deno run bench/faults.ts [--quick] [--seed N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Simulator } from "../lib/node/simulator.ts";
import { responsibleAmong } from "./_lib.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import type { RingTiming } from "../lib/core/ring.ts";

const args = parseArgs({
  options: { quick: { type: "boolean", default: false }, seed: { type: "string", default: "1" } },
});
const quick = args.values.quick!;
const seed = Number(args.values.seed);

function log(s: string): void {
  console.log(s);
}

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
      if (i % 2000 === 0) await Deno.stdout.write(new TextEncoder().encode(`  built ${i}/${n}\r`));
    }
  }
  sim.run(60_000);
  await Promise.all(joins);
  return sim;
}

/** Responsible-node oracle over the live set, recomputed on demand. */
function oracle(sim: Simulator): (key: number) => number {
  return responsibleAmong(sim.live.map((n) => n.id).sort((a, b) => a - b));
}

function lookupBatch(
  sim: Simulator,
  count: number,
  waitMs: number,
): { failed: number; hops: number } {
  const live = sim.live;
  const resp = oracle(sim);
  let ok = 0;
  let hops = 0;
  for (let i = 0; i < count; i++) {
    const src = live[Math.floor(sim.random() * live.length)];
    const key = Math.floor(sim.random() * src.maxKey);
    const want = resp(key);
    ringOf(src).lookup(key, (n, _p, h) => {
      if (n.id === want) ok++;
      hops += h;
    });
  }
  sim.run(waitMs);
  return { failed: (count - ok) / count, hops: hops / Math.max(1, ok) };
}

async function simultaneous(): Promise<void> {
  const n = quick ? 2000 : 10_000;
  log(`\n## Simultaneous failures (N = ${n}, successor list 16, silent crashes)\n`);
  log(
    "| p (fraction failed) | lookups | failed lookups (routing) | mean hops | Chord paper (failed ≈ lost keys) |",
  );
  log("|---|---|---|---|---|");
  for (const p of [0.05, 0.1, 0.2, 0.5]) {
    const sim = await build(n, 16);
    const live = sim.live;
    for (const node of live) if (sim.random() < p) sim.vanish(node);
    sim.run(60_000); // detection and repair
    const r = lookupBatch(sim, quick ? 2000 : 10_000, 30_000);
    log(
      `| ${p} | ${quick ? 2000 : 10_000} | ${(r.failed * 100).toFixed(2)} % | ${
        r.hops.toFixed(2)
      } | ≈ ${(p * 100).toFixed(0)} % |`,
    );
  }
}

async function churn(): Promise<void> {
  const n = 500;
  const duration = quick ? 300_000 : 1_200_000;
  log(
    `\n## Lookups during churn (N ≈ ${n}, joins and silent crashes each at rate R, 1 lookup/node/s, no retries, ${
      duration / 1000
    } s simulated)\n`,
  );
  log("| R (events/s) | lookups | failed | Chord paper (30 s stabilisation) |");
  log("|---|---|---|---|");
  const paper: Record<number, string> = {
    0.05: "≈ 3 %",
    0.1: "≈ 6–7 %",
    0.2: "≈ 12 %",
    0.4: "≈ 23 %",
  };
  for (const R of [0.05, 0.1, 0.2, 0.4]) {
    const sim = await build(n, 8);
    const first = sim.live[0];
    let total = 0;
    let failed = 0;
    const step = 1000;
    for (let t = 0; t < duration; t += step) {
      const live = sim.live;
      // Poisson arrivals per step: P(k ≥ 1) approximated per 1 s step for these small rates.
      if (sim.random() < R) {
        sim.joinNet(live[Math.floor(sim.random() * live.length)] ?? first).catch(() => {});
      }
      if (sim.random() < R && live.length > 10) {
        sim.vanish(live[Math.floor(sim.random() * live.length)]);
      }
      // One lookup per node per second, judged against the live set when it answers.
      for (const src of live) {
        const key = Math.floor(sim.random() * src.maxKey);
        total++;
        let answered = false;
        ringOf(src).lookup(key, (node) => {
          answered = true;
          if (node.id !== oracle(sim)(key)) failed++;
        });
        sim.clock.timer(5_000, () => {
          if (!answered) failed++;
        });
      }
      sim.run(step);
    }
    sim.run(10_000);
    log(`| ${R} | ${total} | ${((failed / total) * 100).toFixed(2)} % | ${paper[R]} |`);
  }
}

async function repairTime(): Promise<void> {
  log("\n## Repair time after one silent crash, versus failure-detector settings (N = 200)\n");
  log(
    "| heartbeat | min timeout | suspected after | all pointers repaired after | maintenance msgs / node / s (stable) |",
  );
  log("|---|---|---|---|---|");
  for (const [hb, to] of [[250, 250], [500, 500], [1000, 1000], [2000, 2000]]) {
    const timing = { heartbeatMs: hb, minTimeoutMs: to };
    const sim = await build(200, 4, timing);
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
    let repaired = -1;
    for (let t = 0; t < 120_000 && repaired < 0; t += 50) {
      sim.run(50);
      const stale = sim.live.some((n) => {
        const i = n.info();
        return i.pred?.id === victim.id || i.succList.some((s) => s.id === victim.id) ||
          i.fingers.some((f) => f.node?.id === victim.id);
      });
      if (!stale) repaired = sim.clock.now() - t0;
    }
    await new Promise((r) => setTimeout(r, 0));
    await ev.return?.();
    log(
      `| ${hb} ms | ${to} ms | ${suspected.toFixed(0)} ms | ${repaired.toFixed(0)} ms | ${
        perNode.toFixed(2)
      } |`,
    );
  }
}

const t0 = performance.now();
log(`# Fault experiments (seed ${seed}${quick ? ", quick" : ""})`);
await repairTime();
await simultaneous();
await churn();
log(`\n(ran in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
