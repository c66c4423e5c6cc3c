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
import { Links } from "./memory_links.ts";
import { WireError } from "../wire/cbor.ts";
import { Codec, type FrameReader } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../wire/frame_decoder.ts";
import { ClockTask, type VirtualClock } from "./virtual_clock.ts";
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
  /** The same frames by type number (`T.Join`, ...), for message-complexity checks. */
  readonly framesByType: number[] = new Array<number>(32).fill(0);
  /** Connections opened so far; each is known by its number in this count. */
  linksOpened = 0;

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
    if (this.group.size === 0) return true;
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
  readonly #net: MemoryNetwork;
  // The counters live in the transport itself, read into a record on demand: a separate record
  // would be one more scattered object touched by every frame sent and delivered.
  #framesOut = 0;
  #framesIn = 0;
  #framesDropped = 0;
  #linksOut = 0;
  #linksIn = 0;
  #badLinks = 0;
  #events: TransportEvents | null = null;
  readonly #links = new Links<MemoryTransport>();
  /** With the codec: what reads the frames arriving here, by connection number. */
  #readers: Map<number, FrameReader> | null = null;
  #dead = false;
  /**
   * How peers know this transport (one record shared by all its connections; a joiner's link
   * opened under its provisional id is closed before it takes its real one).
   */
  #ref: NodeRef | null = null;

  /** Use {@linkcode MemoryNetwork.transport}. */
  constructor(net: MemoryNetwork, ap: AccessPoint) {
    this.#net = net;
    this.ap = ap;
  }

  /** Counters: a fresh snapshot at each read (changing it changes nothing here). */
  get stats(): LinkStats {
    return {
      ...newLinkStats(),
      framesOut: this.#framesOut,
      framesIn: this.#framesIn,
      framesDropped: this.#framesDropped,
      linksOut: this.#linksOut,
      linksIn: this.#linksIn,
      badLinks: this.#badLinks,
    };
  }

  /** Whether this transport was closed or aborted. */
  get dead(): boolean {
    return this.#dead;
  }

  bind(events: TransportEvents): void {
    this.#events = events;
  }

  /** This transport as a hello presents it, reusing the record while the id stays the same. */
  #refFor(id: number, hostname: string, port: number): NodeRef {
    const r = this.#ref;
    if (r && r.id === id && r.ap.hostname === hostname && r.ap.port === port) return r;
    return (this.#ref = { id, ap: { hostname, port } });
  }

  /**
   * Opens a connection (handshake on both sides), dialled from this end: the other end, or why
   * not.
   */
  #open(port: number): { peer?: MemoryTransport; error?: Error } {
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
      this.#badLinks++;
      peer.#badLinks++;
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
        side.#badLinks++;
        return { error: new HandshakeError(`Handshake with ${where} refused: ${why}`) };
      }
    }
    const net = this.#net;
    const now = net.clock.now();
    this.#refFor(mine.id, mine.host, mine.port);
    peer.#refFor(theirs.id, theirs.host, theirs.port);
    const serial = ++net.linksOpened;
    // A link either end still had to the other (its close still on the way) is replaced.
    this.#replaced(theirs.id);
    peer.#replaced(mine.id);
    this.#links.set(theirs.id, peer, serial, now);
    this.#linksOut++;
    peer.#links.set(mine.id, this, -serial, now);
    peer.#linksIn++;
    const codec = net.codec;
    if (codec) {
      (this.#readers ??= new Map()).set(serial, codec.reader());
      (peer.#readers ??= new Map()).set(serial, codec.reader());
    }
    return { peer };
  }

  /** Forgets the link to `id` that a new one replaces: its count and, with the codec, its reader. */
  #replaced(id: number): void {
    const i = this.#links.find(id);
    if (i >= 0) this.#uncount(this.#links.serials[i]);
  }

  /**
   * Uncounts this end's connection `serial` (positive: this end dialled) and forgets its reader
   * (with the codec).
   */
  #uncount(serial: number): void {
    if (serial > 0) this.#linksOut--;
    else this.#linksIn--;
    this.#readers?.delete(Math.abs(serial));
  }

  /**
   * What reads the frames arriving at this end on connection `serial`. A frame may be sent on a
   * link this end has closed already (its close is still on the way to the sender): it still
   * arrives, as over TCP, and is read by a reader of its own.
   */
  #reader(serial: number, codec: Codec): FrameReader {
    return this.#readers?.get(Math.abs(serial)) ?? codec.reader();
  }

  send(to: NodeRef, frame: Frame): void {
    if (this.#dead) return;
    const net = this.#net;
    const links = this.#links;
    let i = links.find(to.id);
    if (i < 0) {
      const r = this.#open(to.ap.port);
      if (!r.peer) {
        net.clock.timer(net.latency(), () => {
          if (!this.#dead) this.#events!.peerDown(to, r.error!.message, [frame]);
        });
        return;
      }
      // Keyed by the id the peer presented, which a stale record may not carry.
      i = links.find(r.peer.#ref!.id);
    }
    // The frame goes to whoever listens at the address it names (normally this connection's
    // other end; the network's table only when they differ).
    const end = links.peers[i]!;
    const same = to === end.#ref || end.ap.port === to.ap.port;
    const dst = same ? (end.#dead ? undefined : end) : net.at(to.ap.port);
    this.#framesOut++;
    net.framesSent++;
    const byType = net.framesByType, t = frame.t;
    if (t >>> 0 === t && t < byType.length) byType[t]++;
    if (!dst || dst.#dead || !net.reachable(this.ap.port, dst.ap.port) || net.lost()) {
      this.#framesDropped++;
      return;
    }
    const at = Math.max(net.clock.now() + net.latency(), links.sent[i]);
    links.sent[i] = at;
    // Frames already on the wire arrive even if either side closes the link meanwhile (as with
    // TCP's orderly close); only a dead receiver loses them.
    const from = this.#ref!;
    const codec = net.codec;
    net.clock.schedule(
      at - net.clock.now(),
      codec
        ? new MemoryTransport.#Decoded(
          dst,
          from,
          codec.encode(frame),
          end.#reader(links.serials[i], codec),
        )
        : new MemoryTransport.#Delivery(dst, from, frame),
    );
  }

  /**
   * A frame in flight, passed by reference: one small object per frame (the simulator's most
   * frequent allocation), where a closure would cost its context and a timer record besides.
   */
  static #Delivery = class extends ClockTask {
    readonly #dst: MemoryTransport;
    readonly #from: NodeRef;
    readonly #frame: Frame;
    constructor(dst: MemoryTransport, from: NodeRef, frame: Frame) {
      super();
      this.#dst = dst;
      this.#from = from;
      this.#frame = frame;
    }
    run(): void {
      const dst = this.#dst;
      if (dst.#dead) return;
      dst.#framesIn++;
      dst.#events!.frame(this.#from, this.#frame);
    }
  };

  /** A frame in flight as bytes, read through the wire codec on arrival. */
  static #Decoded = class extends ClockTask {
    readonly #dst: MemoryTransport;
    readonly #from: NodeRef;
    readonly #bytes: Uint8Array;
    readonly #reader: FrameReader;
    constructor(dst: MemoryTransport, from: NodeRef, bytes: Uint8Array, reader: FrameReader) {
      super();
      this.#dst = dst;
      this.#from = from;
      this.#bytes = bytes;
      this.#reader = reader;
    }
    run(): void {
      const dst = this.#dst;
      if (dst.#dead) return;
      dst.#framesIn++;
      const ev = dst.#events!;
      const bytes = this.#bytes;
      let got: Frame;
      try {
        got = this.#reader.read(bytes, 0, bytes.length, {
          maxKey: ev.limits.maxKey,
          peer: this.#from,
        });
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        return ev.badFrame(this.#from, e);
      }
      ev.frame(this.#from, got);
    }
  };

  dial(ap: AccessPoint, done: (err: Error | null, peer?: NodeRef) => void): void {
    const net = this.#net;
    net.clock.timer(net.latency() * 2, () => {
      if (this.#dead) return done(new ConnectError("Transport is closed"));
      const r = this.#open(ap.port);
      if (r.error) return done(r.error);
      done(null, r.peer!.#ref!);
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
    const { ids, peers, serials, sent, count } = this.#links;
    const me = this.#ref;
    for (let i = 0; i < count; i++) {
      if (sent[i] >= since) continue;
      // Idle both ways: the last frame the other end sent on this connection arrived before too.
      const theirs = peers[i]!.#links;
      const j = me ? theirs.find(me.id) : -1;
      if (j < 0 || theirs.serials[j] !== -serials[i] || theirs.sent[j] < since) out.push(ids[i]);
    }
    return out;
  }

  isLinked(peerId: number): boolean {
    return this.#links.find(peerId) >= 0;
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
    const links = this.#links;
    const i = links.find(peerId);
    if (i < 0) return;
    const peer = links.peers[i]!;
    const serial = links.serials[i];
    const last = links.sent[i];
    links.remove(i);
    this.#uncount(serial);
    if (peer.#dead || mode === "silent") return;
    const net = this.#net;
    const me = this.#ref!;
    // The close arrives after the frames already in flight on this link.
    const at = Math.max(net.clock.now() + net.latency(), last);
    net.clock.timer(at - net.clock.now(), () => {
      const j = peer.#links.find(me.id);
      if (peer.#dead || j < 0 || peer.#links.serials[j] !== -serial) return;
      peer.#links.remove(j);
      peer.#uncount(-serial);
      if (mode === "reset") peer.#events!.peerDown(me, "connection reset by peer");
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
    for (const id of this.#links.ids.slice(0, this.#links.count)) this.#drop(id, mode);
    this.#dead = true;
    this.#net.remove(this.ap.port);
  }
}
