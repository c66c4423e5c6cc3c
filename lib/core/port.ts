/**
 * The port services (group communication, the DHT) use to talk to the ring: routing state to
 * read, frames to send or route, lookups, timers. The ring owns the counters and the transport
 * behind it; a service never touches either.
 *
 * @module
 */

import type { Clock, Timer } from "../com/transport.ts";
import type { Frame, FrameOf } from "../wire/schema.ts";
import type { NodeRef } from "../wire/types.ts";
import type { RoutingTable } from "./routing_table.ts";

/** Per-class traffic counters. */
export interface TrafficCounters {
  /** Messages this node originated. */
  sent: number;
  /** Messages this node passed on for others. */
  forwarded: number;
  /** Messages delivered to this node. */
  received: number;
  /** Messages dropped here (hop limit, dead next hop, undeliverable). */
  dropped: number;
}

/** Which counters a frame counts in: application messages or protocol messages. */
export type TrafficClass = "data" | "control";

/** How a frame sent through the port is counted: as originated here, passed on, or not again. */
export type Count = "sent" | "forwarded" | "again";

/** Frames that services originate and the ring routes by key. */
export type RoutedFrame = FrameOf<"Data">;

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
  /** Runs `fn` after `ms`, unless the node stops first. */
  timer(ms: number, fn: () => void): Timer;
  /**
   * Sends `frame` straight to `to`, counted in `cls` as `count` says; a frame to this node itself
   * is handled here after the current task.
   */
  send(to: NodeRef, frame: Frame, cls: TrafficClass, count: Count): void;
  /** Routes a frame originated here towards its key (counted as sent). */
  route(frame: RoutedFrame): void;
  /** Counts `n` messages of class `cls` delivered here or dropped here. */
  count(cls: TrafficClass, what: "received" | "dropped", n?: number): void;
  /** Looks up the node responsible for `key` and its predecessor. */
  lookup(key: number, done: (node: NodeRef, pred: NodeRef | null, hops: number) => void): void;
  /** Nodes suspected now but not declared crashed. */
  suspected(): NodeRef[];
  /** Resolves when the transport's send queues have room (senders that await it are paced). */
  ready(): Promise<void>;
}
