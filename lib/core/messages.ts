/**
 * Frame types of the overlay protocol and the shapes of their fields.
 *
 * Types 0 and 1 belong to the transport handshake. Routed frames carry `k` (the key routed
 * towards), `h` (hops so far), `ph` (routing phase) and `f` (the finger index the previous hop
 * used, for correction-on-use).
 *
 * @module
 */

import { defineCompactFrame, defineFrameReader, Embedded } from "../com/framing.ts";
import {
  asciiAt,
  cursor,
  headAt,
  notTaken,
  numberAt,
  readArrayAt,
  readAsciiAt,
  readBoolAt,
  readBytesAt,
  readNumberAt,
  readOptionalAt,
} from "../com/cbor_head.ts";
import type { NodeRef } from "../com/transport.ts";

/** Frame type numbers. */
export const T = {
  Hello: 0,
  Refuse: 1,
  /** Joiner → access point: what network is this? */
  InfoReq: 2,
  /** Network characteristics. */
  Info: 3,
  /** Routed to the node responsible for the joiner's id. */
  Join: 4,
  /** Responsible node → joiner: your predecessor, successors and a finger table to start from. */
  JoinOk: 5,
  /** "I believe I am your predecessor." */
  Notify: 7,
  /** "My predecessor is `p`; my successors are `s`." */
  Stab: 8,
  /** Graceful leave: the leaver's predecessor and successors. */
  Leave: 9,
  /** Routed lookup of the node responsible for a key. */
  Lookup: 10,
  /** Direct answer to a lookup. */
  LookupOk: 11,
  /** Correction-on-use: "for your finger `f`, `n` is a better node". */
  Fix: 12,
  /** Routed application message. */
  Data: 13,
  /** Direct report to a sender: its message could not be delivered. */
  Undeliverable: 14,
  /** Broadcast over an interval. */
  Bcast: 15,
  /** Multicast carrying the keys for one subtree. */
  Mcast: 16,
  /** Message for the next `n` successors. */
  Succ: 17,
  /** End-to-end acknowledgement. */
  Ack: 18,
  /** Failure-detector heartbeat. */
  Ping: 19,
  /** Heartbeat answer. */
  Pong: 20,
  /** Acknowledged broadcast: a subtree's reached nodes, child → parent. */
  BcastDone: 21,
  /**
   * Unacknowledged messages of one sender to one destination, sent one after another, in one
   * frame: how a link writes consecutive data frames that share their routing fields.
   */
  DataRun: 22,
} as const;

/** Network characteristics, fixed by the creator and adopted by joiners. */
export interface NetInfo {
  /** Network name. */
  name: string;
  /** Random id of this network instance. */
  netId: string;
  /** Identifier-space size. */
  maxKey: number;
  /** Finger policy name. */
  fingers: string;
  /** Successor-list length. */
  succListSize: number;
}

/** Fields common to routed frames. */
export interface Routed {
  t: number;
  /** Key routed towards. */
  k: number;
  /** Hops so far. */
  h: number;
  /** Routing phase. */
  ph: number;
  /** Finger index used by the previous hop, -1 if none. */
  f: number;
  [field: string]: unknown;
}

/**
 * A node on the wire of the hot path: `[id, hostname, port]`. Arrays decode several times faster
 * than nested objects with string keys, and every application message carries its sender.
 */
export type WireRef = [number, string, number];

/** The wire form of a node. */
export function toWire(n: NodeRef): WireRef {
  return [n.id, n.ap.hostname, n.ap.port];
}

/** A node from its wire form. */
export function fromWire(w: unknown): NodeRef {
  const [id, hostname, port] = w as WireRef;
  return { id, ap: { hostname, port } };
}

/**
 * An application message's value: its CBOR encoding (made once by the sender, passed on
 * untouched in the simulator and spliced into frames over TCP), or the value itself as decoded
 * with the frame that carried it.
 */
export type Payload = Uint8Array | Embedded;

/** The value of a payload (decoding it when it is still encoded). */
export function payloadValue(p: Payload, decode: (b: Uint8Array) => unknown): unknown {
  return p instanceof Embedded ? p.value : decode(p);
}

/** Whether `v` is a payload (for the shape checks of frames from peers). */
export function isPayload(v: unknown): v is Payload {
  return v instanceof Uint8Array || v instanceof Embedded;
}

/** A routed application message. */
export interface DataFrame extends Routed {
  /**
   * Original sender; `null` on the wire for the first hop, whose receiver knows the sender as
   * the peer at the other end of the link (the ring puts it back on arrival).
   */
  s: WireRef | null;
  /** Whether `k` is a key (deliver to its responsible node) rather than a node id. */
  r: boolean;
  /** Sender-local message id. */
  id: number;
  /** The message. */
  p: Payload;
  /** Acknowledged-delivery sequence number, when the sender wants an acknowledgement. */
  q?: number;
  /** Lowest sequence number of the stream still unacknowledged at the sender. */
  lo?: number;
}

/**
 * A new application message from `src` to `dst` (a node id, or a key with `toResp`), not yet
 * routed; `q`/`lo` mark an acknowledged one.
 */
export function dataFrame(
  src: WireRef,
  dst: number,
  toResp: boolean,
  id: number,
  p: Payload,
  ack?: { q: number; lo: number },
): DataFrame {
  // Every field is set (q and lo to undefined when unacknowledged), in the order of the wire
  // layout, so that frames made here and frames decoded from the wire share one object shape.
  return {
    t: T.Data,
    k: dst,
    h: 0,
    ph: 0,
    f: -1,
    s: src,
    r: toResp,
    id,
    q: ack?.q,
    lo: ack?.lo,
    p,
  };
}

/**
 * Consecutive unacknowledged messages from one sender to one destination with the same routing
 * fields, as one frame: the messages have ids `id`, `id + 1`, ... The sending link builds these
 * from data frames queued back to back (see the Data codec's `merge`); a node that relays a run
 * passes its messages on as data frames, which its own link joins again.
 */
export interface DataRunFrame extends Routed {
  /** Original sender; `null` on a first hop (see {@linkcode DataFrame.s}). */
  s: WireRef | null;
  /** Whether `k` is a key rather than a node id. */
  r: boolean;
  /** Sender-local id of the first message. */
  id: number;
  /** The messages, in order. */
  ps: Embedded[];
}

/** The number of application messages a routed frame carries (runs carry several). */
export function messageCount(f: Routed): number {
  return f.t === T.DataRun ? (f.ps as unknown[]).length : 1;
}

/** The data frame of message `i` of a run, to be routed on its own. */
export function runMessage(run: DataRunFrame, i: number, h: number): DataFrame {
  return {
    t: T.Data,
    k: run.k,
    h,
    ph: run.ph,
    f: run.f,
    s: run.s,
    r: run.r,
    id: run.id + i,
    q: undefined,
    lo: undefined,
    p: run.ps[i],
  };
}

/**
 * Largest body of a run a link builds: larger runs would more often wait at the receiver for the
 * rest of the frame to arrive in a later read.
 */
const RUN_BYTES = 16 * 1024;

/** Whether two senders are the same (by value: frames received apart carry arrays of their own). */
function sameRef(a: WireRef | null, b: WireRef | null): boolean {
  return a === b || (a !== null && b !== null && a[0] === b[0] && a[1] === b[1] && a[2] === b[2]);
}

/** Writes the routing fields shared by data frames and runs; `-1` when not all simple. */
function routingAt(f: DataFrame, buf: Uint8Array, view: DataView, at: number): number {
  const { k, h, ph, f: fi, s, r, id } = f;
  if (
    typeof k !== "number" || typeof h !== "number" || typeof ph !== "number" ||
    typeof fi !== "number" || typeof r !== "boolean" || typeof id !== "number"
  ) return -1;
  let p = numberAt(buf, view, at, k);
  p = numberAt(buf, view, p, h);
  p = numberAt(buf, view, p, ph);
  p = numberAt(buf, view, p, fi);
  if (s === null) buf[p++] = 0xf6;
  else {
    if (!Array.isArray(s) || s.length !== 3) return -1;
    const [sid, host, port] = s;
    if (typeof sid !== "number" || typeof host !== "string" || typeof port !== "number") {
      return -1;
    }
    buf[p++] = 0x83;
    p = numberAt(buf, view, p, sid);
    p = asciiAt(buf, p, host);
    if (p < 0) return -1;
    p = numberAt(buf, view, p, port);
  }
  buf[p++] = r ? 0xf5 : 0xf4;
  return numberAt(buf, view, p, id);
}

/** The routing fields shared by data frames and runs, read from `b` at the cursor. */
function readRouting(b: Uint8Array, end: number) {
  const k = readNumberAt(b, cursor.at, end);
  const h = readNumberAt(b, cursor.at, end);
  const ph = readNumberAt(b, cursor.at, end);
  const fi = readNumberAt(b, cursor.at, end);
  let s: WireRef | null = null;
  if (cursor.at < end && b[cursor.at] === 0xf6) cursor.at++;
  else {
    readArrayAt(b, cursor.at, end, 3);
    const sid = readNumberAt(b, cursor.at, end);
    const host = readAsciiAt(b, cursor.at, end);
    s = [sid, host, readNumberAt(b, cursor.at, end)];
  }
  const r = readBoolAt(b, cursor.at, end);
  const id = readNumberAt(b, cursor.at, end);
  return { k, h, ph, fi, s, r, id };
}

// Frames that carry application messages travel in the compact positional form, with the message
// spliced in last (see defineCompactFrame). Every field a frame of these types may hold must be
// listed: the others would not travel.
/** The embedded message of a decoded frame (left encoded by the hand-written reader). */
function embedded(v: unknown): Embedded {
  return v instanceof Embedded ? v : new Embedded(v);
}

defineCompactFrame(T.Data, ["k", "h", "ph", "f", "s", "r", "id", "q", "lo"], "p", {
  build: (v): DataFrame => ({
    t: T.Data,
    k: v[1] as number,
    h: v[2] as number,
    ph: v[3] as number,
    f: v[4] as number,
    s: v[5] as WireRef | null,
    r: v[6] as boolean,
    id: v[7] as number,
    q: v[8] as number | undefined,
    lo: v[9] as number | undefined,
    p: embedded(v[10]),
  }),
  values: (f) => [T.Data, f.k, f.h, f.ph, f.f, f.s, f.r, f.id, f.q, f.lo],
  embedded: (f) => f.p,
  // An unacknowledged message whose bytes are at hand starts a run (of one, so far): a run's
  // array header has a fixed width, so that the link can append the next messages to it.
  write: (f, buf, view, at, tailLength) => {
    const { q, lo } = f as DataFrame;
    const run = q === undefined && lo === undefined && tailLength >= 0;
    if (run) {
      buf[at] = 0x99; // an array with a two-byte count: eight fields and one message so far
      buf[at + 1] = 0;
      buf[at + 2] = 9;
      buf[at + 3] = T.DataRun;
      const p = routingAt(f as DataFrame, buf, view, at + 4);
      return p < 0 ? -1 : headAt(buf, view, p, 0x40, tailLength);
    }
    if (q !== undefined && typeof q !== "number") return -1;
    if (lo !== undefined && typeof lo !== "number") return -1;
    buf[at] = 0x8b; // an array of 11: t, nine fields and the message
    buf[at + 1] = T.Data;
    let p = routingAt(f as DataFrame, buf, view, at + 2);
    if (p < 0) return -1;
    if (q === undefined) buf[p++] = 0xf7;
    else p = numberAt(buf, view, p, q);
    if (lo === undefined) buf[p++] = 0xf7;
    else p = numberAt(buf, view, p, lo);
    return p;
  },
  // The next message of a run: same routing fields, the next id, unacknowledged.
  merge: (f, last, buf, view, body, end, tail, maxBody) => {
    const d = f as DataFrame;
    const l = last as DataFrame;
    if (
      l.t !== T.Data || d.q !== undefined || d.lo !== undefined || d.id !== l.id + 1 ||
      d.k !== l.k || d.h !== l.h || d.ph !== l.ph || d.f !== l.f || d.r !== l.r ||
      !sameRef(d.s, l.s) ||
      buf[body] !== 0x99 || buf[body + 3] !== T.DataRun
    ) return -1;
    const count = (buf[body + 1] << 8) | buf[body + 2];
    const n = tail.length;
    const next = end + (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
    if (count >= 0xffff || next - body > Math.min(maxBody, RUN_BYTES)) return -1;
    buf.set(tail, headAt(buf, view, end, 0x40, n));
    buf[body + 1] = (count + 1) >>> 8;
    buf[body + 2] = (count + 1) & 0xff;
    return next;
  },
  read: (b, at, end): DataFrame => {
    readArrayAt(b, at, end, 11);
    readNumberAt(b, cursor.at, end); // the type, known to be Data
    const { k, h, ph, fi, s, r, id } = readRouting(b, end);
    const q = readOptionalAt(b, cursor.at, end);
    const lo = readOptionalAt(b, cursor.at, end);
    const rest = cursor.at;
    if (rest >= end) notTaken(); // no message
    return {
      t: T.Data,
      k,
      h,
      ph,
      f: fi,
      s,
      r,
      id,
      q,
      lo,
      p: Embedded.encoded(b.subarray(rest, end)),
    };
  },
});

defineFrameReader(T.DataRun, (b, at, end): DataRunFrame => {
  if (end - at < 5 || b[at] !== 0x99) notTaken();
  const count = (b[at + 1] << 8) | b[at + 2];
  if (count < 9) notTaken();
  cursor.at = at + 4; // after the type, known to be DataRun
  const { k, h, ph, fi, s, r, id } = readRouting(b, end);
  const ps: Embedded[] = new Array(count - 8);
  for (let i = 0; i < ps.length; i++) {
    const n = readBytesAt(b, cursor.at, end);
    if (n === 0) notTaken(); // no message
    ps[i] = Embedded.encoded(b.subarray(cursor.at - n, cursor.at));
  }
  if (cursor.at !== end) notTaken();
  return { t: T.DataRun, k, h, ph, f: fi, s, r, id, ps };
});

defineCompactFrame(T.Bcast, ["s", "id", "h", "lim", "a", "q", "lo"], "p");
defineCompactFrame(T.Mcast, ["s", "id", "ks", "r", "h", "ph", "a", "qs", "los"], "p");
defineCompactFrame(T.Succ, ["s", "id", "n", "h", "a", "q", "lo"], "p");
