/**
 * A node's part of the distributed hash table: it stores the replicas of the keys whose replica
 * positions fall in its range, answers for them as a CASPaxos acceptor, runs the operations its
 * application starts as a proposer, moves items with responsibility and repairs replicas.
 *
 * - Placement: symmetric replication (replicas.ts), `f = net.replication`.
 * - Consistency: per-key CASPaxos with majority quorums (register.ts, proposer.ts): one chosen
 *   state per version, so concurrent compare-and-set writers get exactly one winner per version;
 *   a blind insert is applied once on top of whatever version it finds. Lookups take one round
 *   trip when a majority agree, and repair the replicas that answered with an older state.
 * - Migration (migration.ts): joiners receive their range before serving it, leavers hand over
 *   before going, ranges taken over after a crash are recovered from the other replicas first.
 * - Anti-entropy (sync.ts): digests of key ranges between replicas, every `syncMs`.
 * - Limits: values up to `maxValueBytes`; at most `maxItems` items and `maxBytes` value bytes per
 *   node (writes, handovers and repairs past them are refused and counted); a node stores only
 *   positions in its range, or in a range its predecessor is handing it; every frame is bounded
 *   by the wire schema (`lib/wire/schema.ts`, which checks each DHT frame whole at the edge): at
 *   most 128 items merged, 32 buckets compared, and a digest or pull scans the store once
 *   (bounded by `maxItems`); a pull is answered with at most 1 MiB of items (sync.ts). Frames
 *   no honest peer sends (a replica index past the factor, a position that is not that
 *   replica's) are counted as bad frames; requests carry random ids, so only a node that saw a
 *   request can answer it. Tombstones and the promises of writes that never completed are
 *   dropped after `tombstoneTtlMs`.
 *
 * Why a range taken over after a crash is recovered before it is served: an acceptor that comes
 * back empty ("amnesia") can let two values be chosen for one version once as many replicas
 * forget as `2·majority − f` (two for f = 4, a single one for odd f). Recovering first merges the
 * other replicas' accepted states and raises the promise to theirs, which covers any promise the
 * lost replica made as part of a majority. Peers are trusted to follow the protocol: the checks
 * bound the work and storage a frame can cause, they do not detect a peer that lies (a forged
 * Learn can overwrite a value).
 *
 * @module
 */

import type { Frame, NodeRef, Timer } from "../../com/transport.ts";
import type { DhtRoutedFrame } from "../../core/port.ts";
import { type FrameOf, T } from "../../wire/schema.ts";
import {
  DHT_DEFAULTS,
  type DhtContext,
  type DhtOptions,
  type DhtStatistics,
  NOT_A_REPLICA,
} from "./context.ts";
import type { DhtHost } from "./host.ts";
import { Migration } from "./migration.ts";
import { Proposer, type WriteResult } from "./proposer.ts";
import { accept, learn, prepare, type RegisterState } from "./register.ts";
import { replicaPosition } from "./replicas.ts";
import { Store } from "./store.ts";
import { AntiEntropy } from "./sync.ts";
import { Transfers } from "./transfer.ts";

/** Period of the DHT's own tick (range checks, overdue handovers), ms. */
const TICK_MS = 500;

/** The DHT of one node. */
export class Dht {
  readonly #ctx: DhtContext;
  readonly #proposer: Proposer;
  readonly #sync: AntiEntropy;
  readonly #transfers: Transfers;
  readonly #migration: Migration;
  #tick: Timer | null = null;
  #nextRound: number;
  #closed = false;

  /** The DHT of the node behind `host`. */
  constructor(host: DhtHost, options: DhtOptions = {}) {
    const opts = { ...DHT_DEFAULTS, ...options };
    const f = host.replication;
    this.#ctx = {
      host,
      store: new Store(opts, f, host.maxKey),
      options: opts,
      counters: { repaired: 0, handedOver: 0, refused: 0 },
      f,
      maxKey: host.maxKey,
    };
    this.#proposer = new Proposer(host);
    this.#sync = new AntiEntropy(this.#ctx);
    this.#transfers = new Transfers(host, opts.maxValueBytes);
    this.#migration = new Migration(
      this.#ctx,
      this.#sync,
      this.#transfers,
      (f) => this.#request(f),
    );
    this.#nextRound = host.now() + opts.syncMs * (0.5 + host.random());
    // A Start frame that created this DHT is handled before this runs, and cancels recovery.
    host.timer(0, () => this.#migration.start());
    this.#schedule();
  }

  #schedule(): void {
    this.#tick = this.#ctx.host.timer(TICK_MS, () => {
      if (this.#closed || !this.#ctx.host.running()) return;
      this.#migration.tick();
      const now = this.#ctx.host.now();
      if (now >= this.#nextRound) {
        this.#nextRound = now + this.#ctx.options.syncMs;
        this.#periodic(now);
      }
      this.#schedule();
    });
  }

  /** Anti-entropy round, garbage collection. */
  #periodic(now: number): void {
    const m = this.#migration;
    const { store, options } = this.#ctx;
    if (m.leaving) return;
    m.sweep();
    const expired = now - options.tombstoneTtlMs;
    for (const it of store.all()) if (it.val === null && it.ts < expired) store.delete(it);
    if (store.items > 0 && m.pendingRanges === 0) this.#sync.round(...m.range());
  }

  // ---- operations started here ----

  /** Inserts `val` (CBOR bytes) under `key`. */
  insert(
    key: number,
    val: Uint8Array,
    ifVersion: number | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    const w = this.#proposer.writeId();
    return this.#proposer.write(key, { op: "insert", w, val, ifVersion }, timeoutMs, signal);
  }

  /** Removes `key` (writes a tombstone). */
  remove(
    key: number,
    ifVersion: number | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    const w = this.#proposer.writeId();
    return this.#proposer.write(key, { op: "remove", w, ifVersion }, timeoutMs, signal);
  }

  /** Reads `key`'s chosen state (`val === null`: absent). */
  lookup(key: number, timeoutMs: number, signal?: AbortSignal): Promise<RegisterState> {
    return this.#proposer.read(key, timeoutMs, signal);
  }

  // ---- from the ring ----

  /** A DHT frame sent straight to this node (an answer, a transfer, a digest...). */
  frame(from: NodeRef, f: Frame): void {
    if (this.#closed) return;
    this.#migration.check();
    const m = this.#migration;
    switch (f.t) {
      case T.DhtPromise:
      case T.DhtAccepted:
      case T.DhtState:
      case T.DhtNack:
        if (f.i >= this.#ctx.f) return this.#ctx.host.reject(NOT_A_REPLICA);
        return this.#proposer.answer(from, f);
      case T.DhtLearn:
        return this.#learn(f);
      case T.DhtStart:
        return m.onStart(from, f);
      case T.DhtItems:
        if (f.m !== "sync") return m.onItems(from, f);
        return this.#sync.onItems(from, f, (pos) => !m.leaving && m.owns(pos));
      case T.DhtItemsAck:
        return this.#transfers.ack(from, f.q, f.n);
      case T.DhtDigest:
        return this.#sync.onDigest(from, f);
      case T.DhtPull:
        if (!m.leaving) this.#sync.onPull(from, f);
    }
  }

  /** A request routed to a position reached this node, which the routing takes as its owner. */
  routed(f: DhtRoutedFrame): void {
    if (this.#closed) return;
    this.#migration.check();
    this.#request(f);
  }

  #request(f: DhtRoutedFrame): void {
    if (f.t !== T.DhtSyncReq) return this.#acceptor(f);
    if (!this.#migration.leaving) this.#sync.onRequest(f);
  }

  /** The ring accepted `joiner` as predecessor and is about to answer it. */
  joining(joiner: NodeRef): void {
    if (!this.#closed) this.#migration.joining(joiner);
  }

  /**
   * A graceful leave: hands every item to the successor, then calls `done`. Returns false when
   * there is nothing to wait for.
   */
  leaving(done: () => void): boolean {
    return !this.#closed && this.#migration.leave(done);
  }

  /** Stops: operations in progress fail with `reason`. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#tick?.cancel();
    this.#proposer.close(reason);
    this.#transfers.close();
    this.#sync.close();
  }

  /** Counters. */
  statistics(): DhtStatistics {
    const { store, counters } = this.#ctx;
    return {
      items: store.items,
      bytes: store.bytes,
      repaired: counters.repaired,
      quorumFailures: this.#proposer.stats.quorumFailures,
      handedOver: counters.handedOver,
      refused: counters.refused,
      waiting: this.#migration.waiting,
      pendingRanges: this.#migration.pendingRanges,
    };
  }

  // ---- acceptor ----

  #acceptor(f: Exclude<DhtRoutedFrame, FrameOf<"DhtSyncReq">>): void {
    const { host, store, f: rf, maxKey } = this.#ctx;
    const m = this.#migration;
    const { key, i, q } = f;
    if (i >= rf || f.k !== replicaPosition(key, i, rf, maxKey)) return host.reject(NOT_A_REPLICA);
    const to = f.s;
    const lo = m.range()[0];
    const nack = (why: FrameOf<"DhtNack">["why"]) => host.send(to, { t: T.DhtNack, q, i, lo, why });
    if (m.leaving) return nack("leaving");
    if (!m.owns(f.k)) return nack("notMine");
    if (!m.ready(f.k)) return m.hold(`${to.id}:${q}:${i}`, f) ? undefined : nack("notReady");
    const now = host.now();
    if (f.t === T.DhtRead) {
      const it = store.get(key, i);
      return host.send(to, {
        t: T.DhtState,
        q,
        i,
        lo,
        ac: it?.ac ?? 0,
        at: it?.at ?? 0,
        ver: it?.ver ?? 0,
        ws: it?.ws ?? [],
        val: it?.val ?? undefined,
      });
    }
    const val = f.t === T.DhtAccept ? f.val ?? null : null;
    const it = store.place(key, i, val, now);
    if (!it) {
      this.#ctx.counters.refused++;
      return nack("full");
    }
    if (f.t === T.DhtPrepare) {
      const ok = store.update(it, now, (r) => prepare(r, f.c, f.bt));
      return host.send(to, {
        t: T.DhtPromise,
        q,
        i,
        lo,
        ok,
        pc: it.pc,
        pt: it.pt,
        ac: it.ac,
        at: it.at,
        ver: it.ver,
        ws: it.ws,
        val: it.val ?? undefined,
      });
    }
    const state = { ver: f.ver, ws: f.ws, val };
    const ok = store.update(it, now, (r) => accept(r, f.c, f.bt, state));
    host.send(to, { t: T.DhtAccepted, q, i, lo, ok, pc: it.pc, pt: it.pt });
  }

  /**
   * Read repair: a chosen state for a replica here that answered with an older one. Refused
   * (and counted) for a position this node does not serve now, or past the storage limits.
   */
  #learn(f: FrameOf<"DhtLearn">): void {
    const { host, store, f: rf, maxKey, counters } = this.#ctx;
    const { key, i } = f;
    if (i >= rf) return host.reject(NOT_A_REPLICA);
    const now = host.now();
    const val = f.val ?? null;
    const ready = this.#migration.ready(replicaPosition(key, i, rf, maxKey));
    const it = ready ? store.place(key, i, val, now) : undefined;
    if (!it) {
      counters.refused++;
      return;
    }
    const state = { ver: f.ver, ws: f.ws, val };
    if (store.update(it, now, (r) => learn(r, f.c, f.bt, state))) counters.repaired++;
  }
}
