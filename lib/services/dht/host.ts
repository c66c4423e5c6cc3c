/**
 * What the DHT needs from the ring, as one small interface over the ring's port
 * ({@linkcode RingPort}): the node's range as the routing sees it, its neighbours, sending and
 * routing the DHT's frames (counted as the `dht` kind of traffic), time and randomness.
 *
 * Range changes need no event: the DHT compares {@linkcode DhtHost.range} with what it saw last
 * on every DHT frame and on its own tick, and the ring's `joining` hook tells it at once when a
 * joiner takes part of the range.
 *
 * @module
 */

import type { Frame, NodeRef, Timer } from "../../com/transport.ts";
import type { DhtRoutedFrame, RingPort } from "../../core/port.ts";

/** The DHT's view of the node and network it runs on. */
export interface DhtHost {
  /** Identifier-space size. */
  readonly maxKey: number;
  /** Replication factor of the network. */
  readonly replication: number;
  /** This node. */
  self(): NodeRef;
  /** Whether the node is on the ring (connected or alone). */
  running(): boolean;
  /**
   * The positions this node is responsible for, `(lo, hi]` with `hi` its id; `lo === hi` means
   * the whole ring. It is the routing's own rule (`RoutingTable.rangeStart`): a request routed
   * to `k` arrives here when `k` is in it, and while the ring repairs a lost predecessor the
   * range ends at the lost one, so that a node never answers for keys a live node it does not
   * know may hold.
   */
  range(): [number, number];
  /**
   * The node bounding the range below: the predecessor, or the known node nearest before this
   * one when the predecessor is unknown; `null` when alone.
   */
  pred(): NodeRef | null;
  /** The successor, or `null` when alone. */
  succ(): NodeRef | null;
  /** Routes a new request to the node responsible for its key `k` (`again`: a retransmission). */
  route(frame: DhtRoutedFrame, again?: boolean): void;
  /** Sends a frame straight to a node (to this node itself: after the current task). */
  send(to: NodeRef, frame: Frame, again?: boolean): void;
  /** The clock, ms. */
  now(): number;
  /** Runs `fn` after `ms` unless the node stops first. */
  timer(ms: number, fn: () => void): Timer;
  /** Random numbers in [0, 1) (seeded in the simulator). */
  random(): number;
  /**
   * Counts a frame no honest peer sends (a replica index past the factor, a position that is
   * not that replica's) as a bad frame of the node, under `reason`.
   */
  reject(reason: string): void;
}

/**
 * A fresh request id: random in `[1, 2^48)`, and not `taken`. Answers are matched to requests
 * by id alone, so ids a peer could guess (1, 2, 3...) would let any peer that can reach this
 * node answer requests it never saw: promises and digests that end a round or a recovery
 * early, ranges that teach the location table where replicas are not.
 *
 * @example
 * ```ts
 * import { requestId } from "./host.ts";
 * import assert from "node:assert/strict";
 *
 * const draws = [0.5, 0.5, 0.25];
 * const q = requestId(() => draws.shift()!, (x) => x === 1 + Math.floor(0.5 * (2 ** 48 - 1)));
 * assert.equal(q, 1 + Math.floor(0.25 * (2 ** 48 - 1))); // the taken id was drawn again
 * ```
 */
export function requestId(random: () => number, taken: (q: number) => boolean): number {
  for (;;) {
    const q = 1 + Math.floor(random() * (2 ** 48 - 1));
    if (!taken(q)) return q;
  }
}

/**
 * The {@linkcode DhtHost} of a node on a ring, through the ring's port.
 *
 * @example
 * ```ts
 * import { Simulator } from "../../node/simulator.ts";
 * import { ringOf } from "../../node/node.ts";
 * import { portHost } from "./host.ts";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator();
 * const node = sim.createNet({ node: { id: 5 }, net: { maxKey: 64, replication: 2 } });
 * const host = portHost(ringOf(node));
 * assert.deepEqual(host.range(), [5, 5]); // alone: the whole ring
 * assert.equal(host.replication, 2);
 * node.crash();
 * ```
 */
export function portHost(port: RingPort): DhtHost {
  const net = port.net!;
  return {
    maxKey: net.maxKey,
    replication: net.replication,
    self: () => port.self,
    running: () => port.running,
    range: () => {
      const tb = port.table;
      return tb ? [tb.rangeStart, tb.self.id] : [port.id, port.id];
    },
    pred: () => {
      const tb = port.table;
      if (!tb || tb.pred === tb.self) return null;
      return tb.pred ?? tb.closestBefore(tb.self.id);
    },
    succ: () => {
      const tb = port.table;
      return tb && !tb.alone ? tb.succ : null;
    },
    route: (f, again) => port.route(f, again),
    send: (to, f, again) => port.send(to, f, "dht", again ? "retransmitted" : "sent"),
    now: () => port.clock.now(),
    timer: (ms, fn) => port.timer(ms, fn),
    random: () => port.random(),
    reject: (reason) => port.rejectFrame(reason),
  };
}
