/**
 * One connection per neighbour. Each peer id has a slot: the link new frames go to, and links
 * being drained.
 *
 * Duplicates. When two connections to the same peer complete (both sides dialed at once), both
 * ends keep the one dialed by the lower node id; if the same node dialed both, the newer one (a
 * node only dials again once it has given up the older one). The other connection is drained:
 * what is queued on it is still written, then it is half-closed, and it is read until the peer
 * half-closes it too. Frames arriving on the kept connection are held back until the drained one
 * ends, so a peer's frames are delivered in the order it sent them.
 *
 * @module
 */

import type { Frame } from "../../wire/schema.ts";
import type { NodeRef } from "../transport.ts";
import type { Link } from "./link.ts";

/** What is known about one neighbour: its current link and links being drained. */
export interface Slot {
  /** The link new frames go to: open, or still being established. */
  active: Link | null;
  /** Links to this peer that may still deliver frames sent before the active link's. */
  draining: number;
  /** Frames from the active link held until the draining links have ended. */
  held: [NodeRef, Frame][];
}

/**
 * Which of two open links to the same peer both ends keep: the one dialed by the lower id, or,
 * when one node dialed both, the newer.
 */
export function keeps(older: Link, newer: Link): Link {
  const a = older.outbound ? older.localId : older.peer!.id;
  const b = newer.outbound ? newer.localId : newer.peer!.id;
  if (a !== b) return a < b ? older : newer;
  return newer;
}

/** The slots of one transport. */
export class Slots {
  readonly #slots = new Map<number, Slot>();
  /** Links being drained, over all slots (frames from their peers may have to be held). */
  draining = 0;
  /** The slot `slot` returned last (sends come in runs to one peer): saves a lookup. */
  #lastId = NaN;
  #last: Slot | null = null;

  /** The slot of `id`, if any. */
  get(id: number): Slot | undefined {
    return this.#slots.get(id);
  }

  /** The slot of `id`, made when missing. */
  slot(id: number): Slot {
    if (id === this.#lastId && this.#last) return this.#last;
    let slot = this.#slots.get(id);
    if (!slot) {
      slot = { active: null, draining: 0, held: [] };
      this.#slots.set(id, slot);
    }
    this.#lastId = id;
    return (this.#last = slot);
  }

  /** Forgets the slot of `id` when nothing is left in it. */
  tidy(id: number, slot: Slot): void {
    if (!slot.active && slot.draining === 0 && slot.held.length === 0) {
      if (this.#slots.get(id) === slot) this.#slots.delete(id);
      if (this.#last === slot) this.#last = null;
    }
  }

  /** Every slot, by peer id. */
  entries(): IterableIterator<[number, Slot]> {
    return this.#slots.entries();
  }

  /** Forgets every slot. */
  clear(): void {
    this.#slots.clear();
    this.#last = null;
  }

  /** `link` may still deliver frames its peer sent before those of the active link. */
  startDraining(link: Link): void {
    if (link.draining || link.readEnded || !link.peer) return;
    link.draining = true;
    this.slot(link.peer.id).draining++;
    this.draining++;
  }

  /**
   * Whether a frame from `from`, arriving on `link`, must wait for a drained link of the same
   * peer (it is kept in the slot then).
   */
  hold(link: Link, from: NodeRef, frame: Frame): boolean {
    if (link.draining || this.draining === 0) return false;
    const slot = this.#slots.get(from.id);
    if (!slot || slot.draining === 0) return false;
    slot.held.push([from, frame]);
    return true;
  }

  /**
   * `link` can deliver nothing more: returns the frames held behind it that may go now (or
   * `null`).
   */
  undrain(link: Link): [NodeRef, Frame][] | null {
    if (!link.draining) return null;
    link.draining = false;
    this.draining--;
    const id = link.peer!.id;
    const slot = this.#slots.get(id);
    if (!slot) return null;
    slot.draining--;
    if (slot.draining > 0) return null;
    const held = slot.held;
    slot.held = [];
    this.tidy(id, slot);
    return held;
  }
}
