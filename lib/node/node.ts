/**
 * The node object applications hold: it composes a transport, the ring protocol and the
 * services, validates arguments, and owns the message stream, the event stream and the
 * statistics. Its options and result types are in `options.ts`, the DHT's calls in
 * `dht_calls.ts`.
 *
 * It is about 660 lines because it is the public API: one class whose methods validate their
 * arguments and delegate (to the ring, the group services, the DHT), each with the documentation
 * and runnable example a user reads; the code of any one method is short.
 *
 * @module
 */

import type { AccessPoint, Frame, NodeRef } from "../com/transport.ts";
import { realClock } from "../com/transport.ts";
import { InvalidArgumentError, MessageTooLargeError, NodeClosedError } from "../errors.ts";
import { fingerPolicy } from "../core/fingers.ts";
import type { NodeEvent } from "../core/events.ts";
import { DHT_DIRECT_TYPES, type DhtRoutedFrame, type TrafficKind } from "../core/port.ts";
import { MAX_KEY_LIMIT, Ring, type RingSink, type RingStatus } from "../core/ring.ts";
import { type DataFrame, type FrameOf, HOP_LIMIT, MAX_SUCC_LIST, T } from "../wire/schema.ts";
import { decodeMessage, encodeValue } from "../wire/values.ts";
import {
  checkDhtOptions,
  checkReplication,
  type Entry,
  type LookupOptions,
  NodeDht,
  type WriteOptions,
  type WriteReceipt,
} from "./dht_calls.ts";
import { Fanout, type ReaderOptions } from "./fanout.ts";
import { SentWindow } from "./sent_window.ts";
import {
  type DeliveryReport,
  Group,
  type KindCounters,
  type MessageKind,
  type Receipt,
} from "../services/group.ts";

export type {
  AckOptions,
  DeliveryReport,
  KindCounters,
  MessageKind,
  Receipt,
} from "../services/group.ts";
export type { NodeEvent } from "../core/events.ts";
export type { TrafficKind } from "../core/port.ts";
export type { AccessPoint, NodeRef } from "../com/transport.ts";
export { MAX_KEY_LIMIT } from "../core/ring.ts";
export type {
  BroadcastOptions,
  Counters,
  Message,
  MulticastOptions,
  NetOptions,
  NodeInfo,
  NodeOptions,
  NodeParts,
  SendOptions,
  Statistics,
  SuccOptions,
} from "./options.ts";
import {
  type BroadcastOptions,
  type Counters,
  type Message,
  type MulticastOptions,
  type NetOptions,
  type NodeInfo,
  type NodeOptions,
  type NodeParts,
  securityOf,
  type SendOptions,
  type Statistics,
  type SuccOptions,
} from "./options.ts";
export type { NetInfo, RingStatus } from "../core/ring.ts";

let ringAccess: (node: P2PNode) => Ring;

/**
 * The protocol engine behind a node, for the library's own tools, tests and benchmarks (not
 * part of the public API).
 */
export function ringOf(node: P2PNode): Ring {
  return ringAccess(node);
}

function sumOfKinds(kinds: Record<TrafficKind, KindCounters>): Counters {
  const sum: Counters = { sent: 0, forwarded: 0, received: 0, dropped: 0 };
  for (const k of Object.values(kinds)) {
    sum.sent += k.sent;
    sum.forwarded += k.forwarded;
    sum.received += k.received;
    sum.dropped += k.dropped;
  }
  return sum;
}

function cryptoRandom(): number {
  const a = crypto.getRandomValues(new Uint32Array(2));
  return (a[0] * 2 ** 21 + (a[1] >>> 11)) / 2 ** 53;
}

/**
 * A node of a P2PS overlay network. Create one with {@linkcode createNet} or {@linkcode joinNet}
 * (TCP), or with a {@linkcode Simulator} (in memory, virtual time).
 *
 * @example Route to the node responsible for a key, in the simulator
 * ```ts
 * import { Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator({ seed: 1 });
 * const a = sim.createNet({ node: { id: 10 }, net: { maxKey: 100 } });
 * const b = await sim.settle(sim.joinNet(a, { node: { id: 60 } }));
 * const inbox = b.messages({ signal: AbortSignal.timeout(10_000) }); // ends after 10 s at most
 * await a.send(42, "for key 42", { toResp: true });
 * sim.run(100);
 * const { value } = await inbox.next();
 * assert.equal(value?.msg, "for key 42");
 * assert.equal(value?.kind, "send");
 * b.crash();
 * a.crash();
 * ```
 */
export class P2PNode implements AsyncDisposable {
  readonly #ring: Ring;
  readonly #messages = new Fanout<Message>();
  readonly #events = new Fanout<NodeEvent>();
  readonly #maxFrame: number;
  #nextId = 1;
  #undeliverable = 0;
  readonly #sentWindow = new SentWindow();
  readonly #hops = { total: 0, count: 0, max: 0 };
  #closed: Promise<void> | null = null;
  /** Handlers of service frames (group communication, acknowledgements). */
  #groupInstance: Group | null = null;
  /** The DHT's calls and the ring's hooks into it. */
  readonly #dht: NodeDht;

  /**
   * What the ring reports to its node: one small object per node (a simulated network holds a
   * million; an object of seven closures would cost some 500 bytes each).
   */
  static #Sink = class implements RingSink {
    readonly #node: P2PNode;
    constructor(node: P2PNode) {
      this.#node = node;
    }
    event(e: NodeEvent): void {
      this.#node.#events.push(e);
    }
    listening(): boolean {
      return this.#node.#events.readers > 0;
    }
    deliver(f: DataFrame): void {
      this.#node.#deliver(f);
    }
    service(from: NodeRef, f: Frame): void {
      this.#node.#service(from, f);
    }
    routed(f: DhtRoutedFrame): void {
      this.#node.#dht.routed(f);
    }
    joining(joiner: NodeRef): void {
      this.#node.#dht.joining(joiner);
    }
    leaving(done: () => void): boolean {
      return this.#node.#dht.leaving(done);
    }
  };

  /** Use {@linkcode createNet} or {@linkcode joinNet}. */
  constructor(parts: NodeParts, options?: NodeOptions) {
    options ??= {};
    this.#maxFrame = options.maxFrameSize ?? 1024 * 1024;
    const id = options.node?.id;
    if (id !== undefined && !(Number.isSafeInteger(id) && id >= 0)) {
      throw new InvalidArgumentError(`Node id must be a non-negative safe integer, got ${id}`);
    }
    this.#ring = new Ring({
      transport: parts.transport,
      clock: parts.clock ?? realClock,
      random: parts.random ?? cryptoRandom,
      id: id ?? null,
      timing: options.timing,
      expectName: options.net?.name ?? null,
      security: securityOf(parts, options),
      encryptionChoice: options.net?.encryption ?? null,
      sink: new P2PNode.#Sink(this),
    });
    this.#dht = new NodeDht(this.#ring, checkDhtOptions(options.dht, this.#maxFrame));
  }

  /** Group communication, created on first use: most simulated nodes never need it. */
  get #group(): Group {
    return this.#groupInstance ??= new Group({
      port: this.#ring,
      deliverLocal: (src, dst, payload, kind, hops, id) =>
        this.#deliverLocal(src, dst, payload, kind, hops, id),
    });
  }

  /** Starts this node as the first of a new network (used by {@linkcode createNet}). */
  startNet(net?: NetOptions): void {
    net ??= {};
    const maxKey = net.maxKey ?? MAX_KEY_LIMIT;
    if (!(Number.isSafeInteger(maxKey) && maxKey >= 2 && maxKey <= MAX_KEY_LIMIT)) {
      throw new InvalidArgumentError(
        `net.maxKey must be an integer in [2, 2^52], got ${net.maxKey}`,
      );
    }
    const fingers = net.fingers ?? "tango";
    fingerPolicy(fingers, maxKey);
    const succListSize = net.succListSize ?? 4;
    if (!(Number.isInteger(succListSize) && succListSize >= 1 && succListSize <= MAX_SUCC_LIST)) {
      throw new InvalidArgumentError(
        `net.succListSize must be an integer in [1, ${MAX_SUCC_LIST}], got ${net.succListSize}`,
      );
    }
    const replication = checkReplication(net.replication);
    const name = net.name ?? "p2ps";
    if (typeof name !== "string" || new TextEncoder().encode(name).length > 64) {
      throw new InvalidArgumentError(`net.name must be a string of at most 64 bytes`);
    }
    const r = this.#ring;
    if (r.id >= maxKey) {
      throw new InvalidArgumentError(`Node id ${r.id} is outside [0, ${maxKey})`);
    }
    if (net.idFromKey && r.id >= 0) {
      throw new InvalidArgumentError(
        "node.id cannot be chosen in a network that derives ids from keys (net.idFromKey)",
      );
    }
    r.create({
      name,
      netId: Math.floor(cryptoRandom() * 2 ** 52).toString(36),
      maxKey,
      fingers,
      succListSize,
      encryption: r.security.encryption,
      idFromKey: net.idFromKey ?? false,
      replication,
    });
  }

  /** Joins through `ap` (used by {@linkcode joinNet}); resolves once on the ring. */
  startJoin(ap: AccessPoint): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#ring.join(ap, (err) => (err ? reject(err) : resolve()));
    return promise;
  }

  /** This node's id. */
  get id(): number {
    return this.#ring.id;
  }

  /** This node's access point, as accepted by {@linkcode joinNet}. */
  get ap(): AccessPoint {
    return this.#ring.transport.ap;
  }

  /** The identifier-space size of the network. */
  get maxKey(): number {
    return this.#ring.net?.maxKey ?? MAX_KEY_LIMIT;
  }

  /** `joining`, `connected`, `alone`, `left` or `crashed`. */
  get status(): RingStatus {
    return this.#ring.status;
  }

  static {
    ringAccess = (node) => node.#ring;
  }

  /**
   * The message stream: every message delivered to this node from now on. Each call is an
   * independent reader; breaking out of the loop releases it.
   */
  messages(options?: ReaderOptions): AsyncIterableIterator<Message> {
    return this.#messages.subscribe(options);
  }

  /** The event stream: status changes from now on (`connected`, `alone`, `newpred`, ...). */
  events(options?: ReaderOptions): AsyncIterableIterator<NodeEvent> {
    return this.#events.subscribe(options);
  }

  #service(from: NodeRef, f: Frame): void {
    if (DHT_DIRECT_TYPES.has(f.t)) return this.#dht.frame(from, f);
    if (f.t !== T.Undeliverable) return this.#group.frame(from, f);
    // A report names messages this node sent and still tracks, each once (see SentWindow).
    if (!this.#sentWindow.claim(f.id, f.n, this.#nextId)) return this.#ring.rejectFrame("report");
    this.#undeliverable += f.n;
    if (f.n === 1) this.#groupInstance?.acks.undeliverable(f.id, f.d);
    this.#events.push({
      type: "undeliverable",
      time: this.#ring.clock.now(),
      id: f.id,
      count: f.n,
      dst: f.d,
      kind: f.kd,
      reason: f.why,
    });
  }

  #deliver(f: DataFrame): void {
    if (f.q !== undefined) return this.#group.deliverAcked(f);
    const { ps, k, h, id } = f;
    const src = f.s!;
    for (let i = 0; i < ps.length; i++) this.#deliverLocal(src, k, ps[i], "send", h, id + i);
  }

  /** Decodes and hands a message to the message stream. */
  #deliverLocal(
    src: NodeRef,
    dst: number,
    payload: Uint8Array,
    kind: MessageKind,
    hops: number,
    id: number,
  ): void {
    const counters = this.#ring.kinds[kind];
    let msg: unknown;
    try {
      msg = decodeMessage(payload);
    } catch {
      counters.dropped++;
      return;
    }
    counters.received++;
    const h = this.#hops;
    h.total += hops;
    h.count++;
    if (hops > h.max) h.max = hops;
    this.#messages.push({ src: src.id, srcAp: src.ap, dst, msg, kind, hops, id });
  }

  /** Throws unless the node can send. */
  #assertOpen(): void {
    const s = this.#ring.status;
    if (s !== "connected" && s !== "alone") {
      throw new NodeClosedError(`Node ${this.id} cannot send: it is ${s}`);
    }
  }

  /** Validates an id or key against the identifier space. */
  #checkKey(k: unknown, what = "dst"): number {
    if (typeof k !== "number" || !Number.isSafeInteger(k) || k < 0 || k >= this.maxKey) {
      throw new InvalidArgumentError(
        `${what} must be an integer in [0, ${this.maxKey}), got ${String(k)}`,
      );
    }
    return k;
  }

  /** Encodes a message value, enforcing the frame limit. */
  #encodePayload(msg: unknown): Uint8Array {
    let p: Uint8Array;
    try {
      p = encodeValue(msg);
    } catch (e) {
      throw new InvalidArgumentError(`Message cannot be encoded as CBOR: ${(e as Error).message}`, {
        cause: e,
      });
    }
    // Leave room for the routing header around the payload.
    if (p.length > this.#maxFrame - 512) {
      throw new MessageTooLargeError(
        `Message is ${p.length} bytes; the limit is ${this.#maxFrame - 512} bytes`,
      );
    }
    return p;
  }

  /** A fresh sender-local message id. */
  #nextMessageId(): number {
    return this.#nextId++;
  }

  /**
   * Sends `msg` to the node whose id is `dst`, or with `toResp` to the node responsible for key
   * `dst`. Resolves once the message has left this node and the send queues have room again
   * (awaiting each send paces a fast sender to the network). If no node has id `dst`, the event
   * stream gets an `undeliverable` event. With `ack`, resolves with a {@linkcode Receipt} once
   * the destination acknowledged it, or rejects with `NodeAbsentError` or `TimeoutError`.
   */
  send(dst: number, msg: unknown, options: SendOptions & { ack: true }): Promise<Receipt>;
  /** Sends without waiting for an acknowledgement. */
  send(dst: number, msg: unknown, options?: SendOptions): Promise<void>;
  send(dst: number, msg: unknown, options?: SendOptions): Promise<Receipt | void> {
    try {
      this.#assertOpen();
      this.#checkKey(dst);
      const p = this.#encodePayload(msg);
      const id = this.#nextMessageId();
      const toResp = options?.toResp ?? false;
      if (options?.ack) return this.#group.sendAcked(dst, toResp, p, id, options);
      const ring = this.#ring;
      ring.route(
        {
          t: T.Data,
          k: dst,
          h: 0,
          ph: 0,
          f: -1,
          s: ring.self,
          r: toResp,
          id,
          q: undefined,
          lo: undefined,
          ps: [p],
        } satisfies FrameOf<"Data">,
      );
      return ring.transport.ready();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends one message to each node in `dst` (ids), or with `toResp` to the nodes responsible for
   * those keys; the set travels as one message that splits along the routing table. A node
   * responsible for several keys receives it once. Destinations that do not exist are reported
   * (an `undeliverable` event, or `NodeAbsentError` with `ack`).
   */
  multicast(
    dst: number[],
    msg: unknown,
    options: MulticastOptions & { ack: true },
  ): Promise<DeliveryReport>;
  /** Multicasts without waiting for acknowledgements. */
  multicast(dst: number[], msg: unknown, options?: MulticastOptions): Promise<void>;
  multicast(
    dst: number[],
    msg: unknown,
    options: MulticastOptions = {},
  ): Promise<DeliveryReport | void> {
    try {
      this.#assertOpen();
      if (!Array.isArray(dst) || dst.length === 0) {
        throw new InvalidArgumentError("multicast needs a non-empty array of destinations");
      }
      const keys = [...new Set(dst.map((k, i) => this.#checkKey(k, `dst[${i}]`)))];
      const p = this.#encodePayload(msg);
      return this.#group.multicast.send(
        keys,
        options.toResp ?? false,
        p,
        this.#nextMessageId(),
        options.ack ? options : null,
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends `msg` to every other node exactly once (and to this one with `toMyself`), by interval
   * splitting: N−1 messages in a stable ring. With `ack`, resolves with the list of nodes reached.
   */
  broadcast(msg: unknown, options: BroadcastOptions & { ack: true }): Promise<DeliveryReport>;
  /** Broadcasts without waiting for acknowledgements. */
  broadcast(msg: unknown, options?: BroadcastOptions): Promise<void>;
  broadcast(msg: unknown, options: BroadcastOptions = {}): Promise<DeliveryReport | void> {
    try {
      this.#assertOpen();
      const p = this.#encodePayload(msg);
      return this.#group.broadcast.send(
        p,
        this.#nextMessageId(),
        options.toMyself ?? false,
        options.ack ? options : null,
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends `msg` to the next `nrSucc` nodes clockwise (a replica set), through the successor
   * list; asking for more nodes than the list holds still works, and a count beyond the ring
   * stops once the message has gone round. `nrSucc` is at most 255 (the hop limit: the message
   * travels from one successor to the next); to reach every node, broadcast.
   */
  sendToSucc(
    msg: unknown,
    nrSucc: number,
    options: SuccOptions & { ack: true },
  ): Promise<DeliveryReport>;
  /** Sends to successors without waiting for acknowledgements. */
  sendToSucc(msg: unknown, nrSucc: number, options?: SuccOptions): Promise<void>;
  sendToSucc(
    msg: unknown,
    nrSucc: number,
    options: SuccOptions = {},
  ): Promise<DeliveryReport | void> {
    try {
      this.#assertOpen();
      if (!(Number.isSafeInteger(nrSucc) && nrSucc >= 1 && nrSucc <= HOP_LIMIT)) {
        throw new InvalidArgumentError(
          `nrSucc must be an integer in [1, ${HOP_LIMIT}], got ${nrSucc}`,
        );
      }
      const p = this.#encodePayload(msg);
      return this.#group.succ.send(p, nrSucc, this.#nextMessageId(), options.ack ? options : null);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Stores `value` (any CBOR value up to `dht.maxValueBytes`, 64 KiB by default) under `key` (an
   * integer in `[0, maxKey)`, or a string hashed with `hashKey`) on the key's replica set, and
   * resolves once a majority of the replicas stored it. Every insert makes a new version; with
   * `ifVersion` (compare-and-set, `0`: only if absent) exactly one of concurrent writers wins
   * each version and the others get a `VersionConflictError` carrying the current one.
   *
   * @throws {InvalidArgumentError} a bad key, value or option.
   * @throws {MessageTooLargeError} a value over the limit.
   * @throws {VersionConflictError} `ifVersion` did not match (asynchronously).
   * @throws {QuorumError} no majority of replicas answered within `timeoutMs` (asynchronously).
   *
   * @example Insert, read back, compare-and-set, remove, in the simulator
   * ```ts
   * import { Simulator, VersionConflictError } from "@p2ps/p2ps";
   * import assert from "node:assert/strict";
   *
   * const sim = new Simulator({ seed: 2 });
   * const a = sim.createNet({ net: { maxKey: 2 ** 20 } });
   * const b = await sim.settle(sim.joinNet(a));
   * const { version } = await sim.settle(a.insert("color", "blue"));
   * assert.deepEqual(await sim.settle(b.lookup("color")), { value: "blue", version });
   * await assert.rejects(
   *   sim.settle(b.insert("color", "red", { ifVersion: version + 1 })),
   *   VersionConflictError,
   * );
   * await sim.settle(b.insert("color", "red", { ifVersion: version }));
   * await sim.settle(a.remove("color"));
   * assert.equal(await sim.settle(b.lookup("color")), undefined);
   * a.crash();
   * b.crash();
   * ```
   */
  insert(key: number | string, value: unknown, options?: WriteOptions): Promise<WriteReceipt> {
    return this.#dhtCall(() => this.#dht.insert(key, value, options));
  }

  /**
   * Reads `key` from its replica set: resolves with the value a majority of the replicas agree
   * on and its version, or `undefined` when the key is absent. One round trip when a majority
   * agree; otherwise a full round that also writes the newest value back. Replicas found stale
   * are repaired.
   *
   * @throws {InvalidArgumentError} a bad key or option.
   * @throws {QuorumError} no majority of replicas answered within `timeoutMs` (asynchronously).
   */
  lookup(key: number | string, options?: LookupOptions): Promise<Entry | undefined> {
    return this.#dhtCall(() => this.#dht.lookup(key, options));
  }

  /**
   * Removes `key`: its replicas keep a tombstone with a new version (removing an absent key
   * changes nothing and resolves with its version). Afterwards `lookup` resolves `undefined`.
   * With `ifVersion`, removes only that version.
   *
   * @throws {InvalidArgumentError} a bad key or option.
   * @throws {VersionConflictError} `ifVersion` did not match (asynchronously).
   * @throws {QuorumError} no majority of replicas answered within `timeoutMs` (asynchronously).
   */
  remove(key: number | string, options?: WriteOptions): Promise<WriteReceipt> {
    return this.#dhtCall(() => this.#dht.remove(key, options));
  }

  /** Runs a DHT call of an open node; every failure, thrown or not, is a rejection. */
  #dhtCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      this.#assertOpen();
      return call();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Counters of this node. */
  statistics(): Statistics {
    const r = this.#ring;
    const s = r.transport.stats;
    return {
      data: sumOfKinds(r.kinds),
      control: { ...r.control },
      links: { in: s.linksIn, out: s.linksOut },
      bytes: { in: s.bytesIn, out: s.bytesOut },
      frames: { in: s.framesIn, out: s.framesOut, dropped: s.framesDropped },
      badLinks: s.badLinks,
      shedLinks: s.shedLinks,
      badFrames: Object.values(r.badFrames).reduce((a, b) => a + b, 0),
      badFrameReasons: { ...r.badFrames },
      undeliverable: this.#undeliverable,
      hops: { ...this.#hops },
      streamOverflow: this.#messages.overflow + this.#events.overflow,
      kinds: structuredClone(r.kinds),
      dht: this.#dht.statistics(),
    };
  }

  /** A snapshot of the routing state. */
  info(): NodeInfo {
    const r = this.#ring;
    const tb = r.table;
    const self = r.self;
    return {
      id: self.id,
      ap: self.ap,
      status: r.status,
      pred: tb ? (tb.pred === tb.self ? null : tb.pred) : null,
      succ: tb ? tb.succ : self,
      succList: tb ? [...tb.succList] : [],
      fingers: tb ? tb.fingers.map((node, i) => ({ target: tb.target(i), node })) : [],
      net: r.net,
    };
  }

  /** Leaves the network gracefully; the streams end. Idempotent. */
  leave(): Promise<void> {
    if (!this.#closed) {
      this.#closed = this.#ring.leave().finally(() => this.#end());
    }
    return this.#closed;
  }

  /**
   * Stops at once without telling anybody (simulates a crash), also while a graceful leave is
   * still handing its DHT items over. The streams end.
   */
  crash(): void {
    const s = this.#ring.status;
    if (s === "left" || s === "crashed") return;
    this.#ring.crash();
    this.#end();
    this.#closed ??= Promise.resolve();
  }

  #end(): void {
    this.#dht.close(new NodeClosedError(`Node ${this.id} stopped before the DHT call completed`));
    this.#groupInstance?.close(
      new NodeClosedError(`Node ${this.id} stopped before delivery was acknowledged`),
    );
    this.#messages.close();
    this.#events.close();
  }

  /** Same as {@linkcode P2PNode.leave}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.leave();
  }
}
