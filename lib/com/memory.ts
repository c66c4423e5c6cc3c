/**
 * The simulator's in-memory transport: frames handed to other transports of the network
 * (`memory_network.ts`) through the virtual clock, with per-link FIFO order (like TCP),
 * configurable latency and loss, crashes that reset links, and partitions that silently cut them.
 *
 * Frames are passed by reference by default: protocol code never mutates a frame it received
 * (except to put back the sender a first hop leaves out). With `codec`, every frame is encoded
 * and read back through the real wire codec on its way instead, validated as over TCP: the same
 * wire code then runs in the simulator's churn tests.
 *
 * A sharded network's transports also hold links to transports in other shards (other threads or
 * processes), opened and used through messages (`memory_shard.ts`). Why one file: those links live
 * in the same table as the local ones and move the same counters, all private to the transport;
 * splitting the cross-shard half out would expose them.
 *
 * @module
 */

import { ConnectError, HandshakeError } from "../errors.ts";
import { Links } from "./memory_links.ts";
import { WireError } from "../wire/cbor.ts";
import type { Codec, FrameReader } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../wire/frame_decoder.ts";
import { ClockTask } from "./virtual_clock.ts";
import { Cross, type CrossMessage, RemoteEnd } from "./memory_shard.ts";
import type { MemoryNetwork } from "./memory_network.ts";
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

/** Whether two network secrets are the same (or both absent). */
function samePsk(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Why a node dialling with network secret `dialler` cannot link with one holding `acceptor`
 * (as the dialler is told), or `null` when they hold the same.
 */
function secretMismatch(dialler: Uint8Array | null, acceptor: Uint8Array | null): string | null {
  if (samePsk(dialler, acceptor)) return null;
  return dialler === null
    ? "The peer's network requires a secret (net.secret), and this node has none"
    : acceptor === null
    ? "This node has a network secret, and the peer's network has none"
    : "the peer holds another network secret";
}

/**
 * Resets, from port `from`, the connection `serial` (as `from`'s end holds it) that the node `id`
 * there had with port `to` in another shard: the other end drops it and reports it down.
 */
function resetAcross(net: MemoryNetwork, to: number, from: number, serial: number, id: number) {
  net.outbox.push({
    k: Cross.Close,
    at: net.clock.now() + net.latency(),
    to,
    from,
    serial,
    id,
    reset: true,
  });
}

/** Handles a message from another shard at its time (set up by `MemoryTransport`). */
let arrive: (net: MemoryNetwork, m: CrossMessage) => void;

/** A message from another shard, due at its `at` (see {@linkcode MemoryNetwork.deliver}). */
export class Arrival extends ClockTask {
  readonly #net: MemoryNetwork;
  readonly #m: CrossMessage;
  constructor(net: MemoryNetwork, m: CrossMessage) {
    super();
    this.#net = net;
    this.#m = m;
  }
  run(): void {
    arrive(this.#net, this.#m);
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
  readonly #links = new Links<MemoryTransport | RemoteEnd>();
  /** Connections from other shards this end refused: frames on them are dropped, not read. */
  #refused: Set<number> | null = null;
  /** Dials to other shards waiting for their answer, by connection number. */
  #dials: Map<number, (err: Error | null, peer?: NodeRef) => void> | null = null;
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
  #open(port: number, to: NodeRef | null): { peer?: MemoryTransport | RemoteEnd; error?: Error } {
    if (to && this.#net.remote(port)) {
      if (!this.#net.reachable(this.ap.port, port)) {
        return {
          error: new ConnectError(
            `Cannot connect to ${this.ap.hostname}:${port}: connection refused`,
          ),
        };
      }
      this.#openRemote(port, to);
      return { peer: this.#links.peers[this.#links.find(to.id)] };
    }
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
    const mismatch = secretMismatch(ours.psk, their.psk);
    if (mismatch) {
      this.#badLinks++;
      peer.#badLinks++;
      return { error: new HandshakeError(`Handshake with ${where} failed: ${mismatch}`) };
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
    const serial = net.nextSerial();
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

  /**
   * Opens a connection to `port`, in another shard: `Open` goes out now, and the answer comes a
   * round trip later. With `to` (the node the caller means to reach), the link is keyed by its
   * id and usable at once: frames follow the `Open`, and a refusal reports the link down and hands
   * back the frames sent on it. Without, it is a dial: the link is made when `Accept` comes.
   * Returns the connection's number.
   */
  #openRemote(port: number, to: NodeRef | null): number {
    const ev = this.#events!;
    const net = this.#net;
    const hello = { ...ev.hello(), mf: DEFAULT_MAX_FRAME_SIZE };
    const me = this.#refFor(hello.id, hello.host, hello.port);
    const serial = net.nextSerial();
    const at = net.clock.now() + net.latency();
    net.outbox.push({
      k: Cross.Open,
      at,
      to: port,
      from: this.ap.port,
      serial,
      id: me.id,
      hello,
      psk: ev.security.psk,
      key: ev.security.keyPair?.publicKey ?? null,
      expect: to?.id,
    });
    if (to) {
      this.#replaced(to.id);
      const end = new RemoteEnd(port, to);
      end.unacked = [];
      this.#links.set(to.id, end, serial, at);
      this.#linksOut++;
    }
    return serial;
  }

  /** Sends `frame` on link `i`, whose other end is in another shard: as bytes, after the window. */
  #sendRemote(i: number, end: RemoteEnd, frame: Frame): void {
    const net = this.#net;
    const links = this.#links;
    if (!net.reachable(this.ap.port, end.port) || net.lost()) {
      this.#framesDropped++;
      return;
    }
    const at = Math.max(net.clock.now() + net.latency(), links.sent[i]);
    links.sent[i] = at;
    end.unacked?.push(frame);
    net.outbox.push({
      k: Cross.Frame,
      at,
      to: end.port,
      from: this.ap.port,
      serial: links.serials[i],
      id: this.#ref!.id,
      bytes: net.wire.encode(frame),
    });
  }

  static {
    arrive = (net, m) => {
      // Only live transports are found (a transport leaves the table as it stops).
      const t = net.at(m.to);
      if (m.k === Cross.Open) return MemoryTransport.#accept(net, t, m);
      if (!t) {
        // The dialler is gone: the end that accepted must not keep the link.
        if (m.k === Cross.Accept) resetAcross(net, m.from, m.to, -m.serial, m.expect!);
        return;
      }
      if (m.k === Cross.Frame) t.#arrived(m);
      else if (m.k === Cross.Close) t.#closedBy(m);
      else t.#answered(m);
    };
  }

  /** A connection from another shard reached `t` (or nobody): accept it, or say why not. */
  static #accept(net: MemoryNetwork, t: MemoryTransport | undefined, m: CrossMessage): void {
    const refuse = (why: string, handshake: boolean): void => {
      if (t) (t.#refused ??= new Set()).add(m.serial);
      net.outbox.push({
        k: Cross.Refused,
        at: net.clock.now() + net.latency(),
        to: m.from,
        from: m.to,
        // As the refusing end would have held it.
        serial: -m.serial,
        id: m.expect ?? NaN,
        why,
        handshake,
      });
    };
    const where = `${m.hello!.host}:${m.to}`;
    const ev = t ? t.#events : null;
    if (!t || !ev || !net.reachable(m.from, m.to)) {
      return refuse(`Cannot connect to ${where}: connection refused`, false);
    }
    const ours = ev.security;
    const mismatch = secretMismatch(m.psk ?? null, ours.psk);
    if (mismatch) {
      t.#badLinks++;
      return refuse(`Handshake with ${where} failed: ${mismatch}`, true);
    }
    const hello = { ...ev.hello(), mf: DEFAULT_MAX_FRAME_SIZE };
    const why = helloProblem(m.hello!, hello.id, ev, m.key ?? null);
    if (why) {
      t.#badLinks++;
      return refuse(`Handshake with ${where} refused: ${why}`, true);
    }
    if (m.expect !== undefined && m.expect !== hello.id) {
      return refuse(`Handshake with ${where} refused: the node there is ${hello.id}`, true);
    }
    t.#refFor(hello.id, hello.host, hello.port);
    const at = net.clock.now() + net.latency();
    const ref = net.remoteRef(m.id, m.hello!.host, m.hello!.port);
    t.#replaced(m.id);
    // Frames on it leave after the answer, which they cannot overtake.
    t.#links.set(m.id, new RemoteEnd(m.from, ref), -m.serial, at);
    t.#linksIn++;
    net.outbox.push({
      k: Cross.Accept,
      at,
      to: m.from,
      from: m.to,
      serial: -m.serial,
      id: hello.id,
      hello,
      key: ours.keyPair?.publicKey ?? null,
      expect: m.id,
    });
  }

  /** The other shard answered a connection this end opened (`Accept` or `Refused`). */
  #answered(m: CrossMessage): void {
    const serial = -m.serial;
    const done = this.#dials?.get(serial);
    if (done) {
      this.#dials!.delete(serial);
      if (this.#dials!.size === 0) this.#dials = null;
    }
    const refused = m.k === Cross.Refused;
    const error = refused
      ? (m.handshake ? new HandshakeError(m.why!) : new ConnectError(m.why!))
      : null;
    const problem = error || !this.#events
      ? null
      : helloProblem(m.hello!, this.#ref!.id, this.#events, m.key ?? null);
    const ref = refused ? null : this.#net.remoteRef(m.id, m.hello!.host, m.hello!.port);
    if (done) {
      if (error) return done(error);
      if (problem) {
        this.#badLinks++;
        (this.#refused ??= new Set()).add(m.serial);
        resetAcross(this.#net, m.from, m.to, serial, this.#ref!.id);
        return done(
          new HandshakeError(`Handshake with ${m.hello!.host}:${m.from} refused: ${problem}`),
        );
      }
      this.#replaced(m.id);
      this.#links.set(m.id, new RemoteEnd(m.from, ref!), serial, this.#net.clock.now());
      this.#linksOut++;
      return done(null, ref!);
    }
    // A link used at once: it stays unless refused or its handshake fails; then the frames sent
    // on it go back to the owner, as from a link refused on one network.
    const i = this.#links.find(m.id);
    if (i < 0 || this.#links.serials[i] !== serial) return;
    const end = this.#links.peers[i] as RemoteEnd;
    const unsent = end.unacked ?? [];
    end.unacked = null;
    if (!(refused || problem)) return;
    if (problem) {
      this.#badLinks++;
      (this.#refused ??= new Set()).add(m.serial);
      this.#drop(m.id, "reset");
    } else {
      this.#links.remove(i);
      this.#uncount(serial);
    }
    this.#events!.peerDown(end.ref, refused ? m.why! : `Handshake refused: ${problem}`, unsent);
  }

  /** A frame from another shard arrived (read through the wire codec, as over TCP). */
  #arrived(m: CrossMessage): void {
    if (this.#refused?.has(m.serial)) {
      this.#framesDropped++;
      return;
    }
    this.#framesIn++;
    const ev = this.#events!;
    const i = this.#links.find(m.id);
    let from: NodeRef;
    if (i >= 0 && this.#links.serials[i] === -m.serial) {
      const end = this.#links.peers[i] as RemoteEnd;
      end.lastIn = m.at;
      from = end.ref;
    } else from = this.#net.remoteRef(m.id, this.ap.hostname, m.from);
    const bytes = m.bytes!;
    let got: Frame;
    try {
      const net = this.#net;
      got = net.wireReader.read(bytes, 0, bytes.length, {
        maxKey: ev.limits.maxKey,
        peer: from,
        maxPort: Number.MAX_SAFE_INTEGER,
        intern: net.remoteRef,
      });
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return ev.badFrame(from, e);
    }
    ev.frame(from, got);
  }

  /** The other end, in another shard, closed a connection. */
  #closedBy(m: CrossMessage): void {
    const links = this.#links;
    const j = links.find(m.id);
    if (j < 0 || links.serials[j] !== -m.serial) return;
    const ref = (links.peers[j] as RemoteEnd).ref;
    links.remove(j);
    this.#uncount(-m.serial);
    if (m.reset) this.#events!.peerDown(ref, "connection reset by peer");
  }

  send(to: NodeRef, frame: Frame): void {
    if (this.#dead) return;
    const net = this.#net;
    const links = this.#links;
    let i = links.find(to.id);
    if (i < 0) {
      const r = this.#open(to.ap.port, to);
      if (!r.peer) {
        net.clock.timer(net.latency(), () => {
          if (!this.#dead) this.#events!.peerDown(to, r.error!.message, [frame]);
        });
        return;
      }
      // Keyed by the id the peer presented, which a stale record may not carry.
      i = links.find(r.peer instanceof RemoteEnd ? r.peer.ref.id : r.peer.#ref!.id);
    }
    this.#framesOut++;
    net.framesSent++;
    const byType = net.framesByType, t = frame.t;
    if (t >>> 0 === t && t < byType.length) byType[t]++;
    const end = links.peers[i]!;
    if (end instanceof RemoteEnd) return this.#sendRemote(i, end, frame);
    // The frame goes to whoever listens at the address it names (normally this connection's
    // other end; the network's table only when they differ).
    const same = to === end.#ref || end.ap.port === to.ap.port;
    const dst = same ? (end.#dead ? undefined : end) : net.at(to.ap.port);
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
          maxPort: Number.MAX_SAFE_INTEGER,
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
    if (net.remote(ap.port) && !this.#dead && net.reachable(this.ap.port, ap.port)) {
      // Open, then wait for the other end's answer (a round trip, as here below).
      const serial = this.#openRemote(ap.port, null);
      (this.#dials ??= new Map()).set(serial, done);
      return;
    }
    net.clock.timer(net.latency() * 2, () => {
      if (this.#dead) return done(new ConnectError("Transport is closed"));
      const r = this.#open(ap.port, null);
      if (r.error) return done(r.error);
      done(null, (r.peer as MemoryTransport).#ref!);
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
      const end = peers[i]!;
      if (end instanceof RemoteEnd) {
        if (end.lastIn < since) out.push(ids[i]);
        continue;
      }
      const theirs = end.#links;
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
    if (mode === "silent" || (peer instanceof MemoryTransport && peer.#dead)) return;
    const net = this.#net;
    const me = this.#ref!;
    // The close arrives after the frames already in flight on this link.
    const at = Math.max(net.clock.now() + net.latency(), last);
    if (peer instanceof RemoteEnd) {
      net.outbox.push({
        k: Cross.Close,
        at,
        to: peer.port,
        from: this.ap.port,
        serial,
        id: me.id,
        reset: mode === "reset",
      });
      return;
    }
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
    // Dials to other shards still waiting end as a local dial of a closed transport does.
    const dials = this.#dials;
    this.#dials = null;
    for (const done of dials?.values() ?? []) {
      this.#net.clock.timer(0, () => done(new ConnectError("Transport is closed")));
    }
  }
}
