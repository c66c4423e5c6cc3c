/**
 * Messages to the next `n` nodes clockwise (a replica set): sent straight to as many successors
 * as the successor list holds, the last of which carries the rest of the count on; a message
 * that comes round to its sender has reached every other node.
 *
 * @module
 */

import { type FrameOf, T } from "../wire/schema.ts";
import type { AckOptions, DeliveryReport } from "./acks.ts";
import type { GroupParts } from "./multicast.ts";

type Succ = FrameOf<"Succ">;

/** Successor messages of one node. */
export class Successors {
  readonly #g: GroupParts;
  /** Acknowledged messages of ours that came round the whole ring, by id. */
  readonly #wrapped = new Map<number, () => void>();

  constructor(parts: GroupParts) {
    this.#g = parts;
  }

  /** Sends an encoded message to the next `n` nodes clockwise. */
  send(
    p: Uint8Array,
    n: number,
    id: number,
    ack: AckOptions | null,
  ): Promise<DeliveryReport | void> {
    const { host: { port }, acks } = this.#g;
    if (!ack) {
      this.#step({ t: T.Succ, s: port.self, id, n, h: 0, a: false, p });
      return port.ready();
    }
    const q = acks.seq.take("s");
    const frameFor = (): Succ => ({
      t: T.Succ,
      s: port.self,
      id,
      n,
      h: 0,
      a: true,
      q,
      lo: acks.seq.floor("s"),
      p,
    });
    let wrapped = false;
    const { promise, pending } = acks.track<DeliveryReport>(id, ack, {
      want: [],
      stream: "s",
      complete: (pd) => wrapped || pd.reached.size >= n,
      result: (pd) => ({
        reached: acks.clockwise(pd.reached.values()),
        missing: [],
        rtt: port.clock.now() - pd.started,
      }),
      resend: () => this.#step(frameFor(), true),
    });
    pending.qs.set(-1, q);
    this.#wrapped.set(id, () => {
      wrapped = true;
      acks.settleIfDone(id, pending);
    });
    this.#step(frameFor());
    return promise.finally(() => this.#wrapped.delete(id));
  }

  /**
   * Sends to as many successors as the list holds; the last one carries on the count. `again`
   * marks a retransmission.
   */
  #step(f: Succ, again = false): void {
    const port = this.#g.host.port;
    const tb = port.table;
    if (!tb || tb.alone) return;
    let n = f.n;
    const list = tb.succList;
    for (let i = 0; i < list.length && n > 0; i++) {
      const to = list[i];
      const last = i === list.length - 1 || n === 1;
      if (to.id === f.s.id) {
        // Round the whole ring: every other node has it (a signal to the sender, not a message).
        port.send(to, { ...f, n: 0, h: f.h + 1 }, "succ", null);
        return;
      }
      port.send(
        to,
        { ...f, n: last ? n : 1, h: f.h + 1 },
        "succ",
        again ? "retransmitted" : "sent",
      );
      n--;
      if (last) return;
    }
  }

  onSucc(f: Succ): void {
    const { host, acks, counters, seen } = this.#g;
    const port = host.port;
    const src = f.s;
    const id = f.id;
    if (src.id === port.id) {
      this.#wrapped.get(id)?.();
      return;
    }
    const deliver = () => host.deliverLocal(src, port.id, f.p, "succ", f.h, id);
    if (f.a) acks.acked(src, id, "s", f.q!, f.lo!, [port.id], f.h, "succ", deliver);
    else if (seen.once(`s${src.id}|${id}`)) deliver();
    else counters.succ.duplicates++;
    if (f.n > 1) {
      const tb = port.table;
      if (!tb || tb.alone) return;
      port.send(tb.succ, { ...f, n: f.n - 1, h: f.h + 1 }, "succ", "forwarded");
    }
  }
}
