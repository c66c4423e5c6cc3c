/**
 * Which of this node's recent messages were already reported undeliverable. A report from a peer
 * is believed only for messages this node sent (ids below the next one), recently enough to be
 * tracked (within the window), and not reported before: a forged report can neither invent
 * messages nor make one message raise many events.
 *
 * @module
 */

/** Message ids tracked: the last this many sent. */
export const SENT_WINDOW: number = 1 << 20;

/**
 * A bitmap over the last {@linkcode SENT_WINDOW} message ids, allocated on the first report.
 *
 * @example
 * ```ts
 * import { SentWindow } from "./sent_window.ts";
 * import assert from "node:assert/strict";
 *
 * const w = new SentWindow();
 * assert.equal(w.claim(5, 3, 10), true); // ids 5, 6, 7 were sent (the next id is 10)
 * assert.equal(w.claim(7, 1, 10), false); // 7 was reported already
 * assert.equal(w.claim(9, 2, 10), false); // 10 was never sent
 * ```
 */
export class SentWindow {
  #bits: Uint32Array | null = null;
  /** Ids below this have had their bits cleared for reuse (the bitmap is indexed modulo its size). */
  #fresh = 0;

  /**
   * Claims ids `[id, id + n)` for one report, given `next`, the id the next message will get:
   * `true` (and marks them) when they were all sent, are all within the window and none was
   * claimed before; `false` otherwise (nothing is marked).
   */
  claim(id: number, n: number, next: number): boolean {
    if (!(n >= 1 && id >= 1 && id + n <= next && id >= next - SENT_WINDOW)) return false;
    const bits = this.#bits ??= new Uint32Array(SENT_WINDOW / 32);
    this.#clearUpTo(next);
    for (let i = id; i < id + n; i++) {
      const b = i % SENT_WINDOW;
      if (bits[b >>> 5] & (1 << (b & 31))) return false;
    }
    for (let i = id; i < id + n; i++) {
      const b = i % SENT_WINDOW;
      bits[b >>> 5] |= 1 << (b & 31);
    }
    return true;
  }

  /** Clears the bits of ids in `[fresh, next)`, whose slots last held ids a window older. */
  #clearUpTo(next: number): void {
    const bits = this.#bits!;
    if (next - this.#fresh >= SENT_WINDOW) bits.fill(0);
    else {
      for (let i = this.#fresh; i < next; i++) {
        const b = i % SENT_WINDOW;
        bits[b >>> 5] &= ~(1 << (b & 31));
      }
    }
    this.#fresh = Math.max(this.#fresh, next);
  }
}
