/**
 * Acknowledged delivery, both ends. The sender tracks each acknowledged message until every
 * destination acknowledged it (or is reported absent, or the time is up), retransmitting with
 * exponential backoff; the receiver delivers each stream in order, once, and acknowledges
 * (see `reliable.ts` for the ordering rules).
 *
 * @module
 */

import type { Timer } from "../com/transport.ts";
import type { KindCounters, MessageKind, RingPort } from "../core/port.ts";

export type { KindCounters, MessageKind } from "../core/port.ts";
export { noKinds } from "../core/port.ts";
import { NodeAbsentError, TimeoutError } from "../errors.ts";
import { cw } from "../core/id_space.ts";
import { type FrameOf, T } from "../wire/schema.ts";
import type { NodeRef } from "../wire/types.ts";
import { InOrder, Sequencer } from "./reliable.ts";

/** The outcome of an acknowledged send. */
export interface Receipt {
  /** Destination id or key. */
  dst: number;
  /** Id of the node that took delivery. */
  node: number;
  /** Overlay hops the message took. */
  hops: number;
  /** Round-trip time in ms, from sending to the acknowledgement. */
  rtt: number;
}

/** The outcome of an acknowledged multicast, broadcast or sendToSucc. */
export interface DeliveryReport {
  /** Ids of the nodes that took delivery. */
  reached: number[];
  /** Destinations (ids or keys) that were not reached. */
  missing: number[];
  /** Time in ms until the last acknowledgement. */
  rtt: number;
}

/** Options of acknowledged delivery. */
export interface AckOptions {
  /** Give up after this many ms. @default 10000 */
  timeoutMs?: number;
  /** Cancels waiting; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** First retransmission timeout, ms (it doubles on each retry). */
export const FIRST_RTO = 200;
/** Longest retransmission timeout, ms. */
export const MAX_RTO = 3000;

/** One acknowledged message in flight. */
export interface Pending {
  started: number;
  /** Destinations (keys/ids) still waiting, for send/multicast. */
  want: Set<number>;
  reached: Map<number, number>;
  absent: Set<number>;
  hops: number;
  /** For broadcast and succ: how to decide completion. */
  complete: () => boolean;
  resend: (missing: number[]) => void;
  finish: (err: Error | null) => void;
  timer: Timer | null;
  rto: number;
  stream: string;
  /** Sequence number per destination (−1: the whole stream). */
  qs: Map<number, number>;
}

/** How a tracked message completes and what it resolves with. */
export interface Tracking<R> {
  /** Destinations to wait for (empty: `complete` decides). */
  want: number[];
  /** `k` (one stream per key) or the stream's own name. */
  stream: string;
  complete: (p: Pending) => boolean;
  result: (p: Pending) => R;
  resend: (missing: number[]) => void;
}

/** Acknowledged delivery of one node. */
export class Acks {
  readonly #port: RingPort;
  readonly #inOrder = new InOrder();
  /** Sender-side sequence numbers. */
  readonly seq: Sequencer = new Sequencer();
  readonly #pending = new Map<number, Pending>();
  readonly #counters: Record<MessageKind, KindCounters>;

  constructor(port: RingPort, counters: Record<MessageKind, KindCounters>) {
    this.#port = port;
    this.#counters = counters;
  }

  /** Distinct node ids in clockwise order from this node (this node first when present). */
  clockwise(ids: Iterable<number>): number[] {
    const me = this.#port.id;
    const M = this.#port.table?.maxKey ?? Number.MAX_SAFE_INTEGER;
    return [...new Set(ids)].sort((a, b) => cw(me, a, M) - cw(me, b, M));
  }

  /** Fails every acknowledged delivery still waiting (the node stopped). */
  close(reason: Error): void {
    for (const p of [...this.#pending.values()]) p.finish(reason);
  }

  /** Starts tracking acknowledged message `id`; the promise settles with its outcome. */
  track<R>(
    id: number,
    options: { timeoutMs?: number; signal?: AbortSignal },
    how: Tracking<R>,
  ): { promise: Promise<R>; pending: Pending } {
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const port = this.#port;
    const clock = port.clock;
    const timeoutMs = options.timeoutMs ?? 10000;
    const signal = options.signal;
    const onAbort = () => p.finish(signal!.reason ?? new TimeoutError("Aborted"));
    const deadline = port.timer(timeoutMs, () => {
      const missing = [...p.want].filter((k) => !p.reached.has(k));
      const err = new TimeoutError(
        `Delivery of message ${id} was not acknowledged within ${timeoutMs} ms` +
          (missing.length ? ` by ${missing.join(", ")}` : ""),
      );
      (err as TimeoutError & { report?: DeliveryReport }).report = {
        reached: this.clockwise(p.reached.values()),
        missing,
        rtt: clock.now() - p.started,
      };
      p.finish(err);
    });
    const stream = how.stream;
    const p: Pending = {
      started: clock.now(),
      want: new Set(how.want),
      reached: new Map(),
      absent: new Set(),
      hops: 0,
      complete: () => how.complete(p),
      resend: how.resend,
      timer: null,
      rto: FIRST_RTO,
      stream,
      qs: new Map(),
      finish: (err) => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        deadline.cancel();
        p.timer?.cancel();
        signal?.removeEventListener("abort", onAbort);
        for (const [k, q] of p.qs) this.seq.settle(stream === "k" ? `k${k}` : stream, q);
        if (err) reject(err);
        else resolve(how.result(p));
      },
    };
    this.#pending.set(id, p);
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener("abort", onAbort, { once: true });
    this.#arm(id, p);
    return { promise, pending: p };
  }

  #arm(id: number, p: Pending): void {
    p.timer = this.#port.timer(p.rto, () => {
      if (!this.#pending.has(id)) return;
      const missing = [...p.want].filter((k) => !p.reached.has(k) && !p.absent.has(k));
      p.rto = Math.min(MAX_RTO, p.rto * 2);
      p.resend(missing);
      this.#arm(id, p);
    });
  }

  /** Settles message `id` when nothing is open any more. */
  settleIfDone(id: number, p: Pending): void {
    const open = [...p.want].filter((k) => !p.reached.has(k) && !p.absent.has(k));
    if (open.length > 0 || !p.complete()) return;
    if (p.absent.size > 0) {
      const missing = [...p.absent];
      const err = new NodeAbsentError(
        `No node has id ${missing.join(", ")}: message ${id} was not delivered there`,
        missing,
      );
      p.finish(err);
    } else p.finish(null);
  }

  onAck(f: FrameOf<"Ack">): void {
    const p = this.#pending.get(f.id);
    if (!p) return;
    for (const k of f.ks) {
      if (!p.reached.has(k)) p.reached.set(k, f.n);
      const q = p.qs.get(k);
      if (q !== undefined) this.seq.settle(p.stream === "k" ? `k${k}` : p.stream, q);
    }
    p.hops = Math.max(p.hops, f.h);
    this.settleIfDone(f.id, p);
  }

  /** Whether message `id` is tracked here (an acknowledged message still in flight). */
  tracks(id: number): boolean {
    return this.#pending.has(id);
  }

  /** An undeliverable report for an acknowledged message marks its destination absent. */
  undeliverable(id: number, dst: number): boolean {
    const p = this.#pending.get(id);
    if (!p) return false;
    p.absent.add(dst);
    this.settleIfDone(id, p);
    return true;
  }

  #ack(to: NodeRef, id: number, keys: number[], hops: number): void {
    const port = this.#port;
    port.send(to, { t: T.Ack, id, ks: keys, n: port.id, h: hops }, "control", "sent");
  }

  /** Receiver side of an acknowledged message: order, suppress duplicates, acknowledge. */
  acked(
    src: NodeRef,
    id: number,
    stream: string,
    q: number,
    lo: number,
    keys: number[],
    hops: number,
    kind: MessageKind,
    deliver: () => void,
  ): void {
    const r = this.#inOrder.arrive(`${src.id}|${stream}`, q, lo, deliver);
    if (r === "duplicate") this.#counters[kind].duplicates++;
    if (r === "delivered" || r === "duplicate") this.#ack(src, id, keys, hops);
  }

  /** Orders an arrival on a stream without acknowledging it (broadcast: the convergecast does). */
  inOrder(stream: string, q: number, lo: number, deliver: () => void): void {
    this.#inOrder.arrive(stream, q, lo, deliver);
  }
}
