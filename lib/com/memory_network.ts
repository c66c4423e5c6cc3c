/**
 * The simulator's in-memory network: the address book of its {@linkcode MemoryTransport}s, the
 * latency and loss of the frames between them, partitions, and, when the network is split over
 * several simulators, what goes to the other shards (`memory_shard.ts`).
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { Codec, type FrameReader } from "../wire/codec.ts";
import type { VirtualClock } from "./virtual_clock.ts";
import { type CrossMessage, shardOfPort, type ShardOptions } from "./memory_shard.ts";
import type { NodeRef } from "./transport.ts";
import { Arrival, MemoryTransport } from "./memory.ts";

/** Options of a simulated network. */
export interface MemoryNetworkOptions {
  /** Minimum one-way latency in ms. @default 1 */
  minLatency?: number;
  /** Maximum one-way latency in ms. @default 5 */
  maxLatency?: number;
  /** Probability that a data-bearing frame is lost in transit. @default 0 */
  loss?: number;
  /** Pass every frame through the wire codec (encoded, then read and validated). @default false */
  codec?: boolean;
  /**
   * This network is one shard of a larger one (see `memory_shard.ts`): it makes the ports of shard
   * `index` of `count`, and what goes to the ports of other shards waits in
   * {@linkcode MemoryNetwork.outbox} for the end of the window (the minimum latency, which must be
   * positive).
   */
  shard?: ShardOptions;
}

/**
 * A simulated network joining many {@linkcode MemoryTransport}s.
 *
 * @example Injecting loss
 * ```ts
 * import { Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator({ seed: 3 });
 * sim.network.options.loss = 0.1; // 10 % of frames vanish from now on
 * assert.equal(sim.network.options.loss, 0.1);
 * ```
 */
export class MemoryNetwork {
  /** The clock all transports schedule on. */
  readonly clock: VirtualClock;
  readonly #random: () => number;
  readonly #nodes = new Map<number, MemoryTransport>();
  #nextPort: number;
  /** Latency bounds and loss; may be changed between phases of a run. */
  options: Required<Omit<MemoryNetworkOptions, "codec" | "shard">>;
  /** The wire codec frames pass through, when the network was made with `codec`. */
  readonly codec: Codec | null;
  /** Which shard of a larger network this is, or `null`. */
  readonly shard: ShardOptions | null;
  /** The codec of the frames that go to other shards. */
  readonly #wire: Codec | null;
  #wireReader: FrameReader | null = null;
  #remoteRefs: Map<number, NodeRef> | null = null;
  /**
   * Messages for other shards, in the order sent: the driver takes them at the end of each window
   * ({@linkcode MemoryNetwork.takeOutbox}) and hands each to {@linkcode MemoryNetwork.deliver} of
   * the shard its port belongs to.
   */
  outbox: CrossMessage[] = [];
  /** Partition groups: two transports in different non-zero groups cannot reach each other. */
  readonly group: Map<number, number> = new Map();
  /** Frames in flight or delivered, counted for message-complexity checks. */
  framesSent = 0;
  /** The same frames by type number (`T.Join`, ...), for message-complexity checks. */
  readonly framesByType: number[] = new Array<number>(32).fill(0);
  /** Connections opened so far; each is known by its number in this count. */
  linksOpened = 0;

  /** Creates a network over `clock`, drawing latency and loss from `random`. */
  constructor(clock: VirtualClock, random: () => number, options?: MemoryNetworkOptions) {
    options ??= {};
    this.clock = clock;
    this.#random = random;
    this.options = {
      minLatency: options.minLatency ?? 1,
      maxLatency: options.maxLatency ?? 5,
      loss: options.loss ?? 0,
    };
    this.codec = options.codec ? new Codec() : null;
    const shard = options.shard ?? null;
    if (
      shard &&
      !(Number.isSafeInteger(shard.count) && shard.count >= 1 &&
        Number.isSafeInteger(shard.index) &&
        shard.index >= 0 && shard.index < shard.count)
    ) {
      throw new InvalidArgumentError(
        `A shard must be numbered 0 to count - 1, got index ${shard.index} of ${shard.count}`,
      );
    }
    if (shard && !(this.options.minLatency > 0)) {
      throw new InvalidArgumentError("A sharded network needs a positive minimum latency");
    }
    this.shard = shard;
    this.#nextPort = shard ? shard.index + 1 : 1;
    this.#wire = shard ? (this.codec ?? new Codec()) : null;
  }

  /** The codec of the frames that go to other shards (a sharded network only). */
  get wire(): Codec {
    return this.#wire!;
  }

  /**
   * How the node at `port` is known in this shard when it comes from another: one record per
   * node for all the links and frames that name it (a record per link end, or per frame read,
   * would cost each its own). A function property, so that it serves as the codec's `intern`.
   */
  readonly remoteRef = (id: number, hostname: string, port: number): NodeRef => {
    const refs = this.#remoteRefs ??= new Map();
    const r = refs.get(port);
    if (r && r.id === id && r.ap.hostname === hostname) return r;
    const fresh = { id, ap: { hostname, port } };
    refs.set(port, fresh);
    return fresh;
  };

  /**
   * What reads the frames that come from other shards, one for all (they are read one at a time;
   * a reader's only state is its cursor and the last node it read).
   */
  get wireReader(): FrameReader {
    return this.#wireReader ??= this.wire.reader();
  }

  /** Whether `port` belongs to another shard. */
  remote(port: number): boolean {
    const s = this.shard;
    return s !== null && shardOfPort(port, s.count) !== s.index;
  }

  /** A new connection's number: unique across the shards of a network. */
  nextSerial(): number {
    const n = ++this.linksOpened;
    const s = this.shard;
    return s ? n * s.count + s.index : n;
  }

  /**
   * Takes what this shard sent to the others since the last call, one list per shard (its own
   * empty), in the order sent.
   */
  takeOutbox(): CrossMessage[][] {
    const out = this.outbox;
    this.outbox = [];
    const to: CrossMessage[][] = Array.from({ length: this.shard?.count ?? 1 }, () => []);
    for (const m of out) to[shardOfPort(m.to, to.length)].push(m);
    return to;
  }

  /** Takes in messages from other shards, each due at or after the current virtual time. */
  deliver(messages: readonly CrossMessage[]): void {
    const clock = this.clock;
    for (const m of messages) {
      if (!(m.at >= clock.now())) {
        throw new InvalidArgumentError(
          `A message from another shard is due at ${m.at} ms, before this shard's time ` +
            `(${clock.now()} ms): the shards are not run in step`,
        );
      }
      clock.schedule(m.at - clock.now(), new Arrival(this, m));
    }
  }

  /** Creates a transport with a fresh address. */
  transport(): MemoryTransport {
    const port = this.#nextPort;
    this.#nextPort += this.shard?.count ?? 1;
    const t = new MemoryTransport(this, { hostname: "sim", port });
    this.#nodes.set(port, t);
    return t;
  }

  /** The live transport at `port`, if any. */
  at(port: number): MemoryTransport | undefined {
    return this.#nodes.get(port);
  }

  /** Removes a dead transport. */
  remove(port: number): void {
    this.#nodes.delete(port);
  }

  /** Whether `a` and `b` can reach each other now. */
  reachable(a: number, b: number): boolean {
    if (this.group.size === 0) return true;
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  /** A latency drawn for one frame. */
  latency(): number {
    const { minLatency, maxLatency } = this.options;
    return minLatency + this.#random() * (maxLatency - minLatency);
  }

  /** Whether the next frame is lost. */
  lost(): boolean {
    return this.options.loss > 0 && this.#random() < this.options.loss;
  }
}
