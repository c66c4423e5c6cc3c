/**
 * The deterministic simulator: many nodes running the real protocol code in one process over
 * an in-memory network and a virtual clock, seeded so that every run is reproducible.
 *
 * Time only moves inside {@linkcode Simulator.run}; promises returned by
 * {@linkcode Simulator.joinNet} settle when the run that completes them returns.
 *
 * @module
 */

import { MemoryNetwork, type MemoryNetworkOptions } from "../com/memory_network.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { AccessPoint } from "../com/transport.ts";
import { seededRandom, VirtualClock } from "../com/virtual_clock.ts";
import { type NodeOptions, P2PNode } from "./node.ts";

/** Options of a simulation. */
export interface SimulatorOptions extends MemoryNetworkOptions {
  /** Seed of every random choice (ids, latency, loss, timer phases). @default 1 */
  seed?: number;
}

/**
 * Many nodes in one process, in virtual time.
 *
 * @example A 100-node ring and a broadcast
 * ```ts
 * import { Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator({ seed: 7 });
 * const first = sim.createNet();
 * for (let i = 0; i < 99; i++) sim.joinNet(first);
 * sim.run(10_000);
 * assert.equal(sim.live.length, 100);
 * const report = await sim.settle(first.broadcast("hi", { ack: true }));
 * assert.equal(report.reached.length, 99);
 * for (const n of sim.live) n.crash();
 * ```
 */
export class Simulator {
  /** The virtual clock. */
  readonly clock: VirtualClock = new VirtualClock();
  /** The in-memory network. */
  readonly network: MemoryNetwork;
  /** The seeded random source. */
  readonly random: () => number;
  /** Every node created, in creation order (including those that left or crashed). */
  readonly nodes: P2PNode[] = [];

  /** Creates a simulation. */
  constructor(options?: SimulatorOptions) {
    options ??= {};
    // Each shard of a network draws from its own sequence (ids, latencies), derived from the seed.
    this.random = seededRandom((options.seed ?? 1) + (options.shard?.index ?? 0) * 0x9e3779b9);
    this.network = new MemoryNetwork(this.clock, this.random, options);
  }

  /** Nodes that are on the ring now. */
  get live(): P2PNode[] {
    return this.nodes.filter((n) => n.status === "connected" || n.status === "alone");
  }

  /** Creates the first node of a network. */
  createNet(options?: NodeOptions): P2PNode {
    const node = this.#node(options ?? {});
    node.startNet(options?.net);
    return node;
  }

  /** Starts a join through `via`; the promise settles during a later {@linkcode Simulator.run}. */
  joinNet(via: AccessPoint | P2PNode, options?: NodeOptions): Promise<P2PNode> {
    const node = this.#node(options ?? {});
    const ap = via instanceof P2PNode ? via.ap : via;
    return node.startJoin(ap).then(() => node);
  }

  #node(options: NodeOptions): P2PNode {
    const node = new P2PNode(
      { transport: this.network.transport(), clock: this.clock, random: this.random },
      options,
    );
    this.nodes.push(node);
    return node;
  }

  /** Crashes `node` so that nobody is told: its links fall silent, only timeouts reveal it. */
  vanish(node: P2PNode): void {
    const t = this.network.at(node.ap.port);
    t?.vanish();
    node.crash();
  }

  /** Splits the network: nodes in different groups cannot reach each other until healed. */
  partition(groups: P2PNode[][]): void {
    groups.forEach((g, i) => g.forEach((n) => this.network.group.set(n.ap.port, i + 1)));
  }

  /** Ends every partition. */
  heal(): void {
    this.network.group.clear();
  }

  /** Runs virtual time forward by `ms` (or until nothing is scheduled). Returns events run. */
  run(ms = Infinity, maxEvents = Infinity): number {
    const until = ms === Infinity ? Infinity : this.clock.now() + ms;
    return this.clock.run(until, maxEvents);
  }

  /**
   * Runs the shards of one network forward by `ms` together: `shards[i]` made with
   * `{ shard: { index: i, count: shards.length } }`. They run in windows of the minimum latency
   * (no message between shards can arrive within one): each shard runs to the window's end, then
   * every shard takes in what the others sent it, in shard order. This runs them one after
   * another in this thread; a driver over threads or processes exchanges the same messages.
   * Returns the events run.
   *
   * @example Two shards, one ring
   * ```ts
   * import { Simulator } from "@p2ps/p2ps";
   * import assert from "node:assert/strict";
   *
   * const shards = [0, 1].map((index) => new Simulator({ seed: 5, shard: { index, count: 2 } }));
   * const first = shards[0].createNet();
   * const second = shards[1].joinNet(first);
   * Simulator.runShards(shards, 2_000);
   * assert.equal((await second).status, "connected");
   * for (const s of shards) for (const n of s.live) n.crash();
   * ```
   */
  static runShards(shards: readonly Simulator[], ms: number): number {
    shards.forEach((s, i) => {
      const sh = s.network.shard;
      if (!sh || sh.index !== i || sh.count !== shards.length) {
        throw new InvalidArgumentError(`Simulator ${i} is not shard ${i} of ${shards.length}`);
      }
    });
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new InvalidArgumentError(`runShards needs a finite time to run, got ${ms} ms`);
    }
    const start = shards[0].clock.now();
    const end = start + ms;
    let t = start, events = 0;
    while (t < end) {
      const w = Math.min(...shards.map((s) => s.network.options.minLatency));
      if (!(w > 0)) {
        throw new InvalidArgumentError("Shards need a positive minimum latency to run in step");
      }
      t = Math.min(end, t + w);
      for (const s of shards) events += s.clock.run(t);
      const sent = shards.map((s) => s.network.takeOutbox());
      for (const out of sent) out.forEach((ms, d) => shards[d].network.deliver(ms));
    }
    return events;
  }

  /** Runs until `promise` settles (checking between slices of `sliceMs`), then returns it. */
  async settle<T>(promise: Promise<T>, sliceMs = 100, limitMs = 600_000): Promise<T> {
    let done = false;
    const p = promise.finally(() => (done = true));
    const end = this.clock.now() + limitMs;
    while (!done && this.clock.now() < end) {
      this.run(sliceMs);
      await Promise.resolve();
      await Promise.resolve();
    }
    return await p;
  }
}
