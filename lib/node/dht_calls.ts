/**
 * The DHT calls of a node (`insert`, `lookup`, `remove`): their options and results, the checks
 * of their arguments, and {@linkcode NodeDht}, which holds a node's DHT (made on first use) and
 * the ring's hooks into it, so that {@linkcode P2PNode} only delegates.
 *
 * @module
 */

import type { Frame, NodeRef } from "../com/transport.ts";
import { hashKey } from "../core/id_space.ts";
import type { DhtRoutedFrame, RingPort } from "../core/port.ts";
import { InvalidArgumentError, MessageTooLargeError } from "../errors.ts";
import { DHT_DEFAULTS, type DhtOptions, type DhtStatistics } from "../services/dht/context.ts";
import { Dht } from "../services/dht/dht.ts";
import { portHost } from "../services/dht/host.ts";
import { MAX_REPLICATION } from "../wire/schema.ts";
import { decodeValue, encodeValue } from "../wire/values.ts";

export type { DhtOptions, DhtStatistics } from "../services/dht/context.ts";

/** Options of {@linkcode P2PNode.lookup}. */
export interface LookupOptions {
  /** Fail with a `QuorumError` after this many ms without a majority of replicas. @default 10000 */
  timeoutMs?: number;
  /** Cancels the call; it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@linkcode P2PNode.insert} and {@linkcode P2PNode.remove}. */
export interface WriteOptions extends LookupOptions {
  /**
   * Compare-and-set: write only if the key's version is this one (`0`: only if the key is
   * absent); otherwise reject with a `VersionConflictError` carrying the current version.
   */
  ifVersion?: number;
}

/** What an acknowledged insert or remove resolves with. */
export interface WriteReceipt {
  /** The key in the identifier space (a string key hashed). */
  key: number;
  /** The key's version after the write (every insert and remove adds one). */
  version: number;
  /** Replicas that stored the write when it resolved (at least a majority). */
  replicas: number;
}

/** A value found by {@linkcode P2PNode.lookup}. */
export interface Entry {
  /** The value, decoded. */
  value: unknown;
  /** Its version. */
  version: number;
}

/** Default deadline of a DHT call, ms. */
export const DHT_TIMEOUT_MS = 10_000;

/**
 * Bytes a DHT frame needs besides its value, or besides its items' bytes: routing fields, the
 * sender (a host name is at most 255 bytes), key, ballots, 32 writer ids (at most 9 bytes each).
 */
export const DHT_FRAME_OVERHEAD = 1024;

/**
 * A DHT key in the identifier space: an integer in `[0, maxKey)`, or a string hashed with
 * `hashKey`.
 *
 * @example
 * ```ts
 * import { dhtKey } from "./dht_calls.ts";
 * import { hashKey } from "../core/id_space.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(dhtKey(42, 100), 42);
 * assert.equal(dhtKey("alice", 100), hashKey("alice", 100));
 * assert.throws(() => dhtKey(100, 100), /key must be/);
 * ```
 */
export function dhtKey(key: unknown, maxKey: number): number {
  if (typeof key === "string") return hashKey(key, maxKey);
  if (typeof key !== "number" || !Number.isSafeInteger(key) || key < 0 || key >= maxKey) {
    throw new InvalidArgumentError(
      `key must be an integer in [0, ${maxKey}) or a string, got ${String(key)}`,
    );
  }
  return key;
}

/** Checks the options of a DHT call; returns the deadline in ms. */
function checkCallOptions(options: WriteOptions, write: boolean): number {
  const { timeoutMs = DHT_TIMEOUT_MS, ifVersion } = options;
  if (!(typeof timeoutMs === "number" && timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) {
    throw new InvalidArgumentError(`timeoutMs must be a positive number of ms, got ${timeoutMs}`);
  }
  if (ifVersion !== undefined) {
    if (!write) throw new InvalidArgumentError("ifVersion applies to insert and remove only");
    if (!(Number.isSafeInteger(ifVersion) && ifVersion >= 0)) {
      throw new InvalidArgumentError(
        `ifVersion must be a non-negative integer, got ${String(ifVersion)}`,
      );
    }
  }
  return timeoutMs;
}

/** Encodes a value to store, within `maxValueBytes`. */
function encodeDhtValue(value: unknown, maxValueBytes: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encodeValue(value);
  } catch (e) {
    throw new InvalidArgumentError(`Value cannot be encoded as CBOR: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (bytes.length > maxValueBytes) {
    throw new MessageTooLargeError(
      `Value is ${bytes.length} bytes encoded; the DHT's limit is ${maxValueBytes} bytes`,
    );
  }
  return bytes;
}

/**
 * Checks a node's DHT options against its frame limit; returns them with defaults filled in.
 * Unless given, the value limit is the default or, for a node with small frames, what its frame
 * limit leaves (0 for frames too small to carry any: every insert is then too large).
 *
 * @example
 * ```ts
 * import { checkDhtOptions } from "./dht_calls.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkDhtOptions({}, 1 << 20).maxValueBytes, 65536);
 * assert.equal(checkDhtOptions({}, 40_000).maxValueBytes, 40_000 - 1024);
 * assert.throws(() => checkDhtOptions({ syncMs: 0 }, 1 << 20), /dht.syncMs must be/);
 * assert.throws(() => checkDhtOptions({ maxValueBytes: 4000 }, 4096), /at most the frame limit/);
 * ```
 */
export function checkDhtOptions(
  options: DhtOptions | undefined,
  maxFrameSize: number,
): Required<DhtOptions> {
  for (const [name, v] of Object.entries(options ?? {})) {
    if (!(name in DHT_DEFAULTS)) throw new InvalidArgumentError(`dht.${name} is not an option`);
    if (!(Number.isSafeInteger(v) && v > 0)) {
      throw new InvalidArgumentError(`dht.${name} must be a positive integer, got ${v}`);
    }
  }
  const o = { ...DHT_DEFAULTS, ...options };
  const most = Math.max(0, maxFrameSize - DHT_FRAME_OVERHEAD);
  if (options?.maxValueBytes === undefined) o.maxValueBytes = Math.min(o.maxValueBytes, most);
  else if (o.maxValueBytes > most) {
    throw new InvalidArgumentError(
      `dht.maxValueBytes must be at most the frame limit less ${DHT_FRAME_OVERHEAD} bytes ` +
        `(${most}), got ${o.maxValueBytes}`,
    );
  }
  return o;
}

/**
 * Checks a network's replication factor; returns it with the default (4) filled in.
 *
 * @example
 * ```ts
 * import { checkReplication } from "./dht_calls.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkReplication(undefined), 4);
 * assert.throws(() => checkReplication(17), /net.replication must be an integer in \[1, 16\]/);
 * ```
 */
export function checkReplication(replication: unknown): number {
  const f = replication ?? 4;
  if (!(Number.isInteger(f) && (f as number) >= 1 && (f as number) <= MAX_REPLICATION)) {
    throw new InvalidArgumentError(
      `net.replication must be an integer in [1, ${MAX_REPLICATION}], got ${String(replication)}`,
    );
  }
  return f as number;
}

/** Statistics of a node that holds no DHT (yet). */
const NO_DHT: Readonly<DhtStatistics> = {
  items: 0,
  bytes: 0,
  repaired: 0,
  quorumFailures: 0,
  handedOver: 0,
  refused: 0,
  waiting: 0,
  pendingRanges: 0,
};

/**
 * A node's DHT: made by the first DHT call or DHT frame (a node of a network that stores
 * nothing never holds one), and the ring's hooks into it.
 */
export class NodeDht {
  readonly #port: RingPort;
  readonly #options: Required<DhtOptions>;
  #dht: Dht | null = null;

  /** The DHT of the node behind `port`, with options already checked by `checkDhtOptions`. */
  constructor(port: RingPort, options: Required<DhtOptions>) {
    this.#port = port;
    this.#options = options;
  }

  get #instance(): Dht {
    return this.#dht ??= new Dht(portHost(this.#port), this.#options);
  }

  get #maxKey(): number {
    return this.#port.net!.maxKey;
  }

  /** Inserts `value` under `key` (the node is on a ring). */
  insert(key: unknown, value: unknown, options: WriteOptions = {}): Promise<WriteReceipt> {
    const k = dhtKey(key, this.#maxKey);
    const timeoutMs = checkCallOptions(options, true);
    const val = encodeDhtValue(value, this.#options.maxValueBytes);
    return this.#instance.insert(k, val, options.ifVersion, timeoutMs, options.signal)
      .then((r) => ({ key: k, ...r }));
  }

  /** Reads `key` (the node is on a ring). */
  lookup(key: unknown, options: LookupOptions = {}): Promise<Entry | undefined> {
    const k = dhtKey(key, this.#maxKey);
    const timeoutMs = checkCallOptions(options, false);
    return this.#instance.lookup(k, timeoutMs, options.signal).then((s) =>
      s.val === null ? undefined : { value: decodeValue(s.val), version: s.ver }
    );
  }

  /** Removes `key` (the node is on a ring). */
  remove(key: unknown, options: WriteOptions = {}): Promise<WriteReceipt> {
    const k = dhtKey(key, this.#maxKey);
    const timeoutMs = checkCallOptions(options, true);
    return this.#instance.remove(k, options.ifVersion, timeoutMs, options.signal)
      .then((r) => ({ key: k, ...r }));
  }

  /** A DHT frame sent straight to this node. */
  frame(from: NodeRef, f: Frame): void {
    this.#instance.frame(from, f);
  }

  /** A DHT request routed to a position this node holds. */
  routed(f: DhtRoutedFrame): void {
    this.#instance.routed(f);
  }

  /** The ring accepts `joiner` as predecessor (only a node holding DHT state hands over). */
  joining(joiner: NodeRef): void {
    this.#dht?.joining(joiner);
  }

  /** A graceful leave: whether the DHT hands items over first (then it calls `done`). */
  leaving(done: () => void): boolean {
    return this.#dht?.leaving(done) ?? false;
  }

  /** The DHT's counters. */
  statistics(): DhtStatistics {
    return this.#dht?.statistics() ?? { ...NO_DHT };
  }

  /** Fails the calls in progress with `reason` (the node stopped). */
  close(reason: Error): void {
    this.#dht?.close(reason);
  }
}
