// Simulator experiments, run by bench/run.ts as child processes (one per experiment, so that each
// gets a fresh heap and its own V8 flags). Prints progress on stderr and one JSON line on stdout.
//
//   deno run --v8-flags=--expose-gc bench/_sim.ts routing  <N> <policy> [lookups]
//   deno run --v8-flags=--expose-gc bench/_sim.ts bcast    <N>
//
// How the network is built (the same for every experiment): the real protocol code over the
// in-memory transport and the virtual clock. Nodes join in batches of B concurrent joins, each
// through a random node already on the ring; a batch starts once the previous one's joins have
// all completed. Every joiner runs the default join (routed Join, JoinOk with the responsible
// node's fingers, then one lookup per finger target: `fingersOnJoin: true`). The failure
// detector's heartbeats and revival pings are switched off (no faults are injected here, and
// bench/run.ts says so beside these figures); stabilisation (5 s) and finger refresh (2 s) run at
// their defaults, and the ring settles for a while before measuring. The scale experiment, with
// the default timing and nothing off, is bench/scale.ts.
import { Simulator } from "../lib/node/simulator.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import type { FingerPolicyName } from "../lib/core/fingers.ts";
import { max, mean, quantile } from "./_lib.ts";

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const QUIET = { heartbeatMs: 1e9, reviveMs: 1e9, fingersOnJoin: true };

function log(s: string): void {
  console.error(s);
}

/** A growing simulated ring. */
class Ring {
  readonly sim: Simulator;
  readonly live: P2PNode[] = [];
  failed = 0;
  joinWallMs = 0;

  constructor(readonly policy: FingerPolicyName, seed: number, readonly maxKey = 2 ** 52) {
    this.sim = new Simulator({ seed });
    this.live.push(
      this.sim.createNet({ net: { fingers: policy, maxKey, succListSize: 4 }, timing: QUIET }),
    );
  }

  /** Grows to `n` nodes in batches of `batch`; calls `progress` now and then. */
  async grow(n: number, batch: number, deadline: number, progress?: (n: number) => void) {
    const t0 = performance.now();
    let lastReport = t0;
    while (this.live.length < n && performance.now() < deadline) {
      const want = Math.min(batch, n - this.live.length);
      let pending = want;
      for (let j = 0; j < want; j++) {
        const via = this.live[Math.floor(this.sim.random() * this.live.length)];
        this.sim.joinNet(via, { timing: QUIET }).then(
          (node) => {
            this.live.push(node);
            pending--;
          },
          () => {
            this.failed++;
            pending--;
          },
        );
      }
      for (let guard = 0; pending > 0 && guard < 5000; guard++) {
        this.sim.run(20);
        await Promise.resolve();
        await Promise.resolve();
      }
      if (progress && performance.now() - lastReport > 2000) {
        lastReport = performance.now();
        progress(this.live.length);
      }
    }
    this.joinWallMs += performance.now() - t0;
  }

  /** Runs `ms` of virtual time (stabilisation, finger refresh). */
  settle(ms: number): void {
    this.sim.run(ms);
  }

  /** Distinct routing entries per node (predecessor, successors, fingers, mesh). */
  tableSizes(): number[] {
    return this.live.map((n) => {
      const s = new Set<number>();
      ringOf(n).table!.forEachKnown((x) => s.add(x.id));
      return s.size;
    });
  }

  /** `count` lookups of random keys from random nodes, all issued at once. */
  lookups(count: number) {
    const ids = Float64Array.from(this.live.map((n) => n.id)).sort();
    const hops: number[] = [];
    let wrong = 0;
    const t0 = performance.now();
    const vt0 = this.sim.clock.now();
    for (let i = 0; i < count; i++) {
      const src = this.live[Math.floor(this.sim.random() * this.live.length)];
      const key = Math.floor(this.sim.random() * this.maxKey);
      let lo = 0, hi = ids.length;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (ids[m] < key) lo = m + 1;
        else hi = m;
      }
      const expected = lo < ids.length ? ids[lo] : ids[0];
      ringOf(src).lookup(key, (n, _p, h) => {
        hops.push(h);
        if (n.id !== expected) wrong++;
      });
    }
    for (let guard = 0; hops.length < count && guard < 2000; guard++) this.sim.run(10);
    const wallMs = performance.now() - t0;
    return {
      count,
      answered: hops.length,
      wrong,
      mean: mean(hops),
      p50: quantile(hops, 0.5),
      p99: quantile(hops, 0.99),
      max: max(hops),
      perSec: count / (wallMs / 1000),
      virtualMs: this.sim.clock.now() - vt0,
    };
  }

  memory() {
    gc();
    const m = Deno.memoryUsage();
    return { heapUsed: m.heapUsed, rss: m.rss, heapTotal: m.heapTotal };
  }
}

async function routing(n: number, policy: FingerPolicyName, lookups: number) {
  const t0 = performance.now();
  const r = new Ring(policy, 1);
  await r.grow(n, 64, Infinity, (k) => log(`  ${policy} N=${n}: ${k} nodes joined`));
  const vtBuilt = r.sim.clock.now();
  const framesJoin = r.sim.network.framesSent;
  r.settle(20_000);
  const buildMs = performance.now() - t0;
  const sizes = r.tableSizes();
  const look = r.lookups(lookups);
  return {
    task: "routing",
    n,
    policy,
    nodes: r.live.length,
    failedJoins: r.failed,
    buildMs,
    joinVirtualMs: vtBuilt,
    joinMsgsPerNode: framesJoin / n,
    table: { mean: mean(sizes), max: max(sizes) },
    lookups: look,
    mem: r.memory(),
  };
}

async function bcast(n: number) {
  const t0 = performance.now();
  const r = new Ring("tango", 5);
  await r.grow(n, 64, Infinity, (k) => log(`  broadcast N=${n}: ${k} nodes joined`));
  r.settle(20_000);
  const buildMs = performance.now() - t0;
  let received = 0;
  let lastAt = 0;
  let maxHops = 0;
  const readers = r.live.map((node) => {
    const it = node.messages();
    (async () => {
      for await (const m of it) {
        received++;
        maxHops = Math.max(maxHops, m.hops);
        lastAt = r.sim.clock.now();
      }
    })();
    return it;
  });
  const framesBefore = r.sim.network.framesSent;
  const traffic = () =>
    r.live.reduce((a, x) => a + x.statistics().data.sent + x.statistics().data.forwarded, 0);
  const sentBefore = traffic();
  const start = r.sim.clock.now();
  await r.live[0].broadcast({ hello: "everyone" });
  for (let i = 0; i < 200 && received < n - 1; i++) {
    r.sim.run(5);
    await new Promise((res) => setTimeout(res, 0));
  }
  const dataMsgs = traffic() - sentBefore;
  const plain = {
    received,
    dataMsgs,
    framesAll: r.sim.network.framesSent - framesBefore,
    depth: maxHops,
    virtualMs: lastAt - start,
  };
  // Acknowledged broadcast: the report comes back through the convergecast.
  const ack = await r.sim.settle(
    r.live[1].broadcast({ again: 1 }, { ack: true, timeoutMs: 60_000 }),
    5,
  );
  for (const it of readers) await it.return?.();
  return {
    task: "bcast",
    n,
    buildMs,
    latencyMs: { min: r.sim.network.options.minLatency, max: r.sim.network.options.maxLatency },
    plain,
    acked: { reached: ack.reached.length, rttMs: ack.rtt },
  };
}

const [task, a, b, c] = Deno.args;
let out: unknown;
if (task === "routing") out = await routing(Number(a), b as FingerPolicyName, Number(c ?? 5000));
else if (task === "bcast") out = await bcast(Number(a));
else throw new Error(`unknown task ${task}`);
console.log(JSON.stringify(out));
// Pending virtual timers hold nothing real; exit without waiting for anything.
Deno.exit(0);
