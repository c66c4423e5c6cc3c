/**
 * Where replicas live, as learnt from answers: each answer names the range of the node that
 * gave it, so a proposer sends its next requests for positions in that range straight to that
 * node instead of routing them (one hop instead of O(log N)). A stale entry costs one hop more
 * (the node routes the request on) and is forgotten when someone else answers; the table keeps
 * the most recently learnt {@linkcode MAX_LOCATIONS} nodes.
 *
 * @module
 */

import type { NodeRef } from "../../wire/types.ts";
import { inOC } from "../../core/id_space.ts";
import { findSorted } from "../../com/sorted.ts";

/** Most nodes remembered. */
export const MAX_LOCATIONS = 1024;

/**
 * Nodes and their ranges, ordered by id.
 *
 * @example
 * ```ts
 * import { Locations } from "./locations.ts";
 * import assert from "node:assert/strict";
 *
 * const where = new Locations(100);
 * where.learn({ id: 40, ap: { hostname: "h", port: 1 } }, 20);
 * assert.equal(where.find(30)?.id, 40);
 * assert.equal(where.find(50), null);
 * ```
 */
export class Locations {
  readonly #maxKey: number;
  /** Node ids, ascending. */
  #ids: number[] = [];
  readonly #nodes = new Map<number, { node: NodeRef; lo: number; used: number }>();
  #clock = 0;

  /** An empty table for a ring of `maxKey` positions. */
  constructor(maxKey: number) {
    this.#maxKey = maxKey;
  }

  /** Nodes remembered. */
  get size(): number {
    return this.#ids.length;
  }

  /** `node` answered for the range `(lo, node.id]`. */
  learn(node: NodeRef, lo: number): void {
    const e = this.#nodes.get(node.id);
    if (e) {
      e.lo = lo;
      e.node = node;
      e.used = ++this.#clock;
      return;
    }
    if (this.#ids.length >= MAX_LOCATIONS) this.#evict();
    this.#nodes.set(node.id, { node, lo, used: ++this.#clock });
    this.#ids.splice(this.#first(node.id), 0, node.id);
  }

  /** Forgets `id` (it was not where we thought). */
  forget(id: number): void {
    if (!this.#nodes.delete(id)) return;
    const at = this.#first(id);
    if (this.#ids[at] === id) this.#ids.splice(at, 1);
  }

  /** The node believed responsible for `pos`, or `null`. */
  find(pos: number): NodeRef | null {
    const ids = this.#ids;
    if (ids.length === 0) return null;
    const at = this.#first(pos);
    const id = ids[at === ids.length ? 0 : at];
    const e = this.#nodes.get(id)!;
    return inOC(pos, e.lo, id, this.#maxKey) ? e.node : null;
  }

  /** Index of the first id ≥ `x`. */
  #first(x: number): number {
    const i = findSorted(this.#ids, this.#ids.length, x);
    return i >= 0 ? i : -1 - i;
  }

  #evict(): void {
    let oldest = -1;
    let at = Infinity;
    for (const [id, e] of this.#nodes) {
      if (e.used < at) {
        at = e.used;
        oldest = id;
      }
    }
    this.forget(oldest);
  }
}
