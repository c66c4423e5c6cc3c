/**
 * Handing a range's items to another node: chunks of bounded size, each acknowledged, a few in
 * flight at once (so a large store never floods a link or a send queue, in the simulator as over
 * TCP), lost chunks sent again, and a final empty chunk marked `last` sent only once every other
 * chunk was acknowledged: a receiver that sees `last` holds the whole range.
 *
 * @module
 */

import type { NodeRef, Timer } from "../../com/transport.ts";
import { type FrameOf, MAX_CHUNK_ITEMS, T } from "../../wire/schema.ts";
import type { DhtHost } from "./host.ts";
import type { WireItem } from "./store.ts";

/** Most bytes of items in one chunk (a larger single item still travels alone). */
export const MAX_CHUNK_BYTES = 128 * 1024;

/** What a `DhtItems` frame carries: a handover, a leaver's range, or anti-entropy items. */
export type ItemsMode = FrameOf<"DhtItems">["m"];

/** Chunks in flight per transfer. */
const WINDOW = 8;
const FIRST_RTO = 500;
const MAX_RTO = 4000;

/** An upper bound of the bytes an item takes in a frame. */
export function itemBytes(it: WireItem): number {
  return 9 * (9 + it.ws.length) + (it.val?.length ?? 0);
}

/**
 * Splits items into chunks of at most {@linkcode MAX_CHUNK_ITEMS} items and at most `budget`
 * bytes ({@linkcode itemBytes}; at most {@linkcode MAX_CHUNK_BYTES}): a node's value limit is
 * below its frame limit by more than a frame's own fields, so a chunk within it fits a frame.
 * An item larger than the budget goes alone.
 *
 * @example
 * ```ts
 * import { chunk } from "./transfer.ts";
 * import assert from "node:assert/strict";
 *
 * const item = (n: number) => ({
 *   key: n, i: 0, pc: 1, pt: 1, ac: 1, at: 1, ver: 1, ws: [7], val: new Uint8Array(100),
 * });
 * const items = Array.from({ length: 300 }, (_, k) => item(k));
 * assert.deepEqual(chunk(items, 1 << 20).map((c) => c.length), [128, 128, 44]);
 * assert.deepEqual(chunk(items.slice(0, 5), 400).map((c) => c.length), [2, 2, 1]);
 * ```
 */
export function chunk(items: readonly WireItem[], budget: number): WireItem[][] {
  const most = Math.min(budget, MAX_CHUNK_BYTES);
  const out: WireItem[][] = [];
  let cur: WireItem[] = [];
  let bytes = 0;
  for (const it of items) {
    const n = itemBytes(it);
    if (cur.length > 0 && (cur.length >= MAX_CHUNK_ITEMS || bytes + n > most)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** What a transfer sends along with its items. */
export interface TransferSpec {
  /** Receiver. */
  to: NodeRef;
  /** Items mode (handover or leave). */
  m: ItemsMode;
  /** The position range the items belong to, `(a, b]`. */
  a: number;
  b: number;
  /** Asked when the last chunk goes: tell the receiver to recover the range (it is incomplete). */
  rec: () => boolean;
  /** Gives up after this long, ms. */
  timeoutMs: number;
}

interface Running {
  spec: TransferSpec;
  chunks: WireItem[][];
  /** Next chunk to send (chunks.length: the last marker). */
  next: number;
  inFlight: Map<number, { timer: Timer; rto: number }>;
  lastSent: boolean;
  deadline: Timer;
  done: (ok: boolean) => void;
}

/** The outgoing transfers of one node. */
export class Transfers {
  readonly #host: DhtHost;
  readonly #budget: number;
  readonly #running = new Map<number, Running>();
  #nextQ = 1;

  /** Transfers sending through `host`, in chunks of at most `budget` bytes (see `chunk`). */
  constructor(host: DhtHost, budget: number) {
    this.#host = host;
    this.#budget = budget;
  }

  /** Transfers in progress. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Sends `items` as `spec` says; `done` gets whether the receiver acknowledged everything.
   * Returns the transfer's id.
   */
  start(spec: TransferSpec, items: readonly WireItem[], done: (ok: boolean) => void): number {
    const q = this.#nextQ++;
    const r: Running = {
      spec,
      chunks: chunk(items, this.#budget),
      next: 0,
      inFlight: new Map(),
      lastSent: false,
      deadline: this.#host.timer(spec.timeoutMs, () => this.#end(q, false)),
      done,
    };
    this.#running.set(q, r);
    this.#pump(q, r);
    return q;
  }

  /** Stops transfer `q` without telling its owner. */
  cancel(q: number): void {
    const r = this.#running.get(q);
    if (!r) return;
    this.#running.delete(q);
    r.deadline.cancel();
    for (const f of r.inFlight.values()) f.timer.cancel();
  }

  /** Fails every transfer (the node stopped). */
  close(): void {
    for (const q of [...this.#running.keys()]) this.#end(q, false);
  }

  /** A chunk was acknowledged. */
  ack(from: NodeRef, q: number, n: number): void {
    const r = this.#running.get(q);
    if (!r || r.spec.to.id !== from.id) return;
    const f = r.inFlight.get(n);
    if (!f) return;
    f.timer.cancel();
    r.inFlight.delete(n);
    if (n === r.chunks.length) return this.#end(q, true);
    this.#pump(q, r);
  }

  #pump(q: number, r: Running): void {
    while (r.next < r.chunks.length && r.inFlight.size < WINDOW) {
      this.#send(q, r, r.next++, FIRST_RTO, false);
    }
    if (r.next === r.chunks.length && r.inFlight.size === 0 && !r.lastSent) {
      r.lastSent = true;
      this.#send(q, r, r.chunks.length, FIRST_RTO, false);
    }
  }

  #send(q: number, r: Running, n: number, rto: number, again: boolean): void {
    const { to, m, a, b } = r.spec;
    const last = n === r.chunks.length;
    this.#host.send(to, {
      t: T.DhtItems,
      q,
      n,
      m,
      ix: 0,
      a,
      b,
      last,
      rec: last ? r.spec.rec() : false,
      its: last ? [] : r.chunks[n],
    }, again);
    const timer = this.#host.timer(rto, () => {
      if (this.#running.get(q) === r && r.inFlight.has(n)) {
        this.#send(q, r, n, Math.min(MAX_RTO, rto * 2), true);
      }
    });
    r.inFlight.set(n, { timer, rto });
  }

  #end(q: number, ok: boolean): void {
    const r = this.#running.get(q);
    if (!r) return;
    this.#running.delete(q);
    r.deadline.cancel();
    for (const f of r.inFlight.values()) f.timer.cancel();
    r.done(ok);
  }
}
