/**
 * Admission of inbound connections that are still in their handshake. A connection costs memory
 * and a file descriptor from the moment it is accepted, and until its handshake completes the
 * peer has proved nothing, so these connections are capped: per remote address and in all.
 *
 * When a cap is reached, the oldest pending handshake of the address with the most pending
 * handshakes is shed (closed at once) to make room, and the new connection is admitted:
 * - an honest handshake completes within a round trip or two, so the oldest pending handshakes
 *   are, by far, those of peers that connected and stalled;
 * - refusing the newest instead would let anyone who holds the cap's worth of stalled sockets
 *   (and opens new ones as the old time out) lock every newcomer out; shedding the oldest makes
 *   them open connections faster than an honest handshake completes to keep anyone out;
 * - the per-address cap falls on the address that reached it, and the total cap on the address
 *   with the most, so one address cannot take the whole budget (with the per-address cap below
 *   the total) and, once several addresses fill it, a newcomer from an address with fewer pending
 *   handshakes displaces one of theirs, never the other way round.
 *
 * @module
 */

/**
 * Default cap on inbound connections from one address in their handshake: above what a burst of
 * joiners behind one address (or every node of a loopback test) opens at once, and far below
 * the total cap, so that one address cannot take all of it.
 */
export const DEFAULT_MAX_PENDING_PER_ADDRESS = 64;
/**
 * Default cap on inbound connections in their handshake: each holds a small read buffer, its
 * handshake state and a file descriptor until it completes or times out.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;

/**
 * The pending handshakes of a transport, by remote address, oldest first.
 *
 * @example Three from one address with a cap of two per address: the oldest is shed
 * ```ts
 * import { PendingHandshakes } from "./admission.ts";
 * import assert from "node:assert/strict";
 *
 * const pending = new PendingHandshakes<string>(2, 10);
 * assert.equal(pending.admit("10.0.0.1", "a"), null);
 * assert.equal(pending.admit("10.0.0.1", "b"), null);
 * assert.equal(pending.admit("10.0.0.1", "c"), "a"); // the caller closes "a"
 * pending.remove("b"); // "b" completed its handshake
 * assert.equal(pending.size, 1);
 * ```
 */
export class PendingHandshakes<T> {
  readonly #perAddress: number;
  readonly #total: number;
  /** Pending handshakes by address, each set in the order they were admitted. */
  readonly #byAddress = new Map<string, Set<T>>();
  readonly #addressOf = new Map<T, string>();
  /** When each pending handshake was admitted, as a count of admissions. */
  readonly #admitted = new Map<T, number>();
  #admissions = 0;

  /**
   * At most `perAddress` pending handshakes from one address, and `total` in all
   * (`perAddress` ≤ `total`).
   */
  constructor(perAddress: number, total: number) {
    this.#perAddress = perAddress;
    this.#total = total;
  }

  /** How many handshakes are pending. */
  get size(): number {
    return this.#addressOf.size;
  }

  /** How many handshakes from `address` are pending. */
  from(address: string): number {
    return this.#byAddress.get(address)?.size ?? 0;
  }

  /**
   * Admits `item`, a new connection from `address`, and returns the pending handshake that must
   * be shed (closed) to make room for it (it is forgotten here already), or `null`.
   */
  admit(address: string, item: T): T | null {
    let victim: T | null = null;
    if (this.from(address) >= this.#perAddress) victim = this.#oldest(address);
    else if (this.size >= this.#total) victim = this.#oldest(this.#mostPending(address));
    if (victim !== null) this.remove(victim);
    let set = this.#byAddress.get(address);
    if (!set) this.#byAddress.set(address, set = new Set());
    set.add(item);
    this.#addressOf.set(item, address);
    this.#admitted.set(item, this.#admissions++);
    return victim;
  }

  /** Forgets `item` (its handshake completed, or it is closed); a no-op for one not pending. */
  remove(item: T): void {
    const address = this.#addressOf.get(item);
    if (address === undefined) return;
    this.#addressOf.delete(item);
    this.#admitted.delete(item);
    const set = this.#byAddress.get(address)!;
    set.delete(item);
    if (set.size === 0) this.#byAddress.delete(address);
  }

  #oldest(address: string): T {
    return this.#byAddress.get(address)!.values().next().value!;
  }

  /**
   * The address with the most pending handshakes, counting the newcomer (from `address`) as
   * admitted already; of addresses with as many, the one whose oldest pending handshake is the
   * oldest. The newcomer is the newest, so it never displaces an address with as many as its
   * own, and an address is only chosen when it has one to shed.
   */
  #mostPending(address: string): string {
    let most = address;
    let count = this.from(address) + 1;
    let since = count > 1 ? this.#admitted.get(this.#oldest(address))! : Infinity;
    for (const [a, set] of this.#byAddress) {
      if (set.size < count || a === address) continue;
      const oldest = this.#admitted.get(set.values().next().value!)!;
      if (set.size > count || oldest < since) {
        most = a;
        count = set.size;
        since = oldest;
      }
    }
    return most;
  }
}
