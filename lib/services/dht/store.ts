/**
 * A node's replicas: one register per (key, replica index) it holds, with the node's storage
 * limits enforced on every change.
 *
 * Items are found by key (a node rarely holds two replicas of one key, and then they share a
 * chain), and scanned whole for range work (handover, digests): a node holds a bounded number of
 * items, and a scan costs less memory than an ordered index. Bytes are the values' CBOR bytes.
 *
 * @module
 */

import { inOC } from "../../core/id_space.ts";
import type { FrameOf } from "../../wire/schema.ts";
import type { Register, RegisterState } from "./register.ts";
import { replicaPosition } from "./replicas.ts";

/** One replica of one key. */
export class Item implements Register {
  pc = 0;
  pt = 0;
  ac = 0;
  at = 0;
  ver = 0;
  ws: readonly number[] = [];
  val: Uint8Array | null = null;
  /** When it last changed (local clock): tombstones and bare promises expire from it. */
  ts: number;
  /** Another replica index of the same key held here. */
  next: Item | null = null;

  /** A fresh replica `i` of `key` created at `ts`. */
  constructor(readonly key: number, readonly i: number, ts: number) {
    this.ts = ts;
  }
}

/** Storage limits of a node. */
export interface StoreLimits {
  /** Most items held. */
  maxItems: number;
  /** Most value bytes held. */
  maxBytes: number;
  /** Largest value held, bytes. */
  maxValueBytes: number;
}

/** The replicas a node holds. */
export class Store {
  readonly #byKey = new Map<number, Item>();
  readonly #limits: StoreLimits;
  readonly #f: number;
  readonly #maxKey: number;
  /** Items held. */
  items = 0;
  /** Value bytes held. */
  bytes = 0;

  /** An empty store for replication factor `f` on a ring of `maxKey` positions. */
  constructor(limits: StoreLimits, f: number, maxKey: number) {
    this.#limits = limits;
    this.#f = f;
    this.#maxKey = maxKey;
  }

  /** Replica `i` of `key`, if held. */
  get(key: number, i: number): Item | undefined {
    for (let it = this.#byKey.get(key) ?? null; it; it = it.next) if (it.i === i) return it;
    return undefined;
  }

  /**
   * The item that may take `val` as replica `i` of `key`: the one held, or a new empty one.
   * `undefined` when `val` would break a limit (larger than `maxValueBytes`, past `maxBytes`,
   * or a new item past `maxItems`): nothing is created then. Every way an item enters or
   * changes (a write, a read repair, a handover, anti-entropy) comes through here, so no peer
   * can make a node hold more than its limits.
   */
  place(key: number, i: number, val: Uint8Array | null, now: number): Item | undefined {
    const held = this.get(key, i);
    if (!this.#fits(held ?? null, val)) return undefined;
    if (held) return held;
    const it = new Item(key, i, now);
    it.next = this.#byKey.get(key) ?? null;
    this.#byKey.set(key, it);
    this.items++;
    return it;
  }

  /** Whether `item` (`null`: a new one) may hold `val` within the limits. */
  #fits(item: Item | null, val: Uint8Array | null): boolean {
    const { maxItems, maxBytes, maxValueBytes } = this.#limits;
    if (item === null && this.items >= maxItems) return false;
    if (val !== null && val.length > maxValueBytes) return false;
    const delta = (val?.length ?? 0) - (item?.val?.length ?? 0);
    return delta <= 0 || this.bytes + delta <= maxBytes;
  }

  /**
   * Runs `change` on `item` (an acceptor rule) and accounts the value bytes. Incoming values are
   * copied when taken, so an item never keeps alive the network buffer a frame was read from.
   * Returns what `change` returned.
   */
  update(item: Item, now: number, change: (r: Item) => boolean): boolean {
    const before = item.val;
    const beforeWs = item.ws;
    const changed = change(item);
    if (item.ws !== beforeWs) item.ws = item.ws.slice();
    if (item.val !== before) {
      if (item.val !== null) item.val = item.val.slice();
      this.bytes += (item.val?.length ?? 0) - (before?.length ?? 0);
    }
    if (changed) item.ts = now;
    return changed;
  }

  /** Removes `item`. */
  delete(item: Item): void {
    const head = this.#byKey.get(item.key);
    if (!head) return;
    if (head === item) {
      if (item.next) this.#byKey.set(item.key, item.next);
      else this.#byKey.delete(item.key);
    } else {
      let p = head;
      while (p.next && p.next !== item) p = p.next;
      if (p.next !== item) return;
      p.next = item.next;
    }
    item.next = null;
    this.items--;
    this.bytes -= item.val?.length ?? 0;
  }

  /** The ring position of replica `item.i` of `item.key`. */
  position(item: { key: number; i: number }): number {
    return replicaPosition(item.key, item.i, this.#f, this.#maxKey);
  }

  /** Every item (a snapshot, safe to change the store while iterating it). */
  all(): Item[] {
    const out: Item[] = [];
    for (const head of this.#byKey.values()) {
      for (let it: Item | null = head; it; it = it.next) out.push(it);
    }
    return out;
  }

  /** Items whose position lies in `(lo, hi]` (a snapshot). */
  inRange(lo: number, hi: number): Item[] {
    return this.all().filter((it) => inOC(this.position(it), lo, hi, this.#maxKey));
  }

  /** Replica-`i` items whose key lies in the key range `(a, b]` (a snapshot). */
  keysIn(i: number, a: number, b: number): Item[] {
    const out: Item[] = [];
    for (const head of this.#byKey.values()) {
      for (let it: Item | null = head; it; it = it.next) {
        if (it.i === i && inOC(it.key, a, b, this.#maxKey)) out.push(it);
      }
    }
    return out;
  }
}

/** An item as a `DhtItems` frame carries it (an absent value travels as an absent field). */
export type WireItem = FrameOf<"DhtItems">["its"][number];

/** The wire form of an item. */
export function toWireItem(it: Item): WireItem {
  const { key, i, pc, pt, ac, at, ver, ws, val } = it;
  return { key, i, pc, pt, ac, at, ver, ws, val: val ?? undefined };
}

/** The register an item in wire form holds. */
export function fromWireItem(w: WireItem): Register {
  const { pc, pt, ac, at, ver, ws, val } = w;
  return { pc, pt, ac, at, ver, ws, val: val ?? null };
}

/** The state part of a register. */
export function stateOf(r: RegisterState): RegisterState {
  return { ver: r.ver, ws: r.ws, val: r.val };
}
