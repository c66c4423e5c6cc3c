/**
 * The event stream's vocabulary: every event a node emits, with its fields. The dashboard, the
 * CLI and the gateway read these names; the compiler checks every use.
 *
 * @module
 */

import type { NodeRef } from "../wire/types.ts";

/** The field every event has. */
export interface EventTime {
  /** Virtual or wall-clock time of the event, in ms. */
  time: number;
}

/** One finger that changed: the position it covers and the node now covering it. */
export interface FingerChange {
  /** The finger's index in the policy. */
  index: number;
  /** The key position the finger covers. */
  target: number;
  /** The node responsible for it, or `null` when that is this node. */
  node: NodeRef | null;
}

/**
 * An event on a node's event stream, discriminated by `type`:
 * - `connected`: the node is on a ring with others;
 * - `alone`: it is the only node it knows (`last`: the neighbour it lost last, when it lost one);
 * - `newpred` / `newsucc`: its predecessor or successor changed (`old`: the previous one);
 * - `fingers`: fingers changed (`changed`);
 * - `suspect`: `peer` was silent for `silentMs` and is routed around;
 * - `alive`: a suspected or crashed `peer` was heard again (`wasCrashed`);
 * - `crash`: `peer` is taken for dead (`reason`);
 * - `left`: the node left the network;
 * - `undeliverable`: `count` messages from `id` on, sent by this node to `dst`, could not be
 *   delivered (`kind` of message, `reason`).
 */
export type NodeEvent =
  | ({ type: "connected" } & EventTime)
  | ({ type: "alone"; last?: NodeRef } & EventTime)
  | ({ type: "newpred"; pred: NodeRef | null; old: NodeRef | null } & EventTime)
  | ({ type: "newsucc"; succ: NodeRef; old: NodeRef | null } & EventTime)
  | ({ type: "fingers"; changed: FingerChange[] } & EventTime)
  | ({ type: "suspect"; peer: NodeRef; silentMs: number } & EventTime)
  | ({ type: "alive"; peer: NodeRef; wasCrashed: boolean } & EventTime)
  | ({ type: "crash"; peer: NodeRef; reason: string } & EventTime)
  | ({ type: "left" } & EventTime)
  | ({
    type: "undeliverable";
    id: number;
    count: number;
    dst: number;
    kind: "send" | "multicast";
    reason: string;
  } & EventTime);

/** The name of an event type. */
export type NodeEventType = NodeEvent["type"];

/** Every event type, for readers that list them (dashboard, CLI, tests). */
export const EVENT_TYPES: readonly NodeEventType[] = [
  "connected",
  "alone",
  "newpred",
  "newsucc",
  "fingers",
  "suspect",
  "alive",
  "crash",
  "left",
  "undeliverable",
];

/** An event without its time, as the ring makes it. */
export type EventBody = NodeEvent extends infer E ? E extends NodeEvent ? Omit<E, "time"> : never
  : never;
