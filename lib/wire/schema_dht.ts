/**
 * The DHT's part of the wire schema (see `schema.ts`, which merges it into the one table): the
 * frame types 32–45 of `services/dht`, declared like every other frame, and the bounds they
 * share with the DHT's code.
 *
 * Requests are routed to a replica's position and the rest go direct. Requests name their sender
 * `s` for the answer; answers name where the answering node's range begins (`lo`: its range is
 * `(lo, its id]`), so that proposers learn where replicas live. A register travels as ballots
 * (counter and tag: `c`/`bt` proposed, `pc`/`pt` promised, `ac`/`at` accepted), a version, the
 * writer ids of the last versions and the value's CBOR bytes (absent: the key is absent).
 *
 * @module
 */

import type { FrameSpec } from "./schema.ts";

/** Largest DHT replication factor a network may choose (it bounds the work of one operation). */
export const MAX_REPLICATION = 16;
/** How many versions' writer ids a DHT register keeps (see `services/dht/register.ts`). */
export const WRITER_HISTORY = 32;
/** Most items one `DhtItems` frame carries. */
export const MAX_CHUNK_ITEMS = 128;
/** Buckets of a DHT range digest (5 bits of a key hash per level). */
export const DIGEST_BUCKETS = 32;
/** Deepest level of a DHT range digest (6 levels of 5 bits: 30 bits of key hash). */
export const MAX_DIGEST_LEVEL = 5;

// Field groups several DHT frame types share.
/** The routing fields of a frame routed by key (see `core/routing_table.ts`). */
const ROUTED = {
  k: { kind: "key" },
  h: { kind: "hops" },
  ph: { kind: "phase" },
  f: { kind: "finger" },
} as const;
/** A DHT replica index (checked against the network's factor where that is known). */
const REPLICA = { kind: "count", min: 0, max: MAX_REPLICATION - 1 } as const;
/** The writer ids of a DHT register's last versions, newest first. */
const WRITERS = { kind: "seqs", min: 0, max: WRITER_HISTORY } as const;
/** A stored value's CBOR bytes; absent when the key is absent. */
const VALUE = { kind: "payload", optional: true } as const;

/** The DHT's frame types. */
export const DHT_SCHEMA = {
  // Requests name their sender `s` for the answer; answers name where the answering node's range
  // begins (`lo`: its range is `(lo, its id]`), so that proposers learn where replicas live.
  // A register travels as ballots (counter and tag: `c`/`bt` proposed, `pc`/`pt` promised,
  // `ac`/`at` accepted), a version, the writer ids of the last versions and the value's CBOR
  // bytes (absent: the key is absent).
  /** CASPaxos prepare (phase 1a) for replica `i` of `key`, routed to its position `k`. */
  DhtPrepare: {
    t: 32,
    fields: {
      ...ROUTED,
      s: { kind: "node", peer: "firstHop" },
      key: { kind: "key" },
      i: REPLICA,
      c: { kind: "seq" },
      bt: { kind: "seq" },
      q: { kind: "seq" },
    },
  },
  /** CASPaxos accept (phase 2a): take this state at ballot `c`/`bt`. */
  DhtAccept: {
    t: 33,
    fields: {
      ...ROUTED,
      s: { kind: "node", peer: "firstHop" },
      key: { kind: "key" },
      i: REPLICA,
      c: { kind: "seq" },
      bt: { kind: "seq" },
      ver: { kind: "seq" },
      ws: WRITERS,
      val: VALUE,
      q: { kind: "seq" },
    },
  },
  /** A one-round read: what did you accept? */
  DhtRead: {
    t: 34,
    fields: {
      ...ROUTED,
      s: { kind: "node", peer: "firstHop" },
      key: { kind: "key" },
      i: REPLICA,
      q: { kind: "seq" },
    },
  },
  /**
   * Anti-entropy: your digest of replica `j` of the keys `(a, b]` (under prefix `x` of level
   * `lv`), routed to the position of replica `j` of the key after `a`.
   */
  DhtSyncReq: {
    t: 35,
    fields: {
      ...ROUTED,
      s: { kind: "node", peer: "firstHop" },
      i: REPLICA,
      j: REPLICA,
      a: { kind: "key" },
      b: { kind: "key" },
      lv: { kind: "count", min: 0, max: MAX_DIGEST_LEVEL },
      x: { kind: "seq" },
      q: { kind: "seq" },
    },
    check: (f: Record<string, unknown>): string | null =>
      prefixOk(f.x as number, f.lv as number) ? null : "x is not a prefix of level lv",
  },
  /** Answer to a prepare: promised or not, and what was accepted. */
  DhtPromise: {
    t: 36,
    fields: {
      q: { kind: "seq" },
      i: REPLICA,
      lo: { kind: "key" },
      ok: { kind: "bool" },
      pc: { kind: "seq" },
      pt: { kind: "seq" },
      ac: { kind: "seq" },
      at: { kind: "seq" },
      ver: { kind: "seq" },
      ws: WRITERS,
      val: VALUE,
    },
  },
  /** Answer to an accept. */
  DhtAccepted: {
    t: 37,
    fields: {
      q: { kind: "seq" },
      i: REPLICA,
      lo: { kind: "key" },
      ok: { kind: "bool" },
      pc: { kind: "seq" },
      pt: { kind: "seq" },
    },
  },
  /** Answer to a read: the accepted ballot and state. */
  DhtState: {
    t: 38,
    fields: {
      q: { kind: "seq" },
      i: REPLICA,
      lo: { kind: "key" },
      ac: { kind: "seq" },
      at: { kind: "seq" },
      ver: { kind: "seq" },
      ws: WRITERS,
      val: VALUE,
    },
  },
  /** A replica cannot answer now, and why. */
  DhtNack: {
    t: 39,
    fields: {
      q: { kind: "seq" },
      i: REPLICA,
      lo: { kind: "key" },
      why: { kind: "choice", values: ["notReady", "notMine", "full", "leaving"] },
    },
  },
  /** Read repair: a state known to be chosen, for a replica that answered with an older one. */
  DhtLearn: {
    t: 40,
    fields: {
      key: { kind: "key" },
      i: REPLICA,
      c: { kind: "seq" },
      bt: { kind: "seq" },
      ver: { kind: "seq" },
      ws: WRITERS,
      val: VALUE,
    },
  },
  /** The node handing over the range `(a, b]` → the joiner `b`, before `JoinOk`: wait for it. */
  DhtStart: { t: 41, fields: { a: { kind: "key" }, b: { kind: "key" } } },
  /**
   * Items of the position range `(a, b]`: chunk `n` of transfer `q` (a handover, a leave), or
   * anti-entropy items stored as replica `ix`; `last` ends a transfer, `rec` tells its receiver
   * to recover the range from the other replicas (it is incomplete).
   */
  DhtItems: {
    t: 42,
    fields: {
      q: { kind: "seq" },
      n: { kind: "seq" },
      m: { kind: "choice", values: ["handover", "leave", "sync"] },
      ix: REPLICA,
      a: { kind: "key" },
      b: { kind: "key" },
      last: { kind: "bool" },
      rec: { kind: "bool" },
      its: {
        kind: "rows",
        max: MAX_CHUNK_ITEMS,
        of: {
          key: { kind: "key" },
          i: REPLICA,
          pc: { kind: "seq" },
          pt: { kind: "seq" },
          ac: { kind: "seq" },
          at: { kind: "seq" },
          ver: { kind: "seq" },
          ws: WRITERS,
          val: VALUE,
        },
      },
    },
  },
  /** Acknowledges chunk `n` of transfer `q`. */
  DhtItemsAck: { t: 43, fields: { q: { kind: "seq" }, n: { kind: "seq" } } },
  /** Answer to a sync request: the walk is covered up to `c`; count and two sums per bucket. */
  DhtDigest: {
    t: 44,
    fields: {
      q: { kind: "seq" },
      c: { kind: "key" },
      d: { kind: "seqs", min: DIGEST_BUCKETS * 3, max: DIGEST_BUCKETS * 3 },
    },
  },
  /** Anti-entropy: send me your replica-`j` items of the keys `(a, c]` under these prefixes. */
  DhtPull: {
    t: 45,
    fields: {
      q: { kind: "seq" },
      j: REPLICA,
      ix: REPLICA,
      a: { kind: "key" },
      c: { kind: "key" },
      lv: { kind: "count", min: 1, max: MAX_DIGEST_LEVEL + 1 },
      xs: { kind: "seqs", min: 1, max: DIGEST_BUCKETS },
    },
    check: (f: Record<string, unknown>): string | null =>
      (f.xs as number[]).every((x) => prefixOk(x, f.lv as number))
        ? null
        : "xs holds a value that is not a prefix of level lv",
  },
} as const satisfies Record<string, FrameSpec>;

/** Whether `x` is a key-hash prefix of `level` (its top `5·level` bits). */
function prefixOk(x: number, level: number): boolean {
  return x < 2 ** (5 * level);
}
