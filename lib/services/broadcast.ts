/**
 * Broadcast by interval splitting: a node responsible for the interval `(self, lim)` hands each
 * stretch between two consecutive known nodes in it to the node that starts it, which does the
 * same inside its stretch. In a stable ring each node receives the message once: N−1 messages,
 * depth O(log N). Acknowledged broadcast adds a convergecast: each node reports its subtree's
 * reached nodes to its parent once its children have reported, with per-edge retransmission; a
 * child that does not answer and that the failure detector no longer trusts (suspected, or
 * gone from the routing table) has its stretch handed to the first live node after it.
 *
 * @module
 */

import type { NodeRef, Timer } from "../com/transport.ts";
import { cw, inOO } from "../core/id_space.ts";
import { type FrameOf, T } from "../wire/schema.ts";
import { type AckOptions, type DeliveryReport, FIRST_RTO, MAX_RTO } from "./acks.ts";
import type { GroupParts } from "./multicast.ts";

type Bcast = FrameOf<"Bcast">;

interface Child {
  ref: NodeRef;
  frame: Bcast;
  timer: Timer | null;
  tries: number;
}

interface BcastState {
  /** Id of the broadcast's source and its message id. */
  src: number;
  id: number;
  parent: NodeRef | null;
  children: Map<number, Child>;
  reached: number[];
  finished: boolean;
  done?: (reached: number[]) => void;
}

/** How long a node remembers an acknowledged broadcast it took part in, ms. */
const REMEMBER_MS = 60_000;
/** Retransmissions to a child before its stretch is handed on. */
const CHILD_TRIES = 6;

/** Broadcast of one node. */
export class Broadcast {
  readonly #g: GroupParts;
  readonly #states = new Map<string, BcastState>();

  constructor(parts: GroupParts) {
    this.#g = parts;
  }

  /** Known nodes strictly inside `(self, lim)`, nearest first. */
  #inside(lim: number): NodeRef[] {
    const port = this.#g.host.port;
    const tb = port.table!;
    const me = tb.self.id;
    const M = tb.maxKey;
    const byId = new Map<number, NodeRef>();
    tb.forEachKnown((n) => {
      if (inOO(n.id, me, lim, M)) byId.set(n.id, n);
    });
    // A merely suspected node may well be alive, and nobody else would cover it; if it is dead,
    // acknowledged broadcast hands its stretch on when it gives it up.
    for (const n of port.suspected()) if (inOO(n.id, me, lim, M)) byId.set(n.id, n);
    return [...byId.values()].sort((a, b) => cw(me, a.id, M) - cw(me, b.id, M));
  }

  /** Broadcast of an encoded message to every node (and this one with `toMyself`). */
  send(
    p: Uint8Array,
    id: number,
    toMyself: boolean,
    ack: AckOptions | null,
  ): Promise<DeliveryReport | void> {
    const { host, acks } = this.#g;
    const port = host.port;
    const self = port.self;
    if (toMyself) host.deliverLocal(self, self.id, p, "broadcast", 0, id);
    if (!ack) {
      const frame: Bcast = { t: T.Bcast, s: self, id, h: 0, lim: port.id, a: false, p };
      this.#spread(frame, port.id, null);
      return port.ready();
    }
    const q = acks.seq.take("b");
    const frame: Bcast = {
      t: T.Bcast,
      s: self,
      id,
      h: 0,
      lim: port.id,
      a: true,
      q,
      lo: acks.seq.floor("b"),
      p,
    };
    let reached: number[] | null = null;
    const { promise, pending } = acks.track<DeliveryReport>(id, ack, {
      want: [],
      stream: "b",
      complete: () => reached !== null,
      result: (pd) => ({
        reached: acks.clockwise(toMyself ? [self.id, ...reached!] : reached!),
        missing: [],
        rtt: port.clock.now() - pd.started,
      }),
      resend: () => {},
    });
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
        acks.settleIfDone(id, pending);
      },
    };
    const key = `${self.id}|${id}`;
    this.#states.set(key, state);
    this.#spread(frame, port.id, state);
    return promise.finally(() => this.#states.delete(key));
  }

  /** Hands each stretch of `(self, lim)` to the known node that starts it. */
  #spread(f: Bcast, lim: number, state: BcastState | null): void {
    const port = this.#g.host.port;
    const inside = this.#inside(lim);
    // Only the origin holds the frame with hop count 0.
    const count = f.h === 0 ? "sent" : "forwarded";
    for (let i = 0; i < inside.length; i++) {
      const child = inside[i];
      const sub: Bcast = {
        ...f,
        lim: i + 1 < inside.length ? inside[i + 1].id : lim,
        h: f.h + 1,
      };
      port.send(child, sub, "broadcast", count);
      if (state) {
        const c: Child = { ref: child, frame: sub, timer: null, tries: 0 };
        state.children.set(child.id, c);
        this.#armChild(state, c);
      }
    }
    if (state) this.#maybeDone(state);
  }

  #armChild(state: BcastState, c: Child): void {
    const port = this.#g.host.port;
    c.timer = port.timer(Math.min(MAX_RTO, FIRST_RTO * 2 ** c.tries), () => {
      // Stops when the broadcast is over or forgotten here (the origin's deadline, REMEMBER_MS).
      if (!state.children.has(c.ref.id) || this.#states.get(`${state.src}|${state.id}`) !== state) {
        return;
      }
      // Unanswered tries alone do not make a child gone: its answers may have been lost (7 in a
      // row: about 1e-5 at 10 % loss each way), and a live child left out of the report would
      // be neither reached nor missing. Gone is what the failure detector says.
      if (++c.tries > CHILD_TRIES && !this.#trusted(c.ref.id)) {
        // The child is gone. The first live node after it (once the ring has repaired) starts
        // what is left of its stretch: look it up and hand the stretch over.
        state.children.delete(c.ref.id);
        return this.#handOver(state, c.ref, c.frame);
      }
      port.send(c.ref, c.frame, "broadcast", "retransmitted");
      this.#armChild(state, c);
    });
  }

  /** Whether the ring takes `id` for alive: a node of its table, not suspected. */
  #trusted(id: number): boolean {
    const port = this.#g.host.port;
    let known = false;
    port.table?.forEachKnown((n) => {
      if (n.id === id) known = true;
    });
    return known && !port.suspected().some((n) => n.id === id);
  }

  #handOver(state: BcastState, gone: NodeRef, frame: Bcast): void {
    const port = this.#g.host.port;
    const M = port.table!.maxKey;
    const lim = frame.lim;
    const key = (gone.id + 1) % M;
    state.children.set(gone.id, { ref: gone, frame, timer: null, tries: 0 });
    port.lookup(key, (n) => {
      if (!state.children.delete(gone.id)) return;
      if (n.id !== gone.id && n.id !== port.id && inOO(n.id, gone.id, lim, M)) {
        const c: Child = { ref: n, frame, timer: null, tries: 0 };
        state.children.set(n.id, c);
        port.send(n, frame, "broadcast", "retransmitted");
        this.#armChild(state, c);
      } else this.#maybeDone(state);
    });
  }

  #maybeDone(state: BcastState): void {
    if (state.finished || state.children.size > 0) return;
    state.finished = true;
    const reached = state.reached;
    if (state.parent) {
      this.#g.host.port.send(
        state.parent,
        { t: T.BcastDone, s: state.src, id: state.id, w: false, r: reached },
        "control",
        "sent",
      );
    } else state.done?.(reached);
  }

  onBcastDone(from: NodeRef, f: FrameOf<"BcastDone">): void {
    const state = this.#states.get(`${f.s}|${f.id}`);
    if (!state) return;
    const c = state.children.get(from.id);
    if (!c) return;
    if (f.w) {
      c.tries = 0;
      return;
    }
    c.timer?.cancel();
    state.children.delete(from.id);
    for (const n of f.r) state.reached.push(n);
    this.#maybeDone(state);
  }

  onBcast(from: NodeRef, f: Bcast): void {
    const { host, acks, counters, seen } = this.#g;
    const port = host.port;
    if (!port.table) return;
    const src = f.s;
    const id = f.id;
    const deliver = () => host.deliverLocal(src, port.id, f.p, "broadcast", f.h, id);
    if (!f.a) {
      if (!seen.once(`b${src.id}|${id}`)) {
        counters.broadcast.duplicates++;
        return;
      }
      deliver();
      return this.#spread(f, f.lim, null);
    }
    const key = `${src.id}|${id}`;
    const existing = this.#states.get(key);
    if (existing) {
      // A retransmission: answer with the result, or say the subtree is still being covered so
      // the parent keeps waiting instead of giving this node up.
      counters.broadcast.duplicates++;
      port.send(
        from,
        existing.finished
          ? { t: T.BcastDone, s: src.id, id, w: false, r: existing.reached }
          : { t: T.BcastDone, s: src.id, id, w: true, r: [] },
        "control",
        "sent",
      );
      return;
    }
    const state: BcastState = {
      src: src.id,
      id,
      parent: from,
      children: new Map(),
      reached: [port.id],
      finished: false,
    };
    this.#states.set(key, state);
    // Forget finished broadcasts after a while; retransmissions stop long before.
    port.timer(REMEMBER_MS, () => this.#states.delete(key));
    acks.inOrder(`${src.id}|b`, f.q!, f.lo!, deliver);
    this.#spread(f, f.lim, state);
  }
}
