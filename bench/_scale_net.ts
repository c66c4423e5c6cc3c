// The network bench/scale.ts grows and measures: one simulator in this process (`LocalNet`), or
// one network split over shard processes (`ShardedNet`, bench/_scale_sharded.ts). The benchmark's
// phases see only this interface.
import process from "node:process";
import { Simulator } from "../lib/node/simulator.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";

/** Lookups' outcome. */
export interface LookupCounts {
  answered: number;
  right: number;
  hops: number;
  maxHops: number;
}

/** Heap and routing-table figures after a full GC. */
export interface HeapFigures {
  heapUsed: number;
  external: number;
  rss: number;
  /** Nodes sampled (the oldest), their distinct routing entries and connection ends in all. */
  sampled: number;
  distinct: number;
  ends: number;
  timers: number;
}

/** A growing simulated network, as the benchmark drives it. */
export interface ScaleNet {
  /** Nodes on the ring. */
  readonly size: number;
  /** Joins under way. */
  readonly pending: number;
  /** Joins that failed so far. */
  readonly failed: number;
  /** Starts `n` joins through random members. */
  wave(n: number): void;
  /** Runs `ms` of virtual time (letting promises settle after); returns the events run. */
  run(ms: number): Promise<number>;
  /** Virtual time now, ms. */
  now(): number;
  /** Frames sent so far by type (all shards). */
  framesByType(): Promise<number[]>;
  /** CPU time of the processes that simulate, ms. */
  cpuMs(): Promise<number>;
  /** `count` lookups of random keys from random nodes, each checked against the sorted ids. */
  lookups(count: number, limitMs: number): Promise<LookupCounts>;
  /** Heap after a full GC (all shards), and the table sizes of the `sample` oldest nodes. */
  heap(sample: number): Promise<HeapFigures>;
  /** Ends the simulation. */
  close(): Promise<void>;
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The id responsible for `key` among sorted `ids`. */
export function responsible(ids: Float64Array, key: number): number {
  let lo = 0, hi = ids.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (ids[m] < key) lo = m + 1;
    else hi = m;
  }
  return lo < ids.length ? ids[lo] : ids[0];
}

/** Starts `count` lookups from random nodes of `live`, counted into `into`. */
export function startLookups(
  live: readonly P2PNode[],
  random: () => number,
  ids: Float64Array,
  count: number,
  into: LookupCounts,
): void {
  for (let i = 0; i < count; i++) {
    const src = live[Math.floor(random() * live.length)];
    const key = Math.floor(random() * src.maxKey);
    const want = responsible(ids, key);
    ringOf(src).lookup(key, (n, _p, h) => {
      into.answered++;
      if (n.id === want) into.right++;
      into.hops += h;
      if (h > into.maxHops) into.maxHops = h;
    });
  }
}

/** Distinct routing entries and connection ends of `sample`. */
export function tableSizes(sample: readonly P2PNode[]): { distinct: number; ends: number } {
  let distinct = 0, ends = 0;
  for (const n of sample) {
    distinct += new Set(ringOf(n).table!.known.map((x) => x.id)).size;
    const l = n.statistics().links;
    ends += l.in + l.out;
  }
  return { distinct, ends };
}

/** The whole network in one simulator of this process. */
export class LocalNet implements ScaleNet {
  readonly sim: Simulator;
  readonly live: P2PNode[];
  pending = 0;
  failed = 0;
  readonly #gc: () => void;

  constructor(seed: number, gc: () => void) {
    this.sim = new Simulator({ seed });
    this.live = [this.sim.createNet()];
    this.#gc = gc;
  }

  get size(): number {
    return this.live.length;
  }

  wave(n: number): void {
    const { sim, live } = this;
    for (let j = 0; j < n; j++) {
      const via = live[Math.floor(sim.random() * live.length)];
      this.pending++;
      sim.joinNet(via).then(
        (node) => {
          live.push(node);
          this.pending--;
        },
        () => {
          this.failed++;
          this.pending--;
        },
      );
    }
  }

  async run(ms: number): Promise<number> {
    const n = this.sim.run(ms);
    await Promise.resolve();
    await Promise.resolve();
    return n;
  }

  now(): number {
    return this.sim.clock.now();
  }

  framesByType(): Promise<number[]> {
    return Promise.resolve([...this.sim.network.framesByType]);
  }

  cpuMs(): Promise<number> {
    return Promise.resolve(processCpuMs());
  }

  async lookups(count: number, limitMs: number): Promise<LookupCounts> {
    const ids = Float64Array.from(this.live, (n) => n.id).sort();
    const got = { answered: 0, right: 0, hops: 0, maxHops: 0 };
    startLookups(this.live, this.sim.random, ids, count, got);
    const v0 = this.now();
    while (got.answered < count && this.now() - v0 <= limitMs) await this.run(20);
    return got;
  }

  heap(sample: number): Promise<HeapFigures> {
    const some = this.live.slice(0, sample);
    const t = tableSizes(some);
    this.#gc();
    const mem = Deno.memoryUsage();
    return Promise.resolve({
      heapUsed: mem.heapUsed,
      external: mem.external,
      rss: mem.rss,
      sampled: some.length,
      ...t,
      timers: this.sim.clock.pending,
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
