/**
 * One TCP connection's state: where it is in its life, who is at the other end, and what is
 * queued for it. The transport drives it; this file only holds it.
 *
 * Life of a link:
 * - `connecting`: `Deno.connect` in progress (outbound only);
 * - `hello`: the channel's handshake runs (preamble, Noise), and we wait for the peer's hello;
 * - `confirm`: the peer's hello is accepted; waiting for its verdict on ours;
 * - `open`: both accepted; frames flow;
 * - `closing`: no new frames; flushing, then half-closed, reading until the peer's end;
 * - `closed`.
 *
 * @module
 */

import type { WireError } from "../../wire/cbor.ts";
import type { Codec, DecodeContext } from "../../wire/codec.ts";
import { FrameDecoder } from "../../wire/frame_decoder.ts";
import type { Frame } from "../../wire/schema.ts";
import type { TransportSealer } from "../noise/mod.ts";
import type { Hello, NodeRef, WireLimits } from "../transport.ts";
import type { Channel } from "./channel.ts";
import { LARGEST_LINK_FRAME_BODY } from "./handshake_size.ts";
import { SendQueue } from "./send_queue.ts";

/** Where a link is in its life (see the module documentation). */
export type LinkState = "connecting" | "hello" | "confirm" | "open" | "closing" | "closed";

/** What a `dial` waits for. */
export type DialCallback = (err: Error | null, peer?: NodeRef) => void;

/** What frames on one link are checked against: the node's network and the link's peer. */
export class LinkContext implements DecodeContext {
  /** The node's limits and the peer (`null` before its hello). */
  constructor(readonly limits: WireLimits, readonly peer: NodeRef | null) {}
  /** The identifier-space size of the node's network. */
  get maxKey(): number {
    return this.limits.maxKey;
  }
}

/** One TCP connection and everything queued for it. */
export class Link {
  state: LinkState;
  conn: Deno.TcpConn | null = null;
  connecting: AbortController | null = null;
  /** Who the node meant to reach (links opened by `send`). */
  target: NodeRef | null;
  /** Completion callback of a `dial`. */
  done: DialCallback | null;
  /** The peer as it introduced itself. */
  peer: NodeRef | null = null;
  /** The static key the peer proved it holds (encrypted links). */
  peerKey: Uint8Array | null = null;
  /** The id we presented in our hello. */
  localId = NaN;
  /** Our hello and the peer's. */
  mine: Hello | null = null;
  theirs: Hello | null = null;
  /** The link's bytes below its frames (preamble, handshake, sealing). */
  channel: Channel | null = null;
  /** Seals what goes out once the channel is ready (`null`: in the clear, or not ready yet). */
  sealer: TransportSealer | null = null;
  /** The channel is ready: link frames may be written. */
  secure = false;
  /** Bytes to write as they are (preamble, handshake messages), before anything else. */
  raw: Uint8Array[] = [];
  /** Link frames (hello, accept, refuse), encoded, written before any queued frame. */
  ctl: Uint8Array[] = [];
  /** Frames queued for the peer. */
  readonly queue: SendQueue;
  writing = false;
  /** While closing: hand incoming frames to the node, or discard them. */
  deliver = false;
  /** Counted in its slot's `draining`: the peer may still send frames it sent before others. */
  draining = false;
  /** The handshake completed: queued frames may be written. */
  up = false;
  /**
   * Largest run of messages in one frame: 0, no runs, until the peer's hello tells its frame
   * limit.
   */
  runLimit = 0;
  /** Closed by the node during its handshake: flush what is queued once up, then close. */
  closeWhenUp = false;
  /** Counted in `linksIn`/`linksOut`. */
  counted = false;
  /** The peer announced it is closing this link on purpose: its end is not a failure. */
  orderly = false;
  /** When a frame last went out or came in (for idle-link closing). */
  used: number = performance.now();
  /** When bytes last came in, and last went out. */
  readAt: number = performance.now();
  wroteAt: number = performance.now();
  shutting = false;
  writeEnded = false;
  readEnded = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Congested links this one's frames were forwarded into: it is not read while any is. */
  blockedBy: Set<Link> | null = null;
  /** Links not read because of this one's congestion. */
  blocking: Set<Link> | null = null;
  /** Wakes this link's reader when it may read again. */
  resume: (() => void) | null = null;
  readonly decoder: FrameDecoder;
  /** What the decoder hands frames and bad frames to. */
  onFrame: (frame: Frame) => void = () => {};
  onBad: (error: WireError) => void = () => {};

  constructor(
    readonly outbound: boolean,
    readonly where: string,
    target: NodeRef | null,
    done: DialCallback | null,
    maxFrameSize: number,
    codec: Codec,
    limits: WireLimits,
  ) {
    this.state = outbound ? "connecting" : "hello";
    this.target = target;
    this.done = done;
    this.queue = new SendQueue(codec);
    // Until the link is up, only link frames may come: a longer declared length is a violation
    // at once, not something to wait for (the transport raises the limit once it is up).
    this.decoder = new FrameDecoder(
      codec.reader(),
      new LinkContext(limits, null),
      Math.min(maxFrameSize, LARGEST_LINK_FRAME_BODY),
    );
  }

  /** Whether the socket is closed (a method, so that checks after an await are not narrowed). */
  isClosed(): boolean {
    return this.state === "closed";
  }

  /** The node to name when this link is lost. */
  get ref(): NodeRef {
    return this.target ?? this.peer!;
  }
}
