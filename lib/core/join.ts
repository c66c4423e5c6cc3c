/**
 * Joining, relaxed-ring style. The joiner asks its access point for the network's
 * characteristics (`InfoReq` → `Info`) and which node is responsible for the id it wants
 * (`Find` → `Found`: a taken id is refused there), then sends `Join` to that node (which routes
 * it on if a newer node has taken the place meanwhile). The responsible node adopts the joiner as
 * predecessor at once and answers with the old predecessor, its successor list and its fingers
 * (`JoinOk`); the old predecessor learns of the joiner from a `Stab` and takes it as successor.
 * Every step is between two nodes.
 *
 * Until it knows the network, a joiner presents a negative provisional id: its access point
 * answers it on the link it came on, and it may send nothing else (see `GUEST_FRAMES`).
 *
 * @module
 */

import { type AccessPoint, type NodeRef, PROVISIONAL_IDS } from "../com/transport.ts";
import { JoinError, TimeoutError } from "../errors.ts";
import { type Frame, type FrameOf, T } from "../wire/schema.ts";
import { fingerPolicy } from "./fingers.ts";
import { idOfKey } from "./identity.ts";
import type { Ring } from "./ring.ts";
import { Phase } from "./routing_table.ts";

/** Frames kept while a join completes; more are dropped (a join answer is a few frames away). */
const MAX_EARLY = 4096;

/** A node's join, and the joins it accepts. */
export class Joining {
  readonly #ring: Ring;
  readonly #expectName: string | null;
  #done: ((err: Error | null) => void) | null = null;
  #bootstrap: NodeRef | null = null;
  /** The id asked for (negative: any), then the id being joined with. */
  #wanted = -1;
  #findQ = 0;
  /** The node the join was sent to, until it answers (see `onPeerDown`). */
  #joinedVia: NodeRef | null = null;
  /** Frames that arrived between our join request and its answer, replayed once joined. */
  #early: [NodeRef, Frame][] = [];

  constructor(ring: Ring, expectName: string | null) {
    this.#ring = ring;
    this.#expectName = expectName;
  }

  /** Joins through the node at `ap`; `done` gets `null` once on the ring, or the error. */
  start(ap: AccessPoint, done: (err: Error | null) => void): void {
    const ring = this.#ring;
    let finished = false;
    const ms = ring.timing.joinTimeoutMs;
    const timeout = ring.timer(ms, () => {
      finish(
        new TimeoutError(`Join through ${ap.hostname}:${ap.port} did not complete within ${ms} ms`),
      );
    });
    const finish = (err: Error | null) => {
      if (finished) return;
      finished = true;
      timeout.cancel();
      this.#done = null;
      this.#joinedVia = null;
      done(err);
    };
    this.#done = finish;
    this.#wanted = ring.id;
    // Until the network's identifier space is known, present a random provisional id, so that
    // concurrent joiners through one access point do not collide in its connection pool.
    ring.id = -1 - Math.floor(ring.random() * (PROVISIONAL_IDS - 1));
    this.#dial(ap, finish, true);
  }

  /**
   * Dials the access point. A node that did not choose an encryption and has no secret adopts
   * the one the access point's links use (once); one that chose and disagrees is refused.
   */
  #dial(ap: AccessPoint, finish: (err: Error | null) => void, firstTry: boolean): void {
    const ring = this.#ring;
    ring.transport.dial(ap, (err, peer) => {
      const theirs = (err as { peerEncryption?: "noise" | "none" } | null)?.peerEncryption;
      if (theirs !== undefined) {
        const adopt = firstTry && ring.encryptionChoice === null && ring.security.psk === null;
        if (!adopt) {
          return finish(
            new JoinError(
              `The network at ${ap.hostname}:${ap.port} uses encryption "${theirs}", ` +
                `this node "${ring.security.encryption}"`,
              { cause: err },
            ),
          );
        }
        ring.security.encryption = theirs;
        return this.#dial(ap, finish, false);
      }
      if (err) return finish(err);
      this.#bootstrap = peer!;
      ring.sendControl(peer!, { t: T.InfoReq });
    });
  }

  /**
   * A link went down: a join in progress whose access point it led to fails at once, with the
   * reason (a refusal of the join's own link, or a lost connection), rather than at its timeout.
   */
  onPeerDown(peer: NodeRef, why: string): void {
    const bootstrap = this.#bootstrap;
    if (!this.#done || bootstrap === null) return;
    const via = this.#joinedVia;
    if (via !== null && peer.id === via.id && via.id !== bootstrap.id) {
      // The node the join went to is gone before answering: the access point routes the join
      // around it (once; if that link fails too, the join fails below).
      this.#joinedVia = null;
      return this.#sendJoin(bootstrap);
    }
    if (peer.id !== bootstrap.id) return;
    const { hostname, port } = bootstrap.ap;
    this.#done(
      new JoinError(`Lost the link to the access point ${hostname}:${port} while joining: ${why}`),
    );
  }

  /** Fails a join in progress (the node stopped). */
  stop(): void {
    this.#done?.(new JoinError("Node stopped while joining"));
  }

  /**
   * Whether a frame that arrives while this node is joining is held back (it is replayed once
   * the join completes): everything but the join's own answers, once the join request is out.
   */
  holds(from: NodeRef, f: Frame): boolean {
    if (this.#ring.table === null || f.t === T.JoinOk) return false;
    if (this.#early.length < MAX_EARLY) this.#early.push([from, f]);
    else this.#ring.rejectFrame("early");
    return true;
  }

  onInfo(from: NodeRef, f: FrameOf<"Info">): void {
    const ring = this.#ring;
    if (!this.#done || ring.net) return;
    const { t: _, ...net } = f;
    if (this.#expectName !== null && net.name !== this.#expectName) {
      return this.#done(
        new JoinError(`Access point belongs to network "${net.name}", not "${this.#expectName}"`),
      );
    }
    try {
      fingerPolicy(net.fingers, net.maxKey);
    } catch (e) {
      return this.#done(
        new JoinError(`The network's finger policy is unusable here`, { cause: e }),
      );
    }
    const choice = ring.encryptionChoice;
    if (choice !== null && choice !== net.encryption) {
      return this.#done(
        new JoinError(`The network uses encryption "${net.encryption}", not "${choice}"`),
      );
    }
    let id = this.#wanted >= 0 ? this.#wanted : Math.floor(ring.random() * net.maxKey);
    if (net.idFromKey) {
      // Nobody chooses where they sit: the id is the key's.
      const derived = idOfKey(ring.publicKey(), net.maxKey);
      if (this.#wanted >= 0 && this.#wanted !== derived) {
        return this.#done(
          new JoinError(
            `The network derives ids from keys: this node's key gives id ${derived}, ` +
              `not ${this.#wanted}`,
          ),
        );
      }
      id = derived;
    }
    if (!(Number.isSafeInteger(id) && id >= 0 && id < net.maxKey)) {
      return this.#done(
        new JoinError(`Node id ${id} is outside the network's identifier space [0, ${net.maxKey})`),
      );
    }
    ring.adopt(net);
    this.#wanted = id;
    // Ask who is responsible for our id first: if it is a node with that very id, the id is
    // taken (nobody could answer that node's refusal: ids are connection keys).
    ring.sendControl(from, { t: T.Find, q: ++this.#findQ, k: id });
  }

  /** A joiner asks which node is responsible for `k` (answered on its link). */
  onFind(from: NodeRef, f: FrameOf<"Find">): void {
    const ring = this.#ring;
    if (!ring.running) return;
    ring.lookup(f.k, (n, pred) => {
      ring.sendControl(from, { t: T.Found, q: f.q, n, p: pred ?? undefined });
    });
  }

  onFound(from: NodeRef, f: FrameOf<"Found">): void {
    const ring = this.#ring;
    if (!this.#done || !ring.net || ring.table || f.q !== this.#findQ) return;
    const id = this.#wanted;
    if (f.n.id === id) return this.#done(new JoinError(`Node id ${id} is already in use`));
    // The link opened under the provisional id must not carry the real one: close it.
    ring.transport.disconnect(from.id);
    ring.id = id;
    ring.table = ring.newTable(id);
    // The join goes straight to the node found responsible (it will be this node's successor,
    // so the link is needed anyway), not again through the access point, which would route it
    // along the same hops a second time. If another node has taken the place meanwhile, the
    // found node routes the join on.
    this.#joinedVia = f.n;
    this.#sendJoin(f.n);
  }

  #sendJoin(to: NodeRef): void {
    const ring = this.#ring;
    ring.sendControl(to, {
      t: T.Join,
      k: ring.id,
      h: 1,
      ph: Phase.Approach,
      f: -1,
      j: ring.self,
    });
  }

  /** A joiner's request reached this node, responsible for its id: adopt it as predecessor. */
  onJoin(j: NodeRef): void {
    const ring = this.#ring;
    const tb = ring.table!;
    if (j.id === tb.self.id) {
      // Two joiners raced for one id and this one won; the other cannot be answered by id
      // (ids key connections), so its join times out.
      return;
    }
    const oldPred = tb.pred ?? tb.self;
    const wasAlone = tb.alone;
    ring.sink.joining(j);
    ring.sendControl(j, {
      t: T.JoinOk,
      p: oldPred,
      s: [tb.self, ...tb.succList],
      fg: tb.distinctFingers(),
    });
    ring.stabilizer.setPred(j);
    if (wasAlone) {
      tb.setSuccList(j, []);
      ring.status = "connected";
      ring.emit({ type: "newsucc", succ: j, old: null });
      ring.emit({ type: "connected" });
    } else if (oldPred.id !== tb.self.id) {
      // Tell the old predecessor that the joiner now sits between us.
      ring.sendControl(oldPred, { t: T.Stab, p: j, s: tb.succList });
    }
    ring.fingers.learn(j);
  }

  onJoinOk(_from: NodeRef, f: FrameOf<"JoinOk">): void {
    const ring = this.#ring;
    if (!this.#done || !ring.table) return;
    const tb = ring.table;
    const succs = f.s;
    const pred = f.p;
    tb.pred = pred.id === tb.self.id ? tb.self : pred;
    tb.setSuccList(succs[0], succs.slice(1));
    ring.status = "connected";
    for (const n of f.fg) ring.fingers.learn(n, false);
    for (const n of succs) ring.fingers.learn(n, false);
    ring.fingers.learn(pred, false);
    ring.startTimers();
    const done = this.#done;
    ring.emit({ type: "newpred", pred: tb.pred, old: null });
    ring.emit({ type: "newsucc", succ: tb.succ, old: null });
    ring.emit({ type: "connected" });
    ring.fingers.emitFingers(tb.fingers.map((_, i) => i));
    const bootstrap = this.#bootstrap;
    if (bootstrap && !ring.stabilizer.isNeighbour(bootstrap.id)) {
      ring.transport.disconnect(bootstrap.id);
    }
    if (tb.policy.keepAll) {
      // Full mesh: everyone must know everyone, so a joiner announces itself to all it learnt.
      for (const n of tb.mesh.values()) ring.sendControl(n, { t: T.Fix, i: -1, n: tb.self });
    }
    done(null);
    const early = this.#early;
    this.#early = [];
    for (const [from, frame] of early) ring.receive(from, frame);
    if (ring.timing.fingersOnJoin) ring.fingers.refreshAll();
  }
}
