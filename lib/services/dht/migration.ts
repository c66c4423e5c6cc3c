/**
 * Data follows responsibility. A node's range `(lo, self]` changes when a node joins inside it,
 * when its predecessor leaves or crashes, and while the ring settles; this part notices every
 * change (on each DHT frame and on the DHT's tick) and moves items so that a node answers for a
 * position only once it holds what a majority acknowledged there:
 *
 * - **Join.** The responsible node, asked by the ring before it answers the join, sends the
 *   joiner `Start` (so it arrives before `JoinOk`, on the same link); the joiner then waits for
 *   its range. Once the ring made the joiner its predecessor, the old node's range shrank: it
 *   hands the items of the lost part over in acknowledged chunks and deletes them; the `last`
 *   chunk ends the joiner's wait. A joiner that hears nothing within 5 s recovers the range
 *   from the other replicas instead.
 * - **Graceful leave.** Before the ring tells its neighbours, the leaver refuses new requests
 *   and hands every item to its successor (mode `leave`): the successor keeps them as a range
 *   being handed to it, and when its range grows by exactly that range it has nothing to
 *   recover. A leaver whose predecessor leaves too starts its handover again once the
 *   predecessor's range has arrived, so that range follows it instead of leaving with it.
 * - **Crash.** A range that grows without a complete handover (the predecessor crashed, or a
 *   handover was cut short) is _recovered_: after 200 ms (the ring often corrects a guessed
 *   predecessor by then) the node compares it with every other replica (anti-entropy, see
 *   sync.ts) and only then answers for it. Recovery ends after 15 s whatever happened.
 *
 * Requests for a position that is not ready wait in a queue of at most 1,024 (beyond that they
 * are refused and their proposer retries). A range that shrinks while it was still awaited or
 * recovering is handed on with the `rec` flag, telling the new owner to recover it itself.
 *
 * @module
 */

import type { NodeRef } from "../../com/transport.ts";
import type { DhtRoutedFrame } from "../../core/port.ts";
import { type FrameOf, T } from "../../wire/schema.ts";
import { cw, inOC } from "../../core/id_space.ts";
import { type DhtContext, mergeItem } from "./context.ts";
import { span } from "./replicas.ts";
import { fromWireItem, toWireItem } from "./store.ts";
import type { AntiEntropy } from "./sync.ts";
import type { Transfers } from "./transfer.ts";

const HANDOVER_WAIT_MS = 5_000;
const RECOVER_DELAY_MS = 200;
const RECOVER_MAX_MS = 15_000;
const INCOMING_MS = 60_000;
const HANDOVER_TIMEOUT_MS = 30_000;
/** Most requests waiting for ranges that are not ready. */
export const MAX_WAITING = 1024;

/** A part of our range we do not answer for yet. */
interface Wait {
  a: number;
  b: number;
  /** Recovering from the other replicas (else: awaiting a handover from `from`). */
  recover: boolean;
  from: number;
  until: number;
}

/** A range a leaving predecessor handed us, before it became ours. */
interface Incoming {
  a: number;
  b: number;
  from: number;
  done: boolean;
  rec: boolean;
  until: number;
}

/** The responsibility tracking and item movement of one node. */
export class Migration {
  readonly #ctx: DhtContext;
  readonly #sync: AntiEntropy;
  readonly #transfers: Transfers;
  readonly #redispatch: (f: DhtRoutedFrame) => void;
  #lo: number;
  #waits: Wait[] = [];
  #incoming: Incoming[] = [];
  readonly #queue = new Map<string, DhtRoutedFrame>();
  #leaving = false;
  #late = false;
  #started = false;

  /** Tracks the range of `ctx.host`; queued requests go back to `redispatch` when ready. */
  constructor(
    ctx: DhtContext,
    sync: AntiEntropy,
    transfers: Transfers,
    redispatch: (f: DhtRoutedFrame) => void,
  ) {
    this.#ctx = ctx;
    this.#sync = sync;
    this.#transfers = transfers;
    this.#redispatch = redispatch;
    this.#lo = ctx.host.range()[0];
  }

  /** Whether this node is handing its items over before leaving. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /** Requests waiting for a range. */
  get waiting(): number {
    return this.#queue.size;
  }

  /** Parts of the range not ready yet. */
  get pendingRanges(): number {
    return this.#waits.length;
  }

  /** The range as last checked. */
  range(): [number, number] {
    return [this.#lo, this.#ctx.host.self().id];
  }

  /**
   * The DHT state of this node starts now: unless a handover was announced, the whole range is
   * recovered from the other replicas before it is served (the node may have taken over ranges
   * before it had any DHT state).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const [lo, hi] = this.range();
    this.#recover(lo, hi, 0);
  }

  /** Whether `pos` is in this node's range. */
  owns(pos: number): boolean {
    return inOC(pos, this.#lo, this.#ctx.host.self().id, this.#ctx.maxKey);
  }

  /** Whether this node answers for `pos` now. */
  ready(pos: number): boolean {
    if (this.#leaving || !this.owns(pos)) return false;
    const M = this.#ctx.maxKey;
    return !this.#waits.some((w) => inOC(pos, w.a, w.b, M));
  }

  /** Queues a request until its range is ready; false when the queue is full. */
  hold(id: string, f: DhtRoutedFrame): boolean {
    if (!this.#queue.has(id) && this.#queue.size >= MAX_WAITING) return false;
    this.#queue.set(id, f);
    return true;
  }

  #drain(): void {
    const queued = [...this.#queue.values()];
    this.#queue.clear();
    for (const f of queued) this.#redispatch(f);
  }

  /** Compares the range with the ring's view and moves items when it changed. */
  check(): void {
    const { host, maxKey } = this.#ctx;
    const [lo, hi] = host.range();
    const old = this.#lo;
    if (lo === old) return;
    this.#lo = lo;
    const before = span(old, hi, maxKey);
    const after = span(lo, hi, maxKey);
    if (after > before) this.#grew(lo, old);
    else if (after < before) this.#shrank(old, lo);
  }

  /** Positions `(a, b]` became ours. */
  #grew(a: number, b: number): void {
    const M = this.#ctx.maxKey;
    // A complete handover from the leaver that bounded our range covers (ra, b].
    const handed = this.#incoming.find((r) => r.b === b && r.done && !r.rec);
    this.#incoming = this.#incoming.filter((r) => r !== handed);
    if (handed && span(handed.a, b, M) >= span(a, b, M)) return;
    this.#recover(a, handed ? handed.a : b, RECOVER_DELAY_MS);
  }

  /** Positions `(a, b]` are no longer ours: hand their items to the node that took them. */
  #shrank(a: number, b: number): void {
    const { host, store, maxKey: M } = this.#ctx;
    const hi = host.self().id;
    let rec = false;
    const kept: Wait[] = [];
    for (const w of this.#waits) {
      const lostPart = inOC(w.b, a, b, M) || inOC(addOne(w.a, M), a, b, M);
      if (lostPart) rec = true;
      if (!inOC(w.b, b, hi, M) || w.b === b) continue;
      // Keep the part of the wait still in our range.
      if (cw(a, w.a, M) < cw(a, b, M)) w.a = b;
      kept.push(w);
    }
    this.#waits = kept;
    const to = host.pred();
    if (!to || to.id !== b) return; // nobody to give them to: kept until the range settles
    const items = store.inRange(a, b);
    for (const it of items) store.delete(it);
    this.#ctx.counters.handedOver += items.length;
    this.#transfers.start(
      { to, m: "handover", a, b, rec: () => rec, timeoutMs: HANDOVER_TIMEOUT_MS },
      items.map(toWireItem),
      () => {},
    );
    this.#drain();
  }

  /**
   * Recovers `(a, b]` from the other replicas after `delayMs`, answering for it only then; a
   * recovery of that range already under way covers it.
   */
  #recover(a: number, b: number, delayMs: number): void {
    const { host } = this.#ctx;
    if (this.#waits.some((w) => w.recover && w.a === a && w.b === b)) return;
    const w: Wait = { a, b, recover: true, from: -1, until: host.now() + RECOVER_MAX_MS };
    this.#waits.push(w);
    host.timer(delayMs, () => {
      if (!this.#waits.includes(w)) return;
      this.#sync.recover(w.a, w.b, () => this.#endWait(w));
    });
  }

  #endWait(w: Wait): void {
    const n = this.#waits.length;
    this.#waits = this.#waits.filter((x) => x !== w);
    if (this.#waits.length !== n) this.#drain();
  }

  /** The ring accepted `joiner` as predecessor: announce the handover (before `JoinOk`). */
  joining(joiner: NodeRef): void {
    const { host } = this.#ctx;
    this.check();
    host.send(joiner, { t: T.DhtStart, a: this.#lo, b: joiner.id });
    // The ring takes the joiner as predecessor right after this call: hand over then.
    host.timer(0, () => this.check());
  }

  /**
   * `Start` from our successor: our range's items are coming. From any other node, or naming
   * another joiner, it is refused (counted): it must not cancel the recovery a new DHT starts
   * with. A `Start` again from the same node replaces the one before, so a successor that
   * repeats it does not pile up waits.
   */
  onStart(from: NodeRef, f: FrameOf<"DhtStart">): void {
    const { host } = this.#ctx;
    if (f.b !== host.self().id || host.succ()?.id !== from.id) {
      this.#ctx.counters.refused++;
      return;
    }
    this.#started = true;
    this.#waits = this.#waits.filter((w) => w.recover || w.from !== from.id);
    this.#waits.push({
      a: f.a,
      b: f.b,
      recover: false,
      from: from.id,
      until: host.now() + HANDOVER_WAIT_MS,
    });
  }

  /** Items of a handover (mode handover or leave). */
  onItems(from: NodeRef, f: FrameOf<"DhtItems">): void {
    const { host, maxKey: M } = this.#ctx;
    const { a, b } = f;
    let accepts: (pos: number) => boolean;
    let rec: Incoming | undefined;
    if (f.m === "leave") {
      // Only from our predecessor, for its own range (which does not hold us).
      const hi = host.self().id;
      if (host.pred()?.id !== from.id || b !== from.id || inOC(hi, a, b, M)) return;
      rec = this.#incoming.find((r) => r.from === from.id && r.a === a && r.b === b);
      if (!rec) {
        // One leave at a time per node: a new range from it replaces the one before.
        this.#incoming = this.#incoming.filter((r) => r.from !== from.id);
        rec = { a, b, from: from.id, done: false, rec: false, until: host.now() + INCOMING_MS };
        this.#incoming.push(rec);
      }
      if (this.#leaving) this.#late = true;
      accepts = (pos) => inOC(pos, a, b, M) || this.owns(pos);
    } else accepts = (pos) => this.owns(pos);
    for (const w of f.its) {
      const { key, i } = w;
      if (i >= this.#ctx.f || !accepts(this.#ctx.store.position(w))) {
        this.#ctx.counters.refused++;
        continue;
      }
      mergeItem(this.#ctx, key, i, fromWireItem(w));
    }
    host.send(from, { t: T.DhtItemsAck, q: f.q, n: f.n });
    if (!f.last) return;
    if (rec) {
      const fresh = !rec.done;
      rec.done = true;
      rec.rec = f.rec;
      // Our own handover began without this range: start it again with it, or the items leave
      // with us (the predecessor departs on this acknowledgement, and for f = 1 no other
      // replica holds them).
      const leave = this.#leave;
      if (leave && fresh) {
        this.#transfers.cancel(leave.q);
        this.#handOver(leave.finish);
      }
      return;
    }
    const awaited = this.#waits.filter((w) => !w.recover && w.from === from.id);
    if (awaited.length === 0 && host.succ()?.id !== from.id) {
      // Nobody hands us a range but our successor (the node that held it before we joined):
      // the end of a transfer from anyone else must not make us recover, or wait.
      this.#ctx.counters.refused++;
      return;
    }
    this.#waits = this.#waits.filter((w) => !awaited.includes(w));
    if (f.rec) {
      for (const w of awaited) this.#recover(w.a, w.b, 0);
      if (awaited.length === 0 && this.owns(b)) {
        this.#recover(this.owns(addOne(a, M)) ? a : this.#lo, b, 0);
      }
    }
    this.#drain();
  }

  /**
   * A graceful leave: refuse requests, hand every item to the successor, then call `done`.
   * Returns false when there is nobody to hand to (`done` is not called). When the successor
   * changes meanwhile (it left too), the handover starts again to the new one, and when a
   * leaving predecessor's range arrives, again with that range; it ends by `leaveTimeoutMs`
   * whatever happens.
   */
  leave(done: () => void): boolean {
    const { host, options } = this.#ctx;
    this.#leaving = true;
    this.#drain();
    if (!host.succ()) return false;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      deadline.cancel();
      this.#leave = null;
      done();
    };
    const deadline = host.timer(options.leaveTimeoutMs, () => {
      if (this.#leave) this.#transfers.cancel(this.#leave.q);
      finish();
    });
    this.#handOver(finish);
    return true;
  }

  /** The handover of a leave in progress: its transfer and receiver. */
  #leave: { q: number; to: number; finish: () => void } | null = null;

  /** Hands what we hold in our range (and ranges leaving predecessors gave us) to the successor. */
  #handOver(finish: () => void): void {
    const { host, store, maxKey: M, options } = this.#ctx;
    const to = host.succ();
    if (!to) return finish();
    const hi = host.self().id;
    let a = this.#lo;
    for (let n = 0; n < this.#incoming.length; n++) {
      const r = this.#incoming.find((x) => x.b === a && x.done);
      if (!r) break;
      a = r.a;
    }
    const items = store.all().filter((it) => inOC(store.position(it), a, hi, M));
    const incomplete = this.#waits.length > 0 || this.#incoming.some((r) => !r.done || r.rec);
    this.#late = false;
    const q = this.#transfers.start(
      {
        to,
        m: "leave",
        a,
        b: hi,
        rec: () => incomplete || this.#late,
        timeoutMs: options.leaveTimeoutMs,
      },
      items.map(toWireItem),
      (ok) => {
        if (this.#leave?.q !== q) return; // replaced by a handover to a newer successor
        if (ok) this.#ctx.counters.handedOver += items.length;
        finish();
      },
    );
    this.#leave = { q, to: to.id, finish };
  }

  /** Periodic work: overdue handovers are recovered instead, finished records dropped. */
  tick(): void {
    const now = this.#ctx.host.now();
    for (const w of [...this.#waits]) {
      if (w.until > now) continue;
      this.#waits = this.#waits.filter((x) => x !== w);
      if (!w.recover) this.#recover(w.a, w.b, 0);
      else this.#drain();
    }
    this.#incoming = this.#incoming.filter((r) => r.until > now);
    this.check();
    const leave = this.#leave;
    const succ = this.#ctx.host.succ();
    if (leave && succ && succ.id !== leave.to) {
      this.#transfers.cancel(leave.q);
      this.#handOver(leave.finish);
    }
  }

  /** Drops items that are neither in our range nor in a range being handed to us. */
  sweep(): void {
    const { store, maxKey: M } = this.#ctx;
    if (this.#leaving) return;
    for (const it of store.all()) {
      const pos = store.position(it);
      if (this.owns(pos) || this.#incoming.some((r) => inOC(pos, r.a, r.b, M))) continue;
      store.delete(it);
    }
  }
}

function addOne(x: number, M: number): number {
  return x + 1 === M ? 0 : x + 1;
}
