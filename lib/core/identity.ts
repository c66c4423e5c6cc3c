/**
 * Node identity bound to static keys. Over encrypted links every peer proves it holds a static
 * key (Noise); a node remembers the key of each id it linked with, and refuses a link that claims
 * a live id with another key, so nobody takes over a live node's place on the ring. In a network
 * created with `idFromKey`, a node's id is derived from its key and nobody chooses where they
 * sit.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { sameKey } from "../com/noise/mod.ts";

/**
 * The id a key derives in an identifier space of `maxKey`: the first 8 bytes of SHA-256 of the
 * 32-byte public key, big-endian, modulo `maxKey`.
 *
 * @example
 * ```ts
 * import { idOfKey } from "./identity.ts";
 * import assert from "node:assert/strict";
 *
 * const key = new Uint8Array(32).fill(1);
 * assert.equal(idOfKey(key, 1000), idOfKey(key, 1000));
 * assert.ok(idOfKey(key, 1000) < 1000);
 * ```
 */
export function idOfKey(publicKey: Uint8Array, maxKey: number): number {
  const digest = createHash("sha256").update(publicKey).digest();
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(digest[i]);
  return Number(n % BigInt(maxKey));
}

/** How many keys a node remembers by default (see {@linkcode KeyBook}). */
const DEFAULT_KEY_CAPACITY = 16384;

/**
 * The static keys of the ids a node has linked with.
 *
 * Past its capacity the book forgets the least recently checked key of an id that is not live:
 * a key only matters while its id is live, and forgetting a live one would let anybody claim
 * that id again (a peer that opens links under thousands of fresh ids must not push a live
 * neighbour's key out).
 *
 * @example
 * ```ts
 * import { KeyBook } from "./identity.ts";
 * import assert from "node:assert/strict";
 *
 * const book = new KeyBook();
 * const a = new Uint8Array(32).fill(1);
 * const b = new Uint8Array(32).fill(2);
 * assert.equal(book.check(7, a, () => true), null); // first seen: remembered
 * assert.match(book.check(7, b, () => true)!, /Node id 7 is live with another key/);
 * assert.equal(book.check(7, b, () => false), null); // 7 is gone: its id may come back with a new key
 * book.forget(7); // 7 left the ring
 * assert.equal(book.check(7, a, () => true), null);
 * ```
 *
 * @example A full book keeps the keys of live ids
 * ```ts
 * import { KeyBook } from "./identity.ts";
 * import assert from "node:assert/strict";
 *
 * const book = new KeyBook(2);
 * const live = (id: number) => id === 1;
 * book.check(1, new Uint8Array(32).fill(1), live);
 * for (let id = 2; id < 100; id++) book.check(id, new Uint8Array(32).fill(id), live);
 * assert.deepEqual(book.get(1), new Uint8Array(32).fill(1));
 * assert.equal(book.get(2), undefined);
 * ```
 */
export class KeyBook {
  /** Made at the first key (a simulated network of plain links would hold an empty map each). */
  #keyMap: Map<number, Uint8Array> | null = null;
  readonly #capacity: number;

  get #keys(): Map<number, Uint8Array> {
    return this.#keyMap ??= new Map();
  }

  /** An empty book that remembers up to `capacity` keys of ids that are not live. */
  constructor(capacity: number = DEFAULT_KEY_CAPACITY) {
    this.#capacity = capacity;
  }

  /**
   * Whether a peer presenting id `id` with `key` may be accepted: `null` (and the key is
   * remembered for the id), or why not. `live(id)` says whether the node holding the id now is
   * still taken to be alive (linked, or in the routing table).
   */
  check(id: number, key: Uint8Array, live: (id: number) => boolean): string | null {
    const known = this.#keys.get(id);
    if (known !== undefined && !sameKey(known, key)) {
      if (live(id)) return `Node id ${id} is live with another key: refused`;
    }
    this.#keys.delete(id);
    this.#keys.set(id, key);
    if (this.#keys.size > this.#capacity) this.#forgetOne(id, live);
    return null;
  }

  /**
   * Forgets the key of `id`: the node holding it left the ring (said so over its own link, or
   * was declared crashed), so the id is free and may come back with another key. A key only
   * protects an id while its node lives.
   */
  forget(id: number): void {
    this.#keyMap?.delete(id);
  }

  /**
   * Forgets the least recently checked key of an id that is not live (and not `keep`). Live
   * ones met on the way move to the back, so the next search does not meet them again.
   */
  #forgetOne(keep: number, live: (id: number) => boolean): void {
    for (let n = this.#keys.size; n > 0; n--) {
      const [id, key] = this.#keys.entries().next().value!;
      this.#keys.delete(id);
      if (id !== keep && !live(id)) return;
      this.#keys.set(id, key);
    }
  }

  /** The key remembered for `id`, if any. */
  get(id: number): Uint8Array | undefined {
    return this.#keyMap?.get(id);
  }
}
