/**
 * The transport contract shared by TCP and the in-memory simulator.
 *
 * The core hands frames (plain CBOR-encodable objects) to a transport addressed by node id and
 * access point; the transport owns connections, the handshake and framing, and reports frames
 * and dead links back through {@linkcode TransportEvents}. Nothing above this file knows whether
 * bytes cross a socket.
 *
 * @module
 */

import type { WireError } from "../wire/cbor.ts";
import type { Frame, FrameOf } from "../wire/schema.ts";
import type { AccessPoint, NodeRef } from "../wire/types.ts";
import type { KeyPair } from "./noise/crypto.ts";

export type { AccessPoint, NodeRef } from "../wire/types.ts";
export type { Frame } from "../wire/schema.ts";

/** The identity a node presents when a link opens (the `Hello` frame's fields). */
export type Hello = Omit<FrameOf<"Hello">, "t">;

/** Wire protocol version; peers with another version are refused. */
export const PROTOCOL_VERSION = 5;

/**
 * Provisional ids (of nodes still joining) are negative and at least this far down: far enough
 * apart that concurrent joiners through one access point do not collide.
 */
export const PROVISIONAL_IDS: number = 2 ** 41;

/** How a link's bytes travel: sealed by Noise, or in the clear. */
export type Encryption = "noise" | "none";

/** What a link's security depends on, kept up to date by the node. */
export interface LinkSecurity {
  /** This node's choice (or its network's, once known). */
  encryption: Encryption;
  /** This node's static key pair (its identity in Noise handshakes), when it has one. */
  keyPair: KeyPair | null;
  /** The network's pre-shared key (private networks), or `null`. */
  psk: Uint8Array | null;
}

/** What a transport checks received frames against, kept up to date by the node. */
export interface WireLimits {
  /** The identifier-space size of the node's network (2^52 until it knows its network). */
  maxKey: number;
}

/** What a transport reports to the node that owns it. */
export interface TransportEvents {
  /**
   * The identity to present in a handshake (it changes once a joiner adopts the network); the
   * transport adds its frame limit.
   */
  hello(): Omit<Hello, "mf">;
  /**
   * Validates a peer's hello, with the static key it proved it holds on an encrypted link
   * (`null` otherwise): `null` to accept, or a message naming the problem.
   */
  checkHello(peer: Hello, key: Uint8Array | null): string | null;
  /** What frames from peers are checked against. */
  readonly limits: WireLimits;
  /** This node's link security: encryption, identity key, network secret. */
  readonly security: LinkSecurity;
  /** A valid frame arrived from an authenticated peer. */
  frame(from: NodeRef, frame: Frame): void;
  /** A frame from `from` broke the wire schema and was dropped. */
  badFrame(from: NodeRef, error: WireError): void;
  /**
   * The link to `peer` is gone (reset, refused, closed by the peer, handshake failure).
   * `unsent` holds the frames queued for it that were never written, so the owner can route them
   * another way instead of losing them.
   */
  peerDown(peer: NodeRef, reason: string, unsent?: Frame[]): void;
}

/** Counters kept by a transport. */
export interface LinkStats {
  /** Bytes written to links. */
  bytesOut: number;
  /** Bytes read from links. */
  bytesIn: number;
  /** Frames written. */
  framesOut: number;
  /** Frames read. */
  framesIn: number;
  /** Links this node dialed that are open now. */
  linksOut: number;
  /** Links accepted from others that are open now. */
  linksIn: number;
  /** Connections closed for a protocol violation (garbage, oversize, bad handshake). */
  badLinks: number;
  /**
   * Inbound connections closed while still in their handshake to make room for a new one:
   * too many handshakes were pending from their address, or in all.
   */
  shedLinks: number;
  /** Frames dropped because the link to their destination could not be opened or broke. */
  framesDropped: number;
  /** Times a link was left unread because what its peer sent congested another link. */
  pauses: number;
}

/** A transport: TCP ({@linkcode TcpTransport}) or the simulator's in-memory network. */
export interface Transport {
  /** This node's access point (the port is resolved when it was 0). */
  readonly ap: AccessPoint;
  /** Counters. */
  readonly stats: LinkStats;
  /** Attaches the owner; called once before any other method. */
  bind(events: TransportEvents): void;
  /** Queues `frame` for `to`, opening a link when there is none. Never throws for peer faults. */
  send(to: NodeRef, frame: Frame): void;
  /**
   * Opens a link to an access point whose node id is not known yet (bootstrap) and reports the
   * peer's identity from its handshake, or an error.
   */
  dial(ap: AccessPoint, done: (err: Error | null, peer?: NodeRef) => void): void;
  /**
   * Closes the link to a peer after flushing what is queued for it. The peer learns the close
   * is deliberate and reports no failure.
   */
  disconnect(peerId: number): void;
  /**
   * Resolves when what is queued for all peers is below the transport's soft limit: senders
   * that await it cannot outrun the network (the hard per-link limit is for peers that stop
   * reading). Resolves at once when there is room.
   */
  ready(): Promise<void>;
  /** Ids of the peers whose links carried no frame either way for at least `ms`. */
  idle(ms: number): number[];
  /** Whether a link to `peerId` is open now. */
  isLinked(peerId: number): boolean;
  /**
   * Peers that sent on their link in the last `ms` while nothing went to them for as long: a
   * one-way stream. They hear nothing from this node, so the node tells them it lives.
   */
  quiet(ms: number): NodeRef[];
  /** Flushes every link and closes everything, including the listener. */
  close(): Promise<void>;
  /** Drops everything at once without flushing or telling anybody (a crash). */
  abort(): void;
}

/** A cancellable timer handle. */
export interface Timer {
  /** Cancels the timer; a no-op when it already ran. */
  cancel(): void;
}

/** Time as the protocol sees it: real, or the simulator's virtual clock. */
export interface Clock {
  /** Milliseconds since an arbitrary origin. */
  now(): number;
  /** Runs `fn` after `ms` milliseconds. */
  timer(ms: number, fn: () => void): Timer;
}

/**
 * Why a peer's hello must be refused, or `null` to accept it: another protocol version, an id
 * that is neither in the network's identifier space nor a joiner's provisional one, the same id
 * as ours, or refused by the node's own check. Shared by every transport so that they refuse
 * alike.
 */
export function helloProblem(
  h: Hello,
  localId: number,
  events: Pick<TransportEvents, "checkHello" | "limits">,
  key: Uint8Array | null,
): string | null {
  if (h.v !== PROTOCOL_VERSION) {
    return `Protocol version ${h.v} is not supported (expected ${PROTOCOL_VERSION})`;
  }
  // A node that has not joined yet presents a negative provisional id (and no network); every
  // other node an id of the network's space.
  const ok = h.net === undefined
    ? h.id < 0 && h.id >= -PROVISIONAL_IDS
    : h.id >= 0 && h.id < events.limits.maxKey;
  if (!ok) return `Node id ${h.id} is outside the identifier space [0, ${events.limits.maxKey})`;
  if (h.id === localId) return `Duplicate node id ${h.id}`;
  return events.checkHello(h, key);
}

/** Creates zeroed link counters. */
export function newLinkStats(): LinkStats {
  return {
    bytesOut: 0,
    bytesIn: 0,
    framesOut: 0,
    framesIn: 0,
    linksOut: 0,
    linksIn: 0,
    badLinks: 0,
    shedLinks: 0,
    framesDropped: 0,
    pauses: 0,
  };
}

// A clock read is a call into the runtime; a burst of frames handled in one go (a read of 64 KiB
// holds hundreds) reads it once: the time is kept until the current task's microtasks run.
let nowCache = -1;
const forgetNow = () => {
  nowCache = -1;
};

/**
 * The wall clock, with timers that do not keep the process alive on their own. Its time stands
 * still within one synchronous stretch of code (it is read once, then kept until the microtask
 * queue runs).
 */
export const realClock: Clock = {
  now: () => {
    if (nowCache < 0) {
      nowCache = performance.now();
      queueMicrotask(forgetNow);
    }
    return nowCache;
  },
  timer(ms, fn) {
    if (ms <= 0) {
      // "As soon as possible" (a frame to oneself): a microtask, not a timer's millisecond.
      let live = true;
      queueMicrotask(() => live && fn());
      return { cancel: () => (live = false) };
    }
    const h = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(h) };
  },
};
