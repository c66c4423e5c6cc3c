/**
 * The client side of the DHT: each insert, lookup or remove is a CASPaxos proposer over the
 * key's replicas (see register.ts), with retransmission until its deadline.
 *
 * - A write prepares a fresh ballot at every replica, applies its change to the newest state a
 *   majority reports, and has a majority accept the result: 2 round trips. A compare-and-set that
 *   fails still writes the state it saw back, so the version it reports was chosen, not merely
 *   seen on one replica.
 * - A lookup first asks a majority of the replicas what they accepted (1 round trip, nothing
 *   written; this node itself first when it holds a replica, then replicas whose node is known):
 *   when a majority report one ballot, that state is chosen and is the answer, and replicas that
 *   answered with an older ballot are sent the chosen state (read repair). The other replicas
 *   are asked too as soon as an answer disagrees, or when the answers are late (twice the
 *   smoothed duration of recent one-round reads). Failing that (a write in flight, or replicas
 *   disagreeing after failures) it runs a full round that writes the newest state back, which
 *   repairs the replicas it reaches.
 *
 * Requests go straight to the node last known to answer for a replica's position (see
 * locations.ts), else they are routed there. They may be lost under churn: a round is routed
 * again to the replicas that did not answer after a timeout that doubles from 250 ms to 2 s; a
 * round refused by a majority (a higher ballot was promised: a concurrent writer) starts again
 * with a higher ballot after a random pause. The operation fails with a {@linkcode QuorumError}
 * naming how many replicas answered when its deadline passes.
 *
 * @module
 */

import type { NodeRef, Timer } from "../../com/transport.ts";
import { inOC } from "../../core/id_space.ts";
import type { DhtRoutedFrame } from "../../core/port.ts";
import { QuorumError, VersionConflictError } from "../../errors.ts";
import { type FrameOf, T } from "../../wire/schema.ts";
import { type DhtHost, requestId } from "./host.ts";
import {
  type Answer,
  applyIntent,
  type Change,
  highest,
  type Intent,
  readOutcome,
  type RegisterState,
} from "./register.ts";
import { Locations } from "./locations.ts";
import { majority, replicaPositions } from "./replicas.ts";

const FIRST_RTO = 250;
const MAX_RTO = 2000;
/** Times the one-round read is sent before a full round takes over. */
const READ_ROUNDS = 2;

/** A replica's answer to a request. */
export type ReplicaAnswer =
  | FrameOf<"DhtPromise">
  | FrameOf<"DhtAccepted">
  | FrameOf<"DhtState">
  | FrameOf<"DhtNack">;

/** What a write resolved with. */
export interface WriteResult {
  /** The key's version after the write (for a refused compare-and-set, not reached). */
  version: number;
  /** Replicas that acknowledged it (at least a majority). */
  replicas: number;
}

/** Counters the proposer keeps. */
export interface ProposerStats {
  /** Operations that failed for want of a quorum. */
  quorumFailures: number;
  /** Replicas sent a chosen state by a read (read repair). */
  learnsSent: number;
}

const enum Step {
  Read,
  Prepare,
  Accept,
  Waiting,
}

interface Op {
  key: number;
  positions: number[];
  intent: Intent;
  step: Step;
  q: number;
  c: number;
  t: number;
  /** Useful answers of this round by replica (read states, granted promises). */
  answers: Map<number, Answer & { from: NodeRef }>;
  oks: Set<number>;
  refused: Set<number>;
  /** Replicas that replied in this round (not counting "cannot answer now"). */
  answered: Set<number>;
  mostAnswered: number;
  full: Set<number>;
  /** Node each replica's request of this round went to straight (-1: routed). */
  sentTo: number[];
  /** Replicas asked in this round. */
  asked: Set<number>;
  /** Asks the replicas a one-round read did not ask yet. */
  hedge: Timer | null;
  change: Change | null;
  next: RegisterState | null;
  rto: number;
  rounds: number;
  /** When the current round started, and rounds lost to concurrent writers so far. */
  started: number;
  lost: number;
  timer: Timer | null;
  finish: (err: Error | null, value?: unknown) => void;
}

/** The proposer of one node. */
export class Proposer {
  readonly #host: DhtHost;
  readonly #f: number;
  readonly #needed: number;
  /** This node instance's ballot tag (random: even a restarted id never reuses a ballot). */
  readonly #tag: number;
  #counter = 0;
  readonly #ops = new Map<number, Op>();
  readonly #all = new Set<Op>();
  readonly #where: Locations;
  /** Smoothed duration of one-round reads, ms (when to ask the other replicas). */
  #readMs = 50;
  /** Counters. */
  readonly stats: ProposerStats = { quorumFailures: 0, learnsSent: 0 };

  /** A proposer over `host`. */
  constructor(host: DhtHost) {
    this.#host = host;
    this.#f = host.replication;
    this.#needed = majority(this.#f);
    this.#tag = 1 + Math.floor(host.random() * (2 ** 52 - 1));
    this.#where = new Locations(host.maxKey);
  }

  /** Operations in progress. */
  get pending(): number {
    return this.#all.size;
  }

  /** Reads `key`: the chosen state (`val === null`: absent). */
  read(key: number, timeoutMs: number, signal?: AbortSignal): Promise<RegisterState> {
    return this.#start(key, { op: "read", w: 0 }, timeoutMs, signal) as Promise<RegisterState>;
  }

  /** Runs a write (`insert` or `remove`) on `key`. */
  write(
    key: number,
    intent: Intent,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    return this.#start(key, intent, timeoutMs, signal) as Promise<WriteResult>;
  }

  /** A fresh write id. */
  writeId(): number {
    return Math.floor(this.#host.random() * 2 ** 53);
  }

  /** Fails every operation in progress (the node stopped). */
  close(err: Error): void {
    for (const op of [...this.#all]) op.finish(err);
  }

  #start(key: number, intent: Intent, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const host = this.#host;
    const what = intent.op === "read" ? "Lookup" : intent.op === "insert" ? "Insert" : "Remove";
    const onAbort = () => op.finish(signal!.reason);
    const deadline = host.timer(timeoutMs, () => {
      this.stats.quorumFailures++;
      const fullNote = op.full.size ? `, ${op.full.size} refused (storage full)` : "";
      op.finish(
        new QuorumError(
          `${what} of key ${key}: ${op.mostAnswered} of ${this.#f} replicas answered within ` +
            `${timeoutMs} ms (${this.#needed} needed${fullNote})`,
          { answered: op.mostAnswered, needed: this.#needed, replicas: this.#f },
        ),
      );
    });
    const op: Op = {
      key,
      positions: replicaPositions(key, this.#f, host.maxKey),
      intent,
      step: Step.Waiting,
      q: 0,
      c: 0,
      t: 0,
      answers: new Map(),
      oks: new Set(),
      refused: new Set(),
      answered: new Set(),
      mostAnswered: 0,
      full: new Set(),
      sentTo: [],
      asked: new Set(),
      hedge: null,
      change: null,
      next: null,
      rto: FIRST_RTO,
      rounds: 0,
      started: 0,
      lost: 0,
      timer: null,
      finish: (err, value) => {
        if (!this.#all.delete(op)) return;
        this.#ops.delete(op.q);
        op.timer?.cancel();
        op.hedge?.cancel();
        deadline.cancel();
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(value);
      },
    };
    this.#all.add(op);
    if (signal?.aborted) {
      queueMicrotask(onAbort);
      return promise;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    if (intent.op === "read") this.#round(op, Step.Read);
    else this.#prepare(op);
    return promise;
  }

  /** Starts a round of `step` with a new request id. */
  #round(op: Op, step: Step): void {
    this.#ops.delete(op.q);
    op.q = requestId(() => this.#host.random(), (q) => this.#ops.has(q));
    op.step = step;
    this.#ops.set(op.q, op);
    op.answers.clear();
    op.oks.clear();
    op.refused.clear();
    op.answered.clear();
    op.full.clear();
    op.asked.clear();
    op.hedge?.cancel();
    op.hedge = null;
    op.started = this.#host.now();
    this.#arm(op);
    if (step !== Step.Read) return this.#send(op, true);
    for (const i of this.#preferred(op).slice(0, this.#needed)) this.#ask(op, i, true);
    const wait = Math.min(op.rto, Math.max(1, 2 * this.#readMs));
    op.hedge = this.#host.timer(wait, () => this.#askRest(op));
  }

  /** Replica indices, cheapest to ask first: this node, then nodes known, then the rest. */
  #preferred(op: Op): number[] {
    const [lo, hi] = this.#host.range();
    const M = this.#host.maxKey;
    const cost = (i: number) => {
      const p = op.positions[i];
      return inOC(p, lo, hi, M) ? 0 : this.#where.find(p) ? 1 : 2;
    };
    return [...op.positions.keys()].sort((a, b) => cost(a) - cost(b));
  }

  /** A one-round read asks the replicas it has not asked yet. */
  #askRest(op: Op): void {
    op.hedge?.cancel();
    op.hedge = null;
    if (op.step !== Step.Read) return;
    for (let i = 0; i < this.#f; i++) if (!op.asked.has(i)) this.#ask(op, i, true);
  }

  #prepare(op: Op): void {
    op.c = ++this.#counter;
    op.t = this.#tag;
    op.rounds = 0;
    this.#round(op, Step.Prepare);
  }

  #arm(op: Op): void {
    op.timer?.cancel();
    op.timer = this.#host.timer(op.rto, () => {
      op.timer = null;
      op.rto = Math.min(MAX_RTO, op.rto * 2);
      if (op.step === Step.Read && ++op.rounds >= READ_ROUNDS) return this.#prepare(op);
      this.#arm(op);
      this.#send(op, false);
    });
  }

  /**
   * Sends the current round to every replica that has not answered it: straight to where it
   * was last seen the first time (`direct`), routed when sent again (the node seen may be gone).
   */
  #send(op: Op, direct: boolean): void {
    for (let i = 0; i < this.#f; i++) if (!op.answered.has(i)) this.#ask(op, i, direct);
  }

  /**
   * Asks replica `i` for the current round: straight to the node last seen answering for its
   * position, else routed. Sent again (`!direct`), it is routed (the node seen may be gone).
   */
  #ask(op: Op, i: number, direct: boolean): void {
    const host = this.#host;
    // A request sent straight to a node has taken its first hop (a node that passes it on
    // makes it the second: the sender named in it is then not the peer of that link).
    const base = {
      k: op.positions[i],
      h: 1,
      ph: 0,
      f: -1,
      s: host.self(),
      key: op.key,
      i,
      q: op.q,
    };
    let frame: DhtRoutedFrame;
    if (op.step === Step.Read) frame = { t: T.DhtRead, ...base };
    else if (op.step === Step.Prepare) frame = { t: T.DhtPrepare, ...base, c: op.c, bt: op.t };
    else if (op.step === Step.Accept) {
      const n = op.next!;
      frame = {
        t: T.DhtAccept,
        ...base,
        c: op.c,
        bt: op.t,
        ver: n.ver,
        ws: n.ws,
        val: n.val ?? undefined,
      };
    } else return;
    op.asked.add(i);
    const to = direct ? this.#where.find(op.positions[i]) : null;
    if (!direct && op.sentTo[i] >= 0) this.#where.forget(op.sentTo[i]);
    op.sentTo[i] = to ? to.id : -1;
    if (to) host.send(to, frame);
    else host.route(frame, !direct);
  }

  /**
   * Starts again with a higher ballot after a random pause (a concurrent writer won a round):
   * up to twice the lost round's duration, four times after the first loss. Duelling proposers
   * drift apart within a few round trips; the pause does not keep growing, or an operation that
   * lost a few rounds would starve behind fresh ones (and fall out of the writer history its
   * retry looks itself up in).
   */
  #retry(op: Op): void {
    this.#ops.delete(op.q);
    op.step = Step.Waiting;
    op.timer?.cancel();
    const round = Math.max(1, this.#host.now() - op.started);
    const pause = this.#host.random() * Math.min(MAX_RTO, 2 * round * 2 ** Math.min(op.lost++, 1));
    op.timer = this.#host.timer(pause, () => {
      op.timer = null;
      this.#prepare(op);
    });
  }

  /** Handles an answer from a replica. */
  answer(from: NodeRef, f: ReplicaAnswer): void {
    const op = this.#ops.get(f.q);
    if (!op) return;
    const i = f.i;
    if (i >= this.#f || op.answered.has(i)) return;
    if (op.sentTo[i] >= 0 && op.sentTo[i] !== from.id) this.#where.forget(op.sentTo[i]);
    this.#where.learn(from, f.lo);
    if (f.t === T.DhtNack) {
      if (f.why === "full") op.full.add(i);
      return;
    }
    op.answered.add(i);
    if (op.answered.size > op.mostAnswered) op.mostAnswered = op.answered.size;
    if (f.t !== T.DhtState && f.pc > this.#counter) this.#counter = f.pc;
    switch (f.t) {
      case T.DhtState:
        if (op.step === Step.Read) return this.#onState(op, from, f);
        return;
      case T.DhtPromise:
        if (op.step === Step.Prepare) return this.#onPromise(op, from, f);
        return;
      case T.DhtAccepted:
        if (op.step === Step.Accept) return this.#onAccepted(op, f);
    }
  }

  #onState(op: Op, from: NodeRef, f: FrameOf<"DhtState">): void {
    op.answers.set(f.i, answerOf(from, f));
    const answers = [...op.answers.values()];
    const out = readOutcome(answers, this.#f, this.#needed);
    if (out.chosen) {
      if (op.rounds === 0) {
        this.#readMs += (this.#host.now() - op.started - this.#readMs) / 8;
      }
      const c = out.chosen;
      for (const a of out.stale) {
        this.stats.learnsSent++;
        this.#host.send((a as Answer & { from: NodeRef }).from, {
          t: T.DhtLearn,
          key: op.key,
          i: a.i,
          c: c.ac,
          bt: c.at,
          ver: c.ver,
          ws: c.ws,
          val: c.val ?? undefined,
        });
      }
      return op.finish(null, { ver: c.ver, ws: c.ws, val: c.val });
    }
    if (out.hopeless) return this.#prepare(op);
    // Disagreement, or every replica asked has answered: ask the others now.
    const a0 = answers[0];
    if (
      op.asked.size === answers.length || answers.some((a) => a.ac !== a0.ac || a.at !== a0.at)
    ) this.#askRest(op);
  }

  #onPromise(op: Op, from: NodeRef, f: FrameOf<"DhtPromise">): void {
    if (!f.ok) {
      op.refused.add(f.i);
      if (op.refused.size > this.#f - this.#needed) this.#retry(op);
      return;
    }
    op.answers.set(f.i, answerOf(from, f));
    if (op.answers.size < this.#needed) return;
    const answers = [...op.answers.values()];
    const cur = highest(answers)!;
    const state: RegisterState = { ver: cur.ver, ws: cur.ws, val: cur.val };
    const change = applyIntent(state, op.intent);
    op.change = change;
    op.next = change.kind === "write" ? change.next : state;
    // A majority that accepted one ballot means its state is chosen: an outcome that writes
    // nothing new (a read, a refused compare-and-set, a write already in) needs no accept round.
    const chosen = answers.every((a) => a.ac === cur.ac && a.at === cur.at);
    if (chosen && (change.kind !== "write" || op.intent.op === "read")) {
      return this.#finish(op, answers.length);
    }
    this.#round(op, Step.Accept);
  }

  #onAccepted(op: Op, f: FrameOf<"DhtAccepted">): void {
    if (!f.ok) {
      op.refused.add(f.i);
      if (op.refused.size > this.#f - this.#needed) this.#retry(op);
      return;
    }
    op.oks.add(f.i);
    if (op.oks.size >= this.#needed) this.#finish(op, op.oks.size);
  }

  /** The outcome of an operation whose last state is chosen, `replicas` holding it. */
  #finish(op: Op, replicas: number): void {
    const change = op.change!;
    if (op.intent.op === "read") return op.finish(null, op.next);
    if (change.kind === "conflict") {
      return op.finish(
        new VersionConflictError(
          `Version conflict on key ${op.key}: expected version ${op.intent.ifVersion}, ` +
            `the key is at ${change.current}`,
          op.key,
          change.current,
        ),
      );
    }
    const version = change.kind === "done" ? change.version : change.next.ver;
    op.finish(null, { version, replicas } satisfies WriteResult);
  }
}

function answerOf(
  from: NodeRef,
  f: FrameOf<"DhtState"> | FrameOf<"DhtPromise">,
): Answer & { from: NodeRef } {
  return { from, i: f.i, ac: f.ac, at: f.at, ver: f.ver, ws: f.ws, val: f.val ?? null };
}
