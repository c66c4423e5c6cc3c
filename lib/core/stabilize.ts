/**
 * Keeping successor and predecessor pointers right: a Chord-style notify/stabilise exchange,
 * triggered by events and repeated slowly as a safety net, successor lists that flow backwards,
 * and the graceful leave.
 *
 * - `Notify` ("I believe I am your predecessor"): the receiver takes the sender as predecessor
 *   when it sits between the current one and itself, and answers with a `Stab`.
 * - `Stab` ("my predecessor is `p`, my successors are `s`"): a node whose successor sent it
 *   refreshes its successor list, or moves to `p` when `p` sits between them; any node learns a
 *   closer successor from it.
 * - `Leave`: the leaver's neighbours close the gap at once, without waiting for timeouts.
 *
 * @module
 */

import type { NodeRef } from "../com/transport.ts";
import { T } from "../wire/schema.ts";
import { cw, inOO } from "./id_space.ts";
import type { Ring } from "./ring.ts";

/** Links to non-neighbours idle this long are closed, ms. */
const IDLE_LINK_MS = 30_000;

/** Successor and predecessor maintenance of one node. */
export class Stabilizer {
  readonly #ring: Ring;

  constructor(ring: Ring) {
    this.#ring = ring;
  }

  /** Safety-net stabilisation: tell the successor we believe we are its predecessor. */
  stabilize(): void {
    const ring = this.#ring;
    const tb = ring.table!;
    if (!tb.alone) ring.sendControl(tb.succ, { t: T.Notify });
    this.#closeIdleLinks();
  }

  /** Whether `id` is the predecessor, a successor or a finger. */
  isNeighbour(id: number): boolean {
    const tb = this.#ring.table!;
    return tb.pred?.id === id || tb.succList.some((n) => n.id === id) ||
      tb.fingers.some((n) => n?.id === id);
  }

  /**
   * Links opened for one-off exchanges (lookup answers, acknowledgements, corrections) would
   * otherwise accumulate: close those to non-neighbours that sat idle, and forget their
   * liveness records. Neighbours keep their links (and heartbeats).
   */
  #closeIdleLinks(): void {
    const ring = this.#ring;
    for (const id of ring.transport.idle(IDLE_LINK_MS)) {
      if (this.isNeighbour(id)) continue;
      ring.transport.disconnect(id);
      ring.liveness.forgetRecord(id);
    }
  }

  setPred(p: NodeRef | null): void {
    const ring = this.#ring;
    const tb = ring.table!;
    const old = tb.pred;
    tb.pred = p;
    ring.emit({ type: "newpred", pred: p, old: old === tb.self ? null : old });
  }

  setSucc(s: NodeRef, rest: readonly NodeRef[]): void {
    const ring = this.#ring;
    const tb = ring.table!;
    const old = tb.alone ? null : tb.succ;
    tb.setSuccList(s, rest);
    if (old?.id !== s.id) ring.emit({ type: "newsucc", succ: s, old });
    if (ring.status === "alone") {
      ring.status = "connected";
      ring.emit({ type: "connected" });
    }
    this.#propagateSuccList();
  }

  /** Successor lists flow backwards: our predecessor's list is us followed by ours. */
  #propagateSuccList(): void {
    const ring = this.#ring;
    const tb = ring.table!;
    if (tb.pred && tb.pred !== tb.self && !tb.alone) {
      ring.sendControl(tb.pred, { t: T.Stab, p: tb.pred, s: tb.succList });
    }
  }

  onNotify(from: NodeRef): void {
    const ring = this.#ring;
    const tb = ring.table!;
    const p = tb.pred;
    if (p === null || p === tb.self || inOO(from.id, p.id, tb.self.id, tb.maxKey)) {
      if (p?.id !== from.id) {
        this.setPred(from);
        if (tb.alone) {
          tb.setSuccList(from, []);
          ring.status = "connected";
          ring.emit({ type: "newsucc", succ: from, old: null });
          ring.emit({ type: "connected" });
        }
        if (p && p !== tb.self && p.id !== from.id) {
          ring.sendControl(p, { t: T.Stab, p: from, s: tb.succList });
        }
      }
      ring.fingers.learn(from);
    }
    ring.sendControl(from, { t: T.Stab, p: tb.pred ?? undefined, s: tb.succList });
  }

  onStab(from: NodeRef, p: NodeRef | null, succs: readonly NodeRef[]): void {
    const ring = this.#ring;
    const tb = ring.table!;
    const me = tb.self.id;
    const M = tb.maxKey;
    ring.fingers.learn(from);
    if (p) ring.fingers.learn(p);
    const succ = tb.succ;
    // `p` sits between us and our successor: a closer successor, unless this node suspects it
    // (or took it for crashed). Then the sender has not noticed yet, and `p` comes back only
    // when it answers this node itself (liveness.ts), not on hearsay.
    const closer = p !== null && p.id !== me && inOO(p.id, me, succ.id, M);
    const suspect = closer && ring.liveness.suspects(p.id);
    if (from.id === succ.id && !tb.alone) {
      if (closer && !suspect) {
        this.setSucc(p, [from, ...succs]);
        ring.sendControl(p, { t: T.Notify });
        return;
      }
      const changed = tb.setSuccList(from, succs);
      // Notifying again while it names the suspect would only bring the same answer back at
      // once, again and again; the periodic stabilisation tells it later.
      if ((p === null || p.id !== me) && !suspect) ring.sendControl(from, { t: T.Notify });
      if (changed) this.#propagateSuccList();
      return;
    }
    if (tb.alone || inOO(from.id, me, succ.id, M)) {
      this.setSucc(from, succs);
      ring.sendControl(from, { t: T.Notify });
    } else if (closer && !suspect) {
      this.setSucc(p, [from, ...succs]);
      ring.sendControl(p, { t: T.Notify });
    }
  }

  /** Tells both neighbours that this node leaves, with what they need to close the gap. */
  announceLeave(): void {
    const ring = this.#ring;
    const tb = ring.table;
    if (!tb || tb.alone) return;
    const msg = { t: T.Leave, p: tb.pred ?? tb.self, s: tb.succList } as const;
    ring.sendControl(tb.succ, msg);
    if (tb.pred && tb.pred !== tb.self && tb.pred.id !== tb.succ.id) ring.sendControl(tb.pred, msg);
  }

  onLeave(from: NodeRef, p: NodeRef, succs: readonly NodeRef[]): void {
    const ring = this.#ring;
    const tb = ring.table!;
    ring.liveness.expectLeave(from.id);
    ring.liveness.forgetContact(from.id);
    ring.keys.forget(from.id);
    const wasPred = tb.pred?.id === from.id;
    const wasSucc = !tb.alone && tb.succ.id === from.id;
    tb.forget(from.id);
    if (wasSucc) {
      const rest = succs.filter((n) => n.id !== from.id && n.id !== tb.self.id);
      if (rest.length) {
        this.setSucc(rest[0], rest.slice(1));
        ring.sendControl(rest[0], { t: T.Notify });
      }
    }
    if (wasPred) this.setPred(p.id === tb.self.id ? null : p);
    this.afterLoss(from);
  }

  /**
   * After a neighbour is gone: refill an empty successor list from the nodes still known (or,
   * when none is, from the nodes heard from lately), or fall back to alone.
   */
  afterLoss(gone: NodeRef): void {
    const ring = this.#ring;
    const tb = ring.table!;
    if (!tb.alone) return;
    let best: NodeRef | null = null;
    let bd = Infinity;
    const consider = (n: NodeRef) => {
      const d = cw(tb.self.id, n.id, tb.maxKey);
      if (d > 0 && d < bd) {
        bd = d;
        best = n;
      }
    };
    tb.forEachKnown(consider);
    if (!best) { for (const n of ring.liveness.contacts()) consider(n); }
    if (best) {
      this.setSucc(best, []);
      ring.sendControl(best, { t: T.Notify });
    } else if (ring.status !== "alone") {
      tb.pred = tb.self;
      ring.status = "alone";
      ring.emit({ type: "alone", last: gone });
    }
  }
}
