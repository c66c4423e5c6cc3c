/**
 * Group communication and acknowledged delivery on top of the ring: broadcast by interval
 * splitting, multicast routed once as a splitting set of keys, messages to the next successors,
 * and the acknowledged variants of all of these and of plain send.
 *
 * Broadcast: a node responsible for the interval `(self, lim)` hands each stretch between two
 * consecutive known nodes in it to the node that starts it, which does the same inside its
 * stretch. In a stable ring each node receives it once: N−1 messages, depth O(log N).
 * Acknowledged broadcast adds a convergecast: each node reports its subtree's reached nodes to
 * its parent once its children have reported, with per-edge retransmission.
 *
 * Multicast: the set of keys travels as one message; each node delivers the keys it is
 * responsible for and splits the rest by next hop, so messages ≈ edges of the delivery tree.
 *
 * @module
 */

import type { Frame, NodeRef, Timer } from "../com/transport.ts";
import { cw, inOO } from "../core/id_space.ts";
import { dataFrame, fromWire, type Payload, T } from "../core/messages.ts";
import type { Ring } from "../core/ring.ts";
import { NodeAbsentError, TimeoutError } from "../errors.ts";
import { InOrder, Sequencer } from "./reliable.ts";

/** What group communication needs from the node that hosts it. */
export interface GroupHost {
  /** The ring protocol of the node. */
  readonly ring: Ring;
  /** Hands a message to the node's message stream. */
  deliverLocal(
    src: NodeRef,
    dst: number,
    payload: Payload,
    kind: string,
    hops: number,
    id: number,
  ): void;
  /** Pushes an event on the node's event stream. */
  event(type: string, fields: Record<string, unknown>): void;
}

/** The outcome of an acknowledged send. */
export interface Receipt {
  /** Destination id or key. */
  dst: number;
  /** Id of the node that took delivery. */
  node: number;
  /** Overlay hops the message took. */
  hops: number;
  /** Round-trip time in ms, from sending to the acknowledgement. */
  rtt: number;
}

/** The outcome of an acknowledged multicast, broadcast or sendToSucc. */
export interface DeliveryReport {
  /** Ids of the nodes that took delivery. */
  reached: number[];
  /** Destinations (ids or keys) that were not reached. */
  missing: number[];
  /** Time in ms until the last acknowledgement. */
  rtt: number;
}

/** Options of acknowledged delivery. */
export interface AckOptions {
  /** Give up after this many ms. @default 10000 */
  timeoutMs?: number;
  /** Cancels waiting; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Counters of one kind of application message. `sent` and `forwarded` count messages put on the
 * overlay, one per next hop (a broadcast handed to three nodes is three); `received` counts
 * deliveries to the message stream. The node's `data` counters are their sums over the kinds.
 */
export interface KindCounters {
  /**
   * Messages this node originated, one per first hop (retransmissions not included); a send to
   * a key this node holds itself counts once, though it takes no hop.
   */
  sent: number;
  /** Messages of other senders passed on, one per next hop. */
  forwarded: number;
  /** Messages delivered here (duplicates not included). */
  received: number;
  /** Messages that ended here undelivered: no node with that id, hop limit, undecodable. */
  dropped: number;
  /** Messages sent again after a missing acknowledgement (not counted in `sent`). */
  retransmitted: number;
  /** Arrivals suppressed as duplicates. */
  duplicates: number;
}

const FIRST_RTO = 200;
const MAX_RTO = 3000;

interface Pending {
  started: number;
  /** Destinations (keys/ids) still waiting, for send/multicast. */
  want: Set<number>;
  reached: Map<number, number>;
  absent: Set<number>;
  hops: number;
  /** For broadcast and succ: how to decide completion. */
  complete: () => boolean;
  resend: (missing: number[]) => void;
  finish: (err: Error | null) => void;
  timer: Timer | null;
  rto: number;
  stream: string;
  qs: Map<number, number>;
}

interface BcastState {
  /** Id of the broadcast's source and its message id. */
  src: number;
  id: number;
  parent: NodeRef | null;
  children: Map<number, { ref: NodeRef; frame: Frame; timer: Timer | null; tries: number }>;
  reached: number[];
  finished: boolean;
  done?: (reached: number[]) => void;
}

function newKind(): KindCounters {
  return { sent: 0, forwarded: 0, received: 0, dropped: 0, retransmitted: 0, duplicates: 0 };
}

/** Zeroed counters for every kind of message. */
export function noKinds(): Record<string, KindCounters> {
  return { send: newKind(), multicast: newKind(), broadcast: newKind(), succ: newKind() };
}

/** Group communication of one node. */
export class Group {
  readonly #host: GroupHost;
  readonly #inOrder = new InOrder();
  readonly #seq = new Sequencer();
  readonly #pending = new Map<number, Pending>();
  readonly #bcast = new Map<string, BcastState>();
  /** Recently seen unacknowledged broadcast/multicast ids, to deliver each once. */
  readonly #seen = new Set<string>();
  /** Counters per kind. */
  readonly counters: Record<string, KindCounters> = noKinds();

  /** Attaches to `host`, registering the frame handlers. */
  constructor(host: GroupHost) {
    this.#host = host;
  }

  /** Handles a group frame from `from`; other types are ignored. */
  frame(from: NodeRef, f: Frame): void {
    switch (f.t) {
      case T.Bcast:
        return this.#onBcast(from, f);
      case T.Mcast:
        return this.#mcastStep(from, f);
      case T.Succ:
        return this.#onSucc(f);
      case T.Ack:
        return this.#onAck(f);
      case T.BcastDone:
        return this.#onBcastDone(from, f);
    }
  }

  /** Distinct node ids in clockwise order from this node (this node first when present). */
  #clockwise(ids: Iterable<number>): number[] {
    const me = this.#ring.id;
    const M = this.#ring.table?.maxKey ?? Number.MAX_SAFE_INTEGER;
    return [...new Set(ids)].sort((a, b) => cw(me, a, M) - cw(me, b, M));
  }

  get #ring(): Ring {
    return this.#host.ring;
  }

  #send(to: NodeRef, frame: Frame): void {
    if (to.id === this.#ring.id) {
      this.#ring.timer(0, () => this.#dispatchSelf(frame));
      return;
    }
    this.#ring.transport.send(to, frame);
  }

  #dispatchSelf(frame: Frame): void {
    const self = this.#ring.self;
    if (frame.t === T.Ack) this.#onAck(frame);
    else if (frame.t === T.BcastDone) this.#onBcastDone(self, frame);
    else if (frame.t === T.Succ) this.#onSucc(frame);
  }

  #seenOnce(key: string): boolean {
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    if (this.#seen.size > 16384) {
      // Sets iterate in insertion order: drop the oldest half.
      let n = 8192;
      for (const k of this.#seen) {
        this.#seen.delete(k);
        if (--n === 0) break;
      }
    }
    return true;
  }

  // ---- acknowledged delivery: sender side ----

  /** Fails every acknowledged delivery still waiting (the node stopped). */
  close(reason: Error): void {
    for (const p of [...this.#pending.values()]) p.finish(reason);
  }

  /** Starts tracking an acknowledged message; the promise settles with its outcome. */
  #track<R>(
    id: number,
    want: number[],
    stream: string,
    options: AckOptions,
    complete: (p: Pending) => boolean,
    result: (p: Pending) => R,
    resend: (missing: number[]) => void,
  ): { promise: Promise<R>; pending: Pending } {
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const clock = this.#ring.clock;
    const timeoutMs = options.timeoutMs ?? 10000;
    const signal = options.signal;
    const onAbort = () => p.finish(signal!.reason ?? new TimeoutError("Aborted"));
    const deadline = this.#ring.timer(timeoutMs, () => {
      const missing = [...p.want].filter((k) => !p.reached.has(k));
      const err = new TimeoutError(
        `Delivery of message ${id} was not acknowledged within ${timeoutMs} ms` +
          (missing.length ? ` by ${missing.join(", ")}` : ""),
      );
      (err as TimeoutError & { report?: DeliveryReport }).report = {
        reached: this.#clockwise(p.reached.values()),
        missing,
        rtt: clock.now() - p.started,
      };
      p.finish(err);
    });
    const p: Pending = {
      started: clock.now(),
      want: new Set(want),
      reached: new Map(),
      absent: new Set(),
      hops: 0,
      complete: () => complete(p),
      resend,
      timer: null,
      rto: FIRST_RTO,
      stream,
      qs: new Map(),
      finish: (err) => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        deadline.cancel();
        p.timer?.cancel();
        signal?.removeEventListener("abort", onAbort);
        for (const [k, q] of p.qs) this.#seq.settle(stream === "k" ? `k${k}` : stream, q);
        if (err) reject(err);
        else resolve(result(p));
      },
    };
    this.#pending.set(id, p);
    if (signal?.aborted) {
      queueMicrotask(onAbort);
    } else signal?.addEventListener("abort", onAbort, { once: true });
    this.#arm(id, p);
    return { promise, pending: p };
  }

  #arm(id: number, p: Pending): void {
    p.timer = this.#ring.timer(p.rto, () => {
      if (!this.#pending.has(id)) return;
      const missing = [...p.want].filter((k) => !p.reached.has(k) && !p.absent.has(k));
      p.rto = Math.min(MAX_RTO, p.rto * 2);
      p.resend(missing);
      this.#arm(id, p);
    });
  }

  #settleIfDone(id: number, p: Pending): void {
    const open = [...p.want].filter((k) => !p.reached.has(k) && !p.absent.has(k));
    if (open.length > 0 || !p.complete()) return;
    if (p.absent.size > 0) {
      const missing = [...p.absent];
      const err = new NodeAbsentError(
        `No node has id ${missing.join(", ")}: message ${id} was not delivered there`,
        missing,
      );
      p.finish(err);
    } else p.finish(null);
  }

  #onAck(f: Frame): void {
    const p = this.#pending.get(f.id as number);
    if (!p) return;
    const node = f.n as number;
    for (const k of f.ks as number[]) {
      if (!p.reached.has(k)) p.reached.set(k, node);
      const q = p.qs.get(k);
      if (q !== undefined) this.#seq.settle(p.stream === "k" ? `k${k}` : p.stream, q);
    }
    p.hops = Math.max(p.hops, (f.h as number) ?? 0);
    this.#settleIfDone(f.id as number, p);
  }

  /** An undeliverable report for an acknowledged message marks its destination absent. */
  undeliverable(id: number, dst: number): boolean {
    const p = this.#pending.get(id);
    if (!p) return false;
    p.absent.add(dst);
    this.#settleIfDone(id, p);
    return true;
  }

  #ack(to: NodeRef, id: number, keys: number[], hops: number): void {
    this.#ring.control.sent++;
    const frame = { t: T.Ack, id, ks: keys, n: this.#ring.id, h: hops };
    if (to.id === this.#ring.id) this.#ring.timer(0, () => this.#onAck(frame));
    else this.#ring.transport.send(to, frame);
  }

  /** Receiver side of an acknowledged message: order, suppress duplicates, acknowledge. */
  #acked(
    src: NodeRef,
    id: number,
    stream: string,
    q: number,
    lo: number,
    keys: number[],
    hops: number,
    kind: string,
    deliver: () => void,
  ): void {
    const r = this.#inOrder.arrive(`${src.id}|${stream}`, q, lo, deliver);
    if (r === "duplicate") this.counters[kind].duplicates++;
    if (r === "delivered" || r === "duplicate") this.#ack(src, id, keys, hops);
  }

  // ---- send ----

  /** Acknowledged send of an already validated and encoded message. */
  sendAcked(
    dst: number,
    toResp: boolean,
    p: Uint8Array,
    id: number,
    o: AckOptions,
  ): Promise<Receipt> {
    const ring = this.#ring;
    const stream = `k${dst}`;
    const q = this.#seq.take(stream);
    const frameFor = () =>
      dataFrame(ring.wireSelf, dst, toResp, id, p, { q, lo: this.#seq.floor(stream) });
    const { promise, pending } = this.#track<Receipt>(
      id,
      [dst],
      "k",
      o,
      () => true,
      (pd) => ({
        dst,
        node: pd.reached.get(dst)!,
        hops: pd.hops,
        rtt: ring.clock.now() - pd.started,
      }),
      () => {
        this.counters.send.retransmitted++;
        ring.route(null, frameFor());
      },
    );
    pending.qs.set(dst, q);
    this.counters.send.sent++;
    ring.route(null, frameFor());
    return promise;
  }

  /** Handles an acknowledged data frame that reached its destination. */
  deliverAcked(f: Frame): void {
    const src = fromWire(f.s);
    this.#acked(
      src,
      f.id as number,
      `k${f.k}`,
      f.q as number,
      f.lo as number,
      [
        f.k as number,
      ],
      f.h as number,
      "send",
      () =>
        this.#host.deliverLocal(
          src,
          f.k as number,
          f.p as Payload,
          "send",
          f.h as number,
          f.id as number,
        ),
    );
  }

  // ---- multicast ----

  /** Multicast of an encoded message to `keys` (deduplicated, validated). */
  multicast(
    keys: number[],
    toResp: boolean,
    p: Uint8Array,
    id: number,
    ack: AckOptions | null,
  ): Promise<DeliveryReport | void> {
    const ring = this.#ring;
    if (!ack) {
      this.#mcastStep(null, {
        t: T.Mcast,
        s: ring.wireSelf,
        id,
        ks: keys,
        r: toResp,
        p,
        h: 0,
        ph: 0,
      });
      return ring.transport.ready();
    }
    const qs = new Map<number, number>();
    for (const k of keys) qs.set(k, this.#seq.take(`k${k}`));
    const frameFor = (ks: number[]) => ({
      t: T.Mcast,
      s: ring.wireSelf,
      id,
      ks,
      r: toResp,
      p,
      h: 0,
      ph: 0,
      a: 1,
      qs: ks.map((k) => qs.get(k)!),
      los: ks.map((k) => this.#seq.floor(`k${k}`)),
    });
    const { promise, pending } = this.#track<DeliveryReport>(
      id,
      keys,
      "k",
      ack,
      () => true,
      (pd) => ({
        reached: this.#clockwise(pd.reached.values()),
        missing: [],
        rtt: ring.clock.now() - pd.started,
      }),
      (missing) => this.#mcastStep(null, frameFor(missing), true),
    );
    for (const [k, q] of qs) pending.qs.set(k, q);
    this.#mcastStep(null, frameFor(keys));
    return promise;
  }

  /**
   * Delivers the keys this node is responsible for and splits the rest by next hop; `again`
   * marks a retransmission by the sender.
   */
  #mcastStep(from: NodeRef | null, f: Frame, again = false): void {
    const ring = this.#ring;
    const tb = ring.table;
    if (!tb) return;
    const keys = f.ks as number[];
    const acked = f.a === 1;
    const mine: number[] = [];
    const mineIdx: number[] = [];
    const groups = new Map<string, { to: NodeRef; ph: number; idx: number[] }>();
    for (let i = 0; i < keys.length; i++) {
      const hop = tb.nextHop(keys[i], f.ph as number);
      if (hop.node === null) {
        mine.push(keys[i]);
        mineIdx.push(i);
        continue;
      }
      const g = `${hop.node.id}|${hop.phase}`;
      let grp = groups.get(g);
      if (!grp) groups.set(g, grp = { to: hop.node, ph: hop.phase, idx: [] });
      grp.idx.push(i);
    }
    const counters = this.counters.multicast;
    for (const { to, ph, idx } of groups.values()) {
      const sub: Frame = { ...f, ks: idx.map((i) => keys[i]), h: (f.h as number) + 1, ph };
      if (acked) {
        sub.qs = idx.map((i) => (f.qs as number[])[i]);
        sub.los = idx.map((i) => (f.los as number[])[i]);
      }
      if (from) counters.forwarded++;
      else if (again) counters.retransmitted++;
      else counters.sent++;
      ring.transport.send(to, sub);
    }
    if (mine.length === 0) return;
    const src = fromWire(f.s);
    const id = f.id as number;
    const toResp = f.r as boolean;
    const here = mine.filter((k) => toResp || k === ring.id);
    for (const k of mine) {
      if (!toResp && k !== ring.id) {
        counters.dropped++;
        const report = {
          t: T.Undeliverable,
          id,
          d: k,
          why: `no node has id ${k}`,
          kd: "multicast",
        };
        if (src.id === ring.id) ring.sink.service(src, report);
        else ring.sendControl(src, report);
      }
    }
    if (here.length === 0) return;
    const deliver = () =>
      this.#host.deliverLocal(src, here[0], f.p as Payload, "multicast", f.h as number, id);
    if (!acked) {
      if (this.#seenOnce(`m${src.id}|${id}`)) deliver();
      else counters.duplicates++;
      return;
    }
    // One delivery per message however many of its keys land here; each key's stream is
    // ordered on its own.
    let delivered = false;
    const once = () => {
      if (!delivered && this.#seenOnce(`m${src.id}|${id}`)) deliver();
      delivered = true;
    };
    for (const i of mineIdx) {
      const k = keys[i];
      if (!here.includes(k)) continue;
      this.#acked(
        src,
        id,
        `k${k}`,
        (f.qs as number[])[i],
        (f.los as number[])[i],
        [k],
        f.h as number,
        "multicast",
        once,
      );
    }
  }

  // ---- broadcast ----

  /** Known nodes strictly inside `(self, lim)`, nearest first. */
  #inside(lim: number): NodeRef[] {
    const tb = this.#ring.table!;
    const me = tb.self.id;
    const M = tb.maxKey;
    const byId = new Map<number, NodeRef>();
    tb.forEachKnown((n) => {
      if (inOO(n.id, me, lim, M)) byId.set(n.id, n);
    });
    // A merely suspected node may well be alive, and nobody else would cover it; if it is dead,
    // acknowledged broadcast hands its stretch on when it gives it up.
    for (const n of this.#ring.suspected()) if (inOO(n.id, me, lim, M)) byId.set(n.id, n);
    return [...byId.values()].sort((a, b) => cw(me, a.id, M) - cw(me, b.id, M));
  }

  /** Broadcast of an encoded message to every node (and this one with `toMyself`). */
  broadcast(
    p: Uint8Array,
    id: number,
    toMyself: boolean,
    ack: AckOptions | null,
  ): Promise<DeliveryReport | void> {
    const ring = this.#ring;
    const self = ring.self;
    if (toMyself) this.#host.deliverLocal(self, self.id, p, "broadcast", 0, id);
    const base = { t: T.Bcast, s: ring.wireSelf, id, p, h: 0 };
    if (!ack) {
      this.#spread(base, ring.id, null);
      return ring.transport.ready();
    }
    const q = this.#seq.take("b");
    const frame = { ...base, a: 1, q, lo: this.#seq.floor("b") };
    let reached: number[] | null = null;
    const { promise, pending } = this.#track<DeliveryReport>(
      id,
      [],
      "b",
      ack,
      () => reached !== null,
      (pd) => ({
        reached: this.#clockwise(toMyself ? [self.id, ...reached!] : reached!),
        missing: [],
        rtt: ring.clock.now() - pd.started,
      }),
      () => {},
    );
    pending.qs.set(-1, q);
    const state: BcastState = {
      src: self.id,
      id,
      parent: null,
      children: new Map(),
      reached: [],
      finished: false,
      done: (r) => {
        reached = r;
        this.#settleIfDone(id, pending);
      },
    };
    const key = `${self.id}|${id}`;
    this.#bcast.set(key, state);
    this.#spread(frame, ring.id, state);
    return promise.finally(() => this.#bcast.delete(key));
  }

  /** Hands each stretch of `(self, lim)` to the known node that starts it. */
  #spread(f: Frame, lim: number, state: BcastState | null): void {
    const ring = this.#ring;
    const inside = this.#inside(lim);
    // Only the origin holds the frame with hop count 0.
    const counters = this.counters.broadcast;
    const counter = f.h === 0 ? "sent" : "forwarded";
    for (let i = 0; i < inside.length; i++) {
      const child = inside[i];
      const sub = {
        ...f,
        lim: i + 1 < inside.length ? inside[i + 1].id : lim,
        h: (f.h as number) + 1,
      };
      counters[counter]++;
      ring.transport.send(child, sub);
      if (state) {
        const c = { ref: child, frame: sub, timer: null as Timer | null, tries: 0 };
        state.children.set(child.id, c);
        this.#armChild(state, c);
      }
    }
    if (state) this.#maybeDone(state);
  }

  #armChild(
    state: BcastState,
    c: { ref: NodeRef; frame: Frame; timer: Timer | null; tries: number },
  ): void {
    c.timer = this.#ring.timer(Math.min(MAX_RTO, FIRST_RTO * 2 ** c.tries), () => {
      if (!state.children.has(c.ref.id)) return;
      if (++c.tries > 6) {
        // The child is gone. The first live node after it (once the ring has repaired) starts
        // what is left of its stretch: look it up and hand the stretch over.
        state.children.delete(c.ref.id);
        return this.#handOver(state, c.ref, c.frame);
      }
      this.counters.broadcast.retransmitted++;
      this.#ring.transport.send(c.ref, c.frame);
      this.#armChild(state, c);
    });
  }

  #handOver(state: BcastState, gone: NodeRef, frame: Frame): void {
    const ring = this.#ring;
    const M = ring.table!.maxKey;
    const lim = frame.lim as number;
    const key = (gone.id + 1) % M;
    state.children.set(gone.id, { ref: gone, frame, timer: null, tries: 0 });
    ring.lookup(key, (n) => {
      if (!state.children.delete(gone.id)) return;
      if (n.id !== gone.id && n.id !== ring.id && inOO(n.id, gone.id, lim, M)) {
        const c = { ref: n, frame, timer: null as Timer | null, tries: 0 };
        state.children.set(n.id, c);
        this.counters.broadcast.retransmitted++;
        ring.transport.send(n, frame);
        this.#armChild(state, c);
      } else this.#maybeDone(state);
    });
  }

  #maybeDone(state: BcastState): void {
    if (state.finished || state.children.size > 0) return;
    state.finished = true;
    const reached = state.reached;
    if (state.parent) {
      this.#ring.control.sent++;
      this.#ring.transport.send(state.parent, {
        t: T.BcastDone,
        s: state.src,
        id: state.id,
        r: reached,
      });
    } else state.done?.(reached);
  }

  #onBcastDone(from: NodeRef, f: Frame): void {
    const state = this.#bcast.get(`${f.s}|${f.id}`);
    if (!state) return;
    const c = state.children.get(from.id);
    if (!c) return;
    if (f.w === 1) {
      c.tries = 0;
      return;
    }
    c.timer?.cancel();
    state.children.delete(from.id);
    for (const n of f.r as number[]) state.reached.push(n);
    this.#maybeDone(state);
  }

  #onBcast(from: NodeRef, f: Frame): void {
    const ring = this.#ring;
    if (!ring.table) return;
    const src = fromWire(f.s);
    const id = f.id as number;
    const deliver = () =>
      this.#host.deliverLocal(src, ring.id, f.p as Payload, "broadcast", f.h as number, id);
    if (f.a !== 1) {
      if (!this.#seenOnce(`b${src.id}|${id}`)) {
        this.counters.broadcast.duplicates++;
        return;
      }
      deliver();
      return this.#spread(f, f.lim as number, null);
    }
    const key = `${src.id}|${id}`;
    const existing = this.#bcast.get(key);
    if (existing) {
      // A retransmission: answer with the result, or say the subtree is still being covered so
      // the parent keeps waiting instead of giving this node up.
      this.counters.broadcast.duplicates++;
      ring.control.sent++;
      ring.transport.send(
        from,
        existing.finished
          ? { t: T.BcastDone, s: src.id, id, r: existing.reached }
          : { t: T.BcastDone, s: src.id, id, w: 1 },
      );
      return;
    }
    const state: BcastState = {
      src: src.id,
      id,
      parent: from,
      children: new Map(),
      reached: [ring.id],
      finished: false,
    };
    this.#bcast.set(key, state);
    // Forget finished broadcasts after a while; retransmissions stop long before.
    ring.timer(60_000, () => this.#bcast.delete(key));
    this.#inOrder.arrive(`${src.id}|b`, f.q as number, f.lo as number, deliver);
    this.#spread(f, f.lim as number, state);
  }

  // ---- successors ----

  /** Sends an encoded message to the next `n` nodes clockwise. */
  sendToSucc(
    p: Uint8Array,
    n: number,
    id: number,
    ack: AckOptions | null,
  ): Promise<DeliveryReport | void> {
    const ring = this.#ring;
    const base = { t: T.Succ, s: ring.wireSelf, id, p, h: 0 };
    if (!ack) {
      this.#succStep({ ...base, n }, false);
      return ring.transport.ready();
    }
    const q = this.#seq.take("s");
    const frameFor = () => ({ ...base, n, a: 1, q, lo: this.#seq.floor("s") });
    let wrapped = false;
    const { promise, pending } = this.#track<DeliveryReport>(
      id,
      [],
      "s",
      ack,
      (pd) => wrapped || pd.reached.size >= n,
      (pd) => ({
        reached: this.#clockwise(pd.reached.values()),
        missing: [],
        rtt: ring.clock.now() - pd.started,
      }),
      () => this.#succStep(frameFor(), true),
    );
    pending.qs.set(-1, q);
    this.#wrapped.set(id, () => {
      wrapped = true;
      this.#settleIfDone(id, pending);
    });
    this.#succStep(frameFor(), false);
    return promise.finally(() => this.#wrapped.delete(id));
  }

  readonly #wrapped = new Map<number, () => void>();

  /**
   * Sends to as many successors as the list holds; the last one carries on the count. `again`
   * marks a retransmission.
   */
  #succStep(f: Frame, again: boolean): void {
    const ring = this.#ring;
    const tb = ring.table;
    if (!tb || tb.alone) return;
    const src = fromWire(f.s);
    let n = f.n as number;
    const list = tb.succList;
    for (let i = 0; i < list.length && n > 0; i++) {
      const to = list[i];
      const last = i === list.length - 1 || n === 1;
      if (to.id === src.id) {
        // Round the whole ring: every other node has it (a local signal, not a message).
        this.#send(to, { ...f, n: 0, h: (f.h as number) + 1 });
        return;
      }
      this.counters.succ[again ? "retransmitted" : "sent"]++;
      ring.transport.send(to, { ...f, n: last ? n : 1, h: (f.h as number) + 1 });
      n--;
      if (last) return;
    }
  }

  #onSucc(f: Frame): void {
    const ring = this.#ring;
    const src = fromWire(f.s);
    const id = f.id as number;
    if (src.id === ring.id) {
      this.#wrapped.get(id)?.();
      return;
    }
    const deliver = () =>
      this.#host.deliverLocal(src, ring.id, f.p as Payload, "succ", f.h as number, id);
    if (f.a === 1) {
      this.#acked(
        src,
        id,
        "s",
        f.q as number,
        f.lo as number,
        [ring.id],
        f.h as number,
        "succ",
        deliver,
      );
    } else if (this.#seenOnce(`s${src.id}|${id}`)) deliver();
    else this.counters.succ.duplicates++;
    const n = f.n as number;
    if (n > 1) {
      const tb = ring.table;
      if (!tb || tb.alone) return;
      const next = tb.succ;
      this.counters.succ.forwarded++;
      ring.transport.send(next, { ...f, n: n - 1, h: (f.h as number) + 1 });
    }
  }
}
