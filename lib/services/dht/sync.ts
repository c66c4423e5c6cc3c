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
 * Exchanges move at most {@linkcode EXCHANGE_BYTES} each way per round trip, by ascending key:
 * a pull is answered with that much at most, naming the key it stopped at, and pulled again from
 * there; only two exchanges are in flight at once. So one pull costs a node a bounded answer
 * whoever sends it, and a recovery of a large range never queues more for one link than it can
 * hold (past 16 MiB a TCP link is dropped). Our own items beyond the first batch of a push wait
 * for later rounds (the other side's pulls usually fetch them sooner).
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
import { childPrefix, compareDigests, digest, keyHash, underPrefix } from "./digest.ts";
import { coverEnd, keyRange, replicaPosition, span } from "./replicas.ts";
import { fromWireItem, type Item, toWireItem, type WireItem } from "./store.ts";
import { chunk, itemBytes } from "./transfer.ts";

/** Buckets at most this big on one side are exchanged whole rather than split again. */
const LEAF = 32;
/**
 * Most bytes of items (as `itemBytes` counts them) one batch of an exchange moves each way: a
 * pull's answer, or our push. As much as a handover keeps in flight (8 chunks of 128 KiB).
 */
export const EXCHANGE_BYTES = 1024 * 1024;
/**
 * Exchanges in flight at once (the others wait their turn): what one node queues for another in
 * answer is then at most a few batches, far below a link's limit (16 MiB), however many buckets
 * differ.
 */
const EXCHANGES = 2;
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
  /** The exchange this step pulls for (null: a request for a digest). */
  exchange: Exchange | null;
  a: number;
  b: number;
  lv: number;
  x: number;
  /** The node asked (null: routed, a step of the walk). */
  to: NodeRef | null;
  tries: number;
  timer: Timer;
}

/**
 * The items of some buckets of the keys `(a, c]`, swapped with one node: ours pushed, theirs
 * pulled, in batches of at most {@linkcode EXCHANGE_BYTES} each way, by ascending key from `a`.
 */
interface Exchange {
  session: Session;
  to: NodeRef;
  /** Pull the keys after this one (it moves on as batches arrive). */
  a: number;
  c: number;
  /** Push our keys after this one; null once all are pushed. */
  pushFrom: number | null;
  /** Level and prefixes of the buckets (prefixes at `lv`, the level below the digest's). */
  lv: number;
  xs: number[];
}

/** Anti-entropy of one node. */
export class AntiEntropy {
  readonly #ctx: DhtContext;
  readonly #steps = new Map<number, Step>();
  /** Exchanges waiting for one of the {@linkcode EXCHANGES} turns, and turns taken. */
  readonly #queue: Exchange[] = [];
  #busy = 0;

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
    this.#queue.length = 0;
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
    const step: Step = { session: s, exchange: null, a, b, lv, x, to, tries, timer };
    this.#steps.set(q, step);
  }

  /** Queues an exchange; it stays open in its session until its last pull is answered. */
  #exchange(e: Exchange): void {
    e.session.open++;
    this.#queue.push(e);
    this.#pump();
  }

  #pump(): void {
    while (this.#busy < EXCHANGES && this.#queue.length > 0) this.#batch(this.#queue.shift()!);
  }

  /** One batch of an exchange each way: our next items pushed, theirs pulled. */
  #batch(e: Exchange): void {
    const { host, maxKey } = this.#ctx;
    const s = e.session;
    this.#busy++;
    if (e.pushFrom !== null) {
      const prefixes = new Set(e.xs);
      const ours = this.#ctx.store.keysIn(s.i, e.pushFrom, e.c)
        .filter((it) => prefixes.has(keyHash(it.key) >>> (32 - 5 * e.lv)));
      const { batch, cut } = firstBytes(ours, e.pushFrom, e.c, maxKey);
      this.#push(e.to, s.j, e.pushFrom, cut, batch);
      e.pushFrom = cut === e.c ? null : cut;
    }
    const q = this.#newId();
    host.send(e.to, { t: T.DhtPull, q, j: s.j, ix: s.i, a: e.a, c: e.c, lv: e.lv, xs: e.xs });
    const timer = host.timer(STEP_MS, () => {
      if (this.#steps.get(q) !== step) return;
      this.#steps.delete(q);
      s.complete = false;
      this.#endBatch(e, false);
    });
    const step: Step = {
      session: s,
      exchange: e,
      a: e.a,
      b: e.c,
      lv: e.lv,
      x: 0,
      to: e.to,
      tries: 0,
      timer,
    };
    this.#steps.set(q, step);
  }

  /**
   * A batch ended: the next one goes when the other side stopped short of the end (`more`);
   * our remaining pushes wait for the next round otherwise (the other side's own pulls, or
   * later digests, see to them), so an exchange ends when the pulling does.
   */
  #endBatch(e: Exchange, more: boolean): void {
    this.#busy--;
    if (more) this.#queue.push(e);
    else {
      e.session.open--;
      this.#maybeEnd(e.session);
    }
    this.#pump();
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
    if (!step || step.exchange || (step.to && step.to.id !== from.id)) return;
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
      this.#exchange({
        session: s,
        to: from,
        a: step.a,
        c,
        pushFrom: step.a,
        lv: lv + 1,
        xs: plan.exchange.map((b) => childPrefix(x, b)),
      });
    }
    for (const b of plan.split) this.#request(s, step.a, c, lv + 1, childPrefix(x, b), from, 0);
    if (!step.to) {
      s.left -= covered;
      s.cursor = c;
      this.#walk(s);
    } else this.#maybeEnd(s);
  }

  #push(to: NodeRef, ix: number, a: number, b: number, items: readonly WireItem[]): void {
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

  /**
   * Responder: send the items of the buckets asked for, by ascending key from `a`, at most
   * {@linkcode EXCHANGE_BYTES} of them: the chunks name where they stopped (`b`), and the
   * requester asks again from there.
   */
  onPull(from: NodeRef, f: FrameOf<"DhtPull">): void {
    const { f: rf, maxKey } = this.#ctx;
    const { q, j, ix, a, c, lv } = f;
    if (j >= rf || ix >= rf) return this.#ctx.host.reject(NOT_A_REPLICA);
    const xs = new Set(f.xs);
    const wanted = this.#ctx.store.keysIn(j, a, c)
      .filter((it) => xs.has(keyHash(it.key) >>> (32 - 5 * lv)));
    const { batch, cut } = firstBytes(wanted, a, c, maxKey);
    const chunks = chunk(batch, this.#ctx.options.maxValueBytes);
    if (chunks.length === 0) chunks.push([]);
    chunks.forEach((its, n) => {
      this.#ctx.host.send(from, {
        t: T.DhtItems,
        q,
        n,
        m: "sync",
        ix,
        a,
        b: cut,
        last: n === chunks.length - 1,
        rec: false,
        its,
      });
    });
  }

  /**
   * Items from a sibling replica, stored as replica `ix` where this node owns that position
   * (`owns`); the last chunk of the answer to a pull of ours ends that batch of its exchange.
   */
  onItems(from: NodeRef, f: FrameOf<"DhtItems">, owns: (pos: number) => boolean): void {
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
    const step = f.q > 0 ? this.#steps.get(f.q) : undefined;
    const e = step?.exchange;
    if (!f.last || !e || e.to.id !== from.id) return;
    this.#steps.delete(f.q);
    step!.timer.cancel();
    // Short of the end: the rest from where this batch stopped.
    const more = f.b !== e.c && inOC(f.b, e.a, e.c, maxKey);
    if (more) e.a = f.b;
    this.#endBatch(e, more);
  }
}

/**
 * The first items of `(a, c]` in key order from `a` that fit {@linkcode EXCHANGE_BYTES} (at
 * least one), as wire items, and the key they reach: `c` when they are all of them.
 */
function firstBytes(
  items: Item[],
  a: number,
  c: number,
  maxKey: number,
): { batch: WireItem[]; cut: number } {
  // In the whole ring (a, a], key a comes last.
  const at = (key: number) => cw(a, key, maxKey) || maxKey;
  items.sort((x, y) => at(x.key) - at(y.key));
  const batch: WireItem[] = [];
  let bytes = 0;
  for (const it of items) {
    const w = toWireItem(it);
    bytes += itemBytes(w);
    if (batch.length > 0 && bytes > EXCHANGE_BYTES) return { batch, cut: batch.at(-1)!.key };
    batch.push(w);
  }
  return { batch, cut: c };
}
