/**
 * Multicast to an explicit set of nodes (or keys): the set travels as one message; each node
 * delivers the destinations it is responsible for and splits the rest by next hop, so the
 * messages sent are about the edges of the delivery tree, not |set| × hops.
 *
 * @module
 */

import type { NodeRef } from "../com/transport.ts";
import { type FrameOf, T } from "../wire/schema.ts";
import type { AckOptions, Acks, DeliveryReport, KindCounters, MessageKind } from "./acks.ts";
import type { GroupHost, Seen } from "./group.ts";

/** What the parts of group communication share. */
export interface GroupParts {
  host: GroupHost;
  acks: Acks;
  counters: Record<MessageKind, KindCounters>;
  seen: Seen;
}

type Mcast = FrameOf<"Mcast">;

/** Multicast of one node. */
export class Multicast {
  readonly #g: GroupParts;

  constructor(parts: GroupParts) {
    this.#g = parts;
  }

  /** Multicast of an encoded message to `keys` (deduplicated, validated). */
  send(
    keys: number[],
    toResp: boolean,
    p: Uint8Array,
    id: number,
    ack: AckOptions | null,
  ): Promise<DeliveryReport | void> {
    const { host: { port }, acks } = this.#g;
    if (!ack) {
      this.step(null, {
        t: T.Mcast,
        s: port.self,
        id,
        ks: keys,
        r: toResp,
        h: 0,
        ph: 0,
        a: false,
        p,
      });
      return port.ready();
    }
    const qs = new Map<number, number>();
    for (const k of keys) qs.set(k, acks.seq.take(`k${k}`));
    const frameFor = (ks: number[]): Mcast => ({
      t: T.Mcast,
      s: port.self,
      id,
      ks,
      r: toResp,
      h: 0,
      ph: 0,
      a: true,
      qs: ks.map((k) => qs.get(k)!),
      los: ks.map((k) => acks.seq.floor(`k${k}`)),
      p,
    });
    const { promise, pending } = acks.track<DeliveryReport>(id, ack, {
      want: keys,
      stream: "k",
      complete: () => true,
      result: (pd) => ({
        reached: acks.clockwise(pd.reached.values()),
        missing: [],
        rtt: port.clock.now() - pd.started,
      }),
      resend: (missing) => this.step(null, frameFor(missing), true),
    });
    for (const [k, q] of qs) pending.qs.set(k, q);
    this.step(null, frameFor(keys));
    return promise;
  }

  /**
   * Delivers the keys this node is responsible for and splits the rest by next hop; `again`
   * marks a retransmission by the sender.
   */
  step(from: NodeRef | null, f: Mcast, again = false): void {
    const { host, acks, counters, seen } = this.#g;
    const port = host.port;
    const tb = port.table;
    if (!tb) return;
    const keys = f.ks;
    const mine: number[] = [];
    const mineIdx: number[] = [];
    const groups = new Map<string, { to: NodeRef; ph: number; idx: number[] }>();
    for (let i = 0; i < keys.length; i++) {
      const hop = tb.nextHop(keys[i], f.ph);
      if (hop.node === null) {
        mine.push(keys[i]);
        mineIdx.push(i);
        continue;
      }
      const g = `${hop.node.id}|${hop.phase}`;
      let grp = groups.get(g);
      if (!grp) groups.set(g, grp = { to: hop.node, ph: hop.phase, idx: [] });
      grp.idx.push(i);
    }
    for (const { to, ph, idx } of groups.values()) {
      const sub: Mcast = { ...f, ks: idx.map((i) => keys[i]), h: f.h + 1, ph };
      if (f.a) {
        sub.qs = idx.map((i) => f.qs![i]);
        sub.los = idx.map((i) => f.los![i]);
      }
      port.send(to, sub, "multicast", from ? "forwarded" : again ? "retransmitted" : "sent");
    }
    if (mine.length === 0) return;
    const src = f.s;
    const id = f.id;
    const here = mine.filter((k) => f.r || k === port.id);
    for (const k of mine) {
      if (!f.r && k !== port.id) {
        counters.multicast.dropped++;
        port.send(
          src,
          { t: T.Undeliverable, id, n: 1, d: k, why: `no node has id ${k}`, kd: "multicast" },
          "control",
          "sent",
        );
      }
    }
    if (here.length === 0) return;
    const deliver = () => host.deliverLocal(src, here[0], f.p, "multicast", f.h, id);
    if (!f.a) {
      if (seen.once(`m${src.id}|${id}`)) deliver();
      else counters.multicast.duplicates++;
      return;
    }
    // One delivery per message however many of its keys land here; each key's stream is
    // ordered on its own.
    let delivered = false;
    const once = () => {
      if (!delivered && seen.once(`m${src.id}|${id}`)) deliver();
      delivered = true;
    };
    for (const i of mineIdx) {
      const k = keys[i];
      if (!here.includes(k)) continue;
      acks.acked(src, id, `k${k}`, f.qs![i], f.los![i], [k], f.h, "multicast", once);
    }
  }
}
