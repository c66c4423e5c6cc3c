/**
 * Keeping fingers useful, in the DKS spirit rather than by periodic polling alone:
 * - correction-on-change: every node heard of is considered for the fingers it fits better;
 * - correction-on-use: a routed frame says which finger its previous hop used; a node that is
 *   not the best node for that finger says so (`Fix`);
 * - lookups (`Lookup` → `LookupOk`), used to fill every finger after a join and to refresh one
 *   finger at a time as a slow safety net.
 *
 * @module
 */

import type { NodeRef } from "../com/transport.ts";
import { type FrameOf, T } from "../wire/schema.ts";
import { addMod, cw, inOC } from "./id_space.ts";
import type { Ring } from "./ring.ts";
import { Phase } from "./routing_table.ts";

type LookupDone = (n: NodeRef, pred: NodeRef | null, hops: number) => void;

/** Finger maintenance and lookups of one node. */
export class FingerUpkeep {
  readonly #ring: Ring;
  /**
   * Lookups waiting for an answer, with when they were sent (swept by the periodic refresh);
   * `null` when none waits (most of the time: a simulated network would hold an empty map per
   * node). A few at a time, so a list.
   */
  #lookups: { q: number; done: LookupDone; at: number }[] | null = null;
  #nextReq = 1;
  #refreshIndex = 0;

  constructor(ring: Ring) {
    this.#ring = ring;
  }

  /**
   * Takes a node into the fingers where it fits better; emits `fingers` when any changed. A node
   * this one suspects is not taken on another's word (a node heard from directly was un-suspected
   * before its frame is handled).
   */
  learn(n: NodeRef, emit = true): void {
    const ring = this.#ring;
    if (n.id === ring.id || !ring.table || ring.liveness.suspects(n.id)) return;
    const changed = ring.table.considerFinger(n);
    if (emit && changed.length) this.emitFingers(changed);
  }

  emitFingers(indices: number[]): void {
    const ring = this.#ring;
    if (!ring.listening) return;
    const tb = ring.table!;
    ring.emit({
      type: "fingers",
      changed: indices.map((i) => ({ index: i, target: tb.target(i), node: tb.fingers[i] })),
    });
  }

  /** Looks up the node responsible for `key`. */
  lookup(key: number, done: LookupDone): void {
    const ring = this.#ring;
    const q = this.#nextReq++;
    (this.#lookups ??= []).push({ q, done, at: ring.clock.now() });
    ring.forwarder.route(null, {
      t: T.Lookup,
      k: key,
      h: 0,
      ph: Phase.Approach,
      f: -1,
      r: ring.self,
      q,
    });
  }

  onLookupOk(f: FrameOf<"LookupOk">): void {
    const all = this.#lookups;
    const i = all?.findIndex((l) => l.q === f.q) ?? -1;
    if (i < 0) return;
    const pending = all![i];
    all!.splice(i, 1);
    if (all!.length === 0) this.#lookups = null;
    this.learn(f.n);
    pending.done(f.n, f.p ?? null, f.h);
  }

  /** Correction-on-use: the previous hop used us as its finger `index`; are we the right one? */
  correctOnUse(from: NodeRef, index: number): void {
    const ring = this.#ring;
    const tb = ring.table!;
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
    if (best) ring.sendControl(from, { t: T.Fix, i: index, n: best });
  }

  /** Looks up each finger target in turn, skipping targets a previous answer already covers. */
  refreshAll(): void {
    const ring = this.#ring;
    const tb = ring.table!;
    const M = tb.maxKey;
    const covered: [number, number][] = [];
    const step = (i: number) => {
      if (!ring.running) return;
      for (; i < tb.fingers.length; i++) {
        const t = tb.target(i);
        if (tb.responsible(t) || inOC(t, tb.self.id, tb.succ.id, M)) continue;
        if (!covered.some(([a, b]) => inOC(t, a, b, M))) break;
      }
      if (i >= tb.fingers.length) return;
      this.lookup(tb.target(i), (n, pred) => {
        if (pred) covered.push([pred.id, n.id]);
        step(i + 1);
      });
    };
    step(0);
  }

  /** Refreshes the next finger in round robin (the safety net), and forgets lost lookups. */
  refreshOne(): void {
    const ring = this.#ring;
    // Lookups that never returned (lost with a crashed hop) are forgotten after a while.
    const old = ring.clock.now() - ring.timing.joinTimeoutMs;
    const all = this.#lookups;
    if (all !== null && all[0].at < old) {
      // Oldest first: the list is in sending order.
      let n = 0;
      while (n < all.length && all[n].at < old) n++;
      all.splice(0, n);
      if (all.length === 0) this.#lookups = null;
    }
    const tb = ring.table!;
    if (tb.alone || tb.fingers.length === 0) return;
    for (let tries = 0; tries < tb.fingers.length; tries++) {
      const i = this.#refreshIndex++ % tb.fingers.length;
      const t = tb.target(i);
      if (tb.responsible(t) || inOC(t, tb.self.id, tb.succ.id, tb.maxKey)) continue;
      this.lookup(t, (n) => {
        const cur = tb.fingers[i];
        if (!cur || cur.id !== n.id) {
          tb.setFinger(i, n.id === tb.self.id ? null : n);
          this.emitFingers([i]);
        }
      });
      return;
    }
  }
}
