/**
 * The port services (group communication, the DHT) use to talk to the ring: routing state to
 * read, frames to send or route, lookups, timers. The ring owns the counters and the transport
 * behind it; a service never touches either.
 *
 * @module
 */

import type { Clock, Timer } from "../com/transport.ts";
import { type Frame, type FrameOf, T } from "../wire/schema.ts";
import type { NodeRef } from "../wire/types.ts";
import type { RoutingTable } from "./routing_table.ts";

/** Counters of protocol messages. */
export interface TrafficCounters {
  /** Messages this node originated. */
  sent: number;
  /** Messages this node passed on for others. */
  forwarded: number;
  /** Messages handled here as their destination. */
  received: number;
  /** Messages dropped here (hop limit, dead next hop). */
  dropped: number;
}

/** The kinds of application message (what a delivered message's `kind` says). */
export type MessageKind = "send" | "multicast" | "broadcast" | "succ";

/**
 * The kinds of application traffic the ring counts: the messages, and the DHT's frames (its
 * requests, answers and transfers, which reach no message stream).
 */
export type TrafficKind = MessageKind | "dht";

/**
 * Counters of one kind of application traffic. `sent` and `forwarded` count messages put on the
 * overlay, one per next hop (a broadcast handed to three nodes is three); `received` counts
 * deliveries to the message stream (for the DHT's frames, which reach no stream: frames handled
 * here as their destination). A node's `data` counters are their sums over the kinds.
 */
export interface KindCounters {
  /**
   * Messages this node originated, one per first hop (retransmissions not included); a send to
   * a key this node holds itself counts once, though it takes no hop.
   */
  sent: number;
  /** Messages of other senders passed on, one per next hop. */
  forwarded: number;
  /** Messages delivered here (duplicates not included). */
  received: number;
  /** Messages that ended here undelivered: no node with that id, hop limit, undecodable. */
  dropped: number;
  /** Messages sent again after a missing acknowledgement (not counted in `sent`). */
  retransmitted: number;
  /** Arrivals suppressed as duplicates. */
  duplicates: number;
}

/** Zeroed counters for every kind of traffic. */
export function noKinds(): Record<TrafficKind, KindCounters> {
  const kind = (): KindCounters => ({
    sent: 0,
    forwarded: 0,
    received: 0,
    dropped: 0,
    retransmitted: 0,
    duplicates: 0,
  });
  return { send: kind(), multicast: kind(), broadcast: kind(), succ: kind(), dht: kind() };
}

/** What a frame sent through the port counts as: protocol traffic, or a kind of traffic. */
export type Counted = "control" | TrafficKind;

/**
 * How a frame sent through the port is counted: originated here, passed on, sent again, or not
 * at all (`null`: a local signal).
 */
export type Count = "sent" | "forwarded" | "retransmitted" | null;

/** The DHT's frames the ring routes by key (requests to a replica's position). */
export type DhtRoutedFrame =
  | FrameOf<"DhtPrepare">
  | FrameOf<"DhtAccept">
  | FrameOf<"DhtRead">
  | FrameOf<"DhtSyncReq">;

/** The types of the DHT's frames sent straight to a node: answers, transfers, digests. */
export const DHT_DIRECT_TYPES: ReadonlySet<number> = new Set([
  T.DhtPromise,
  T.DhtAccepted,
  T.DhtState,
  T.DhtNack,
  T.DhtLearn,
  T.DhtStart,
  T.DhtItems,
  T.DhtItemsAck,
  T.DhtDigest,
  T.DhtPull,
]);

/** Frames that services originate and the ring routes by key. */
export type RoutedFrame = FrameOf<"Data"> | DhtRoutedFrame;

/** Network characteristics, fixed by the creator and adopted by joiners. */
export type NetInfo = Omit<FrameOf<"Info">, "t">;

/** What a service may ask of the ring. */
export interface RingPort {
  /** This node's id. */
  readonly id: number;
  /** This node as others know it. */
  readonly self: NodeRef;
  /** The protocol's clock. */
  readonly clock: Clock;
  /** The routing state, to read (`null` until the node is on a ring). */
  readonly table: RoutingTable | null;
  /** The network's characteristics (`null` until known). */
  readonly net: NetInfo | null;
  /** Whether the node is on a ring (with others, or alone). */
  readonly running: boolean;
  /** Numbers in [0, 1) (seeded in the simulator). */
  random(): number;
  /** Runs `fn` after `ms`, unless the node stops first. */
  timer(ms: number, fn: () => void): Timer;
  /** Counters of application traffic, by kind (the port's callers count through it). */
  readonly kinds: Record<TrafficKind, KindCounters>;
  /**
   * Sends `frame` straight to `to`, counted under `counted` as `count` says; a frame to this
   * node itself is handled here after the current task.
   */
  send(to: NodeRef, frame: Frame, counted: Counted, count: Count): void;
  /**
   * Routes a frame originated here towards its key, counted as sent (or, `again`, as
   * retransmitted) under its kind: `send` for data, `dht` for the DHT's requests.
   */
  route(frame: RoutedFrame, again?: boolean): void;
  /** Looks up the node responsible for `key` and its predecessor. */
  lookup(key: number, done: (node: NodeRef, pred: NodeRef | null, hops: number) => void): void;
  /** Nodes suspected now but not declared crashed. */
  suspected(): NodeRef[];
  /** Resolves when the transport's send queues have room (senders that await it are paced). */
  ready(): Promise<void>;
  /**
   * Counts a frame from a peer that a service dropped because no honest peer sends it (it is
   * counted in the node's `badFrames`, under `reason`).
   */
  rejectFrame(reason: string): void;
}
