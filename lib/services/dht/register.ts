/**
 * One key's replicated register: the CASPaxos acceptor rules and the proposer's decisions, as
 * plain functions over plain data (Rystsov, "CASPaxos: Replicated State Machines without logs",
 * 2018).
 *
 * Each replica of a key is an acceptor holding a promise (a ballot), the ballot it last accepted
 * and the register's state: a version, the ids of the writes of the last few versions, and the
 * value (CBOR bytes) or `null` when the key is absent (never written, or removed: a tombstone).
 * A write is a change function applied to the state a majority reports:
 *
 * 1. prepare: the proposer picks a ballot above any it has seen; an acceptor promises it unless
 *    it promised a higher one, and answers with what it accepted;
 * 2. the proposer applies the change to the state with the highest accepted ballot among a
 *    majority of promises;
 * 3. accept: an acceptor takes the new state unless it promised a higher ballot. A majority of
 *    acceptances chooses it.
 *
 * Two majorities share an acceptor, so every chosen state derives from the previous one: for a
 * compare-and-set there is exactly one winner per version. A ballot is `[counter, tag]`, the tag
 * random per node instance, so no two proposers (even one id restarted) share a ballot.
 *
 * A proposer whose accept round lost may still see its state chosen later (another proposer
 * finishes it). To tell, every state carries the ids of the writes that made its last
 * {@linkcode WRITER_HISTORY} versions: a retry that finds its own id knows its write took effect,
 * and which version it got.
 *
 * @module
 */

import { WRITER_HISTORY } from "../../wire/schema.ts";

export { WRITER_HISTORY };

/** A register's state. `val === null`: the key is absent (never written, or removed). */
export interface RegisterState {
  /** Version: 0 for a key never written; every insert or remove adds one. */
  ver: number;
  /** Ids of the writes of the latest versions, newest first (`ws[0]` made `ver`). */
  ws: readonly number[];
  /** The value's CBOR encoding, or `null` when absent. */
  val: Uint8Array | null;
}

/** An acceptor: promise, accepted ballot and state (ballots are `[counter, tag]`, flattened). */
export interface Register extends RegisterState {
  /** Promised ballot: counter and tag. */
  pc: number;
  pt: number;
  /** Accepted ballot: counter and tag (`0, 0`: nothing accepted). */
  ac: number;
  at: number;
}

/** Compares ballots `(c1, t1)` and `(c2, t2)`: negative, zero or positive. */
export function compareBallots(c1: number, t1: number, c2: number, t2: number): number {
  return c1 !== c2 ? c1 - c2 : t1 - t2;
}

/** A fresh acceptor: nothing promised or accepted, the key absent. */
export function emptyRegister(): Register {
  return { pc: 0, pt: 0, ac: 0, at: 0, ver: 0, ws: [], val: null };
}

/**
 * Prepare: promises ballot `(c, t)` unless a higher one was promised. The same ballot again is
 * promised again (a retransmission). Returns whether it promised; the caller answers with the
 * accepted ballot and state either way.
 */
export function prepare(r: Register, c: number, t: number): boolean {
  if (compareBallots(c, t, r.pc, r.pt) < 0) return false;
  r.pc = c;
  r.pt = t;
  return true;
}

/** Accept: takes `state` at ballot `(c, t)` unless a higher ballot was promised. */
export function accept(r: Register, c: number, t: number, state: RegisterState): boolean {
  if (compareBallots(c, t, r.pc, r.pt) < 0) return false;
  r.pc = c;
  r.pt = t;
  r.ac = c;
  r.at = t;
  setState(r, state);
  return true;
}

/**
 * Learn: `state` was chosen at `(c, t)` (a majority accepted it), so the acceptor may take it
 * whatever it promised: every later proposal derives from it anyway. Returns whether it changed.
 */
export function learn(r: Register, c: number, t: number, state: RegisterState): boolean {
  if (compareBallots(c, t, r.ac, r.at) <= 0) return false;
  r.ac = c;
  r.at = t;
  if (compareBallots(c, t, r.pc, r.pt) > 0) {
    r.pc = c;
    r.pt = t;
  }
  setState(r, state);
  return true;
}

/**
 * Merges what another acceptor holds (a handover, or a sibling replica in anti-entropy): its
 * accepted state counts as an accept arriving late, so it is taken only when newer than ours and
 * not below our promise; then our promise rises to theirs (promising more is always safe, and it
 * stands in for promises a replica that crashed may have made). Returns 2 when the accepted
 * state was taken, 1 when only the promise rose, 0 when nothing changed.
 */
export function merge(r: Register, o: Register): 0 | 1 | 2 {
  let changed: 0 | 1 | 2 = 0;
  if (
    compareBallots(o.ac, o.at, r.ac, r.at) > 0 && compareBallots(o.ac, o.at, r.pc, r.pt) >= 0
  ) {
    r.ac = o.ac;
    r.at = o.at;
    setState(r, o);
    changed = 2;
  }
  if (compareBallots(o.pc, o.pt, r.pc, r.pt) > 0) {
    r.pc = o.pc;
    r.pt = o.pt;
    changed ||= 1;
  }
  if (compareBallots(r.ac, r.at, r.pc, r.pt) > 0) {
    r.pc = r.ac;
    r.pt = r.at;
  }
  return changed;
}

function setState(r: RegisterState, s: RegisterState): void {
  r.ver = s.ver;
  r.ws = s.ws;
  r.val = s.val;
}

// ---- proposer side ----

/** A replica's answer to a prepare or a read: what it accepted. */
export interface Answer extends RegisterState {
  /** Replica index. */
  i: number;
  /** Accepted ballot. */
  ac: number;
  at: number;
}

/** The answer with the highest accepted ballot (the state a change applies to). */
export function highest(answers: readonly Answer[]): Answer | null {
  let best: Answer | null = null;
  for (const a of answers) {
    if (!best || compareBallots(a.ac, a.at, best.ac, best.at) > 0) best = a;
  }
  return best;
}

/** What the answers to a read tell so far. */
export interface ReadOutcome {
  /** The state a majority accepted at one ballot: chosen, hence the value to return. */
  chosen: Answer | null;
  /** Replicas that answered with an older ballot than the chosen one (to repair). */
  stale: Answer[];
  /** No ballot can reach a majority any more, whatever the replicas still silent say. */
  hopeless: boolean;
}

/**
 * Decides a one-round read from the answers of distinct replicas of `f`. A majority reporting
 * one accepted ballot proves that state chosen and no later one chosen before the read began
 * (that would need a majority holding a higher ballot, which meets ours): the read may return
 * it without writing.
 */
export function readOutcome(answers: readonly Answer[], f: number, needed: number): ReadOutcome {
  const groups = new Map<string, Answer[]>();
  let largest = 0;
  let chosen: Answer | null = null;
  for (const a of answers) {
    const k = `${a.ac}:${a.at}`;
    let g = groups.get(k);
    if (!g) groups.set(k, g = []);
    g.push(a);
    if (g.length > largest) largest = g.length;
    if (g.length >= needed) chosen = g[0];
  }
  if (!chosen) {
    return { chosen: null, stale: [], hopeless: largest + (f - answers.length) < needed };
  }
  const c = chosen;
  const stale = answers.filter((a) => compareBallots(a.ac, a.at, c.ac, c.at) < 0);
  return { chosen: c, stale, hopeless: false };
}

/** What a write wants: insert a value, remove, or nothing (a read that writes back). */
export interface Intent {
  /** `insert`, `remove`, or `read`. */
  op: "insert" | "remove" | "read";
  /** Id of this write (random, the same across its retries). */
  w: number;
  /** The new value's CBOR encoding (insert). */
  val?: Uint8Array;
  /** Compare-and-set: apply only at this version (`0`: only if absent). */
  ifVersion?: number;
}

/** The result of applying an intent to the current state. */
export type Change =
  /** Write `next`; the operation's version is `next.ver`. */
  | { kind: "write"; next: RegisterState }
  /** This write already took effect at `version` (an earlier round of it was chosen). */
  | { kind: "done"; version: number }
  /** The compare-and-set failed: the key is at `current` (0: absent); write back unchanged. */
  | { kind: "conflict"; current: number };

/**
 * The change function: what `intent` makes of `cur`. Versions keep growing across removes (a
 * tombstone keeps its version), so a stale copy never looks newer; `ifVersion: 0` matches an
 * absent key, removed or never written. A read or a remove of an absent key writes the state
 * back unchanged.
 */
export function applyIntent(cur: RegisterState, intent: Intent): Change {
  if (intent.op !== "read") {
    const seen = cur.ws.indexOf(intent.w);
    if (seen >= 0) return { kind: "done", version: cur.ver - seen };
  }
  const current = cur.val === null ? 0 : cur.ver;
  if (intent.ifVersion !== undefined && intent.ifVersion !== current) {
    return { kind: "conflict", current };
  }
  if (intent.op === "read" || (intent.op === "remove" && cur.val === null)) {
    return { kind: "write", next: cur };
  }
  return {
    kind: "write",
    next: {
      ver: cur.ver + 1,
      ws: [intent.w, ...cur.ws].slice(0, WRITER_HISTORY),
      val: intent.op === "insert" ? intent.val! : null,
    },
  };
}
