/**
 * The wire schema: every frame type of the protocol, declared once — its number, its name, its
 * fields in wire order with their kinds and ranges, and the rules that tie fields together. The
 * typed {@linkcode Frame} union, the encoder, the decoder and the validator are all derived from
 * this table (see `codec.ts`); nothing else lists a frame's fields.
 *
 * On the wire a frame is a CBOR array `[t, field…, payload…]` in the order declared here; an
 * absent optional field travels as `null`. Frame types with payloads use a head with a two-byte
 * count (`0x99`), so that a link can append the next message to the frame in place (see
 * {@linkcode FrameSpec.merge}).
 *
 * Field kinds and what the decoder accepts:
 * - `key`: a node id or key, an integer in `[0, maxKey)` of the receiver's network;
 * - `hops`: an integer in `[0, HOP_LIMIT]`; `phase`: 0 or 1; `finger`: an integer in `[-1, 255]`;
 * - `seq`: an integer in `[0, 2^53)` (message ids, sequence numbers, request ids);
 * - `count`: an integer in `[min, max]`; `time`: a finite number; `bool`; `text`: a string of at
 *   most `max` UTF-8 bytes; `choice`: one of `values`, sent as its index;
 * - `node`: a node `[id, host, port]` (id a `key`); `nodes`, `keys`, `seqs`: arrays of at most
 *   `max` of those;
 * - `rows`: an array of at most `max` records, each a CBOR array of the fields `of` declares, in
 *   that order (any kind above, `payload` included; no `rows` or `payloads` inside, no `peer`);
 * - `payload` / `payloads`: application messages as CBOR byte strings holding their encoding,
 *   passed on untouched by relays and decoded only where delivered.
 *
 * @module
 */

import type { NodeRef } from "./types.ts";
import { DHT_SCHEMA, MAX_REPLICATION } from "./schema_dht.ts";

export {
  DIGEST_BUCKETS,
  MAX_CHUNK_ITEMS,
  MAX_DIGEST_LEVEL,
  MAX_REPLICATION,
  WRITER_HISTORY,
} from "./schema_dht.ts";

/** Longest path a routed frame may take; frames at the limit are dropped. */
export const HOP_LIMIT = 255;
/** Most messages one frame may carry (a link's run of consecutive messages). */
export const MAX_PAYLOADS = 0xffff;
/** Longest successor list a network may choose (the `Info` frame's bound). */
export const MAX_SUCC_LIST = 64;
/** How one field travels and which values it may take. */
export interface FieldSpec {
  /** The kind (see the module documentation). */
  readonly kind:
    | "key"
    | "hops"
    | "phase"
    | "finger"
    | "seq"
    | "count"
    | "time"
    | "bool"
    | "text"
    | "choice"
    | "node"
    | "nodes"
    | "keys"
    | "seqs"
    | "int"
    | "payload"
    | "payloads"
    | "rows";
  /** May be absent (`null` on the wire, `undefined` in the frame). */
  readonly optional?: boolean;
  /** Least value (`count`) or least number of items (arrays, `payloads`). */
  readonly min?: number;
  /** Greatest value (`count`), items (arrays, `payloads`) or bytes (`text`). */
  readonly max?: number;
  /** The values of a `choice`. */
  readonly values?: readonly string[];
  /** The fields of each record of a `rows` field, in wire order. */
  readonly of?: Readonly<Record<string, FieldSpec>>;
  /**
   * A node the frame claims is its sender: `always` — it must be the peer at the other end of the
   * link; `firstHop` — so must it on a routed frame's first hop (`h` at most 1, when the sender
   * itself hands it on), unless it is absent.
   */
  readonly peer?: "always" | "firstHop";
}

/** What a cross-field rule may consult. */
export interface RuleContext {
  /** The identifier-space size of the receiver's network. */
  readonly maxKey: number;
}

/** The declaration of one frame type. */
export interface FrameSpec {
  /** The frame type number (below 24: one byte on the wire). */
  readonly t: number;
  /** Fields in wire order. */
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /**
   * Consecutive frames of this type may share one wire frame: the next frame's payloads are
   * appended when every other field is equal, its `seq` field follows on from the last one's
   * (plus its payload count), and the `unless` fields are absent in both.
   */
  readonly merge?: { readonly seq: string; readonly unless: readonly string[] };
  /**
   * A rule over several fields, checked after each field's own: `null` when the frame is fine,
   * otherwise what is wrong.
   */
  readonly check?: (frame: Record<string, unknown>, ctx: RuleContext) => string | null;
  /** Handled by the transport itself (handshake and link control), never by the node. */
  readonly link?: boolean;
}

/** Every frame type of the protocol. */
export const SCHEMA = {
  // ---- link control (the transport's own) ----
  /** The identity a node presents when a link opens. */
  Hello: {
    t: 0,
    link: true,
    fields: {
      v: { kind: "count", min: 0, max: 0xffff },
      name: { kind: "text", max: 64 },
      net: { kind: "text", max: 64, optional: true },
      /** A node id, or a negative provisional id while the node is still joining. */
      id: { kind: "int" },
      host: { kind: "text", max: 255 },
      port: { kind: "count", min: 0, max: 0xffff },
      /** Largest frame body the sender accepts. */
      mf: { kind: "count", min: 1, max: 0xffffffff },
    },
  },
  /** A refusal, sent before the link is closed. */
  Refuse: { t: 1, link: true, fields: { why: { kind: "text", max: 512 } } },
  /** The peer's hello is accepted. */
  Accept: { t: 23, link: true, fields: {} },
  /** The sender closes this link on purpose: its end is not a failure. */
  Bye: { t: 24, link: true, fields: {} },

  // ---- joining ----
  /** Joiner → access point: what network is this? */
  InfoReq: { t: 2, fields: {} },
  /** The network's characteristics. */
  Info: {
    t: 3,
    fields: {
      name: { kind: "text", max: 64 },
      netId: { kind: "text", max: 64 },
      maxKey: { kind: "count", min: 2, max: 2 ** 52 },
      fingers: { kind: "text", max: 32 },
      succListSize: { kind: "count", min: 1, max: 64 },
      /** How links are secured: Noise, or in the clear (labs and benchmarks). */
      encryption: { kind: "choice", values: ["noise", "none"] },
      /** Ids are derived from static keys (see `idOfKey`). */
      idFromKey: { kind: "bool" },
      /** The DHT's replication factor. */
      replication: { kind: "count", min: 1, max: MAX_REPLICATION },
    },
  },
  /** Joiner → access point: which node is responsible for key `k`? (answered with `Found`) */
  Find: { t: 6, fields: { q: { kind: "seq" }, k: { kind: "key" } } },
  /** The answer to `Find`: the responsible node and its predecessor. */
  Found: {
    t: 25,
    fields: { q: { kind: "seq" }, n: { kind: "node" }, p: { kind: "node", optional: true } },
  },
  /** Routed to the node responsible for the joiner's id. */
  Join: {
    t: 4,
    fields: {
      k: { kind: "key" },
      h: { kind: "hops" },
      ph: { kind: "phase" },
      f: { kind: "finger" },
      j: { kind: "node", peer: "firstHop" },
    },
    check: (f: Record<string, unknown>): string | null =>
      (f.j as NodeRef).id === f.k ? null : "the joiner is not the key it is routed to",
  },
  /** Responsible node → joiner: your predecessor, successors and fingers to start from. */
  JoinOk: {
    t: 5,
    fields: {
      p: { kind: "node" },
      s: { kind: "nodes", min: 1, max: 65 },
      fg: { kind: "nodes", min: 0, max: 256 },
    },
  },

  // ---- ring maintenance ----
  /** "I believe I am your predecessor." */
  Notify: { t: 7, fields: {} },
  /** "My predecessor is `p`; my successors are `s`." */
  Stab: {
    t: 8,
    fields: { p: { kind: "node", optional: true }, s: { kind: "nodes", min: 0, max: 64 } },
  },
  /** Graceful leave: the leaver's predecessor and successors. */
  Leave: { t: 9, fields: { p: { kind: "node" }, s: { kind: "nodes", min: 0, max: 64 } } },
  /** Routed lookup of the node responsible for `k`, answered to `r`. */
  Lookup: {
    t: 10,
    fields: {
      k: { kind: "key" },
      h: { kind: "hops" },
      ph: { kind: "phase" },
      f: { kind: "finger" },
      r: { kind: "node", peer: "firstHop" },
      q: { kind: "seq" },
    },
  },
  /** The answer to a lookup, from the responsible node itself. */
  LookupOk: {
    t: 11,
    fields: {
      q: { kind: "seq" },
      n: { kind: "node", peer: "always" },
      p: { kind: "node", optional: true },
      h: { kind: "hops" },
    },
  },
  /** Correction-on-use: "for your finger `i`, `n` is a better node" (`i` −1: "know me"). */
  Fix: { t: 12, fields: { i: { kind: "finger" }, n: { kind: "node" } } },
  /** Failure-detector heartbeat. */
  Ping: { t: 19, fields: { ts: { kind: "time" } } },
  /** Heartbeat answer. */
  Pong: { t: 20, fields: { ts: { kind: "time" } } },

  // ---- application messages ----
  /**
   * Routed application messages from `s` to `k` (a node id, or a key with `r`), with ids `id`,
   * `id + 1`, … one per payload; `q`/`lo` (acknowledged delivery) only with a single payload.
   */
  Data: {
    t: 13,
    fields: {
      k: { kind: "key" },
      h: { kind: "hops" },
      ph: { kind: "phase" },
      f: { kind: "finger" },
      /** Absent on a first hop: the receiver knows the sender as the peer of the link. */
      s: { kind: "node", optional: true, peer: "firstHop" },
      r: { kind: "bool" },
      id: { kind: "seq" },
      q: { kind: "seq", optional: true },
      lo: { kind: "seq", optional: true },
      ps: { kind: "payloads", min: 1, max: MAX_PAYLOADS },
    },
    merge: { seq: "id", unless: ["q", "lo"] },
    check: (f: Record<string, unknown>): string | null => {
      const n = (f.ps as unknown[]).length;
      if ((f.q === undefined) !== (f.lo === undefined)) return "q and lo go together";
      if (f.q !== undefined && n !== 1) return "an acknowledged message travels alone";
      if (!Number.isSafeInteger((f.id as number) + n)) return "message ids past 2^53";
      if (f.h === 0) return "a routed message has taken a hop";
      return null;
    },
  },
  /** Direct report to a sender: `n` of its messages from `id` on could not be delivered. */
  Undeliverable: {
    t: 14,
    fields: {
      id: { kind: "seq" },
      n: { kind: "count", min: 1, max: MAX_PAYLOADS },
      d: { kind: "key" },
      why: { kind: "text", max: 200 },
      kd: { kind: "choice", values: ["send", "multicast"] },
    },
  },
  /** Broadcast over the interval up to `lim`. */
  Bcast: {
    t: 15,
    fields: {
      s: { kind: "node", peer: "firstHop" },
      id: { kind: "seq" },
      h: { kind: "hops" },
      lim: { kind: "key" },
      a: { kind: "bool" },
      q: { kind: "seq", optional: true },
      lo: { kind: "seq", optional: true },
      p: { kind: "payload" },
    },
    check: (f: Record<string, unknown>): string | null => ackFields(f.a as boolean, f.q, f.lo),
  },
  /** Multicast carrying the destinations of one subtree. */
  Mcast: {
    t: 16,
    fields: {
      s: { kind: "node", peer: "firstHop" },
      id: { kind: "seq" },
      ks: { kind: "keys", min: 1, max: 0x10000 },
      r: { kind: "bool" },
      h: { kind: "hops" },
      ph: { kind: "phase" },
      a: { kind: "bool" },
      qs: { kind: "seqs", min: 0, max: 0x10000, optional: true },
      los: { kind: "seqs", min: 0, max: 0x10000, optional: true },
      p: { kind: "payload" },
    },
    check: (f: Record<string, unknown>): string | null => {
      const n = (f.ks as unknown[]).length;
      if (!f.a) return f.qs === undefined && f.los === undefined ? null : "qs/los without a";
      return (f.qs as unknown[] | undefined)?.length === n &&
          (f.los as unknown[] | undefined)?.length === n
        ? null
        : "qs and los must match ks";
    },
  },
  /** A message for the next `n` successors. */
  Succ: {
    t: 17,
    fields: {
      s: { kind: "node", peer: "firstHop" },
      id: { kind: "seq" },
      n: { kind: "count", min: 0, max: HOP_LIMIT },
      h: { kind: "hops" },
      a: { kind: "bool" },
      q: { kind: "seq", optional: true },
      lo: { kind: "seq", optional: true },
      p: { kind: "payload" },
    },
    check: (f: Record<string, unknown>): string | null => ackFields(f.a as boolean, f.q, f.lo),
  },
  /** End-to-end acknowledgement of message `id` for destinations `ks`, by the node `n`. */
  Ack: {
    t: 18,
    fields: {
      id: { kind: "seq" },
      ks: { kind: "keys", min: 0, max: 0x10000 },
      n: { kind: "key", peer: "always" },
      h: { kind: "hops" },
    },
  },
  /** Acknowledged broadcast: a subtree's reached nodes (or `w`: still working), child → parent. */
  BcastDone: {
    t: 21,
    fields: {
      s: { kind: "key" },
      id: { kind: "seq" },
      w: { kind: "bool" },
      r: { kind: "keys", min: 0, max: 0x100000 },
    },
  },

  // ---- the DHT (services/dht), declared in schema_dht.ts ----
  ...DHT_SCHEMA,
} as const satisfies Record<string, FrameSpec>;

function ackFields(a: boolean, q: unknown, lo: unknown): string | null {
  if (a) {
    return q !== undefined && lo !== undefined ? null : "an acknowledged message needs q and lo";
  }
  return q === undefined && lo === undefined ? null : "q/lo without a";
}

/** The frame type numbers, by name. */
export type FrameName = keyof typeof SCHEMA;

// ---- the types derived from the table ----

/** The value type of a field of spec `S`. */
export type ValueOf<S> = S extends { kind: "node" } ? NodeRef
  : S extends { kind: "nodes" } ? readonly NodeRef[]
  : S extends { kind: "keys" | "seqs" } ? readonly number[]
  : S extends { kind: "bool" } ? boolean
  : S extends { kind: "text" } ? string
  : S extends { kind: "choice"; values: readonly (infer V)[] } ? V
  : S extends { kind: "payload" } ? Uint8Array
  : S extends { kind: "payloads" } ? readonly Uint8Array[]
  : S extends { kind: "rows"; of: infer R } ? readonly Flatten<Fields<R>>[]
  : number;

/** The fields of a frame from its field specs `F` (optional ones marked optional). */
export type Fields<F> =
  & { -readonly [K in keyof F as F[K] extends { optional: true } ? never : K]: ValueOf<F[K]> }
  & { -readonly [K in keyof F as F[K] extends { optional: true } ? K : never]?: ValueOf<F[K]> };

/** `T` as one object type (for readable hovers and docs). */
export type Flatten<T> = { [K in keyof T]: T[K] };

/** The frame of type `N`, as the codec reads it and the protocol builds it. */
export type FrameOf<N extends FrameName> = Flatten<
  { t: (typeof SCHEMA)[N]["t"] } & Fields<(typeof SCHEMA)[N]["fields"]>
>;

/** Any frame: a union discriminated by `t`. */
export type Frame = { [N in FrameName]: FrameOf<N> }[FrameName];

/** The type numbers by name: `T.Data === 13`. */
export const T: { readonly [N in FrameName]: (typeof SCHEMA)[N]["t"] } = Object.fromEntries(
  Object.entries(SCHEMA).map(([name, spec]) => [name, spec.t]),
) as { readonly [N in FrameName]: (typeof SCHEMA)[N]["t"] };

/** Frames that carry application messages. */
export type DataFrame = FrameOf<"Data">;
