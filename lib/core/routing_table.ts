/**
 * A node's routing state: predecessor, successor list and fingers, and the loop-free next-hop
 * rule over them.
 *
 * Plain data and plain functions: no timers, no I/O, so it is tested exhaustively and benchmarked
 * on its own.
 *
 * @module
 */

import type { NodeRef } from "../wire/types.ts";
import type { FingerPolicy } from "./fingers.ts";
import { addMod, cw, inOC, ringDistance } from "./id_space.ts";

/**
 * Routing phases. A message starts greedy (`Approach`): each hop goes to the known node strictly
 * closer to the key in ring distance, either way round. Once a hop hands it to the successor
 * that should be responsible (`Settle`), it only moves counter-clockwise towards the key, each hop
 * strictly closer from above. Both measures strictly decrease and only one switch happens, so no
 * message can loop, even with stale or broken entries; the hop limit is a guard on top.
 */
export const Phase = { Approach: 0, Settle: 1 } as const;

/** What the next-hop rule decided. */
export interface Hop {
  /** Where to send next; `null` means this node is responsible for the key. */
  node: NodeRef | null;
  /** The phase the message travels in from here. */
  phase: number;
  /** Index of the finger used, or -1 (for correction-on-use). */
  finger: number;
}

const LOCAL: Hop = Object.freeze({ node: null, phase: Phase.Settle, finger: -1 }) as Hop;

/** No finger changed (shared, never modified). */
const NONE: number[] = Object.freeze([]) as unknown as number[];

/** Predecessor, successor list and fingers of one node. */
export class RoutingTable {
  /** This node. */
  readonly self: NodeRef;
  /** Identifier-space size. */
  readonly maxKey: number;
  /** Finger policy in force. */
  readonly policy: FingerPolicy;
  /** Successor-list length (fault-tolerance degree). */
  readonly succListSize: number;
  #pred: NodeRef | null;
  /**
   * While the predecessor is lost (suspected or crashed, not yet replaced), its id: the lower
   * bound of this node's range. Keys before it may belong to a live node this node does not
   * know; it does not claim them (see `responsible`).
   */
  #predBound: number | null = null;
  #succList: NodeRef[] = [];
  /** Finger per policy offset; `null` when the position falls on this node. */
  readonly fingers: readonly (NodeRef | null)[];
  /**
   * Every known node with the finger slot it came from (-1 for other slots), rebuilt only after
   * the table changed, so that the per-message next-hop scan is a plain loop over an array.
   */
  #known: NodeRef[] | null = null;
  #knownSlot: number[] = [];
  /** The ids of `#known`, side by side: the next-hop scans read these, not ~30 scattered records. */
  #knownIds: number[] = [];
  /** Every node kept by a full-mesh policy; created on first use (most policies never do). */
  #mesh: Map<number, NodeRef> | null = null;

  /** Creates the table of a node alone on its ring. */
  constructor(self: NodeRef, maxKey: number, policy: FingerPolicy, succListSize: number) {
    this.self = self;
    this.maxKey = maxKey;
    this.policy = policy;
    this.succListSize = succListSize;
    this.#pred = self;
    this.fingers = policy.offsets.map(() => null);
  }

  /**
   * The target position of finger `i`: computed, not stored (64 numbers per node would be a
   * twentieth of a simulated node's memory).
   */
  target(i: number): number {
    return addMod(this.self.id, this.policy.offsets[i], this.maxKey);
  }

  /** Every node kept by a full-mesh policy (empty otherwise). */
  get mesh(): Map<number, NodeRef> {
    return this.#mesh ??= new Map();
  }

  /** Predecessor; `self` when alone; `null` when lost and not yet replaced. */
  get pred(): NodeRef | null {
    return this.#pred;
  }

  set pred(p: NodeRef | null) {
    if (p === this.#pred) return;
    const old = this.#pred;
    if (p !== null) this.#predBound = null;
    else if (old !== null && old !== this.self) this.#predBound = old.id;
    this.#pred = p;
    this.#known = null;
  }

  /** Successors clockwise, nearest first; empty when alone. */
  get succList(): readonly NodeRef[] {
    return this.#succList;
  }

  set succList(list: readonly NodeRef[]) {
    this.#succList = [...list];
    this.#known = null;
  }

  /** Sets finger `i` (`null` to clear it). */
  setFinger(i: number, n: NodeRef | null): void {
    (this.fingers as (NodeRef | null)[])[i] = n;
    this.#known = null;
  }

  /**
   * Known nodes and their finger slots, as flat arrays (shared; do not modify), allocated at
   * their exact size: every node of a simulation keeps a set. A node held in several slots
   * appears once, as it was first met in the order predecessor, successors, fingers, mesh (the
   * scans keep the first of equally good entries, so the later copies never counted).
   */
  #candidates(): NodeRef[] {
    if (this.#known) return this.#known;
    const p = this.#pred && this.#pred !== this.self ? this.#pred : null;
    const f = this.fingers;
    const mesh = this.#mesh;
    const max = (p ? 1 : 0) + this.#succList.length + f.length + (mesh?.size ?? 0);
    const all = new Array<NodeRef>(max);
    const allSlots = new Array<number>(max).fill(-1);
    let n = 0;
    // Repeats are looked for among the few entries before the mesh (whose keys are distinct).
    let before = max;
    const add = (x: NodeRef, slot: number) => {
      for (let j = 0; j < n && j < before; j++) if (all[j].id === x.id) return;
      allSlots[n] = slot;
      all[n++] = x;
    };
    if (p) add(p, -1);
    for (const x of this.#succList) add(x, -1);
    // Fingers the same way round mostly repeat their neighbour (the near ones are all the
    // successor or the predecessor): that is checked first, before the scan.
    const offsets = this.policy.offsets;
    let lastCw = NaN, lastCcw = NaN;
    for (let i = 0; i < f.length; i++) {
      const x = f[i];
      if (x === null) continue;
      if (offsets[i] >= 0) {
        if (x.id === lastCw) continue;
        lastCw = x.id;
      } else {
        if (x.id === lastCcw) continue;
        lastCcw = x.id;
      }
      add(x, i);
    }
    before = n;
    if (mesh) { for (const x of mesh.values()) add(x, -1); }
    const known = all.slice(0, n);
    const slots = allSlots.slice(0, n);
    // Filled with a double first, so that the array holds unboxed numbers.
    const ids = new Array<number>(n).fill(0.5);
    for (let i = 0; i < n; i++) ids[i] = known[i].id;
    this.#knownSlot = slots;
    this.#knownIds = ids;
    return (this.#known = known);
  }

  /** The successor (this node when alone). */
  get succ(): NodeRef {
    return this.succList[0] ?? this.self;
  }

  /** Whether no other node is known. */
  get alone(): boolean {
    return this.succList.length === 0;
  }

  /**
   * Whether this node is responsible for `key`, i.e. `key ∈ (pred, self]`. With the predecessor
   * lost, the lost one's id bounds the range until a new predecessor is known: the keys below it
   * may belong to a live node between, which this node cannot rule out.
   */
  responsible(key: number): boolean {
    return inOC(key, this.rangeStart, this.self.id, this.maxKey);
  }

  /**
   * Where this node's range `(rangeStart, self]` begins (see {@linkcode RoutingTable.responsible}):
   * the predecessor's id; while the predecessor is lost, the lost one's, or else the nearest
   * known node before this one; this node's own id (the whole ring) when alone. Services that
   * keep state per key (the DHT) answer for exactly this range.
   */
  get rangeStart(): number {
    const p = this.#pred;
    if (p !== null) return p.id;
    return this.#predBound ?? this.closestBefore(this.self.id)?.id ?? this.self.id;
  }

  /** Whether the predecessor is lost and not replaced yet (the range is bounded by the lost one). */
  get repairing(): boolean {
    return this.#pred === null && this.#predBound !== null;
  }

  /** The known node nearest counter-clockwise from `pos` (excluding `pos` itself). */
  closestBefore(pos: number): NodeRef | null {
    let best: NodeRef | null = null;
    let bd = Infinity;
    this.forEachKnown((n) => {
      const d = cw(n.id, pos, this.maxKey);
      if (d > 0 && d < bd) {
        bd = d;
        best = n;
      }
    });
    return best;
  }

  /**
   * Every known node once, as one array shared until the table changes: read it, do not modify
   * it (a change builds a new one).
   */
  get known(): readonly NodeRef[] {
    return this.#candidates();
  }

  /** Calls `fn` for every known node once, with the first finger slot it was met in or -1. */
  forEachKnown(fn: (n: NodeRef, finger: number) => void): void {
    const known = this.#candidates();
    const slots = this.#knownSlot;
    for (let i = 0; i < known.length; i++) fn(known[i], slots[i]);
  }

  /**
   * The loop-free next hop towards the node responsible for `key` (see {@linkcode Phase}).
   * `phase` is the phase the message arrived in.
   */
  nextHop(key: number, phase: number): Hop {
    const M = this.maxKey;
    const me = this.self.id;
    if (this.responsible(key)) return LOCAL;
    const succ = this.succ;
    if (inOC(key, me, succ.id, M)) return { node: succ, phase: Phase.Settle, finger: -1 };
    const known = this.#candidates();
    const slots = this.#knownSlot;
    const ids = this.#knownIds;
    let best = -1;
    if (phase === Phase.Approach && this.policy.bidirectional) {
      // The first known node at or after the key is probably responsible for it when it lies
      // within about two node spacings (estimated from our successor) past the key: go straight
      // there and settle, saving the extra hop of arriving from below. A full mesh knows every
      // node, so there the first node after the key is the responsible one.
      let ad = this.policy.keepAll ? M : 2 * cw(me, succ.id, M);
      for (let i = 0; i < known.length; i++) {
        const d = cw(key, ids[i], M);
        if (d < ad) {
          ad = d;
          best = i;
        }
      }
      if (best >= 0) return { node: known[best], phase: Phase.Settle, finger: slots[best] };
      // Otherwise the known node strictly closer to the key either way round; ties go to the
      // node at or after the key, which may be the responsible one.
      let bd = ringDistance(me, key, M);
      let bAfter = cw(key, me, M) <= cw(me, key, M);
      for (let i = 0; i < known.length; i++) {
        const id = ids[i];
        const d = ringDistance(id, key, M);
        if (d < bd || (d === bd && !bAfter && cw(key, id, M) <= cw(id, key, M))) {
          bd = d;
          bAfter = cw(key, id, M) <= cw(id, key, M);
          best = i;
        }
      }
      if (best >= 0) return { node: known[best], phase: Phase.Approach, finger: slots[best] };
    } else if (phase === Phase.Approach) {
      // One-way fingers: the closest known node preceding the key, as in Chord.
      let bd = cw(me, key, M);
      for (let i = 0; i < known.length; i++) {
        const d = cw(ids[i], key, M);
        if (d > 0 && d < bd) {
          bd = d;
          best = i;
        }
      }
      if (best >= 0) return { node: known[best], phase: Phase.Approach, finger: slots[best] };
    }
    // Settle: only nodes strictly closer to the key from above.
    let bd = cw(key, me, M);
    for (let i = 0; i < known.length; i++) {
      const d = cw(key, ids[i], M);
      if (d < bd) {
        bd = d;
        best = i;
      }
    }
    if (best >= 0) return { node: known[best], phase: Phase.Settle, finger: slots[best] };
    if (this.repairing) {
      // No node known above the key, and the key is below the lost predecessor: it belongs to
      // a node counter-clockwise, perhaps one this node has not heard of. Approach it from the
      // nearest known node either way round (the hop limit guards what the repair leaves open).
      let rd = ringDistance(me, key, M);
      for (let i = 0; i < known.length; i++) {
        const d = ringDistance(known[i].id, key, M);
        if (d < rd) {
          rd = d;
          best = i;
        }
      }
      if (best >= 0) return { node: known[best], phase: Phase.Approach, finger: slots[best] };
    }
    return LOCAL;
  }

  /**
   * Takes `n` into the fingers wherever it is a better fit than the current entry (closer at or
   * after the target). Returns the indices that changed (a shared empty array when none did).
   *
   * Every node heard of is offered (a simulated network does this tens of times per join), so
   * the test works from two distances computed once: with `D` the clockwise distance from this
   * node to `n`, the finger of a clockwise offset `o` fits `n` when `o ≤ D` (then `n` lies
   * `D − o` past the target), and the finger of a counter-clockwise offset `−a` when
   * `a ≥ maxKey − D` (then `n` lies `a − (maxKey − D)` past it). Elsewhere `n` lies past this
   * node, which covers those targets itself.
   */
  considerFinger(n: NodeRef): number[] {
    const me = this.self.id;
    if (n.id === me) return NONE;
    const M = this.maxKey;
    const f = this.fingers as (NodeRef | null)[];
    const offsets = this.policy.offsets;
    const D = cw(me, n.id, M);
    const back = M - D;
    let changed: number[] = NONE;
    for (let i = 0; i < f.length; i++) {
      const o = offsets[i];
      let dn: number;
      if (o > 0 && o < M) {
        if (o > D) continue;
        dn = D - o;
      } else if (o < 0 && o > -M) {
        if (-o < back) continue;
        dn = -o - back;
      } else {
        // An offset of a whole turn or none: the general test.
        const t = this.target(i);
        dn = cw(t, n.id, M);
        if (dn >= cw(t, me, M)) continue;
      }
      const cur = f[i];
      if (cur === null || dn < cw(this.target(i), cur.id, M)) {
        f[i] = n;
        if (changed === NONE) changed = [];
        changed.push(i);
      }
    }
    if (this.policy.keepAll) this.mesh.set(n.id, n);
    if (changed.length || this.policy.keepAll) this.#known = null;
    return changed;
  }

  /** Drops `id` from every slot. Returns whether it was the predecessor or a successor. */
  forget(id: number): { wasPred: boolean; wasSucc: boolean; fingers: number[] } {
    const wasPred = this.pred !== null && this.pred !== this.self && this.pred.id === id;
    if (wasPred) this.pred = null;
    const wasSucc = this.succList.length > 0 && this.succList[0].id === id;
    this.succList = this.succList.filter((n) => n.id !== id);
    const fingers: number[] = [];
    for (let i = 0; i < this.fingers.length; i++) {
      if (this.fingers[i]?.id === id) {
        this.setFinger(i, null);
        fingers.push(i);
      }
    }
    this.#mesh?.delete(id);
    this.#known = null;
    return { wasPred, wasSucc, fingers };
  }

  /** Distinct nodes among the fingers, for snapshots and for a joiner's initial table. */
  distinctFingers(): NodeRef[] {
    const seen = new Map<number, NodeRef>();
    for (const n of this.fingers) if (n && !seen.has(n.id)) seen.set(n.id, n);
    if (this.#mesh) { for (const n of this.#mesh.values()) seen.set(n.id, n); }
    return [...seen.values()];
  }

  /**
   * Sets the successor list from a successor's own list: `[succ, ...itsList]`, cut to size,
   * without this node and without repeats. Returns whether it changed.
   */
  setSuccList(succ: NodeRef, theirs: readonly NodeRef[]): boolean {
    const out: NodeRef[] = [succ];
    for (const n of theirs) {
      if (out.length >= this.succListSize) break;
      if (n.id === this.self.id) break;
      if (!out.some((o) => o.id === n.id)) out.push(n);
    }
    const old = this.#succList;
    const changed = old.length !== out.length || old.some((n, i) => n.id !== out[i].id);
    // The same nodes at the same addresses (a stabilisation round, mostly): keep the list, and
    // the known-node arrays built from it.
    const same = !changed &&
      old.every((n, i) =>
        n === out[i] || (n.ap.port === out[i].ap.port && n.ap.hostname === out[i].ap.hostname)
      );
    if (!same) this.succList = out;
    return changed;
  }
}
