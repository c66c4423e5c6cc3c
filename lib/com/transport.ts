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

/** Where a node accepts connections. */
export interface AccessPoint {
  /** Host name or address. */
  hostname: string;
  /** TCP port (or the simulator's address). */
  port: number;
}

/** A node as others know it: its id and its access point. */
export interface NodeRef {
  /** The node's id on the ring. */
  id: number;
  /** Where it accepts connections. */
  ap: AccessPoint;
}

/** A protocol frame: `t` is the message type, other fields depend on it. */
export interface Frame {
  /** Frame type. */
  t: number;
  /** Fields that depend on the type. */
  [field: string]: unknown;
}

/** The identity a node presents in every handshake. */
export interface Hello {
  /** Protocol magic, always {@linkcode PROTOCOL_MAGIC}. */
  magic: string;
  /** Protocol version, {@linkcode PROTOCOL_VERSION}. */
  v: number;
  /** Network name chosen by the creator. */
  name: string;
  /** Network instance id; `null` while a node is still joining. */
  net: string | null;
  /** Node id. */
  id: number;
  /** Access point. */
  ap: AccessPoint;
  /** Fresh random challenge; the peer proves knowledge of the network secret over it. */
  nonce?: string;
  /** Whether the sender's network requires a secret. */
  auth?: boolean;
  /**
   * Largest frame body the sender accepts (set by the TCP transport): a link joins messages into
   * runs only up to this size. Without it, a link sends every message in a frame of its own.
   */
  mf?: number;
}

/** First bytes of meaning in every handshake. */
export const PROTOCOL_MAGIC = "p2ps";
/** Wire protocol version; peers with another version are refused. */
export const PROTOCOL_VERSION = 3;

/** What a transport reports to the node that owns it. */
export interface TransportEvents {
  /** The identity to present in a handshake (it changes once a joiner adopts the network). */
  hello(): Hello;
  /** Validates a peer's hello: `null` to accept, or a message naming the problem. */
  checkHello(peer: Hello): string | null;
  /**
   * Proof that this node holds the network secret, computed over the peer's hello (its nonce);
   * `undefined` when the network has no secret. Sent with the handshake's acceptance, never the
   * secret itself.
   */
  prove?(peer: Hello): string | undefined;
  /**
   * Checks the proof a peer sent over our hello `mine`: `null` to accept, or a message naming
   * the problem (missing or wrong secret).
   */
  verify?(mine: Hello, peer: Hello, proof: unknown): string | null;
  /** A frame arrived from an authenticated peer. */
  frame(from: NodeRef, frame: Frame): void;
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
  /** Frames dropped because the link to their destination could not be opened or broke. */
  framesDropped: number;
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
 * Why a peer's hello must be refused, or `null` to accept it: wrong protocol, malformed, the
 * same id as ours, or refused by the node's own check. Shared by every transport so that they
 * refuse alike.
 */
export function helloProblem(
  hello: unknown,
  localId: number,
  events: Pick<TransportEvents, "checkHello">,
): string | null {
  if (typeof hello !== "object" || hello === null) return "Expected a hello";
  const h = hello as Hello;
  if (h.magic !== PROTOCOL_MAGIC) {
    return `Not a P2PS peer (protocol magic ${JSON.stringify(h.magic)})`;
  }
  if (h.v !== PROTOCOL_VERSION) {
    return `Protocol version ${h.v} is not supported (expected ${PROTOCOL_VERSION})`;
  }
  const ap = h.ap as Partial<AccessPoint> | null;
  const bad = typeof h.id !== "number" || !Number.isSafeInteger(h.id)
    ? "id"
    : typeof h.name !== "string"
    ? "name"
    : h.net !== null && typeof h.net !== "string"
    ? "net"
    : typeof ap !== "object" || ap === null || typeof ap.hostname !== "string" ||
        typeof ap.port !== "number"
    ? "ap"
    : null;
  if (bad) return `Malformed hello: bad field "${bad}"`;
  if (h.id === localId) return `Duplicate node id ${h.id}`;
  return events.checkHello(h);
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
    framesDropped: 0,
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
