/**
 * One node's part in the ring: the state the ring's components share, the table that dispatches
 * every frame the core handles, the periodic tick, and the port services use. Transport- and
 * clock-agnostic: the same code runs over TCP and in the simulator.
 *
 * The protocol itself lives in one file per concern:
 * - `join.ts`: joining through an access point, and accepting joiners (relaxed ring);
 * - `stabilize.ts`: notify/stabilise, successor-list propagation, graceful leave;
 * - `liveness.ts`: heartbeats, suspicion, the graveyard of suspected nodes, crash repair;
 * - `finger_upkeep.ts`: lookups, finger refresh and correction-on-use;
 * - `forwarding.ts`: routing frames one hop, delivery, undeliverable reports.
 *
 * What stays here (about 590 lines) is the hub those files share: the ring's state and counters,
 * the transport's events, the port, the lifecycle and the dispatch table. Each part is a few
 * dozen lines that every component reaches through `Ring`; split further, they would only pass
 * the same object around.
 *
 * @module
 */

import type {
  Clock,
  Encryption,
  Frame,
  Hello,
  LinkSecurity,
  NodeRef,
  Timer,
  Transport,
  TransportEvents,
  WireLimits,
} from "../com/transport.ts";
import { PROTOCOL_VERSION } from "../com/transport.ts";
import { generateStaticKeyPair } from "../com/noise/mod.ts";
import type { WireError } from "../wire/cbor.ts";
import { type DataFrame, T } from "../wire/schema.ts";
import type { EventBody, NodeEvent } from "./events.ts";
import { fingerPolicy } from "./fingers.ts";
import { FingerUpkeep } from "./finger_upkeep.ts";
import { idOfKey, KeyBook } from "./identity.ts";
import { Forwarder } from "./forwarding.ts";
import { Joining } from "./join.ts";
import { Liveness } from "./liveness.ts";
import {
  type Count,
  type Counted,
  DHT_DIRECT_TYPES,
  type DhtRoutedFrame,
  type KindCounters,
  type NetInfo,
  noKinds,
  type RingPort,
  type RoutedFrame,
  type TrafficCounters,
  type TrafficKind,
} from "./port.ts";
import { RoutingTable } from "./routing_table.ts";
import { Stabilizer } from "./stabilize.ts";

export type { NodeEvent } from "./events.ts";
export type { KindCounters, MessageKind, NetInfo, TrafficCounters, TrafficKind } from "./port.ts";

/** Timing and behaviour knobs of the ring protocol. */
export interface RingTiming {
  /** Period of the safety-net stabilisation with the successor, ms. @default 5000 */
  stabilizeMs: number;
  /** Period of the safety-net refresh of one finger (round robin), ms. @default 2000 */
  fingerRefreshMs: number;
  /** Look up every finger once after joining. @default true */
  fingersOnJoin: boolean;
  /** Time allowed for a join, ms. @default 10000 */
  joinTimeoutMs: number;
  /** Failure detector: a neighbour not heard from for this long is pinged, ms. @default 1000 */
  heartbeatMs: number;
  /**
   * Failure detector: least time a ping is given to be answered before its peer is suspected,
   * ms (a few TCP retransmissions on a lossy path fit in it). @default 3000
   */
  minTimeoutMs: number;
  /** Period of pings to suspected and crashed nodes, to notice they are back, ms. @default 5000 */
  reviveMs: number;
}

/** Default protocol timing (frozen: rings without timing options share it). */
export const DEFAULT_TIMING: Readonly<RingTiming> = Object.freeze({
  stabilizeMs: 5000,
  fingerRefreshMs: 2000,
  fingersOnJoin: true,
  joinTimeoutMs: 10000,
  heartbeatMs: 1000,
  minTimeoutMs: 3000,
  reviveMs: 5000,
});

/** The largest identifier space: sums of two ids stay exact in a double. */
export const MAX_KEY_LIMIT: number = 2 ** 52;

/** What the ring reports upwards to the node. */
export interface RingSink {
  /** An event for the event stream. */
  event(e: NodeEvent): void;
  /** Whether anybody reads the event stream (events are not even built otherwise). */
  listening(): boolean;
  /** Routed application messages reached the node responsible for their key. */
  deliver(frame: DataFrame): void;
  /** A frame for the services (group communication, acknowledgements, reports, the DHT). */
  service(from: NodeRef, frame: Frame): void;
  /**
   * A service's routed frame (a DHT request) reached the node that the next-hop rule says is
   * responsible for its key; the service checks its own range (the ring may be repairing).
   */
  routed(frame: DhtRoutedFrame): void;
  /**
   * This node accepts `joiner` as its predecessor and is about to answer its join: frames a
   * service sends the joiner now reach it before the answer (one FIFO link), so the joiner
   * knows what to wait for before it serves its range. The ring takes the joiner as predecessor
   * right after this call.
   */
  joining(joiner: NodeRef): void;
  /**
   * A graceful leave begins: services hand their state over while the node is still on the
   * ring. Returns whether they are doing so; the ring then tells its neighbours when `done` is
   * called (in that task, on the same links, so handed-over frames arrive first). The service
   * bounds the wait.
   */
  leaving(done: () => void): boolean;
}

/** A node's status on the ring. */
export type RingStatus = "joining" | "connected" | "alone" | "left" | "crashed";

function newCounters(): TrafficCounters {
  return { sent: 0, forwarded: 0, received: 0, dropped: 0 };
}

/** Frame types a node that has not joined yet may send (it has no place on the ring). */
const GUEST_FRAMES: ReadonlySet<number> = new Set([T.InfoReq, T.Find]);

/** One node's participation in the ring. */
export class Ring implements RingPort, TransportEvents {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timing: Readonly<RingTiming>;
  readonly sink: RingSink;
  /** What frames from peers are checked against (the network's identifier space). */
  readonly limits: WireLimits = { maxKey: MAX_KEY_LIMIT };
  /** Network characteristics; `null` until joined. */
  net: NetInfo | null = null;
  /** Routing state; `null` until joined. */
  table: RoutingTable | null = null;
  /** Node id (chosen before the table exists, for a joiner). */
  id: number;
  /** Where this node stands. */
  status: RingStatus = "joining";
  /** Application-traffic counters, by kind; made on first use (most simulated nodes never). */
  #kinds: Record<TrafficKind, KindCounters> | null = null;
  /** Protocol-message counters. */
  readonly control: TrafficCounters = newCounters();
  /** Dropped frames by reason; made at the first one. */
  #badFrames: Record<string, number> | null = null;
  readonly random: () => number;
  /** How this node's links are secured (the transport reads it at every link). */
  readonly security: LinkSecurity;
  /** The encryption this node insists on, or `null` to adopt its network's. */
  readonly encryptionChoice: Encryption | null;
  /** Keys of the peers this node linked with, by id. */
  readonly keys: KeyBook = new KeyBook();
  readonly joining: Joining;
  readonly stabilizer: Stabilizer;
  readonly liveness: Liveness;
  readonly fingers: FingerUpkeep;
  readonly forwarder: Forwarder;
  /** The periodic tick. */
  #tick: Timer | null = null;
  /** What the tick runs: made once, not at every tick (every simulated node ticks each second). */
  readonly #onTickFn = (): void => this.#onTick();
  #due: number[] = [];
  /**
   * Every timer this node has pending, so that stopping leaves none behind; `null` while there
   * are none (most of the time: a simulated network would hold an empty set per node).
   */
  #pendingTimers: Set<Timer> | null = null;
  /** The network name a joiner expects (presented in hellos until it has joined). */
  readonly #expectName: string | null;

  /** Creates a ring member; call {@linkcode Ring.create} or {@linkcode Ring.join} next. */
  constructor(options: {
    transport: Transport;
    clock: Clock;
    sink: RingSink;
    random: () => number;
    id: number | null;
    timing?: Partial<RingTiming>;
    expectName?: string | null;
    security: LinkSecurity;
    encryptionChoice?: Encryption | null;
  }) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.sink = options.sink;
    // Shared when not changed: one copy per node would cost ~80 bytes each in a simulation.
    this.timing = options.timing ? { ...DEFAULT_TIMING, ...options.timing } : DEFAULT_TIMING;
    this.random = options.random;
    this.security = options.security;
    this.encryptionChoice = options.encryptionChoice ?? null;
    this.id = options.id ?? -1;
    const expectName = options.expectName ?? null;
    this.joining = new Joining(this, expectName);
    this.stabilizer = new Stabilizer(this);
    this.liveness = new Liveness(this);
    this.fingers = new FingerUpkeep(this);
    this.forwarder = new Forwarder(this);
    this.#expectName = expectName;
    // The ring is its transport's listener itself: a simulated network holds a million rings,
    // and an object of seven closures each would cost some 500 bytes per node.
    this.transport.bind(this);
  }

  // ---- the transport's events (TransportEvents) ----

  /** The identity this node presents in a handshake. */
  hello(): Omit<Hello, "mf"> {
    return {
      v: PROTOCOL_VERSION,
      name: this.net?.name ?? this.#expectName ?? "",
      net: this.net?.netId,
      id: this.id,
      host: this.transport.ap.hostname,
      port: this.transport.ap.port,
    };
  }

  /** A valid frame arrived from a peer. */
  frame(from: NodeRef, f: Frame): void {
    this.receive(from, f);
  }

  /** A frame from a peer broke the wire schema. */
  badFrame(_from: NodeRef, e: WireError): void {
    this.rejectFrame(e.reason);
  }

  /** The link to `peer` is gone. */
  peerDown(peer: NodeRef, why: string, unsent?: Frame[]): void {
    this.joining.onPeerDown(peer, why);
    this.liveness.onPeerDown(peer, why, unsent ?? []);
  }

  /**
   * Whether a peer's hello (and the static key it proved it holds, on an encrypted link) may be
   * accepted: the same network; in a network of key-derived ids, the id its key derives; and no
   * other key for an id that is live.
   */
  checkHello(h: Hello, key: Uint8Array | null): string | null {
    const net = this.net;
    if (net && h.net !== undefined && (h.name !== net.name || h.net !== net.netId)) {
      return `Peer belongs to network "${h.name}" (${h.net}), not "${net.name}" (${net.netId})`;
    }
    if (key === null || h.id < 0) return null;
    if (net?.idFromKey) {
      const derived = idOfKey(key, net.maxKey);
      if (derived !== h.id) return `Node id ${h.id} is not the id its key derives (${derived})`;
    }
    return this.keys.check(h.id, key, (id) => this.#isLive(id));
  }

  /** Application-traffic counters, by kind. */
  get kinds(): Record<TrafficKind, KindCounters> {
    return this.#kinds ??= noKinds();
  }

  /** Frames from peers dropped because they broke the schema or a protocol rule, by reason. */
  get badFrames(): Record<string, number> {
    return this.#badFrames ??= {};
  }

  /** Whether the node with id `id` is taken to be alive: linked, or in the routing table. */
  #isLive(id: number): boolean {
    if (this.transport.isLinked(id)) return true;
    const tb = this.table;
    if (!tb) return false;
    let known = false;
    tb.forEachKnown((n) => {
      if (n.id === id) known = true;
    });
    return known;
  }

  /** This node's static public key (made now if it had none: a network of key-derived ids). */
  publicKey(): Uint8Array {
    return (this.security.keyPair ??= generateStaticKeyPair()).publicKey;
  }

  /** This node as others know it. */
  get self(): NodeRef {
    return this.table ? this.table.self : { id: this.id, ap: this.transport.ap };
  }

  /** Whether the node is on a ring (with others, or alone). */
  get running(): boolean {
    return this.status === "connected" || this.status === "alone";
  }

  /** Counts a frame from a peer dropped for `reason` (see {@linkcode WireError.reason}). */
  rejectFrame(reason: WireError["reason"]): void {
    this.badFrames[reason] = (this.badFrames[reason] ?? 0) + 1;
  }

  /** Pushes an event on the event stream (built only when somebody reads it). */
  emit(e: EventBody): void {
    if (this.sink.listening()) this.sink.event({ ...e, time: this.clock.now() } as NodeEvent);
  }

  /** Whether anybody reads the event stream. */
  get listening(): boolean {
    return this.sink.listening();
  }

  /** Runs `fn` after `ms`, unless this node stops first. */
  timer(ms: number, fn: () => void): Timer {
    const t: Timer = this.clock.timer(ms, () => {
      this.#untrack(t);
      fn();
    });
    (this.#pendingTimers ??= new Set()).add(t);
    return {
      cancel: () => {
        t.cancel();
        this.#untrack(t);
      },
    };
  }

  #untrack(t: Timer): void {
    const pending = this.#pendingTimers;
    if (pending?.delete(t) && pending.size === 0) this.#pendingTimers = null;
  }

  /** Sends a control frame and counts it; a frame to this node itself is handled locally. */
  sendControl(to: NodeRef, frame: Frame): void {
    this.send(to, frame, "control", "sent");
  }

  // ---- the port services use ----

  send(to: NodeRef, frame: Frame, counted: Counted, count: Count): void {
    if (count !== null) {
      if (counted === "control") {
        if (count !== "retransmitted") this.control[count]++;
      } else this.kinds[counted][count]++;
    }
    if (to.id === this.id) {
      this.timer(0, () => this.receive(this.self, frame));
      return;
    }
    this.transport.send(to, frame);
  }

  route(frame: RoutedFrame, again = false): void {
    this.forwarder.route(null, frame, again);
  }

  lookup(key: number, done: (node: NodeRef, pred: NodeRef | null, hops: number) => void): void {
    this.fingers.lookup(key, done);
  }

  suspected(): NodeRef[] {
    return this.liveness.suspected();
  }

  ready(): Promise<void> {
    return this.transport.ready();
  }

  // ---- lifecycle ----

  /** Starts a new network as its only node. */
  create(net: NetInfo): void {
    this.adopt(net);
    if (net.idFromKey) this.id = idOfKey(this.publicKey(), net.maxKey);
    else if (this.id < 0) this.id = Math.floor(this.random() * net.maxKey);
    this.table = this.newTable(this.id);
    this.status = "alone";
    this.startTimers();
    this.emit({ type: "alone" });
  }

  /** Takes on a network's characteristics (its identifier space bounds every frame from now). */
  adopt(net: NetInfo): void {
    this.net = net;
    this.limits.maxKey = net.maxKey;
    this.security.encryption = net.encryption;
  }

  /** A routing table for this node with id `id`, in the adopted network. */
  newTable(id: number): RoutingTable {
    const net = this.net!;
    return new RoutingTable(
      { id, ap: this.transport.ap },
      net.maxKey,
      fingerPolicy(net.fingers, net.maxKey),
      net.succListSize,
    );
  }

  /**
   * Joins through the node at `ap`; `done` gets `null` once this node is on the ring, or the
   * error that prevented it.
   */
  join(ap: NodeRef["ap"], done: (err: Error | null) => void): void {
    this.joining.start(ap, done);
  }

  /**
   * Leaves gracefully: the services hand their state over first (see
   * {@linkcode RingSink.leaving}), then the ring tells both neighbours, flushes and closes links.
   */
  leave(): Promise<void> {
    if (this.status === "left" || this.status === "crashed") return Promise.resolve();
    if (!this.running) return this.#depart();
    const { promise, resolve } = Promise.withResolvers<void>();
    // Departing in the task where the service calls `done` (not a microtask later) keeps it at
    // that virtual time in the simulator.
    const later = this.sink.leaving(() => resolve(this.#depart()));
    return later ? promise : this.#depart();
  }

  async #depart(): Promise<void> {
    if (this.status === "left" || this.status === "crashed") return;
    this.stabilizer.announceLeave();
    this.status = "left";
    this.#stop();
    await this.transport.close();
    this.emit({ type: "left" });
  }

  /** Stops without telling anybody (a crash, for tests and tools). */
  crash(): void {
    if (this.status === "left" || this.status === "crashed") return;
    this.status = "crashed";
    this.#stop();
    this.transport.abort();
  }

  #stop(): void {
    this.#tick?.cancel();
    this.#tick = null;
    const pending = this.#pendingTimers;
    this.#pendingTimers = null;
    for (const t of pending ?? []) t.cancel();
    this.joining.stop();
  }

  /**
   * Periodic work runs from one timer per node (a simulated network of a million nodes holds a
   * million of them, not four million): each task keeps its own next due time. The first
   * heartbeat falls at a random phase, so that nodes do not act in lockstep, and every other
   * task at least as slow first falls a random whole number of heartbeat periods later: with
   * periods that are multiples of the heartbeat's (the defaults), every task runs at a
   * heartbeat, and a node's timer fires once per heartbeat period instead of at four unrelated
   * phases (a tenth of all the events of a simulated network at rest).
   */
  startTimers(): void {
    const now = this.clock.now();
    const beat = this.timing.heartbeatMs;
    const first = now + beat * (0.5 + this.random());
    this.#due = this.#periods().map((ms) =>
      ms < beat
        ? now + ms * (0.5 + this.random())
        : first + beat * Math.floor(this.random() * Math.round(ms / beat))
    );
    this.#schedule();
  }

  #periods(): number[] {
    const t = this.timing;
    return [t.stabilizeMs, t.fingerRefreshMs, t.heartbeatMs, t.reviveMs];
  }

  /** Period `i` of `#periods()`, without making the array at every tick. */
  #period(i: number): number {
    const t = this.timing;
    return i === 0
      ? t.stabilizeMs
      : i === 1
      ? t.fingerRefreshMs
      : i === 2
      ? t.heartbeatMs
      : t.reviveMs;
  }

  #schedule(): void {
    let next = Infinity;
    for (const d of this.#due) if (d < next) next = d;
    this.#tick = this.clock.timer(Math.max(0, next - this.clock.now()), this.#onTickFn);
  }

  #onTick(): void {
    if (!this.running) return;
    const now = this.clock.now();
    const due = this.#due;
    for (let i = 0; i < due.length; i++) {
      if (due[i] > now) continue;
      const late = now - due[i];
      due[i] = now + this.#period(i);
      if (!this.running) return;
      if (i === 0) this.stabilizer.stabilize();
      else if (i === 1) this.fingers.refreshOne();
      else if (i === 2) this.liveness.heartbeat(late);
      else this.liveness.pingGraveyard();
    }
    if (this.running) this.#schedule();
  }

  // ---- every frame the core handles ----

  /** Handles a frame from `from` (already validated against the schema by the transport). */
  receive(from: NodeRef, f: Frame): void {
    if (!this.running) {
      // Until its join completes, a node only takes the answers to its join.
      if (this.status !== "joining" || this.joining.holds(from, f)) return;
    }
    if (from.id < 0 && !GUEST_FRAMES.has(f.t)) return this.rejectFrame("guest");
    if (this.table) this.liveness.heard(from);
    switch (f.t) {
      case T.Ping:
        this.control.received++;
        return this.sendControl(from, { t: T.Pong, ts: f.ts });
      case T.Pong:
        this.control.received++;
        return this.liveness.onPong(from, f.ts);
      case T.Data:
        // A first hop travels without its sender: it is the peer that sent it.
        if (f.s === undefined) f.s = from;
        return this.forwarder.route(from, f);
      case T.Join:
      case T.Lookup:
      case T.DhtPrepare:
      case T.DhtAccept:
      case T.DhtRead:
      case T.DhtSyncReq:
        return this.forwarder.route(from, f);
      case T.InfoReq:
        if (this.net) this.sendControl(from, { t: T.Info, ...this.net });
        return;
      case T.Info:
        this.control.received++;
        return this.joining.onInfo(from, f);
      case T.Find:
        this.control.received++;
        return this.joining.onFind(from, f);
      case T.Found:
        this.control.received++;
        return this.joining.onFound(from, f);
      case T.JoinOk:
        this.control.received++;
        return this.joining.onJoinOk(from, f);
      case T.Notify:
        this.control.received++;
        return this.stabilizer.onNotify(from);
      case T.Stab:
        this.control.received++;
        return this.stabilizer.onStab(from, f.p ?? null, f.s);
      case T.Leave:
        this.control.received++;
        return this.stabilizer.onLeave(from, f.p, f.s);
      case T.LookupOk:
        this.control.received++;
        return this.fingers.onLookupOk(f);
      case T.Fix:
        this.control.received++;
        return this.fingers.learn(f.n);
      case T.Undeliverable:
      case T.Bcast:
      case T.Mcast:
      case T.Succ:
      case T.Ack:
      case T.BcastDone:
        return this.sink.service(from, f);
      default:
        // The DHT's answers, transfers and digests (its requests are routed, above).
        if (DHT_DIRECT_TYPES.has(f.t)) {
          this.kinds.dht.received++;
          return this.sink.service(from, f);
        }
        // Link frames (hello, accept, refuse, bye) never get past the transport.
        return this.rejectFrame("type");
    }
  }
}
