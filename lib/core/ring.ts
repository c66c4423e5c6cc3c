/**
 * Ring maintenance and routing: join, notify/stabilise, graceful leave, crash repair, finger
 * correction, and forwarding of routed frames. Transport- and clock-agnostic: the same code runs
 * over TCP and in the simulator.
 *
 * Join follows the relaxed ring: the joiner's request is routed to the node responsible for its
 * id, which adopts the joiner as predecessor at once and answers with the old predecessor, its
 * successor list and its fingers; the old predecessor learns of the joiner from a `Stab` and
 * takes it as successor. Every step is between two nodes. A Chord-style notify/stabilise
 * exchange, triggered by events and repeated slowly as a safety net, settles concurrent joins.
 *
 * @module
 */

import { newNonce, proveSecret, verifySecret } from "../com/secret.ts";
import {
  type Clock,
  type Frame,
  type NodeRef,
  PROTOCOL_VERSION,
  type Timer,
  type Transport,
} from "../com/transport.ts";
import { JoinError, TimeoutError } from "../errors.ts";
import { FailureDetector } from "./failure_detector.ts";
import { fingerPolicy } from "./fingers.ts";
import { addMod, cw, inOC, inOO } from "./id_space.ts";
import {
  type DataFrame,
  type DataRunFrame,
  fromWire,
  messageCount,
  type NetInfo,
  type Routed,
  runMessage,
  T,
  toWire,
  type WireRef,
} from "./messages.ts";
import { Phase, RoutingTable } from "./routing_table.ts";
import { frameProblem } from "./validate.ts";

/** An event on a node's event stream. */
export interface NodeEvent {
  /** Event type: `connected`, `alone`, `newpred`, `newsucc`, `fingers`, `left`, ... */
  type: string;
  /** Virtual or wall-clock time of the event, in ms. */
  time: number;
  /** Fields that depend on the type (`pred`, `succ`, `peer`, `reason`, ...). */
  [field: string]: unknown;
}

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
  /** Failure detector: least silence after a heartbeat before suspicion, ms. @default 1000 */
  minTimeoutMs: number;
  /** Period of pings to suspected and crashed nodes, to notice they are back, ms. @default 5000 */
  reviveMs: number;
}

/** Default protocol timing. */
export const DEFAULT_TIMING: RingTiming = {
  stabilizeMs: 5000,
  fingerRefreshMs: 2000,
  fingersOnJoin: true,
  joinTimeoutMs: 10000,
  heartbeatMs: 1000,
  minTimeoutMs: 1000,
  reviveMs: 5000,
};

/** How long a crashed node is remembered and pinged in case it comes back, ms. */
const GRAVEYARD_MS = 120_000;
/** Links to non-neighbours idle this long are closed, ms. */
const IDLE_LINK_MS = 30_000;
/** Fingers are pinged this many times less often than ring neighbours. */
const FINGER_SCALE = 5;
/** How many crashed nodes are remembered. */
const GRAVEYARD_SIZE = 32;

/** Per-kind traffic counters. */
export interface TrafficCounters {
  /** Messages this node originated. */
  sent: number;
  /** Messages this node passed on for others. */
  forwarded: number;
  /** Messages delivered to this node. */
  received: number;
  /** Messages dropped here (hop limit, dead next hop, undeliverable). */
  dropped: number;
}

/** What the ring reports upwards to the node. */
export interface RingSink {
  /** An event for the event stream. */
  event(e: NodeEvent): void;
  /** Whether anybody reads the event stream (events are not even built otherwise). */
  listening(): boolean;
  /** A routed data frame (or run) reached the node responsible for its key. */
  deliver(frame: DataFrame | DataRunFrame): void;
  /** A frame type the ring does not handle (group communication, acknowledgements). */
  service(from: NodeRef, frame: Frame): void;
}

const MAX_HOPS = 255;

function newCounters(): TrafficCounters {
  return { sent: 0, forwarded: 0, received: 0, dropped: 0 };
}

/** One node's participation in the ring. */
export class Ring {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timing: RingTiming;
  readonly sink: RingSink;
  /** Network characteristics; `null` until joined. */
  net: NetInfo | null = null;
  /** Routing state; `null` until joined. */
  table: RoutingTable | null = null;
  /** Node id (chosen before the table exists, for a joiner). */
  id: number;
  /** `joining`, `connected`, `alone`, `left` or `crashed`. */
  status = "joining";
  /** Data-message counters. */
  readonly data: TrafficCounters = newCounters();
  /** Frames from peers dropped because their fields had the wrong shape. */
  badFrames = 0;
  /** Control-message counters. */
  readonly control: TrafficCounters = newCounters();
  /** Peers that announced a graceful leave, so their link loss is not a crash. */
  #leavers: Set<number> | null = null;
  /** The periodic tick. */
  #tick: Timer | null = null;
  /**
   * Every timer this node has pending, so that stopping leaves none behind; `null` while there
   * are none (most of the time: a simulated network would hold an empty set per node).
   */
  #pendingTimers: Set<Timer> | null = null;
  /** Lookups waiting for an answer, with when they were sent (swept by a periodic tick). */
  #lookups = new Map<
    number,
    { done: (n: NodeRef, pred: NodeRef | null, hops: number) => void; at: number }
  >();
  #nextReq = 1;
  #refreshIndex = 0;
  readonly #random: () => number;
  readonly #expectName: string | null;
  readonly #detector: FailureDetector;
  /**
   * Suspected or crashed nodes, pinged now and then: a false suspicion heals when they answer.
   * Created at the first suspicion (a simulated network would hold an empty map per node).
   */
  #graveyard: Map<number, { ref: NodeRef; since: number; crashed: boolean }> | null = null;

  get #grave(): Map<number, { ref: NodeRef; since: number; crashed: boolean }> {
    return this.#graveyard ??= new Map();
  }

  /** Creates a ring member; call {@linkcode Ring.create} or {@linkcode Ring.join} next. */
  constructor(options: {
    transport: Transport;
    clock: Clock;
    sink: RingSink;
    random: () => number;
    id: number | null;
    timing?: Partial<RingTiming>;
    expectName?: string | null;
    secret?: string | null;
  }) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.sink = options.sink;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#random = options.random;
    this.id = options.id ?? -1;
    this.#expectName = options.expectName ?? null;
    this.#detector = new FailureDetector(this.timing);
    const secret = options.secret ?? null;
    this.transport.bind({
      hello: () => ({
        magic: "p2ps",
        v: PROTOCOL_VERSION,
        name: this.net?.name ?? this.#expectName ?? "",
        net: this.net?.netId ?? null,
        id: this.id,
        ap: this.transport.ap,
        nonce: secret === null ? undefined : newNonce(),
        auth: secret !== null,
      }),
      prove: (peer) => (secret === null ? undefined : proveSecret(secret, peer, this.id)),
      verify: (mine, peer, proof) => verifySecret(secret, mine, peer, proof),
      checkHello: (h) => {
        if (!this.net || h.net === null) return null;
        if (h.name !== this.net.name || h.net !== this.net.netId) {
          return `Peer belongs to network "${h.name}" (${h.net}), not "${this.net.name}" (${this.net.netId})`;
        }
        return null;
      },
      frame: (from, f) => {
        if (frameProblem(f) === null) return this.#onFrame(from, f);
        this.badFrames++;
      },
      peerDown: (peer, why, unsent) => this.#onPeerDown(peer, why, unsent ?? []),
    });
  }

  /** This node as others know it. */
  get self(): NodeRef {
    return this.table ? this.table.self : { id: this.id, ap: this.transport.ap };
  }

  #wireSelf: WireRef | null = null;

  /** This node in the wire form messages carry as their sender. */
  get wireSelf(): WireRef {
    const self = this.self;
    if (this.#wireSelf?.[0] !== self.id) this.#wireSelf = toWire(self);
    return this.#wireSelf;
  }

  #emit(type: string, fields: Record<string, unknown> = {}): void {
    if (this.sink.listening()) this.sink.event({ type, time: this.clock.now(), ...fields });
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
    this.control.sent++;
    if (to.id === this.id) {
      this.timer(0, () => this.#onFrame(to, frame));
      return;
    }
    this.transport.send(to, frame);
  }

  /** Starts a new network as its only node. */
  create(net: NetInfo): void {
    this.net = net;
    if (this.id < 0) this.id = Math.floor(this.#random() * net.maxKey);
    this.table = new RoutingTable(
      { id: this.id, ap: this.transport.ap },
      net.maxKey,
      fingerPolicy(net.fingers, net.maxKey),
      net.succListSize,
    );
    this.status = "alone";
    this.#startTimers();
    this.#emit("alone");
  }

  /**
   * Joins through the node at `ap`; `done` gets `null` once this node is on the ring, or the
   * error that prevented it.
   */
  join(ap: NodeRef["ap"], done: (err: Error | null) => void): void {
    let finished = false;
    const timeout = this.timer(this.timing.joinTimeoutMs, () => {
      finish(
        new TimeoutError(
          `Join through ${ap.hostname}:${ap.port} did not complete within ${this.timing.joinTimeoutMs} ms`,
        ),
      );
    });
    const finish = (err: Error | null) => {
      if (finished) return;
      finished = true;
      timeout.cancel();
      this.#joinDone = null;
      done(err);
    };
    this.#joinDone = finish;
    // Until the network's identifier space is known, present a random provisional id, so that
    // concurrent joiners through one access point do not collide in its connection pool.
    const chosen = this.id;
    this.id = -1 - Math.floor(this.#random() * 2 ** 40);
    this.#chosenId = chosen;
    this.transport.dial(ap, (err, peer) => {
      if (err) return finish(err);
      this.#bootstrap = peer!;
      this.sendControl(peer!, { t: T.InfoReq });
    });
  }

  #joinDone: ((err: Error | null) => void) | null = null;
  #bootstrap: NodeRef | null = null;
  #chosenId = -1;
  /** Frames that arrived between our join request and its answer, replayed once joined. */
  #early: [NodeRef, Frame][] = [];

  #onInfo(from: NodeRef, net: NetInfo): void {
    if (!this.#joinDone || this.net) return;
    if (this.#expectName !== null && net.name !== this.#expectName) {
      return this.#joinDone(
        new JoinError(`Access point belongs to network "${net.name}", not "${this.#expectName}"`),
      );
    }
    const id = this.#chosenId >= 0 ? this.#chosenId : Math.floor(this.#random() * net.maxKey);
    if (!(Number.isSafeInteger(id) && id >= 0 && id < net.maxKey)) {
      return this.#joinDone(
        new JoinError(`Node id ${id} is outside the network's identifier space [0, ${net.maxKey})`),
      );
    }
    this.net = net;
    // Ask who is responsible for our id first: if it is a node with that very id, the id is
    // taken. (Nobody could answer that node's refusal: ids are connection keys.)
    const q = this.#nextReq++;
    this.#lookups.set(q, {
      at: this.clock.now(),
      done: (n) => {
        if (n.id === id) {
          return this.#joinDone?.(new JoinError(`Node id ${id} is already in use`));
        }
        // Links opened under the provisional id must not carry the real one: close them.
        this.transport.disconnect(from.id);
        if (n.id !== from.id) this.transport.disconnect(n.id);
        this.id = id;
        this.table = new RoutingTable(
          { id, ap: this.transport.ap },
          net.maxKey,
          fingerPolicy(net.fingers, net.maxKey),
          net.succListSize,
        );
        this.sendControl(from, { t: T.Join, k: id, h: 0, ph: Phase.Approach, f: -1, j: this.self });
      },
    });
    this.sendControl(from, {
      t: T.Lookup,
      k: id,
      h: 0,
      ph: Phase.Approach,
      f: -1,
      r: { id: this.id, ap: this.transport.ap },
      q,
    });
  }

  /** Leaves gracefully: hands the range to the successor, tells both neighbours, closes links. */
  async leave(): Promise<void> {
    if (this.status === "left" || this.status === "crashed") return;
    const tb = this.table;
    if (tb && !tb.alone) {
      const msg = { t: T.Leave, p: tb.pred ?? tb.self, s: tb.succList };
      this.sendControl(tb.succ, msg);
      if (tb.pred && tb.pred !== tb.self && tb.pred.id !== tb.succ.id) {
        this.sendControl(tb.pred, msg);
      }
    }
    this.status = "left";
    this.#stop();
    await this.transport.close();
    this.#emit("left");
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
    this.#joinDone?.(new JoinError("Node stopped while joining"));
  }

  get #running(): boolean {
    return this.status === "connected" || this.status === "alone";
  }

  /**
   * Periodic work runs from one timer per node (a simulated network of a million nodes holds a
   * million of them, not four million): each task keeps its own next due time, with a random
   * first phase so that nodes do not act in lockstep.
   */
  #startTimers(): void {
    const t = this.timing;
    const now = this.clock.now();
    const periods = [t.stabilizeMs, t.fingerRefreshMs, t.heartbeatMs, t.reviveMs];
    this.#due = periods.map((ms) => now + ms * (0.5 + this.#random()));
    this.#schedule();
  }

  #due: number[] = [];

  #schedule(): void {
    let next = Infinity;
    for (const d of this.#due) if (d < next) next = d;
    this.#tick = this.clock.timer(Math.max(0, next - this.clock.now()), () => this.#onTick());
  }

  #onTick(): void {
    if (!this.#running) return;
    const now = this.clock.now();
    const t = this.timing;
    const periods = [t.stabilizeMs, t.fingerRefreshMs, t.heartbeatMs, t.reviveMs];
    const due = this.#due;
    for (let i = 0; i < due.length; i++) {
      if (due[i] > now) continue;
      due[i] = now + periods[i];
      if (!this.#running) return;
      if (i === 0) this.stabilize();
      else if (i === 1) this.#refreshOneFinger();
      else if (i === 2) this.#heartbeat();
      else this.#pingGraveyard();
    }
    if (this.#running) this.#schedule();
  }

  /** Pings silent neighbours and suspects those silent past the detector's timeout. */
  #heartbeat(): void {
    const tb = this.table!;
    if (tb.alone) return;
    const now = this.clock.now();
    // Ring neighbours at the heartbeat period; fingers (and the rest of the successor list),
    // which only cost extra hops when stale, at a fifth of that rate. The table lists each known
    // node once (predecessor and successors first); no map or pair per node, since every node of
    // a simulated network runs this every second.
    const succ = tb.succ;
    const pred = tb.pred && tb.pred !== tb.self ? tb.pred : null;
    for (const n of tb.known) {
      const scale = n.id === pred?.id || n.id === succ.id ? 1 : FINGER_SCALE;
      const verdict = this.#detector.check(n.id, now, scale);
      if (verdict === "ping") this.sendControl(n, { t: T.Ping, ts: now });
      else if (verdict === "suspect") this.#suspect(n, scale);
    }
  }

  #suspect(peer: NodeRef, scale: number): void {
    const now = this.clock.now();
    this.#emit("suspect", { peer, silentMs: this.#detector.timeout(peer.id, scale) });
    this.#grave.set(peer.id, { ref: peer, since: now, crashed: false });
    // Route around it at once; declare it crashed if it stays silent as long again.
    this.#repair(peer);
    this.timer(this.#detector.timeout(peer.id), () => {
      const g = this.#graveyard?.get(peer.id);
      if (g && !g.crashed && g.since === now && this.#running) {
        g.crashed = true;
        this.#emit("crash", { peer, reason: "silent past the failure detector's timeout" });
      }
    });
  }

  /** A suspected or crashed node was heard from: trust it again and let it back in. */
  #revive(peer: NodeRef): void {
    const g = this.#graveyard?.get(peer.id);
    if (!g) return;
    this.#graveyard!.delete(peer.id);
    this.#emit("alive", { peer, wasCrashed: g.crashed });
    const tb = this.table!;
    this.#learn(peer);
    if (tb.alone || inOO(peer.id, tb.self.id, tb.succ.id, tb.maxKey)) {
      this.#setSucc(peer, []);
      this.sendControl(peer, { t: T.Notify });
    } else {
      // Offer ourselves: if we sit between it and its successor it will take us.
      this.sendControl(peer, { t: T.Stab, p: tb.pred, s: tb.succList });
    }
  }

  /** Nodes suspected now but not declared crashed. */
  suspected(): NodeRef[] {
    const out: NodeRef[] = [];
    for (const g of this.#graveyard?.values() ?? []) if (!g.crashed) out.push(g.ref);
    return out;
  }

  #pingGraveyard(): void {
    const grave = this.#graveyard;
    if (!grave) return;
    const now = this.clock.now();
    for (const [id, g] of grave) {
      if (now - g.since > GRAVEYARD_MS) grave.delete(id);
      else this.sendControl(g.ref, { t: T.Ping, ts: now });
    }
    while (grave.size > GRAVEYARD_SIZE) grave.delete(grave.keys().next().value!);
  }

  /** Safety-net stabilisation: tell the successor we believe we are its predecessor. */
  stabilize(): void {
    const tb = this.table!;
    if (!tb.alone) this.sendControl(tb.succ, { t: T.Notify });
    this.#closeIdleLinks();
  }

  /**
   * Links opened for one-off exchanges (lookup answers, acknowledgements, corrections) would
   * otherwise accumulate: close those to non-neighbours that sat idle, and forget their
   * liveness records. Neighbours keep their links (and heartbeats).
   */
  #closeIdleLinks(): void {
    for (const id of this.transport.idle(IDLE_LINK_MS)) {
      if (this.#isNeighbour(id)) continue;
      this.transport.disconnect(id);
      this.#detector.drop(id);
    }
  }

  #onFrame(from: NodeRef, f: Frame): void {
    if (!this.#running) {
      if (this.status !== "joining") return;
      if (this.table && f.t !== T.JoinOk) {
        this.#early.push([from, f]);
        return;
      }
    }
    if (this.table) {
      this.#detector.heard(from.id, this.clock);
      if (
        this.#graveyard !== null && this.#graveyard.size > 0 && this.#graveyard.has(from.id) &&
        this.#running
      ) {
        this.#revive(from);
      }
    }
    switch (f.t) {
      case T.Ping:
        this.control.received++;
        return this.sendControl(from, { t: T.Pong, ts: f.ts });
      case T.Pong:
        this.control.received++;
        return this.#detector.roundTrip(
          from.id,
          this.clock.now() - (f.ts as number),
          this.clock.now(),
        );
      case T.Data:
      case T.DataRun:
        // A first hop travels without its sender: it is the peer that sent it.
        if (f.s === null) f.s = this.#wireOf(from);
        return this.route(from, f as DataFrame);
      case T.InfoReq:
        if (this.net) this.sendControl(from, { t: T.Info, net: this.net });
        return;
      case T.Info:
        this.control.received++;
        return this.#onInfo(from, f.net as NetInfo);
      case T.Join:
      case T.Lookup:
        return this.route(from, f as Routed);
      case T.JoinOk:
        this.control.received++;
        return this.#onJoinOk(from, f);
      case T.Notify:
        this.control.received++;
        return this.#onNotify(from);
      case T.Stab:
        this.control.received++;
        return this.#onStab(from, f.p as NodeRef | null, f.s as NodeRef[]);
      case T.Leave:
        this.control.received++;
        return this.#onLeave(from, f.p as NodeRef, f.s as NodeRef[]);
      case T.LookupOk:
        this.control.received++;
        return this.#onLookupOk(f);
      case T.Fix:
        this.control.received++;
        return this.#learn(f.n as NodeRef);
      default:
        return this.sink.service(from, f);
    }
  }

  /**
   * Routes a frame one step: delivers it here when this node is responsible for its key,
   * otherwise forwards it along the loop-free next-hop rule. Frames originated here come with
   * `from === null`, each made for this call alone (it is updated in place and handed on).
   */
  route(from: NodeRef | null, f: Routed): void {
    if (!this.#running) return;
    const tb = this.table!;
    const data = f.t === T.Data || f.t === T.DataRun;
    const counters = data ? this.data : this.control;
    // Counters count messages: a run carries several.
    const n = messageCount(f);
    if (from && f.f >= 0) this.#correctOnUse(from, f.f);
    if (!from) counters.sent++;
    const hop = tb.nextHop(f.k, f.ph);
    if (hop.node === null) {
      counters.received += n;
      return this.#arrive(f);
    }
    if (f.h >= MAX_HOPS) {
      counters.dropped += n;
      if (data) this.#undeliverable(f, "hop limit reached");
      return;
    }
    if (from) counters.forwarded += n;
    if (f.t === T.DataRun) {
      // Passed on message by message: the link to the next hop joins them into a run again.
      const run = f as DataRunFrame;
      for (let i = 0; i < n; i++) {
        const m = runMessage(run, i, f.h + 1);
        m.ph = hop.phase;
        m.f = hop.finger;
        this.transport.send(hop.node, m);
      }
      return;
    }
    if (from === null) {
      // Originated here, in a frame made for this send alone: updated in place. A data frame
      // travels without its sender, whom the receiver knows from the link (see #onFrame).
      f.h = 1;
      f.ph = hop.phase;
      f.f = hop.finger;
      if (f.t === T.Data) f.s = null;
      this.transport.send(hop.node, f);
      return;
    }
    this.transport.send(hop.node, { ...f, h: f.h + 1, ph: hop.phase, f: hop.finger });
  }

  #wireFrom: NodeRef | null = null;
  #wireFromRef: WireRef | null = null;

  /** The wire form of `from` (the same peer object arrives for every frame of a link). */
  #wireOf(from: NodeRef): WireRef {
    if (from !== this.#wireFrom) {
      this.#wireFrom = from;
      this.#wireFromRef = toWire(from);
    }
    return this.#wireFromRef!;
  }

  /** Forwards a frame again without counting it (a retry after a dead next hop). */
  #step(f: Routed): void {
    // A frame of ours handed back unsent went out without its sender (see route()).
    if (f.t === T.Data && f.s === null) f = { ...f, s: this.wireSelf };
    const hop = this.table!.nextHop(f.k, f.ph);
    if (hop.node === null) return this.#arrive(f);
    this.transport.send(hop.node, { ...f, ph: hop.phase, f: hop.finger });
  }

  /** Correction-on-use: the previous hop used us as its finger `index`; are we the right one? */
  #correctOnUse(from: NodeRef, index: number): void {
    const tb = this.table!;
    const off = tb.policy.offsets[index];
    if (off === undefined) return;
    const target = addMod(from.id, off, tb.maxKey);
    if (tb.responsible(target)) return;
    // A better finger is the known node nearest at or after the target, before us.
    let best: NodeRef | null = null;
    let bd = cw(target, tb.self.id, tb.maxKey);
    tb.forEachKnown((n) => {
      const d = cw(target, n.id, tb.maxKey);
      if (d < bd) {
        bd = d;
        best = n;
      }
    });
    if (best) this.sendControl(from, { t: T.Fix, i: index, n: best });
  }

  #arrive(f: Routed): void {
    switch (f.t) {
      case T.Join:
        return this.#onJoin(f.j as NodeRef);
      case T.Lookup:
        return this.sendControl(f.r as NodeRef, {
          t: T.LookupOk,
          q: f.q,
          n: this.table!.self,
          p: this.table!.pred,
          h: f.h,
        });
      case T.Data:
      case T.DataRun: {
        const d = f as DataFrame | DataRunFrame;
        if (!d.r && d.k !== this.id) {
          this.data.dropped += messageCount(d);
          return this.#undeliverable(d, `no node has id ${d.k}`);
        }
        return this.sink.deliver(d);
      }
    }
  }

  /**
   * Reports a data frame's messages undeliverable to their sender: one report for a run, naming
   * how many messages from `id` on (`n`).
   */
  #undeliverable(d: Routed, why: string): void {
    const src = fromWire(d.s);
    const n = messageCount(d);
    const report = {
      t: T.Undeliverable,
      id: d.id,
      d: d.k,
      why,
      kd: "send",
      n: n > 1 ? n : undefined,
    };
    if (src.id === this.id) this.sink.service(src, report);
    else this.sendControl(src, report);
  }

  #onJoin(j: NodeRef): void {
    const tb = this.table!;
    if (j.id === tb.self.id) {
      // Two joiners raced for one id and this one won; the other cannot be answered by id
      // (ids key connections), so its join times out.
      return;
    }
    const oldPred = tb.pred ?? tb.self;
    const wasAlone = tb.alone;
    this.sendControl(j, {
      t: T.JoinOk,
      p: oldPred,
      s: [tb.self, ...tb.succList],
      fg: tb.distinctFingers(),
    });
    this.#setPred(j);
    if (wasAlone) {
      tb.setSuccList(j, []);
      this.status = "connected";
      this.#emit("newsucc", { succ: j, old: null });
      this.#emit("connected");
    } else if (oldPred.id !== tb.self.id) {
      // Tell the old predecessor that the joiner now sits between us.
      this.sendControl(oldPred, { t: T.Stab, p: j, s: tb.succList });
    }
    this.#learn(j);
  }

  #onJoinOk(_from: NodeRef, f: Frame): void {
    if (!this.#joinDone) return;
    const tb = this.table!;
    const succs = f.s as NodeRef[];
    const pred = f.p as NodeRef;
    tb.pred = pred.id === tb.self.id ? tb.self : pred;
    tb.setSuccList(succs[0], succs.slice(1));
    this.status = "connected";
    for (const n of f.fg as NodeRef[]) this.#learn(n, false);
    for (const n of succs) this.#learn(n, false);
    this.#learn(pred, false);
    this.#startTimers();
    const done = this.#joinDone;
    this.#emit("newpred", { pred: tb.pred, old: null });
    this.#emit("newsucc", { succ: tb.succ, old: null });
    this.#emit("connected");
    this.#emitFingers(tb.fingers.map((_, i) => i));
    if (this.#bootstrap && !this.#isNeighbour(this.#bootstrap.id)) {
      this.transport.disconnect(this.#bootstrap.id);
    }
    if (tb.policy.keepAll) {
      // Full mesh: everyone must know everyone, so a joiner announces itself to all it learnt.
      for (const n of tb.mesh.values()) this.sendControl(n, { t: T.Fix, i: -1, n: tb.self });
    }
    done(null);
    const early = this.#early;
    this.#early = [];
    for (const [from, frame] of early) this.#onFrame(from, frame);
    if (this.timing.fingersOnJoin) this.#refreshAllFingers();
  }

  #isNeighbour(id: number): boolean {
    const tb = this.table!;
    return tb.pred?.id === id || tb.succList.some((n) => n.id === id) ||
      tb.fingers.some((n) => n?.id === id);
  }

  #setPred(p: NodeRef | null): void {
    const tb = this.table!;
    const old = tb.pred;
    tb.pred = p;
    this.#emit("newpred", { pred: p, old: old === tb.self ? null : old });
  }

  #onNotify(from: NodeRef): void {
    const tb = this.table!;
    const p = tb.pred;
    if (p === null || p === tb.self || inOO(from.id, p.id, tb.self.id, tb.maxKey)) {
      if (p?.id !== from.id) {
        this.#setPred(from);
        if (tb.alone) {
          tb.setSuccList(from, []);
          this.status = "connected";
          this.#emit("newsucc", { succ: from, old: null });
          this.#emit("connected");
        }
        if (p && p !== tb.self && p.id !== from.id) {
          this.sendControl(p, { t: T.Stab, p: from, s: tb.succList });
        }
      }
      this.#learn(from);
    }
    this.sendControl(from, { t: T.Stab, p: tb.pred, s: tb.succList });
  }

  #onStab(from: NodeRef, p: NodeRef | null, succs: NodeRef[]): void {
    const tb = this.table!;
    const me = tb.self.id;
    const M = tb.maxKey;
    this.#learn(from);
    if (p) this.#learn(p);
    const succ = tb.succ;
    if (from.id === succ.id && !tb.alone) {
      if (p && p.id !== me && inOO(p.id, me, succ.id, M)) {
        this.#setSucc(p, [from, ...succs]);
        this.sendControl(p, { t: T.Notify });
        return;
      }
      const changed = tb.setSuccList(from, succs);
      if (p === null || p.id !== me) this.sendControl(from, { t: T.Notify });
      if (changed) this.#propagateSuccList();
      return;
    }
    if (tb.alone || inOO(from.id, me, succ.id, M)) {
      this.#setSucc(from, succs);
      this.sendControl(from, { t: T.Notify });
    } else if (p && p.id !== me && inOO(p.id, me, succ.id, M)) {
      this.#setSucc(p, [from, ...succs]);
      this.sendControl(p, { t: T.Notify });
    }
  }

  #setSucc(s: NodeRef, rest: NodeRef[]): void {
    const tb = this.table!;
    const old = tb.alone ? null : tb.succ;
    tb.setSuccList(s, rest);
    if (old?.id !== s.id) this.#emit("newsucc", { succ: s, old });
    if (this.status === "alone") {
      this.status = "connected";
      this.#emit("connected");
    }
    this.#propagateSuccList();
  }

  /** Successor lists flow backwards: our predecessor's list is us followed by ours. */
  #propagateSuccList(): void {
    const tb = this.table!;
    if (tb.pred && tb.pred !== tb.self && !tb.alone) {
      this.sendControl(tb.pred, { t: T.Stab, p: tb.pred, s: tb.succList });
    }
  }

  #onLeave(from: NodeRef, p: NodeRef, succs: NodeRef[]): void {
    const tb = this.table!;
    (this.#leavers ??= new Set()).add(from.id);
    const wasPred = tb.pred?.id === from.id;
    const wasSucc = !tb.alone && tb.succ.id === from.id;
    tb.forget(from.id);
    if (wasSucc) {
      const rest = succs.filter((n) => n.id !== from.id && n.id !== tb.self.id);
      if (rest.length) {
        this.#setSucc(rest[0], rest.slice(1));
        this.sendControl(rest[0], { t: T.Notify });
      }
    }
    if (wasPred) this.#setPred(p.id === tb.self.id ? null : p);
    this.#afterLoss(from);
  }

  #onPeerDown(peer: NodeRef, why: string, unsent: Frame[]): void {
    if (!this.#running || !this.table) return;
    const graceful = this.#leavers?.delete(peer.id) ?? false;
    const { wasPred, wasSucc, fingers } = this.#repair(peer);
    if (!graceful && (wasPred || wasSucc || fingers.length)) {
      this.#emit("crash", { peer, reason: why });
      this.#grave.set(peer.id, { ref: peer, since: this.clock.now(), crashed: true });
    }
    // Routed frames that never left go another way now that the dead peer is forgotten.
    for (const f of unsent) {
      if (typeof (f as Routed).k === "number" && typeof (f as Routed).h === "number") {
        this.#step(f as Routed);
      }
    }
  }

  /** Forgets a dead or suspected peer and repairs successor and predecessor pointers. */
  #repair(peer: NodeRef): { wasPred: boolean; wasSucc: boolean; fingers: number[] } {
    const tb = this.table!;
    this.#detector.drop(peer.id);
    const lost = tb.forget(peer.id);
    if (lost.wasSucc) {
      const next = tb.succList[0];
      if (next) {
        this.#emit("newsucc", { succ: next, old: peer });
        this.sendControl(next, { t: T.Notify });
      }
    }
    if (lost.wasPred) this.#emit("newpred", { pred: null, old: peer });
    this.#afterLoss(peer);
    return lost;
  }

  /** After a neighbour is gone: refill an empty successor list, or fall back to alone. */
  #afterLoss(gone: NodeRef): void {
    const tb = this.table!;
    if (tb.alone) {
      let best: NodeRef | null = null;
      let bd = Infinity;
      tb.forEachKnown((n) => {
        const d = cw(tb.self.id, n.id, tb.maxKey);
        if (d > 0 && d < bd) {
          bd = d;
          best = n;
        }
      });
      if (best) {
        this.#setSucc(best, []);
        this.sendControl(best, { t: T.Notify });
      } else if (this.status !== "alone") {
        tb.pred = tb.self;
        this.status = "alone";
        this.#emit("alone", { last: gone });
      }
    }
  }

  /** Takes a node into the fingers where it fits better; emits `fingers` when any changed. */
  #learn(n: NodeRef, emit = true): void {
    if (!n || n.id === this.id || !this.table) return;
    const changed = this.table!.considerFinger(n);
    if (emit && changed.length) this.#emitFingers(changed);
  }

  #emitFingers(indices: number[]): void {
    if (!this.sink.listening()) return;
    const tb = this.table!;
    this.#emit("fingers", {
      changed: indices.map((i) => ({ index: i, target: tb.targets[i], node: tb.fingers[i] })),
    });
  }

  /** Looks up the node responsible for `key`. */
  lookup(key: number, done: (n: NodeRef, pred: NodeRef | null, hops: number) => void): void {
    const q = this.#nextReq++;
    this.#lookups.set(q, { done, at: this.clock.now() });
    this.route(null, { t: T.Lookup, k: key, h: 0, ph: Phase.Approach, f: -1, r: this.self, q });
  }

  #onLookupOk(f: Frame): void {
    const pending = this.#lookups.get(f.q as number);
    if (!pending) return;
    this.#lookups.delete(f.q as number);
    this.#learn(f.n as NodeRef);
    pending.done(f.n as NodeRef, f.p as NodeRef | null, f.h as number);
  }

  /** Looks up each finger target in turn, skipping targets a previous answer already covers. */
  #refreshAllFingers(): void {
    const tb = this.table!;
    const M = tb.maxKey;
    const covered: [number, number][] = [];
    const step = (i: number) => {
      if (!this.#running) return;
      for (; i < tb.targets.length; i++) {
        const t = tb.targets[i];
        if (tb.responsible(t) || inOC(t, tb.self.id, tb.succ.id, M)) continue;
        if (!covered.some(([a, b]) => inOC(t, a, b, M))) break;
      }
      if (i >= tb.targets.length) return;
      this.lookup(tb.targets[i], (n, pred) => {
        if (pred) covered.push([pred.id, n.id]);
        step(i + 1);
      });
    };
    step(0);
  }

  #refreshOneFinger(): void {
    // Lookups that never returned (lost with a crashed hop) are forgotten after a while.
    const old = this.clock.now() - this.timing.joinTimeoutMs;
    for (const [q, l] of this.#lookups) if (l.at < old) this.#lookups.delete(q);
    const tb = this.table!;
    if (tb.alone || tb.targets.length === 0) return;
    for (let tries = 0; tries < tb.targets.length; tries++) {
      const i = this.#refreshIndex++ % tb.targets.length;
      const t = tb.targets[i];
      if (tb.responsible(t) || inOC(t, tb.self.id, tb.succ.id, tb.maxKey)) continue;
      this.lookup(t, (n) => {
        const cur = tb.fingers[i];
        if (!cur || cur.id !== n.id) {
          tb.setFinger(i, n.id === tb.self.id ? null : n);
          this.#emitFingers([i]);
        }
      });
      return;
    }
  }
}
