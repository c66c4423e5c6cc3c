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

/** How many keys a node remembers (the least recently seen are forgotten first). */
const MAX_KEYS = 16384;

/**
 * The static keys of the ids a node has linked with.
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
 * ```
 */
export class KeyBook {
  readonly #keys = new Map<number, Uint8Array>();

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
    if (this.#keys.size > MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    return null;
  }

  /** The key remembered for `id`, if any. */
  get(id: number): Uint8Array | undefined {
    return this.#keys.get(id);
  }
}
