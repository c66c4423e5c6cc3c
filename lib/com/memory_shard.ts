/**
 * What crosses between the shards of a simulated network: one network split over several
 * simulators (threads or processes), each holding the nodes of some ports and running its own
 * clock, which exchange these messages at the end of every window of the minimum latency.
 *
 * A connection between two shards is opened as over TCP, by a message each way: `Open` from the
 * dialling end, answered by `Accept` (or `Refused`); then `Frame`s, each the wire codec's bytes of
 * one frame, and `Close`. Every message is due at its `at`, at least the minimum latency after it
 * was sent, so a shard that has run to the end of a window can take in everything the others sent
 * during it without going back in time.
 *
 * @module
 */

import type { Frame, Hello, NodeRef } from "./transport.ts";

/** The kinds of {@linkcode CrossMessage}. */
export const Cross = {
  /** A connection opened from `from` to `to` (the dialler's hello and secrets). */
  Open: 1,
  /** The other end accepted the connection (its hello). */
  Accept: 2,
  /** The other end refused it (`why`; `handshake` when a check of the handshake failed). */
  Refused: 3,
  /** A frame on the connection, as the wire codec's bytes. */
  Frame: 4,
  /** The sender closed its end (`reset`: as when a process dies). */
  Close: 5,
} as const;

/** A message from one shard of a simulated network to another. */
export interface CrossMessage {
  /** One of {@linkcode Cross}. */
  k: number;
  /** Virtual time it arrives. */
  at: number;
  /** Port it goes to (its shard follows from it). */
  to: number;
  /** Port it comes from. */
  from: number;
  /** The connection's number as the sender holds it (negative at the end that accepted). */
  serial: number;
  /** The sender's node id (`Open`, `Accept`, `Frame`, `Close`), or the id the dialler expected. */
  id: number;
  /** `Open`, `Accept`: the sender's hello. */
  hello?: Hello;
  /** `Open`: the dialler's network secret. */
  psk?: Uint8Array | null;
  /** `Open`, `Accept`: the sender's static public key. */
  key?: Uint8Array | null;
  /** `Open`: the node id the dialler expects at `to` (absent when it dials an access point). */
  expect?: number;
  /** `Refused`: why. */
  why?: string;
  /** `Refused`: whether the handshake's checks failed (else nobody was there to connect to). */
  handshake?: boolean;
  /** `Frame`: the frame's bytes. */
  bytes?: Uint8Array;
  /** `Close`: whether the peer sees the link go down (a crash) rather than a quiet close. */
  reset?: boolean;
}

/** Which shard of a simulated network this one is. */
export interface ShardOptions {
  /** This shard's number, from 0. */
  index: number;
  /** How many shards the network has. */
  count: number;
}

/**
 * The shard holding `port`: shard `i` of `n` makes ports `i + 1`, `i + 1 + n`, ...
 *
 * @example
 * ```ts
 * import { shardOfPort } from "./memory_shard.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(shardOfPort(1, 2), 0);
 * assert.equal(shardOfPort(4, 2), 1);
 * ```
 */
export function shardOfPort(port: number, count: number): number {
  return (port - 1) % count;
}

/**
 * The end of a connection whose other end lives in another shard: where it is, how its node is
 * known, and when the last frame it sent on the connection arrives.
 */
export class RemoteEnd {
  /** Virtual time the last frame from the other end arrives (idle links are closed on it). */
  lastIn: number = -Infinity;
  /**
   * At the end that opened the link for frames at once: the frames sent before the other end
   * accepted, handed back to the owner if it refuses (as a refused link on one network does).
   */
  unacked: Frame[] | null = null;
  /** The other end is the transport at `port`, whose node is `ref`. */
  constructor(readonly port: number, public ref: NodeRef) {}
}

/** Bytes of a frame message's fixed part: kind, then at, to, from, serial, id, and the length. */
const FRAME_HEAD = 1 + 5 * 8 + 4;

/**
 * Packs messages for another shard into one buffer. Frames (nearly all of them) go as fixed
 * fields and the frame's bytes; the rare others as CBOR (`encodeOther`).
 *
 * @example
 * ```ts
 * import { Cross, packMessages, unpackMessages } from "./memory_shard.ts";
 * import { decode, encode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * const m = { k: Cross.Frame, at: 1.5, to: 2, from: 1, serial: 3, id: 9, bytes: new Uint8Array([7]) };
 * const back = unpackMessages(packMessages([m], encode), decode);
 * assert.deepEqual(back, [m]);
 * ```
 */
export function packMessages(
  ms: readonly CrossMessage[],
  encodeOther: (m: CrossMessage) => Uint8Array,
): Uint8Array {
  const others = ms.map((m) => (m.k === Cross.Frame ? null : encodeOther(m)));
  let size = 0;
  ms.forEach((m, i) => {
    size += m.k === Cross.Frame ? FRAME_HEAD + m.bytes!.length : 5 + others[i]!.length;
  });
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let p = 0;
  ms.forEach((m, i) => {
    out[p] = m.k;
    if (m.k === Cross.Frame) {
      v.setFloat64(p + 1, m.at, true);
      v.setFloat64(p + 9, m.to, true);
      v.setFloat64(p + 17, m.from, true);
      v.setFloat64(p + 25, m.serial, true);
      v.setFloat64(p + 33, m.id, true);
      v.setUint32(p + 41, m.bytes!.length, true);
      out.set(m.bytes!, p + FRAME_HEAD);
      p += FRAME_HEAD + m.bytes!.length;
    } else {
      const o = others[i]!;
      v.setUint32(p + 1, o.length, true);
      out.set(o, p + 5);
      p += 5 + o.length;
    }
  });
  return out;
}

/** Unpacks what {@linkcode packMessages} packed (`decodeOther` for the non-frames). */
export function unpackMessages(
  b: Uint8Array,
  decodeOther: (bytes: Uint8Array) => unknown,
): CrossMessage[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: CrossMessage[] = [];
  let p = 0;
  while (p < b.length) {
    const k = b[p];
    if (k === Cross.Frame) {
      const len = v.getUint32(p + 41, true);
      out.push({
        k,
        at: v.getFloat64(p + 1, true),
        to: v.getFloat64(p + 9, true),
        from: v.getFloat64(p + 17, true),
        serial: v.getFloat64(p + 25, true),
        id: v.getFloat64(p + 33, true),
        bytes: b.subarray(p + FRAME_HEAD, p + FRAME_HEAD + len),
      });
      p += FRAME_HEAD + len;
    } else {
      const len = v.getUint32(p + 1, true);
      out.push(decodeOther(b.subarray(p + 5, p + 5 + len)) as CrossMessage);
      p += 5 + len;
    }
  }
  return out;
}
