/**
 * The simulator's in-memory network: transports that hand frames to each other through the
 * virtual clock, with per-link FIFO order (like TCP), configurable latency and loss, crashes
 * that reset links, and partitions that silently cut them.
 *
 * Frames are passed by reference by default: protocol code never mutates a frame it received
 * (except to put back the sender a first hop leaves out). With `codec`, every frame is encoded
 * and read back through the real wire codec on its way instead, validated as over TCP: the same
 * wire code then runs in the simulator's churn tests.
 *
 * @module
 */

import { ConnectError, HandshakeError } from "../errors.ts";
import { WireError } from "../wire/cbor.ts";
import { Codec, type FrameReader } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../wire/frame_decoder.ts";
import type { VirtualClock } from "./virtual_clock.ts";
import {
  type AccessPoint,
  type Frame,
  helloProblem,
  type LinkStats,
  newLinkStats,
  type NodeRef,
  type Transport,
  type TransportEvents,
} from "./transport.ts";

function samePsk(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Options of a simulated network. */
export interface MemoryNetworkOptions {
  /** Minimum one-way latency in ms. @default 1 */
  minLatency?: number;
  /** Maximum one-way latency in ms. @default 5 */
  maxLatency?: number;
  /** Probability that a data-bearing frame is lost in transit. @default 0 */
  loss?: number;
  /** Pass every frame through the wire codec (encoded, then read and validated). @default false */
  codec?: boolean;
}

/**
 * A simulated network joining many {@linkcode MemoryTransport}s.
 *
 * @example Injecting loss
 * ```ts
 * import { Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator({ seed: 3 });
 * sim.network.options.loss = 0.1; // 10 % of frames vanish from now on
 * assert.equal(sim.network.options.loss, 0.1);
 * ```
 */
export class MemoryNetwork {
  /** The clock all transports schedule on. */
  readonly clock: VirtualClock;
  readonly #random: () => number;
  readonly #nodes = new Map<number, MemoryTransport>();
  #nextPort = 1;
  /** Latency bounds and loss; may be changed between phases of a run. */
  options: Required<Omit<MemoryNetworkOptions, "codec">>;
  /** The wire codec frames pass through, when the network was made with `codec`. */
  readonly codec: Codec | null;
  /** Partition groups: two transports in different non-zero groups cannot reach each other. */
  readonly group: Map<number, number> = new Map();
  /** Frames in flight or delivered, counted for message-complexity checks. */
  framesSent = 0;

  /** Creates a network over `clock`, drawing latency and loss from `random`. */
  constructor(clock: VirtualClock, random: () => number, options?: MemoryNetworkOptions) {
    options ??= {};
    this.clock = clock;
    this.#random = random;
    this.options = {
      minLatency: options.minLatency ?? 1,
      maxLatency: options.maxLatency ?? 5,
      loss: options.loss ?? 0,
    };
    this.codec = options.codec ? new Codec() : null;
  }

  /** Creates a transport with a fresh address. */
  transport(): MemoryTransport {
    const port = this.#nextPort++;
    const t = new MemoryTransport(this, { hostname: "sim", port });
    this.#nodes.set(port, t);
    return t;
  }

  /** The live transport at `port`, if any. */
  at(port: number): MemoryTransport | undefined {
    return this.#nodes.get(port);
  }

  /** Removes a dead transport. */
  remove(port: number): void {
    this.#nodes.delete(port);
  }

  /** Whether `a` and `b` can reach each other now. */
  reachable(a: number, b: number): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  /** A latency drawn for one frame. */
  latency(): number {
    const { minLatency, maxLatency } = this.options;
    return minLatency + this.#random() * (maxLatency - minLatency);
  }

  /** Whether the next frame is lost. */
  lost(): boolean {
    return this.options.loss > 0 && this.#random() < this.options.loss;
  }
}

interface Link {
  peer: NodeRef;
  /** How the peer knows this side. */
  back: NodeRef;
  /** Virtual time at which the last frame on this link arrives (FIFO). */
  lastAt: number;
  out: boolean;
  /** The peer's side of this link. */
  twin: Link | null;
  /** Virtual time of the last frame either way. */
  used: number;
  /** Reads frames arriving on this side (with the network's codec). */
  reader: FrameReader | null;
}

/**
 * A transport on a {@linkcode MemoryNetwork}: frames go through the virtual clock.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, VirtualClock } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork(new VirtualClock(), Math.random);
 * const t = net.transport();
 * assert.equal(t.ap.hostname, "sim");
 * ```
 */
export class MemoryTransport implements Transport {
  readonly ap: AccessPoint;
  readonly stats: LinkStats = newLinkStats();
  readonly #net: MemoryNetwork;
  #events: TransportEvents | null = null;
  readonly #links = new Map<number, Link>();
  #dead = false;

  /** Use {@linkcode MemoryNetwork.transport}. */
  constructor(net: MemoryNetwork, ap: AccessPoint) {
    this.#net = net;
    this.ap = ap;
  }

  /** Whether this transport was closed or aborted. */
  get dead(): boolean {
    return this.#dead;
  }

  bind(events: TransportEvents): void {
    this.#events = events;
  }

  /** Opens a link (handshake on both sides) or explains why not. */
  #open(port: number, out: boolean): { link?: Link; error?: Error } {
    const ev = this.#events!;
    const peer = this.#net.at(port);
    const where = `${this.ap.hostname}:${port}`;
    if (!peer || peer.#dead || !peer.#events || !this.#net.reachable(this.ap.port, port)) {
      return { error: new ConnectError(`Cannot connect to ${where}: connection refused`) };
    }
    // The simulator has no frame limit to announce.
    const mine = { ...ev.hello(), mf: DEFAULT_MAX_FRAME_SIZE };
    const theirs = { ...peer.#events.hello(), mf: DEFAULT_MAX_FRAME_SIZE };
    // What a Noise handshake would settle: both ends hold the same network secret, and each
    // proves its static key (when it has one).
    const ours = ev.security;
    const their = peer.#events.security;
    if (!samePsk(ours.psk, their.psk)) {
      this.stats.badLinks++;
      peer.stats.badLinks++;
      const why = ours.psk === null
        ? "The peer's network requires a secret (net.secret), and this node has none"
        : their.psk === null
        ? "This node has a network secret, and the peer's network has none"
        : "the peer holds another network secret";
      return { error: new HandshakeError(`Handshake with ${where} failed: ${why}`) };
    }
    for (
      const [a, b, side, other] of [[mine, theirs, this, peer], [theirs, mine, peer, this]] as const
    ) {
      const key = other.#events!.security.keyPair?.publicKey ?? null;
      const why = helloProblem(b, a.id, side.#events!, key);
      if (why) {
        side.stats.badLinks++;
        return { error: new HandshakeError(`Handshake with ${where} refused: ${why}`) };
      }
    }
    const meRef = { id: mine.id, ap: { hostname: mine.host, port: mine.port } };
    const themRef = { id: theirs.id, ap: { hostname: theirs.host, port: theirs.port } };
    const now = this.#net.clock.now();
    const codec = this.#net.codec;
    const link: Link = {
      peer: themRef,
      back: meRef,
      lastAt: 0,
      out,
      twin: null,
      used: now,
      reader: codec?.reader() ?? null,
    };
    const back: Link = {
      peer: meRef,
      back: themRef,
      lastAt: 0,
      out: !out,
      twin: link,
      used: now,
      reader: codec?.reader() ?? null,
    };
    link.twin = back;
    this.#links.set(theirs.id, link);
    if (out) this.stats.linksOut++;
    else this.stats.linksIn++;
    peer.#links.set(mine.id, back);
    if (out) peer.stats.linksIn++;
    else peer.stats.linksOut++;
    return { link };
  }

  send(to: NodeRef, frame: Frame): void {
    if (this.#dead) return;
    const net = this.#net;
    let link = this.#links.get(to.id);
    if (!link) {
      const r = this.#open(to.ap.port, true);
      if (!r.link) {
        net.clock.timer(net.latency(), () => {
          if (!this.#dead) this.#events!.peerDown(to, r.error!.message, [frame]);
        });
        return;
      }
      link = r.link;
    }
    const dst = net.at(to.ap.port);
    this.stats.framesOut++;
    net.framesSent++;
    if (!dst || dst.#dead || !net.reachable(this.ap.port, to.ap.port) || net.lost()) {
      this.stats.framesDropped++;
      return;
    }
    const at = Math.max(net.clock.now() + net.latency(), link.lastAt);
    link.lastAt = at;
    link.used = at;
    if (link.twin) link.twin.used = at;
    // Frames already on the wire arrive even if either side closes the link meanwhile (as with
    // TCP's orderly close); only a dead receiver loses them.
    const from = link.back;
    const bytes = net.codec?.encode(frame) ?? null;
    const reader = link.twin!.reader;
    net.clock.timer(at - net.clock.now(), () => {
      if (dst.#dead) return;
      dst.stats.framesIn++;
      const ev = dst.#events!;
      if (bytes === null || reader === null) return ev.frame(from, frame);
      let got: Frame;
      try {
        got = reader.read(bytes, 0, bytes.length, { maxKey: ev.limits.maxKey, peer: from });
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        return ev.badFrame(from, e);
      }
      ev.frame(from, got);
    });
  }

  dial(ap: AccessPoint, done: (err: Error | null, peer?: NodeRef) => void): void {
    const net = this.#net;
    net.clock.timer(net.latency() * 2, () => {
      if (this.#dead) return done(new ConnectError("Transport is closed"));
      const r = this.#open(ap.port, true);
      if (r.error) return done(r.error);
      done(null, r.link!.peer);
    });
  }

  disconnect(peerId: number): void {
    this.#drop(peerId, "bye");
  }

  /** The simulated network has no send buffers: always ready. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  idle(ms: number): number[] {
    const since = this.#net.clock.now() - ms;
    const out: number[] = [];
    for (const [id, link] of this.#links) if (link.used < since) out.push(id);
    return out;
  }

  isLinked(peerId: number): boolean {
    return this.#links.has(peerId);
  }

  /** The simulator's links keep no per-direction times: none is reported quiet. */
  quiet(_ms: number): NodeRef[] {
    return [];
  }

  /**
   * Closes the link to `peerId`. With `bye` the peer drops its side quietly (an orderly close);
   * with `reset` it sees the link go down (a crash); with `silent` it is told nothing.
   */
  #drop(peerId: number, mode: "bye" | "reset" | "silent"): void {
    const link = this.#links.get(peerId);
    if (!link) return;
    this.#links.delete(peerId);
    if (link.out) this.stats.linksOut--;
    else this.stats.linksIn--;
    const peer = this.#net.at(link.peer.ap.port);
    if (!peer || mode === "silent") return;
    const net = this.#net;
    // The close arrives after the frames already in flight on this link.
    const at = Math.max(net.clock.now() + net.latency(), link.lastAt);
    net.clock.timer(at - net.clock.now(), () => {
      const twin = link.twin!;
      if (peer.#dead || peer.#links.get(twin.peer.id) !== twin) return;
      peer.#links.delete(twin.peer.id);
      if (twin.out) peer.stats.linksOut--;
      else peer.stats.linksIn--;
      if (mode === "reset") peer.#events!.peerDown(twin.peer, "connection reset by peer");
    });
  }

  close(): Promise<void> {
    this.#stop("bye");
    return Promise.resolve();
  }

  /** Crashes: every link is reset, as when a process is killed. */
  abort(): void {
    this.#stop("reset");
  }

  /** Vanishes without any link noticing (a host cut off): only timeouts can tell. */
  vanish(): void {
    this.#stop("silent");
  }

  #stop(mode: "bye" | "reset" | "silent"): void {
    if (this.#dead) return;
    for (const id of [...this.#links.keys()]) this.#drop(id, mode);
    this.#dead = true;
    this.#net.remove(this.ap.port);
  }
}
