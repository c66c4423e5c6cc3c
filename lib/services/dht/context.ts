/**
 * What the parts of a node's DHT share: the host, the store, the options and the counters, and
 * the one way items from elsewhere (handover, anti-entropy) enter the store.
 *
 * @module
 */

import type { DhtHost } from "./host.ts";
import { merge, type Register } from "./register.ts";
import type { Store } from "./store.ts";

/** Node-local DHT settings (the replication factor is the network's: `net.replication`). */
export interface DhtOptions {
  /**
   * Largest value, as its CBOR encoding, in bytes; at most the frame limit less 1 KiB (the
   * default is cut to that on a node with small frames).
   * @default 65536
   */
  maxValueBytes?: number;
  /** Most items (replicas of keys) this node holds. @default 1000000 */
  maxItems?: number;
  /** Most value bytes this node holds. @default 268435456 */
  maxBytes?: number;
  /** Period of anti-entropy with the next replica of this node's range, ms. @default 30000 */
  syncMs?: number;
  /**
   * How long a removed key's tombstone (and the promise of a write that never completed) is
   * kept, ms. A replica cut off for longer than this may bring a removed value back.
   * @default 86400000
   */
  tombstoneTtlMs?: number;
  /**
   * Longest a graceful leave spends handing items over before it goes anyway, ms.
   * @default 30000
   */
  leaveTimeoutMs?: number;
}

/** The defaults of {@linkcode DhtOptions}. */
export const DHT_DEFAULTS: Readonly<Required<DhtOptions>> = {
  maxValueBytes: 64 * 1024,
  maxItems: 1_000_000,
  maxBytes: 256 * 1024 * 1024,
  syncMs: 30_000,
  tombstoneTtlMs: 24 * 3600_000,
  leaveTimeoutMs: 30_000,
};

/** DHT counters of a node (part of its statistics). */
export interface DhtStatistics {
  /** Items (replicas of keys) held here. */
  items: number;
  /** Value bytes held here. */
  bytes: number;
  /**
   * Replicas brought up to date here: by read repair, anti-entropy, or recovery of a range
   * taken over from a crashed node.
   */
  repaired: number;
  /** Operations started here that failed for want of a quorum. */
  quorumFailures: number;
  /** Items sent to the node that became responsible for them (join, leave). */
  handedOver: number;
  /** Items or writes refused here: storage limits, or positions outside this node's range. */
  refused: number;
  /** Requests waiting for a range this node is still receiving or recovering. */
  waiting: number;
  /** Parts of this node's range it is still receiving or recovering (0: serving all of it). */
  pendingRanges: number;
}

/**
 * The bad-frame reason of a DHT frame no honest peer sends: a replica index past the network's
 * factor, or a position that is not that replica's.
 */
export const NOT_A_REPLICA = "replica";

/** The mutable counters behind {@linkcode DhtStatistics}. */
export interface DhtCounters {
  repaired: number;
  handedOver: number;
  refused: number;
}

/** What every part of a node's DHT works with. */
export interface DhtContext {
  readonly host: DhtHost;
  readonly store: Store;
  readonly options: Readonly<Required<DhtOptions>>;
  readonly counters: DhtCounters;
  /** Replication factor. */
  readonly f: number;
  /** Identifier-space size. */
  readonly maxKey: number;
}

/**
 * Merges a register from another node into replica `i` of `key` (see register.ts `merge`),
 * within the storage limits. Returns whether the replica took a newer accepted state; a refusal
 * for the limits is counted.
 */
export function mergeItem(ctx: DhtContext, key: number, i: number, o: Register): boolean {
  const now = ctx.host.now();
  const it = ctx.store.place(key, i, o.val, now);
  if (!it) {
    ctx.counters.refused++;
    return false;
  }
  let taken = false;
  ctx.store.update(it, now, (r) => {
    const m = merge(r, o);
    taken = m === 2;
    return m > 0;
  });
  return taken;
}
