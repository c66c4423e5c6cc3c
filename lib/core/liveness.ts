/**
 * Liveness: heartbeats to silent neighbours, suspicion by the failure detector, the graveyard of
 * suspected and crashed nodes (pinged now and then, so that a false suspicion heals), and crash
 * repair when a link goes down.
 *
 * @module
 */

import type { Frame, NodeRef } from "../com/transport.ts";
import { T } from "../wire/schema.ts";
import { FailureDetector } from "./failure_detector.ts";
import { type Routed, ROUTED_TYPES } from "./forwarding.ts";
import { inOO } from "./id_space.ts";
import type { Ring } from "./ring.ts";

/** How long a crashed node is remembered and pinged in case it comes back, ms. */
const GRAVEYARD_MS = 120_000;
/** Fingers are pinged this many times less often than ring neighbours. */
const FINGER_SCALE = 5;
/** How many crashed nodes are remembered. */
const GRAVEYARD_SIZE = 32;
/** How many nodes recently heard from are remembered beyond the routing table. */
const CONTACTS = 8;

interface Grave {
  ref: NodeRef;
  since: number;
  crashed: boolean;
}

/** The liveness of one node's neighbours. */
export class Liveness {
  readonly #ring: Ring;
  readonly #detector: FailureDetector;
  /**
   * Suspected or crashed nodes, pinged now and then: a false suspicion heals when they answer.
   * Created at the first suspicion (a simulated network would hold an empty map per node).
   */
  #graveyard: Map<number, Grave> | null = null;

  get #grave(): Map<number, Grave> {
    return this.#graveyard ??= new Map();
  }
  /** Peers that announced a graceful leave, so their link loss is not a crash. */
  #leavers: Set<number> | null = null;
  /**
   * Nodes heard from lately, newest last: a node whose table empties (every node it knew is
   * gone) finds its way back to the ring through one of them instead of staying alone.
   */
  readonly #contacts: NodeRef[] = new Array(CONTACTS);
  /**
   * The ids of `#contacts`, side by side: every frame a node receives updates its contacts, and
   * the search then reads one array instead of eight scattered records (and allocates nothing).
   * Both arrays have their full size from the start; `#contactCount` of them are in use.
   */
  readonly #contactIds: number[] = new Array<number>(CONTACTS).fill(0.5);
  #contactCount = 0;

  constructor(ring: Ring) {
    this.#ring = ring;
    this.#detector = new FailureDetector(ring.timing);
  }

  /** Something arrived from `from`: it is alive (and back, if it was suspected). */
  heard(from: NodeRef): void {
    const ring = this.#ring;
    this.#detector.heard(from.id, ring.clock);
    const grave = this.#graveyard;
    if (grave !== null && grave.size > 0 && grave.has(from.id) && ring.running) {
      this.#revive(from);
    }
    const ids = this.#contactIds;
    const n = this.#contactCount;
    const id = from.id;
    if (id < 0 || id === ring.id || (n > 0 && ids[n - 1] === id)) return;
    let i = 0;
    while (i < n && ids[i] !== id) i++;
    if (i === n && n < CONTACTS) {
      ids[n] = id;
      this.#contacts[n] = from;
      this.#contactCount = n + 1;
      return;
    }
    // Moves it (or, when new, the oldest's place) to the end.
    if (i === n) i = 0;
    const c = this.#contacts;
    for (let j = i; j < n - 1; j++) {
      ids[j] = ids[j + 1];
      c[j] = c[j + 1];
    }
    ids[n - 1] = id;
    c[n - 1] = from;
  }

  /** Forgets `id` as a contact (it left, or is taken for dead). */
  forgetContact(id: number): void {
    const ids = this.#contactIds, c = this.#contacts;
    const n = this.#contactCount;
    let i = 0;
    while (i < n && ids[i] !== id) i++;
    if (i === n) return;
    for (let j = i; j < n - 1; j++) {
      ids[j] = ids[j + 1];
      c[j] = c[j + 1];
    }
    c[n - 1] = undefined!;
    this.#contactCount = n - 1;
  }

  /** Nodes heard from lately that are not suspected or taken for crashed, newest first. */
  contacts(): NodeRef[] {
    return this.#contacts.slice(0, this.#contactCount).filter((n) => !this.#graveyard?.has(n.id))
      .reverse();
  }

  onPong(from: NodeRef, ts: number): void {
    const now = this.#ring.clock.now();
    this.#detector.roundTrip(from.id, now - ts, now);
  }

  /** Forgets the liveness record of `id` (its link was closed on purpose). */
  forgetRecord(id: number): void {
    this.#detector.drop(id);
  }

  /** `id` announced a graceful leave: its link going down is no crash. */
  expectLeave(id: number): void {
    (this.#leavers ??= new Set()).add(id);
  }

  /**
   * Pings silent neighbours and suspects those whose ping went unanswered past the detector's
   * timeout. `late`: how long after its due time this check runs (time this node could not
   * listen, which does not count as its peers' silence).
   */
  heartbeat(late = 0): void {
    const ring = this.#ring;
    const tb = ring.table!;
    this.#detector.discount(late);
    const now = ring.clock.now();
    // Suspected nodes are pinged at the heartbeat period until they answer or are given up.
    for (const g of this.#graveyard?.values() ?? []) {
      if (!g.crashed) ring.sendControl(g.ref, { t: T.Ping, ts: now });
    }
    // A peer that streams to this node hears nothing back: it is told this node lives (and
    // answers, which tells this node the same of it).
    for (const peer of ring.transport.quiet(ring.timing.heartbeatMs)) {
      ring.sendControl(peer, { t: T.Ping, ts: now });
    }
    if (tb.alone) return;
    // Ring neighbours at the heartbeat period; fingers (and the rest of the successor list),
    // which only cost extra hops when stale, at a fifth of that rate. The table lists each known
    // node once; no map or pair per node, since every node of a simulated network runs this
    // every second.
    const succ = tb.succ.id;
    const pred = tb.pred && tb.pred !== tb.self ? tb.pred.id : NaN;
    for (const n of tb.known) {
      const scale = n.id === pred || n.id === succ ? 1 : FINGER_SCALE;
      const verdict = this.#detector.check(n.id, now, scale);
      if (verdict === "ping") {
        ring.sendControl(n, { t: T.Ping, ts: now });
        this.#detector.pinged(n.id, now);
      } else if (verdict === "suspect") this.#suspect(n, scale);
    }
  }

  #suspect(peer: NodeRef, scale: number): void {
    const ring = this.#ring;
    const now = ring.clock.now();
    ring.emit({ type: "suspect", peer, silentMs: this.#detector.silence(peer.id, scale) });
    this.#grave.set(peer.id, { ref: peer, since: now, crashed: false });
    // Route around it at once; declare it crashed if it stays silent as long again.
    this.#repair(peer);
    ring.timer(this.#detector.timeout(peer.id), () => {
      const g = this.#graveyard?.get(peer.id);
      if (g && !g.crashed && g.since === now && ring.running) {
        g.crashed = true;
        ring.keys.forget(peer.id);
        ring.emit({ type: "crash", peer, reason: "silent past the failure detector's timeout" });
      }
    });
  }

  /** A suspected or crashed node was heard from: trust it again and let it back in. */
  #revive(peer: NodeRef): void {
    const ring = this.#ring;
    const g = this.#graveyard?.get(peer.id);
    if (!g) return;
    this.#graveyard!.delete(peer.id);
    ring.emit({ type: "alive", peer, wasCrashed: g.crashed });
    const tb = ring.table!;
    ring.fingers.learn(peer);
    if (tb.alone || inOO(peer.id, tb.self.id, tb.succ.id, tb.maxKey)) {
      ring.stabilizer.setSucc(peer, []);
      ring.sendControl(peer, { t: T.Notify });
    } else {
      // Offer ourselves: if we sit between it and its successor it will take us.
      ring.sendControl(peer, { t: T.Stab, p: tb.pred ?? undefined, s: tb.succList });
    }
  }

  /** Whether `id` is suspected or taken for crashed (and not heard from since). */
  suspects(id: number): boolean {
    return this.#graveyard?.has(id) ?? false;
  }

  /** Nodes suspected now but not declared crashed. */
  suspected(): NodeRef[] {
    const out: NodeRef[] = [];
    for (const g of this.#graveyard?.values() ?? []) if (!g.crashed) out.push(g.ref);
    return out;
  }

  pingGraveyard(): void {
    const ring = this.#ring;
    const now = ring.clock.now();
    const grave = this.#graveyard;
    if (!grave) return;
    for (const [id, g] of grave) {
      if (now - g.since > GRAVEYARD_MS) grave.delete(id);
      else ring.sendControl(g.ref, { t: T.Ping, ts: now });
    }
    while (grave.size > GRAVEYARD_SIZE) grave.delete(grave.keys().next().value!);
    if (grave.size === 0) this.#graveyard = null;
  }

  /** The link to `peer` went down; `unsent` are frames that never left for it. */
  onPeerDown(peer: NodeRef, why: string, unsent: Frame[]): void {
    const ring = this.#ring;
    if (!ring.running || !ring.table) return;
    const graceful = this.#leavers?.delete(peer.id) ?? false;
    const { wasPred, wasSucc, fingers } = this.#repair(peer);
    const crashed = !graceful && (wasPred || wasSucc || fingers.length > 0);
    // Its id is free again: a node that rejoins under it may bring another key.
    if (graceful || crashed) ring.keys.forget(peer.id);
    if (crashed) {
      ring.emit({ type: "crash", peer, reason: why });
      this.#grave.set(peer.id, { ref: peer, since: ring.clock.now(), crashed: true });
    }
    // Routed frames that never left go another way now that the dead peer is forgotten.
    for (const f of unsent) if (ROUTED_TYPES.has(f.t)) ring.forwarder.step(f as Routed);
  }

  /** Forgets a dead or suspected peer and repairs successor and predecessor pointers. */
  #repair(peer: NodeRef): { wasPred: boolean; wasSucc: boolean; fingers: number[] } {
    const ring = this.#ring;
    const tb = ring.table!;
    this.#detector.drop(peer.id);
    this.forgetContact(peer.id);
    const lost = tb.forget(peer.id);
    if (lost.wasSucc) {
      const next = tb.succList[0];
      if (next) {
        ring.emit({ type: "newsucc", succ: next, old: peer });
        ring.sendControl(next, { t: T.Notify });
      }
    }
    if (lost.wasPred) ring.emit({ type: "newpred", pred: null, old: peer });
    ring.stabilizer.afterLoss(peer);
    return lost;
  }
}
