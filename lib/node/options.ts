/**
 * The options a node is made with, and the shapes of what it returns (messages, statistics,
 * information): the public vocabulary of {@linkcode P2PNode}, kept apart from its code. Also the
 * check that turns the security options into a transport's link security.
 *
 * @module
 */

import type {
  AccessPoint,
  Clock,
  Encryption,
  LinkSecurity,
  NodeRef,
  Transport,
} from "../com/transport.ts";
import { generateStaticKeyPair, keyPairFromPrivate, pskFromSecret } from "../com/noise/mod.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { FingerPolicyName } from "../core/fingers.ts";
import type { TrafficKind } from "../core/port.ts";
import type { NetInfo, RingStatus, RingTiming } from "../core/ring.ts";
import type { AckOptions, KindCounters, MessageKind } from "../services/group.ts";
import type { DhtOptions, DhtStatistics } from "./dht_calls.ts";

/** Network characteristics chosen by the creator; joiners adopt them. */
export interface NetOptions {
  /** Network name, checked in every handshake. @default "p2ps" */
  name?: string;
  /** Size of the identifier space; ids and keys are integers in `[0, maxKey)`. @default 2**52 */
  maxKey?: number;
  /** Finger policy. @default "tango" */
  fingers?: FingerPolicyName;
  /** Successor-list length: the ring survives `succListSize − 1` adjacent crashes. @default 4 */
  succListSize?: number;
  /**
   * The DHT's replication factor `f`, 1 to 16: each key is stored on the nodes responsible for
   * `f` positions spread evenly round the ring, and reads and writes need a majority of them.
   * @default 4
   */
  replication?: number;
  /**
   * Shared secret of a private network. Every member must be given it (with the network's name:
   * both go into the key every link's Noise handshake mixes in, `XXpsk3`; the secret is never
   * sent): a peer without it, or with another, fails the handshake and is refused with a
   * `HandshakeError`. Requires encryption. Use a long random secret: a short one can be guessed
   * offline by anyone who records a handshake.
   */
  secret?: string;
  /**
   * How links are secured: `"noise"` (every link runs a Noise handshake and every frame is
   * sealed) or `"none"` (frames in the clear: for labs and benchmarks). Chosen by the creator;
   * a joiner that does not say adopts its network's, one that says otherwise is refused.
   * @default "noise"
   */
  encryption?: Encryption;
  /**
   * A node's id is derived from its static key (the first 8 bytes of SHA-256 of the key,
   * modulo `maxKey`), and a hello whose id does not match its key is refused: nobody chooses
   * where they sit on the ring. Chosen by the creator, adopted by joiners. Needs encryption.
   * @default false
   */
  idFromKey?: boolean;
}

/** Options of {@linkcode createNet} and {@linkcode joinNet}. */
export interface NodeOptions {
  /** Network characteristics (creator only; a joiner may set `name` to insist on a network). */
  net?: NetOptions;
  /** This node. */
  node?: {
    /** Node id; chosen at random in `[0, maxKey)` when omitted. */
    id?: number;
  };
  /** This node's access point. */
  ap?: Partial<AccessPoint>;
  /**
   * This node's static identity: a 32-byte X25519 private key (keep it to keep the identity
   * across restarts; the CLI's `--key FILE`). A fresh one is made per process when omitted.
   */
  identity?: Uint8Array;
  /**
   * Largest frame on the wire, bytes: a message may be up to 512 bytes less (room for its
   * routing fields). When not given, messages are limited by the 1 MiB default while TCP links
   * accept frames up to 4 MiB (acknowledgement reports of large broadcasts, peers configured
   * with a larger limit). @default 1048576
   */
  maxFrameSize?: number;
  /** Protocol timing (mostly for tests and the simulator). */
  timing?: Partial<RingTiming>;
  /** This node's DHT limits and periods. */
  dht?: DhtOptions;
}

/** A message delivered to this node, as read from {@linkcode P2PNode.messages}. */
export interface Message {
  /** Id of the sending node. */
  src: number;
  /** Access point of the sending node (read-only: messages from one sender may share it). */
  srcAp: AccessPoint;
  /** Destination id or key as the sender gave it. */
  dst: number;
  /**
   * The message value, decoded. Over TCP, byte strings inside it are views of the bytes read
   * from the network (no copy is made): treat them as read-only (the same bytes may be passed on
   * to other nodes), and `slice()` a small one you hold on to for long, since it keeps that
   * read's buffer (at most 64 KiB) alive.
   */
  msg: unknown;
  /** `send`, `multicast`, `broadcast` or `succ`. */
  kind: MessageKind;
  /** Overlay hops it took. */
  hops: number;
  /** Sender-local message id. */
  id: number;
}

/** Options of {@linkcode P2PNode.send}. */
export interface SendOptions extends AckOptions {
  /** Deliver to the node responsible for key `dst` instead of the node whose id is `dst`. @default false */
  toResp?: boolean;
  /** Wait for an acknowledgement and resolve with a {@linkcode Receipt}. @default false */
  ack?: boolean;
}

/** Options of {@linkcode P2PNode.multicast}. */
export interface MulticastOptions extends AckOptions {
  /** Treat the destinations as keys: deliver to their responsible nodes. @default false */
  toResp?: boolean;
  /** Wait for acknowledgements and resolve with a {@linkcode DeliveryReport}. @default false */
  ack?: boolean;
}

/** Options of {@linkcode P2PNode.broadcast}. */
export interface BroadcastOptions extends AckOptions {
  /** Deliver to this node too. @default false */
  toMyself?: boolean;
  /** Wait until every node reports and resolve with a {@linkcode DeliveryReport}. @default false */
  ack?: boolean;
}

/** Options of {@linkcode P2PNode.sendToSucc}. */
export interface SuccOptions extends AckOptions {
  /** Wait for acknowledgements and resolve with a {@linkcode DeliveryReport}. @default false */
  ack?: boolean;
}

/**
 * Traffic counters of one class of messages. `sent` and `forwarded` count messages put on the
 * network, one per next hop; `received` counts messages this node handled as their destination
 * (for application messages: delivered to the message stream).
 */
export interface Counters {
  /** Messages originated here, one per first hop. */
  sent: number;
  /** Messages of other senders passed on, one per next hop. */
  forwarded: number;
  /** Messages received here as their destination. */
  received: number;
  /** Messages that ended here undelivered. */
  dropped: number;
}

/** A node's statistics. */
export interface Statistics {
  /** Application messages of every kind: the sums of {@linkcode Statistics.kinds}. */
  data: Counters;
  /** Protocol messages (joins, stabilisation, lookups...). */
  control: Counters;
  /** Links open now. */
  links: { in: number; out: number };
  /** Bytes on the wire. */
  bytes: { in: number; out: number };
  /**
   * Frames on the wire (over TCP, messages sent back to back to one destination share a frame;
   * `dropped` counts the messages' frames that could not be sent).
   */
  frames: { in: number; out: number; dropped: number };
  /** Connections closed for protocol violations. */
  badLinks: number;
  /**
   * Inbound connections closed during their handshake to make room for newer ones, because too
   * many handshakes were pending from their address or in all (see `TcpTransportOptions`).
   */
  shedLinks: number;
  /**
   * Frames from peers dropped because they broke the wire schema or a protocol rule (a field out
   * of range, a sender that is not the peer, a report about messages this node never sent...).
   */
  badFrames: number;
  /** The same, by reason (`malformed`, `range`, `rule`, `spoofed`, `type`, `report`, ...). */
  badFrameReasons: Record<string, number>;
  /** Messages reported undeliverable to this node as their sender. */
  undeliverable: number;
  /**
   * Hops of messages delivered here: total, count (equal to `data.received` less
   * `kinds.dht.received`: the DHT's frames reach no stream), max.
   */
  hops: { total: number; count: number; max: number };
  /** Values dropped from stream readers that fell behind. */
  streamOverflow: number;
  /**
   * Per kind of application traffic: `send`, `multicast`, `broadcast`, `succ` and `dht` (the
   * DHT's requests, answers and transfers); each counter of `data` is the sum of the same
   * counter over the kinds.
   */
  kinds: Record<TrafficKind, KindCounters>;
  /** The DHT: items and bytes held here, replicas repaired, quorum failures... */
  dht: DhtStatistics;
}

/** A routing-state snapshot. */
export interface NodeInfo {
  /** This node's id. */
  id: number;
  /** This node's access point. */
  ap: AccessPoint;
  /** `joining`, `connected`, `alone`, `left` or `crashed`. */
  status: RingStatus;
  /** Predecessor, or `null` while unknown. */
  pred: NodeRef | null;
  /** Successor (this node when alone). */
  succ: NodeRef;
  /** Successor list. */
  succList: NodeRef[];
  /** Fingers: each target position with the node that covers it. */
  fingers: { target: number; node: NodeRef | null }[];
  /** Network characteristics. */
  net: NetInfo | null;
}

/** Everything a node is built from; {@linkcode createNet} fills it for TCP. */
export interface NodeParts {
  /** The transport the node's links run on. */
  transport: Transport;
  /** Its clock. @default the wall clock */
  clock?: Clock;
  /** Its random source. @default crypto-strong */
  random?: () => number;
  /**
   * Make a static key pair now (a TCP node: every link needs one); otherwise one is made only
   * when the network derives ids from keys (the simulator).
   */
  keys?: boolean;
}

/** The link security of a node, from its options (checked here). */
export function securityOf(parts: NodeParts, options: NodeOptions): LinkSecurity {
  const net = options.net ?? {};
  const secret = net.secret;
  if (secret !== undefined && (typeof secret !== "string" || secret.length === 0)) {
    throw new InvalidArgumentError("net.secret must be a non-empty string");
  }
  const encryption = net.encryption;
  if (encryption !== undefined && encryption !== "noise" && encryption !== "none") {
    throw new InvalidArgumentError(`net.encryption must be "noise" or "none", got ${encryption}`);
  }
  if (encryption === "none" && (secret !== undefined || net.idFromKey)) {
    throw new InvalidArgumentError(
      `net.secret and net.idFromKey need encryption: they are refused with encryption "none"`,
    );
  }
  const identity = options.identity;
  if (identity !== undefined && !(identity instanceof Uint8Array && identity.length === 32)) {
    throw new InvalidArgumentError("identity must be a 32-byte X25519 private key");
  }
  return {
    encryption: encryption ?? "noise",
    keyPair: identity ? keyPairFromPrivate(identity) : parts.keys ? generateStaticKeyPair() : null,
    psk: secret === undefined ? null : pskFromSecret(secret, net.name ?? "p2ps"),
  };
}
