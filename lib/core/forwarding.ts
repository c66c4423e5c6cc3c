/**
 * Forwarding routed frames (`Join`, `Lookup`, `Data`, the DHT's requests) one hop along the
 * loop-free next-hop rule (see `routing_table.ts`), delivering them where the key belongs, and
 * reporting application messages that cannot be delivered to their sender. A data frame may
 * carry several messages (a link joins consecutive ones); it is routed once and counted per
 * message. A DHT request that arrives goes to the service, which decides whether its range holds
 * the key (while the ring repairs, it may not: see `RoutingTable.rangeStart`).
 *
 * @module
 */

import type { NodeRef } from "../com/transport.ts";
import { HOP_LIMIT } from "../wire/schema.ts";
import { type FrameOf, T } from "../wire/schema.ts";
import type { DhtRoutedFrame, KindCounters } from "./port.ts";
import type { Ring } from "./ring.ts";

/** The frames the ring routes by key. */
export type Routed = FrameOf<"Data"> | FrameOf<"Join"> | FrameOf<"Lookup"> | DhtRoutedFrame;

/** The types of the frames the ring routes by key. */
export const ROUTED_TYPES: ReadonlySet<number> = new Set([
  T.Data,
  T.Join,
  T.Lookup,
  T.DhtPrepare,
  T.DhtAccept,
  T.DhtRead,
  T.DhtSyncReq,
]);

/** Routing of one node. */
export class Forwarder {
  readonly #ring: Ring;

  constructor(ring: Ring) {
    this.#ring = ring;
  }

  /**
   * Routes a frame one step: delivers it here when this node is responsible for its key,
   * otherwise forwards it. Frames originated here come with `from === null`, each made for this
   * call alone (it is updated in place and handed on).
   */
  route(from: NodeRef | null, f: Routed, again = false): void {
    const ring = this.#ring;
    if (!ring.running) return;
    const tb = ring.table!;
    const data = f.t === T.Data;
    // Application messages count per kind (delivered ones where they reach the stream).
    const counters = data
      ? ring.kinds.send
      : f.t === T.Join || f.t === T.Lookup
      ? ring.control
      : ring.kinds.dht;
    const n = data ? f.ps.length : 1;
    if (from && f.f >= 0) ring.fingers.correctOnUse(from, f.f);
    if (!from) {
      if (again && counters !== ring.control) (counters as KindCounters).retransmitted += n;
      else counters.sent += n;
    }
    const hop = tb.nextHop(f.k, f.ph);
    if (hop.node === null) {
      if (!data) counters.received++;
      return this.#arrive(f);
    }
    if (f.h >= HOP_LIMIT) {
      counters.dropped += n;
      if (data) this.#undeliverable(f, "hop limit reached");
      return;
    }
    if (from) counters.forwarded += n;
    if (from === null) {
      // Originated here, in a frame made for this send alone: updated in place. A data frame
      // travels without its sender, whom the receiver knows from the link.
      f.h = 1;
      f.ph = hop.phase;
      // A lookup of a finger's own target through that finger asks for no correction of it
      // (`Fix`): the lookup's answer, the node responsible for the target, corrects it.
      f.f = f.t === T.Lookup && hop.finger >= 0 && tb.target(hop.finger) === f.k ? -1 : hop.finger;
      if (data) f.s = undefined;
      ring.transport.send(hop.node, f);
      return;
    }
    ring.transport.send(hop.node, { ...f, h: f.h + 1, ph: hop.phase, f: hop.finger });
  }

  /** Forwards a frame again without counting it (a retry after a dead next hop). */
  step(f: Routed): void {
    const ring = this.#ring;
    // A frame of ours handed back unsent went out without its sender (see route()).
    if (f.t === T.Data && f.s === undefined) f = { ...f, s: ring.self };
    const hop = ring.table!.nextHop(f.k, f.ph);
    if (hop.node === null) return this.#arrive(f);
    ring.transport.send(hop.node, { ...f, ph: hop.phase, f: hop.finger });
  }

  #arrive(f: Routed): void {
    const ring = this.#ring;
    switch (f.t) {
      case T.Join:
        return ring.joining.onJoin(f.j);
      case T.Lookup:
        return ring.sendControl(f.r, {
          t: T.LookupOk,
          q: f.q,
          n: ring.table!.self,
          p: ring.table!.pred ?? undefined,
          h: f.h,
        });
      case T.Data:
        if (f.r && !ring.table!.responsible(f.k)) {
          // The ring is repairing and this node cannot prove the key is its own: an
          // acknowledged message is sent again by its sender; the others are dropped, counted.
          ring.kinds.send.dropped += f.ps.length;
          ring.rejectFrame("repairing");
          return;
        }
        if (!f.r && f.k !== ring.id) {
          ring.kinds.send.dropped += f.ps.length;
          return this.#undeliverable(f, `no node has id ${f.k}`);
        }
        return ring.sink.deliver(f);
      default:
        return ring.sink.routed(f);
    }
  }

  /** Reports a data frame's messages undeliverable to their sender, in one report. */
  #undeliverable(d: FrameOf<"Data">, why: string): void {
    const ring = this.#ring;
    const src = d.s ?? ring.self;
    const report = {
      t: T.Undeliverable,
      id: d.id,
      n: d.ps.length,
      d: d.k,
      why,
      kd: "send",
    } as const;
    if (src.id === ring.id) ring.sink.service(src, report);
    else ring.sendControl(src, report);
  }
}
