/**
 * Group communication and acknowledged delivery on top of the ring: acknowledged send here,
 * multicast (`multicast.ts`), broadcast (`broadcast.ts`) and messages to the next successors
 * (`succ.ts`), each with its acknowledged variant (`acks.ts`).
 *
 * @module
 */

import type { Frame } from "../com/transport.ts";
import type { RingPort } from "../core/port.ts";
import { type FrameOf, T } from "../wire/schema.ts";
import type { NodeRef } from "../wire/types.ts";
import type { KindCounters, MessageKind } from "../core/port.ts";
import { type AckOptions, Acks, type Receipt } from "./acks.ts";
import { Broadcast } from "./broadcast.ts";
import { Multicast } from "./multicast.ts";
import { Successors } from "./succ.ts";

export type { AckOptions, DeliveryReport, KindCounters, MessageKind, Receipt } from "./acks.ts";
export { noKinds } from "./acks.ts";

/** What group communication needs from the node that hosts it. */
export interface GroupHost {
  /** The ring, through its port. */
  readonly port: RingPort;
  /** Hands a message to the node's message stream. */
  deliverLocal(
    src: NodeRef,
    dst: number,
    payload: Uint8Array,
    kind: MessageKind,
    hops: number,
    id: number,
  ): void;
}

/** Ids of messages seen recently, so that each is delivered once (bounded: oldest forgotten). */
export class Seen {
  readonly #seen = new Set<string>();

  /** `true` the first time `key` is offered. */
  once(key: string): boolean {
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    if (this.#seen.size > 16384) {
      // Sets iterate in insertion order: drop the oldest half.
      let n = 8192;
      for (const k of this.#seen) {
        this.#seen.delete(k);
        if (--n === 0) break;
      }
    }
    return true;
  }
}

/** Group communication of one node. */
export class Group {
  readonly #host: GroupHost;
  /** Counters per kind (the ring's: it owns the counters). */
  readonly counters: Record<MessageKind, KindCounters>;
  readonly acks: Acks;
  readonly multicast: Multicast;
  readonly broadcast: Broadcast;
  readonly succ: Successors;

  /** Group communication for `host`. */
  constructor(host: GroupHost) {
    this.#host = host;
    this.counters = host.port.kinds;
    const seen = new Seen();
    this.acks = new Acks(host.port, this.counters);
    const parts = { host, acks: this.acks, counters: this.counters, seen };
    this.multicast = new Multicast(parts);
    this.broadcast = new Broadcast(parts);
    this.succ = new Successors(parts);
  }

  /** Handles a group frame from `from`; other types are ignored. */
  frame(from: NodeRef, f: Frame): void {
    switch (f.t) {
      case T.Bcast:
        return this.broadcast.onBcast(from, f);
      case T.Mcast:
        return this.multicast.step(from, f);
      case T.Succ:
        return this.succ.onSucc(f);
      case T.Ack:
        return this.acks.onAck(f);
      case T.BcastDone:
        return this.broadcast.onBcastDone(from, f);
    }
  }

  /** Fails every acknowledged delivery still waiting (the node stopped). */
  close(reason: Error): void {
    this.acks.close(reason);
  }

  /** Acknowledged send of an already validated and encoded message. */
  sendAcked(
    dst: number,
    toResp: boolean,
    p: Uint8Array,
    id: number,
    o: AckOptions,
  ): Promise<Receipt> {
    const port = this.#host.port;
    const seq = this.acks.seq;
    const stream = `k${dst}`;
    const q = seq.take(stream);
    const frameFor = (): FrameOf<"Data"> => ({
      t: T.Data,
      k: dst,
      h: 0,
      ph: 0,
      f: -1,
      s: port.self,
      r: toResp,
      id,
      q,
      lo: seq.floor(stream),
      ps: [p],
    });
    const { promise, pending } = this.acks.track<Receipt>(id, o, {
      want: [dst],
      stream: "k",
      complete: () => true,
      result: (pd) => ({
        dst,
        node: pd.reached.get(dst)!,
        hops: pd.hops,
        rtt: port.clock.now() - pd.started,
      }),
      resend: () => port.route(frameFor(), true),
    });
    pending.qs.set(dst, q);
    port.route(frameFor());
    return promise;
  }

  /** Handles an acknowledged data frame that reached its destination. */
  deliverAcked(f: FrameOf<"Data">): void {
    const src = f.s!;
    this.acks.acked(
      src,
      f.id,
      `k${f.k}`,
      f.q!,
      f.lo!,
      [f.k],
      f.h,
      "send",
      () => this.#host.deliverLocal(src, f.k, f.ps[0], "send", f.h, f.id),
    );
  }
}
