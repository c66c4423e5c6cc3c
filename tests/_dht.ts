// Fixtures for DHT tests in the simulator: build a ring whose nodes share DHT options, compute
// where each replica lives, read many keys back.
import { Simulator, type SimulatorOptions } from "../lib/node/simulator.ts";
import type { NetOptions, NodeOptions, P2PNode } from "../lib/node/node.ts";
import { replicaPositions } from "../lib/services/dht/replicas.ts";

/** Options of {@linkcode dhtRing}. */
export interface DhtRingOptions extends SimulatorOptions {
  net?: NetOptions;
  dht?: NodeOptions["dht"];
  timing?: NodeOptions["timing"];
}

/** A settled ring of `n` nodes (joins in batches through the first node). */
export async function dhtRing(n: number, o: DhtRingOptions = {}): Promise<Simulator> {
  const sim = new Simulator(o);
  const node = { dht: o.dht, timing: o.timing };
  const first = sim.createNet({ net: { succListSize: 8, ...o.net }, ...node });
  const joins: Promise<P2PNode>[] = [];
  for (let i = 1; i < n; i++) {
    joins.push(sim.joinNet(first, node));
    if (i % 50 === 0) sim.run(300);
  }
  sim.run(20_000);
  await Promise.all(joins);
  return sim;
}

/** A random live node. */
export function anyNode(sim: Simulator): P2PNode {
  const live = sim.live;
  return live[Math.floor(sim.random() * live.length)];
}

/** Ids of the live nodes that hold the replicas of `key` (by the ring, not by asking them). */
export function holders(sim: Simulator, key: number, f: number): number[] {
  const ids = sim.live.map((x) => x.id).sort((a, b) => a - b);
  const maxKey = sim.live[0].maxKey;
  return replicaPositions(key, f, maxKey).map((p) => ids.find((id) => id >= p) ?? ids[0]);
}

/**
 * The first key from `start` on whose `f` replicas sit on `f` different nodes (a node whose
 * range spans more than `1/f` of the ring holds two replicas of some keys).
 */
export function spreadKey(sim: Simulator, start: number, f: number): number {
  for (let key = start; key < start + 10_000; key++) {
    if (new Set(holders(sim, key, f)).size === f) return key;
  }
  throw new Error(`No key from ${start} on has its ${f} replicas on ${f} different nodes`);
}

/** What reading every key of `want` back from random nodes found. */
export interface ReadBack {
  good: number;
  wrong: string[];
  missing: number[];
  failed: string[];
}

/** Reads every key of `want` from random nodes; `want` maps keys to the expected value. */
export async function readBack(sim: Simulator, want: Map<number, unknown>): Promise<ReadBack> {
  const out: ReadBack = { good: 0, wrong: [], missing: [], failed: [] };
  const reads = [...want].map(([key, value]) =>
    anyNode(sim).lookup(key).then(
      (e) => {
        if (e === undefined) out.missing.push(key);
        else if (JSON.stringify(e.value) === JSON.stringify(value)) out.good++;
        else out.wrong.push(`${key}: ${JSON.stringify(e.value)} ≠ ${JSON.stringify(value)}`);
      },
      (err) => void out.failed.push(`${key}: ${err.message}`),
    )
  );
  await sim.settle(Promise.all(reads), 100);
  return out;
}

/** Sum of a DHT statistic over the live nodes. */
export function dhtTotal(sim: Simulator, field: "items" | "repaired" | "handedOver"): number {
  return sim.live.reduce((a, x) => a + x.statistics().dht[field], 0);
}

/** Stops every node of a simulation. */
export function stopAll(sim: Simulator): void {
  for (const x of sim.nodes) x.crash();
}
