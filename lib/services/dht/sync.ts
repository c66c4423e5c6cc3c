/**
 * Anti-entropy between replica sets, by range digests.
 *
 * The items of replica `i` held in a node's range `(lo, hi]` are the keys `K = (lo − off(i),
 * hi − off(i)]`; their replica `j` lies in `K + off(j)`, a range held by one or a few other
 * nodes. A _session_ compares replica `i` of `K` here with replica `j` there: it walks `K` from
 * its start, routing a request to the position of the next key's replica `j`; the node
 * responsible answers for the part of the walk it covers with a digest (see digest.ts); the walk
 * goes on past it. Buckets that differ are split again (requests straight to that node) or,
 * once small, exchanged: our items pushed, theirs pulled. Both sides merge what they receive
 * (register.ts `merge`: the newer accepted state, promises raised), so repair traffic follows
 * the differences, not what is stored.
 *
 * - Routine rounds (every `syncMs`): each node compares each replica index of its range with the
 *   next replica (`j = i + 1 mod f`); round the cycle of `f` sessions, every pair of replicas
 *   converges.
 * - Recovery: a node that takes over a range it was not handed (its predecessor crashed) holds
 *   no items there; it compares that range with every other replica (`j ≠ i`) before answering
 *   for it, so it never answers with a state older than what a majority acknowledged.
 *
 * A step not answered within 2 s is sent again twice, then given up (the session ends
 * incomplete; the next round tries again).
 *
 * @module
 */

import type { NodeRef, Timer } from "../../com/transport.ts";
import { addMod, cw, inOC } from "../../core/id_space.ts";
import { type FrameOf, T } from "../../wire/schema.ts";
import { type DhtContext, mergeItem, NOT_A_REPLICA } from "./context.ts";
import { requestId } from "./host.ts";
import { bucketOf, childPrefix, compareDigests, digest, keyHash, underPrefix } from "./digest.ts";
import { coverEnd, keyRange, replicaPosition, span } from "./replicas.ts";
import { fromWireItem, type Item, toWireItem, type WireItem } from "./store.ts";
import { chunk } from "./transfer.ts";

/** Buckets at most this big on one side are exchanged whole rather than split again. */
const LEAF = 32;
const STEP_MS = 2000;
const STEP_TRIES = 3;

interface Session {
  i: number;
  j: number;
  b: number;
  cursor: number;
  /** Keys of the walk not yet covered by an answer. */
  left: number;
  /** Steps waiting for an answer. */
  open: number;
  complete: boolean;
  done: ((complete: boolean) => void) | null;
}

interface Step {
  session: Session;
  pull: boolean;
  a: number;
  b: number;
  lv: number;
  x: number;
  /** The node asked (null: routed, a step of the walk). */
  to: NodeRef | null;
  tries: number;
  timer: Timer;
}

/** Anti-entropy of one node. */
export class AntiEntropy {
  readonly #ctx: DhtContext;
  readonly #steps = new Map<number, Step>();

  /** Anti-entropy over `ctx`. */
  constructor(ctx: DhtContext) {
    this.#ctx = ctx;
  }

  /** An id for a new step (see host.ts `requestId`). */
  #newId(): number {
    return requestId(() => this.#ctx.host.random(), (q) => this.#steps.has(q));
  }

  /** Steps waiting for an answer. */
  get open(): number {
    return this.#steps.size;
  }

  /** A routine round over the position range `(lo, hi]`: each replica index with the next. */
  round(lo: number, hi: number): void {
    const { f, maxKey } = this.#ctx;
    if (f === 1) return;
    for (let i = 0; i < f; i++) {
      const [a, b] = keyRange(lo, hi, i, f, maxKey);
      this.#session(i, (i + 1) % f, a, b, null);
    }
  }

  /**
   * Recovers the position range `(lo, hi]` from every other replica; `done` is told whether
   * every walk completed.
   */
  recover(lo: number, hi: number, done: (complete: boolean) => void): void {
    const { f, maxKey } = this.#ctx;
    let left = f * (f - 1);
    let complete = true;
    if (left === 0) return done(true);
    for (let i = 0; i < f; i++) {
      const [a, b] = keyRange(lo, hi, i, f, maxKey);
      for (let j = 0; j < f; j++) {
        if (j === i) continue;
        this.#session(i, j, a, b, (ok) => {
          complete &&= ok;
          if (--left === 0) done(complete);
        });
      }
    }
  }

  /** Drops every step (the node stopped). */
  close(): void {
    for (const s of this.#steps.values()) s.timer.cancel();
    this.#steps.clear();
  }

  #session(i: number, j: number, a: number, b: number, done: Session["done"]): void {
    const s: Session = {
      i,
      j,
      b,
      cursor: a,
      left: span(a, b, this.#ctx.maxKey),
      open: 0,
      complete: true,
      done,
    };
    this.#walk(s);
  }

  #walk(s: Session): void {
    if (s.left > 0) this.#request(s, s.cursor, s.b, 0, 0, null, 0);
    else this.#maybeEnd(s);
  }

  #maybeEnd(s: Session): void {
    if (s.left > 0 || s.open > 0 || !s.done) return;
    const done = s.done;
    s.done = null;
    done(s.complete);
  }

  #request(
    s: Session,
    a: number,
    b: number,
    lv: number,
    x: number,
    to: NodeRef | null,
    tries: number,
  ): void {
    const { host, maxKey } = this.#ctx;
    const q = this.#newId();
    const k = replicaPosition(addMod(a, 1, maxKey), s.j, this.#ctx.f, maxKey);
    // Sent straight to a node, a request has taken its first hop (see Proposer).
    const frame: FrameOf<"DhtSyncReq"> = {
      t: T.DhtSyncReq,
      k,
      h: 1,
      ph: 0,
      f: -1,
      s: host.self(),
      i: s.i,
      j: s.j,
      a,
      b,
      lv,
      x,
      q,
    };
    if (to) host.send(to, frame, tries > 0);
    else host.route(frame, tries > 0);
    s.open++;
    const timer = host.timer(STEP_MS, () => {
      if (this.#steps.get(q) !== step) return;
      this.#steps.delete(q);
      s.open--;
      if (tries + 1 < STEP_TRIES) return this.#request(s, a, b, lv, x, to, tries + 1);
      s.complete = false;
      if (!to) s.left = 0; // the walk cannot go past an unanswered part
      this.#maybeEnd(s);
    });
    const step: Step = { session: s, pull: false, a, b, lv, x, to, tries, timer };
    this.#steps.set(q, step);
  }

  #pull(s: Session, to: NodeRef, a: number, c: number, lv: number, xs: number[]): void {
    const { host } = this.#ctx;
    const q = this.#newId();
    host.send(to, { t: T.DhtPull, q, j: s.j, ix: s.i, a, c, lv, xs });
    s.open++;
    const timer = host.timer(STEP_MS, () => {
      if (this.#steps.get(q) !== step) return;
      this.#steps.delete(q);
      s.open--;
      s.complete = false;
      this.#maybeEnd(s);
    });
    const step: Step = { session: s, pull: true, a, b: c, lv, x: 0, to, tries: 0, timer };
    this.#steps.set(q, step);
  }

  /** Replica-`i` items with keys in `(a, b]` under `prefix` at `lv`. */
  #items(i: number, a: number, b: number, lv: number, prefix: number): Item[] {
    const all = this.#ctx.store.keysIn(i, a, b);
    return lv === 0 ? all : all.filter((it) => underPrefix(keyHash(it.key), lv, prefix));
  }

  /** Requester: a digest answered one of our requests. */
  onDigest(from: NodeRef, f: FrameOf<"DhtDigest">): void {
    const q = f.q;
    const step = this.#steps.get(q);
    if (!step || step.pull) return;
    const { maxKey } = this.#ctx;
    const c = f.c;
    const covered = c === step.a ? maxKey : cw(step.a, c, maxKey);
    if (covered > span(step.a, step.b, maxKey)) return;
    this.#steps.delete(q);
    step.timer.cancel();
    const s = step.session;
    s.open--;
    const { lv, x } = step;
    const mine = this.#items(s.i, step.a, c, lv, x);
    const plan = compareDigests(digest(mine, lv), f.d, lv, LEAF);
    if (plan.exchange.length) {
      const wanted = new Set(plan.exchange);
      const push = mine.filter((it) => wanted.has(bucketOf(keyHash(it.key), lv)));
      this.#push(from, s.j, step.a, c, push.map(toWireItem));
      this.#pull(s, from, step.a, c, lv + 1, plan.exchange.map((b) => childPrefix(x, b)));
    }
    for (const b of plan.split) this.#request(s, step.a, c, lv + 1, childPrefix(x, b), from, 0);
    if (!step.to) {
      s.left -= covered;
      s.cursor = c;
      this.#walk(s);
    } else this.#maybeEnd(s);
  }

  #push(to: NodeRef, ix: number, a: number, b: number, items: WireItem[]): void {
    for (const its of chunk(items, this.#ctx.options.maxValueBytes)) {
      this.#ctx.host.send(to, {
        t: T.DhtItems,
        q: 0,
        n: 0,
        m: "sync",
        ix,
        a,
        b,
        last: false,
        rec: false,
        its,
      });
    }
  }

  /** Responder: a routed request for our digest of part of a key range reached us. */
  onRequest(f: FrameOf<"DhtSyncReq">): void {
    const { host, f: rf, maxKey } = this.#ctx;
    const { i, j, a, b, lv, x } = f;
    if (i >= rf || j >= rf || f.k !== replicaPosition(addMod(a, 1, maxKey), j, rf, maxKey)) {
      return host.reject(NOT_A_REPLICA);
    }
    const [lo, hi] = host.range();
    const [kx, ky] = keyRange(lo, hi, j, rf, maxKey);
    if (!inOC(addMod(a, 1, maxKey), kx, ky, maxKey)) return;
    const c = coverEnd(a, b, kx, ky, maxKey);
    const d = digest(this.#items(j, a, c, lv, x), lv);
    host.send(f.s, { t: T.DhtDigest, q: f.q, c, d });
  }

  /** Responder: send the items of the buckets asked for. */
  onPull(from: NodeRef, f: FrameOf<"DhtPull">): void {
    const { f: rf } = this.#ctx;
    const { q, j, ix, a, c, lv } = f;
    if (j >= rf || ix >= rf) return this.#ctx.host.reject(NOT_A_REPLICA);
    const xs = new Set(f.xs);
    const items = this.#ctx.store.keysIn(j, a, c)
      .filter((it) => xs.has(keyHash(it.key) >>> (32 - 5 * lv)))
      .map(toWireItem);
    const chunks = chunk(items, this.#ctx.options.maxValueBytes);
    if (chunks.length === 0) chunks.push([]);
    chunks.forEach((its, n) => {
      this.#ctx.host.send(from, {
        t: T.DhtItems,
        q,
        n,
        m: "sync",
        ix,
        a,
        b: c,
        last: n === chunks.length - 1,
        rec: false,
        its,
      });
    });
  }

  /**
   * Items from a sibling replica, stored as replica `ix` where this node owns that position
   * (`owns`); the answer to a pull of ours ends that step when `last`.
   */
  onItems(f: FrameOf<"DhtItems">, owns: (pos: number) => boolean): void {
    const { f: rf, maxKey } = this.#ctx;
    const ix = f.ix;
    if (ix >= rf) return this.#ctx.host.reject(NOT_A_REPLICA);
    for (const w of f.its) {
      if (!owns(replicaPosition(w.key, ix, rf, maxKey))) {
        this.#ctx.counters.refused++;
        continue;
      }
      if (mergeItem(this.#ctx, w.key, ix, fromWireItem(w))) this.#ctx.counters.repaired++;
    }
    const q = f.q;
    const step = q > 0 ? this.#steps.get(q) : undefined;
    if (step?.pull && f.last) {
      this.#steps.delete(q);
      step.timer.cancel();
      step.session.open--;
      this.#maybeEnd(step.session);
    }
  }
}
