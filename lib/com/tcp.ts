/**
 * The TCP transport: one connection per neighbour, a handshake on every connection, length-prefixed
 * CBOR frames, and a writer that coalesces everything queued for a link into one write.
 *
 * Handshake. Both ends send `{t: 0, hello}` at once. Each checks the other's hello and answers
 * with `{t: 0, ok: true}` or with `{t: 1, error}` followed by a close. A side considers the link
 * up only when it has accepted the peer's hello AND received the peer's `ok`: without that second
 * step a dialer could not tell a refusal from a success (checks need not be symmetric), and two
 * ends could disagree about which connections exist.
 *
 * Duplicates. When two connections to the same peer complete (both sides dialed at once), both
 * ends keep the one dialed by the lower node id; if the same node dialed both, the newer one (a
 * node only dials again once it has given up the older one). The other connection is drained:
 * what is queued on it is still written, then it is half-closed, and it is read until the peer
 * half-closes it too. Frames arriving on the kept connection are held back until the drained one
 * ends, so a peer's frames are delivered in the order it sent them.
 *
 * Closing. Links are always half-closed and read to the end before the socket is closed: closing a
 * socket with unread input makes the kernel send a reset, which can destroy frames the peer has
 * not read yet (a refusal message, the last frames of a flush).
 *
 * @module
 */

import {
  ConnectError,
  FrameError,
  HandshakeError,
  InvalidArgumentError,
  P2PSError,
} from "../errors.ts";
import { WireError } from "../wire/cbor.ts";
import { Codec, type DecodeContext } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameDecoder } from "../wire/frame_decoder.ts";
import { encodeFrame, FrameWriter } from "../wire/frame_writer.ts";
import { T } from "../wire/schema.ts";
import {
  type AccessPoint,
  type Frame,
  type Hello,
  helloProblem,
  type LinkStats,
  newLinkStats,
  type NodeRef,
  type Transport,
  type TransportEvents,
} from "./transport.ts";

/** Options of {@linkcode TcpTransport.listen}. */
export interface TcpTransportOptions {
  /** Address to listen on. @default "127.0.0.1" */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Largest frame body sent or accepted, in bytes. @default 1 MiB */
  maxFrameSize?: number;
  /** The wire codec (one is made when not given). */
  codec?: Codec;
  /**
   * How long a connection may take to connect and complete its handshake, and how long a closing
   * link waits for the peer to finish its side, in ms. @default 5000
   */
  handshakeTimeoutMs?: number;
  /**
   * Bytes that may wait in one link's send queue. A peer that stops reading makes the queue grow;
   * past this mark the link is dropped rather than letting memory grow without bound.
   * @default 16 MiB
   */
  maxQueuedBytes?: number;
}

/** Default high-water mark of a link's send queue (16 MiB). */
export const DEFAULT_MAX_QUEUED_BYTES: number = 16 * 1024 * 1024;
/** Default handshake (and closing) timeout in ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;

const READY: Promise<void> = Promise.resolve();
/** Bytes read per `read` call; one buffer per link, reused. */
const READ_SIZE = 64 * 1024;
/** A send buffer that grew past this is not kept for reuse once written. */
const KEEP_BUFFER = 256 * 1024;
/** Largest slice handed to one socket write (senders waiting for room are woken between). */
const WRITE_SLICE = 256 * 1024;

type DialCallback = (err: Error | null, peer?: NodeRef) => void;
type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/**
 * - connecting: `Deno.connect` in progress (outbound only)
 * - hello: waiting for the peer's hello
 * - confirm: the peer's hello is accepted; waiting for its verdict on ours
 * - open: both accepted; frames flow
 * - closing: no new frames; flushing, then half-closed, reading until the peer's end
 */
type LinkState = "connecting" | "hello" | "confirm" | "open" | "closing" | "closed";

/** What frames on one link are checked against: the node's network and the link's peer. */
class LinkContext implements DecodeContext {
  constructor(readonly limits: { maxKey: number }, readonly peer: NodeRef | null) {}
  get maxKey(): number {
    return this.limits.maxKey;
  }
}

/** One TCP connection and everything queued for it. */
class Link {
  state: LinkState;
  conn: Deno.TcpConn | null = null;
  connecting: AbortController | null = null;
  /** Who the node meant to reach (links opened by `send`). */
  target: NodeRef | null;
  /** Completion callback of a `dial`. */
  done: DialCallback | null;
  /** The peer as it introduced itself. */
  peer: NodeRef | null = null;
  /** The id we presented in our hello. */
  localId = NaN;
  /** Our hello and the peer's, for the secret's proof. */
  mine: Hello | null = null;
  theirs: Hello | null = null;
  /** Handshake frames, written before any queued frame. */
  ctl: Uint8Array[] = [];
  /**
   * Queued frames from `head` on. While a write is in progress it carries `frames[head..
   * inflightEnd)`; the frames after those are already encoded, one after another, in `out`
   * (their byte ends in `ends`), waiting for the next write.
   */
  frames: Frame[] = [];
  head = 0;
  inflightEnd = 0;
  out: FrameWriter; // empty until first used: many links carry nothing
  ends: number[] = [];
  /** The buffer of the last completed write, for the next one. */
  spare: FrameWriter | null = null;
  /** Byte ends of the frames of the write in progress, its size and how much of it went out. */
  inflightEnds: number[] = [];
  inflightSize = 0;
  written = 0;
  writing = false;
  /** Changes whenever the queue is emptied from outside the writer (it then skips its update). */
  generation = 0;
  /** While closing: hand incoming frames to the node, or discard them. */
  deliver = false;
  /** Counted in its slot's `draining`: the peer may still send frames it sent before others. */
  draining = false;
  /** The handshake completed: queued frames may be written. */
  up = false;
  /**
   * Largest run of messages in one frame (see `CompactCodec.merge`): 0, no runs, until the peer's
   * hello tells its frame limit.
   */
  runLimit = 0;
  /** Closed by the node during its handshake: flush what is queued once up, then close. */
  closeWhenUp = false;
  /** Counted in `linksIn`/`linksOut`. */
  counted = false;
  /** The peer announced it is closing this link on purpose: its end is not a failure. */
  orderly = false;
  /** When a frame last went out or came in (for idle-link closing). */
  used = performance.now();
  shutting = false;
  writeEnded = false;
  readEnded = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly decoder: FrameDecoder;
  onFrame: (frame: Frame) => void = () => {};
  onBad: (error: WireError) => void = () => {};

  constructor(
    readonly outbound: boolean,
    readonly where: string,
    target: NodeRef | null,
    done: DialCallback | null,
    maxFrameSize: number,
    readonly codec: Codec,
    limits: { maxKey: number },
  ) {
    this.state = outbound ? "connecting" : "hello";
    this.target = target;
    this.done = done;
    this.out = new FrameWriter(codec);
    this.decoder = new FrameDecoder(codec.reader(), new LinkContext(limits, null), maxFrameSize);
  }

  /** Bytes queued (prefixes included) and not yet confirmed written. */
  get queued(): number {
    return this.out.length + this.inflightSize - this.written;
  }

  /** Encodes `frame` at the end of the queue. @throws {MessageTooLargeError} (nothing queued) */
  append(frame: Frame, maxFrameSize: number): void {
    this.out.append(frame, maxFrameSize, this.runLimit);
    this.frames.push(frame);
    // Negative: the frame went into the previous one's (a run, see CompactCodec.merge).
    this.ends.push(this.out.merged ? -this.out.length : this.out.length);
  }

  /**
   * Frames queued and not wholly handed to the kernel (a write in progress may have taken only
   * part of its batch); the queue is left empty.
   */
  takeUnsent(): Frame[] {
    let from = this.head;
    if (this.writing) {
      from = this.head + wholeFrames(this.inflightEnds, this.written);
    }
    const out = from === 0 ? this.frames : this.frames.slice(from);
    this.clear();
    return out;
  }

  /** Empties the queue (a write in progress finishes, but no longer updates it). */
  clear(): void {
    this.frames = [];
    this.head = this.inflightEnd = 0;
    this.out.reset(); // the batch of a write in progress is another buffer
    this.ends = [];
    this.inflightEnds = [];
    this.inflightSize = this.written = 0;
    this.generation++;
  }

  /** Takes over the queue of `other`, a link that never came up (nothing of it was written). */
  adopt(other: Link): void {
    this.frames = other.frames;
    this.head = this.inflightEnd = other.head;
    this.out = other.out;
    this.ends = other.ends;
    other.out = new FrameWriter(this.codec);
    other.frames = [];
    other.ends = [];
    other.head = other.inflightEnd = 0;
    other.generation++;
  }

  /** Whether the socket is closed (a method, so that checks after an await are not narrowed). */
  isClosed(): boolean {
    return this.state === "closed";
  }

  /** The node to name when this link is lost. */
  get ref(): NodeRef {
    return this.target ?? this.peer!;
  }
}

/**
 * How many of the queued frames whose byte ends are `ends` lie wholly within the first `written`
 * bytes of a write (the rest go back to the node when the link fails). A negative end marks a
 * frame that went into the previous one's wire frame (a run): it is only out with the whole of
 * that frame, and so are the frames of the run before it.
 *
 * @example
 * ```ts
 * import { wholeFrames } from "./tcp.ts";
 * import assert from "node:assert/strict";
 *
 * // A frame of 100 bytes, then a run of three messages ending at 300.
 * assert.equal(wholeFrames([100, 200, -250, -300], 280), 1);
 * assert.equal(wholeFrames([100, 200, -250, -300], 300), 4);
 * ```
 */
export function wholeFrames(ends: readonly number[], written: number): number {
  let i = 0;
  while (i < ends.length && Math.abs(ends[i]) <= written) i++;
  while (i > 0 && i < ends.length && ends[i] < 0) i--;
  return i;
}

/** What is known about one neighbour: its current link and links being drained. */
interface Slot {
  /** The link new frames go to: open, or still being established. */
  active: Link | null;
  /** Links to this peer that may still deliver frames sent before the active link's. */
  draining: number;
  /** Frames from the active link held until the draining links have ended. */
  held: [NodeRef, Frame][];
}

function where(ap: AccessPoint): string {
  return `${ap.hostname}:${ap.port}`;
}

function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/ \(os error \d+\)$/, "");
}

function checkPositive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * A {@linkcode Transport} over TCP. Create it with {@linkcode TcpTransport.listen}, then
 * {@linkcode TcpTransport.bind} it to its node.
 */
export class TcpTransport implements Transport {
  /** This node's access point (with the port resolved). */
  readonly ap: AccessPoint;
  /** Counters. */
  readonly stats: LinkStats = newLinkStats();
  readonly #listener: Deno.TcpListener;
  readonly #maxFrame: number;
  readonly #codec: Codec;
  readonly #timeoutMs: number;
  readonly #maxQueued: number;
  #events: TransportEvents | null = null;
  /** Links being drained, over all slots (frames from their peers may have to be held). */
  #draining = 0;
  /** The backlog at the last full count, and bytes queued since (see ready()). */
  #checkedBacklog = 0;
  #queuedSince = 0;
  readonly #links = new Set<Link>();
  #readyWaiters: (() => void)[] = [];
  /** Backlog over all links past which ready() makes senders wait. */
  readonly #softQueued: number;
  readonly #slots = new Map<number, Slot>();
  /** Every loop and pending operation; `close()` waits for all of them. */
  readonly #tasks = new Set<Promise<void>>();
  #stopped = false;
  #closing: Promise<void> | null = null;

  /**
   * Listens on `options.hostname:options.port` (default 127.0.0.1, any free port).
   *
   * @throws {InvalidArgumentError} for a bad option; {@linkcode P2PSError} when the address cannot
   * be listened on.
   */
  static listen(options: TcpTransportOptions = {}): Promise<TcpTransport> {
    try {
      return Promise.resolve(new TcpTransport(options));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private constructor(options: TcpTransportOptions) {
    this.#maxFrame = checkPositive("maxFrameSize", options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
    this.#codec = options.codec ?? new Codec();
    if (this.#maxFrame > 0xffffffff) {
      throw new InvalidArgumentError(`maxFrameSize must fit in 32 bits, got ${this.#maxFrame}`);
    }
    this.#timeoutMs = checkPositive(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      DEFAULT_HANDSHAKE_TIMEOUT_MS,
    );
    this.#maxQueued = checkPositive(
      "maxQueuedBytes",
      options.maxQueuedBytes,
      DEFAULT_MAX_QUEUED_BYTES,
    );
    this.#softQueued = Math.max(1, Math.floor(this.#maxQueued / 4));
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 0;
    try {
      this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (e) {
      throw new P2PSError(`Cannot listen on ${hostname}:${port}: ${describeError(e)}`, {
        cause: e,
      });
    }
    this.ap = { hostname, port: this.#listener.addr.port };
  }

  /** Attaches the node and starts accepting connections. */
  bind(events: TransportEvents): void {
    if (this.#events) throw new InvalidArgumentError("TcpTransport.bind() called twice");
    this.#events = events;
    if (!this.#stopped) this.#track(this.#acceptLoop());
  }

  /**
   * Queues `frame` for `to`, dialing `to.ap` when there is no link. Link failures are reported
   * through `peerDown`, never thrown.
   *
   * @throws {MessageTooLargeError} when the frame is over the frame limit or cannot be encoded:
   * that is the caller's fault, not the peer's.
   */
  send(to: NodeRef, frame: Frame): void {
    if (this.#stopped) {
      this.stats.framesDropped++;
      return;
    }
    const slot = this.#slot(to.id);
    let link = slot.active;
    if (link) {
      const before = link.out.length;
      link.append(frame, this.#maxFrame);
      this.#queuedSince += link.out.length - before;
    } else {
      // Queued before dialing: a frame that cannot go (too large) opens no connection.
      link = this.#newLink(true, where(to.ap), to, null);
      link.append(frame, this.#maxFrame);
      this.#queuedSince += link.out.length;
      this.#launch(link, to.ap);
      slot.active = link;
    }
    if (link.queued > this.#maxQueued) {
      this.stats.badLinks++;
      const reason = `More than ${this.#maxQueued} bytes queued for ${link.where}: ` +
        "the peer is not reading";
      const unsent = link.takeUnsent();
      this.#destroy(link);
      // Deferred: the node should not see a peer go down inside its own send().
      this.#lost(link, reason, HandshakeError, unsent, true);
      return;
    }
    if (link.state === "open") this.#kick(link);
  }

  /** Opens a link to `ap` whose node id is unknown; `done` gets the peer or the failure. */
  dial(ap: AccessPoint, done: (err: Error | null, peer?: NodeRef) => void): void {
    if (this.#stopped) {
      queueMicrotask(() =>
        this.#call(() => done(new ConnectError(`Cannot connect to ${where(ap)}: transport closed`)))
      );
      return;
    }
    this.#dial(ap, null, done);
  }

  ready(): Promise<void> {
    if (this.#stopped) return READY;
    // The backlog only shrinks between checks except by what was queued since: a bound on it
    // saves walking every link for each of a burst of sends.
    if (this.#checkedBacklog + this.#queuedSince < this.#softQueued) return READY;
    this.#checkedBacklog = this.#backlog();
    this.#queuedSince = 0;
    if (this.#checkedBacklog < this.#softQueued) return READY;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#readyWaiters.push(resolve);
    return promise;
  }

  #backlog(): number {
    let total = 0;
    for (const link of this.#links) total += link.queued;
    return total;
  }

  /** Wakes senders waiting in ready() once the backlog fell below the soft limit (or we stopped). */
  #wakeReady(): void {
    if (this.#readyWaiters.length === 0) return;
    if (!this.#stopped && this.#backlog() >= this.#softQueued) return;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w();
  }

  idle(ms: number): number[] {
    const since = performance.now() - ms;
    const out: number[] = [];
    for (const [id, slot] of this.#slots) {
      const link = slot.active;
      if (link && link.state === "open" && link.used < since && link.head === link.frames.length) {
        out.push(id);
      }
    }
    return out;
  }

  /** Flushes what is queued for `peerId`, then closes the link, without reporting it down. */
  disconnect(peerId: number): void {
    const slot = this.#slots.get(peerId);
    const link = slot?.active;
    if (!slot || !link) return;
    this.#detach(slot, link);
    this.#tidy(peerId, slot);
    if (link.state === "open") {
      this.#retire(link, true);
      return;
    }
    // Not up yet: finish the handshake, flush what is queued, then close. Nothing is reported
    // for this link any more (the node asked for it), except to a pending dial().
    link.target = null;
    link.closeWhenUp = true;
    if (link.head === link.frames.length) {
      if (link.state === "connecting") this.#destroy(link);
      else this.#refuse(link, "Disconnected");
    }
    const done = link.done;
    link.done = null;
    if (done) {
      this.#call(() => done(new ConnectError(`Cannot connect to ${link.where}: disconnected`)));
    }
  }

  /**
   * Stops listening, flushes and closes every link, and resolves once every socket is closed and
   * every loop has ended. Pending `dial`s fail; no `peerDown` is reported after this.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#stop();
    for (const link of [...this.#links]) {
      if (link.state === "open") {
        this.#retire(link, false);
      } else if (link.state === "closing") {
        link.deliver = false;
      } else {
        // Still in its handshake: a link with frames queued finishes it and flushes them.
        link.closeWhenUp = true;
        link.target = null;
        const done = link.done;
        link.done = null;
        if (link.head === link.frames.length) this.#destroy(link);
        if (done) {
          this.#call(() =>
            done(new ConnectError(`Cannot connect to ${link.where}: transport closed`))
          );
        }
      }
    }
    this.#slots.clear();
    this.#lastSlot = null;
    this.#closing = this.#drainTasks();
    return this.#closing;
  }

  /** Closes the listener and every socket at once: no flush, no events (a crash). */
  abort(): void {
    this.#stop();
    for (const link of [...this.#links]) {
      this.stats.framesDropped += link.takeUnsent().length;
      link.done = null;
      this.#destroy(link);
    }
    this.#slots.clear();
    this.#lastSlot = null;
  }

  // ---- lifecycle -------------------------------------------------------------------------

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    queueMicrotask(() => this.#wakeReady());
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }

  async #drainTasks(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    const forget = () => this.#tasks.delete(task);
    task.then(forget, forget);
  }

  /** Runs an event handler; a throwing handler is a bug of the node, not a reason to drop links. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      console.error("p2ps: a transport event handler threw:", e);
    }
  }

  /** The slot `#slot` returned last (sends come in runs to one peer): saves a lookup. */
  #lastSlotId = NaN;
  #lastSlot: Slot | null = null;

  #slot(id: number): Slot {
    if (id === this.#lastSlotId && this.#lastSlot) return this.#lastSlot;
    let slot = this.#slots.get(id);
    if (!slot) {
      slot = { active: null, draining: 0, held: [] };
      this.#slots.set(id, slot);
    }
    this.#lastSlotId = id;
    return (this.#lastSlot = slot);
  }

  #tidy(id: number, slot: Slot): void {
    if (!slot.active && slot.draining === 0 && slot.held.length === 0) {
      if (this.#slots.get(id) === slot) this.#slots.delete(id);
      if (this.#lastSlot === slot) this.#lastSlot = null;
    }
  }

  #count(link: Link): void {
    if (link.counted) return;
    link.counted = true;
    if (link.outbound) this.stats.linksOut++;
    else this.stats.linksIn++;
  }

  #uncount(link: Link): void {
    if (!link.counted) return;
    link.counted = false;
    if (link.outbound) this.stats.linksOut--;
    else this.stats.linksIn--;
  }

  #detach(slot: Slot, link: Link): void {
    if (slot.active === link) slot.active = null;
    this.#uncount(link);
  }

  #newLink(outbound: boolean, at: string, target: NodeRef | null, done: DialCallback | null): Link {
    return new Link(outbound, at, target, done, this.#maxFrame, this.#codec, this.#events!.limits);
  }

  #dial(ap: AccessPoint, target: NodeRef | null, done: DialCallback | null): Link {
    return this.#launch(this.#newLink(true, where(ap), target, done), ap);
  }

  /** Starts connecting an outbound link. */
  #launch(link: Link, ap: AccessPoint): Link {
    this.#links.add(link);
    link.timer = setTimeout(() => this.#timedOut(link), this.#timeoutMs);
    this.#track(this.#connect(link, ap));
    return link;
  }

  async #connect(link: Link, ap: AccessPoint): Promise<void> {
    const abort = new AbortController();
    link.connecting = abort;
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        hostname: ap.hostname,
        port: ap.port,
        transport: "tcp",
        signal: abort.signal,
      });
    } catch (e) {
      link.connecting = null;
      if (link.state !== "connecting") return;
      this.#fail(link, `Cannot connect to ${link.where}: ${describeError(e)}`, ConnectError);
      return;
    }
    link.connecting = null;
    if (link.state !== "connecting") {
      conn.close();
      return;
    }
    this.#start(link, conn);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#stopped) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#stopped || e instanceof Deno.errors.BadResource) return;
        // A transient failure (e.g. out of file descriptors): do not spin on it.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (this.#stopped) {
        conn.close();
        return;
      }
      const remote = conn.remoteAddr;
      const link = this.#newLink(false, where(remote), null, null);
      this.#links.add(link);
      link.timer = setTimeout(() => this.#timedOut(link), this.#timeoutMs);
      this.#start(link, conn);
    }
  }

  /** A connection is up: say hello and start reading. */
  #start(link: Link, conn: Deno.TcpConn): void {
    link.conn = conn;
    link.state = "hello";
    try {
      conn.setNoDelay(true);
    } catch {
      // The socket already failed; the read loop will report it.
    }
    try {
      const hello: Hello = { ...this.#events!.hello(), mf: this.#maxFrame };
      link.localId = hello.id;
      link.mine = hello;
      link.ctl.push(encodeFrame(this.#codec, { t: T.Hello, ...hello }, this.#maxFrame));
    } catch (e) {
      this.#fail(link, `Cannot say hello to ${link.where}: ${describeError(e)}`, HandshakeError);
      return;
    }
    link.onFrame = (frame) => this.#onFrame(link, frame);
    link.onBad = (error) => this.#onBad(link, error);
    this.#kick(link);
    this.#track(this.#readLoop(link, conn));
  }

  #timedOut(link: Link): void {
    link.timer = undefined;
    switch (link.state) {
      case "connecting":
        this.#fail(
          link,
          `Cannot connect to ${link.where}: no answer within ${this.#timeoutMs} ms`,
          ConnectError,
        );
        return;
      case "hello":
      case "confirm":
        this.stats.badLinks++;
        this.#fail(
          link,
          `Handshake with ${link.where} did not complete within ${this.#timeoutMs} ms`,
          HandshakeError,
        );
        return;
      case "closing":
        // The peer did not finish its side of the close in time.
        this.#destroy(link);
        return;
    }
  }

  // ---- reading ---------------------------------------------------------------------------

  async #readLoop(link: Link, conn: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(READ_SIZE);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (link.state === "closed") return;
        if (n === null) {
          link.decoder.end();
          this.#ended(link);
          return;
        }
        this.stats.bytesIn += n;
        // Idleness is tracked per read and per write, not per frame (clock reads cost).
        link.used = performance.now();
        // Received frames keep views of the bytes they arrived in (one copy of the read instead
        // of one per byte string): each read gets a buffer of its own, of its exact size.
        link.decoder.push(buf.slice(0, n), link.onFrame, link.onBad);
        if (link.isClosed()) return;
      }
    } catch (e) {
      if (link.state === "closed") return;
      if (e instanceof FrameError) {
        this.stats.badLinks++;
        this.#fail(link, `Protocol violation by ${link.where}: ${e.message}`, HandshakeError);
      } else {
        this.#fail(link, `Connection to ${link.where} lost: ${describeError(e)}`, HandshakeError);
      }
    }
  }

  #onFrame(link: Link, frame: Frame): void {
    if (frame.t === T.Bye && link.up) {
      link.orderly = true;
      return;
    }
    switch (link.state) {
      case "open":
      case "closing":
        if (this.#codec.isLinkFrame(frame.t)) {
          // Handshake frames are over once the link is up; on a link refused during its
          // handshake they are the peer's last words, and go unread.
          if (link.up) {
            this.#onBad(link, new WireError("type", `Frame type ${frame.t} after the handshake`));
          }
        } else if (link.state === "open" || link.deliver) this.#deliver(link, frame);
        return;
      case "hello":
        this.#onHello(link, frame);
        return;
      case "confirm":
        if (frame.t === T.Accept) {
          const why = this.#events!.verify?.(link.mine!, link.theirs!, frame.proof) ?? null;
          if (why !== null) {
            this.stats.badLinks++;
            const unsent = link.takeUnsent();
            this.#refuse(link, why);
            this.#lost(
              link,
              `Handshake with ${link.where} refused: ${why}`,
              HandshakeError,
              unsent,
            );
            return;
          }
          this.#complete(link);
        } else if (frame.t === T.Refuse) {
          this.#refused(link, frame.why);
        } else {
          this.stats.badLinks++;
          this.#fail(
            link,
            `Handshake with ${link.where} failed: got a frame of type ${frame.t} before the ` +
              "peer accepted our hello",
            HandshakeError,
          );
        }
        return;
    }
  }

  /** A frame on `link` broke the schema: during the handshake the link fails, after it is dropped. */
  #onBad(link: Link, error: WireError): void {
    if (link.up) {
      if (link.state === "open" || link.deliver) {
        try {
          this.#events!.badFrame(link.peer!, error);
        } catch (e) {
          console.error("p2ps: a transport event handler threw:", e);
        }
      }
      return;
    }
    if (link.state === "closed" || link.state === "closing") return;
    this.stats.badLinks++;
    this.#fail(link, `Protocol violation by ${link.where}: ${error.message}`, HandshakeError);
  }

  #deliver(link: Link, frame: Frame): void {
    this.stats.framesIn++;
    const from = link.peer!;
    if (!link.draining && this.#draining > 0) {
      const slot = this.#slots.get(from.id);
      if (slot && slot.draining > 0) {
        slot.held.push([from, frame]);
        return;
      }
    }
    if (this.#stopped) return;
    try {
      this.#events!.frame(from, frame);
    } catch (e) {
      console.error("p2ps: a transport event handler threw:", e);
    }
  }

  /** The peer finished sending on `link`. */
  #ended(link: Link): void {
    link.readEnded = true;
    switch (link.state) {
      case "hello":
      case "confirm":
        this.#fail(
          link,
          `Handshake with ${link.where} failed: the peer closed the connection`,
          HandshakeError,
        );
        return;
      case "open": {
        // The peer closed the link (it disconnected, closed, or dropped this duplicate): flush
        // what we have for it, since it reads until our end, then close.
        this.#retire(link, false);
        this.#lost(link, "connection closed by peer", HandshakeError, []);
        return;
      }
      case "closing":
        this.#undrain(link);
        if (link.writeEnded) this.#destroy(link);
        return;
    }
  }

  // ---- handshake -------------------------------------------------------------------------

  #onHello(link: Link, frame: Frame): void {
    if (frame.t === T.Refuse) {
      this.#refused(link, frame.why);
      return;
    }
    let why: string | null;
    if (frame.t !== T.Hello) {
      why = `Expected a hello frame, got a frame of type ${frame.t}`;
    } else {
      try {
        why = helloProblem(frame, link.localId, this.#events!);
      } catch (e) {
        why = `Hello check failed: ${describeError(e)}`;
      }
    }
    if (why !== null || frame.t !== T.Hello) {
      this.stats.badLinks++;
      const unsent = link.takeUnsent();
      this.#refuse(link, why!);
      this.#lost(link, `Handshake with ${link.where} refused: ${why}`, HandshakeError, unsent);
      return;
    }
    const { t: _, ...h } = frame;
    link.peer = { id: h.id, ap: { hostname: h.host, port: h.port } };
    link.decoder.ctx = new LinkContext(this.#events!.limits, link.peer);
    // Runs must fit the peer's frame limit as well as ours.
    link.runLimit = Math.min(h.mf, this.#maxFrame);
    if (link.target && link.target.id !== h.id) {
      // A stale address: another node lives there now. Not a protocol violation.
      const why = `Expected node ${link.target.id} at ${link.where}, found node ${h.id}`;
      const unsent = link.takeUnsent();
      this.#refuse(link, why);
      this.#lost(link, why, HandshakeError, unsent);
      return;
    }
    const slot = link.closeWhenUp ? null : this.#slot(h.id);
    if (!slot) {
      // Given up by the node: it only finishes its handshake to flush what was queued.
    } else if (!slot.active) {
      // Frames sent to this peer from now on wait for this link instead of dialing another one.
      slot.active = link;
    } else if (link.outbound && slot.active !== link) {
      // A bootstrap dial to a node we are already linked with (or dialing): use that link, so
      // that one node never has two connections of its own to the same peer.
      const peer = slot.active.peer ?? link.peer;
      const done = link.done;
      link.done = null;
      this.#refuse(link, "Already connected");
      if (done) this.#call(() => done(null, peer));
      return;
    }
    link.state = "confirm";
    link.theirs = h;
    let proof: string | undefined;
    try {
      proof = this.#events!.prove?.(h);
    } catch (e) {
      this.#fail(link, `Cannot prove the network secret: ${describeError(e)}`, HandshakeError);
      return;
    }
    link.ctl.push(encodeFrame(this.#codec, { t: T.Accept, proof }, this.#maxFrame));
    this.#kick(link);
  }

  #refused(link: Link, why: string): void {
    const unsent = link.takeUnsent();
    this.#retire(link, false);
    this.#lost(link, `Handshake with ${link.where} refused: ${why}`, HandshakeError, unsent);
  }

  /** Sends a refusal and closes; the caller reports the failure. */
  #refuse(link: Link, why: string): void {
    link.ctl.push(
      encodeFrame(this.#codec, { t: T.Refuse, why: why.slice(0, 500) }, this.#maxFrame),
    );
    this.#retire(link, false);
  }

  /** Both ends accepted each other: the link is up. */
  #complete(link: Link): void {
    clearTimeout(link.timer);
    link.timer = undefined;
    link.state = "open";
    link.up = true;
    if (link.closeWhenUp || this.#stopped) {
      this.#retire(link, !this.#stopped);
      return;
    }
    const peer = link.peer!;
    const slot = this.#slot(peer.id);
    const current = slot.active;
    if (!current || current === link || current.state !== "open") {
      if (current && current !== link) {
        // Another link to this peer was still being set up and held frames: this one is first.
        link.adopt(current);
      }
      slot.active = link;
      this.#count(link);
    } else if (this.#keeps(current, link) === link) {
      this.#detach(slot, current);
      slot.active = link;
      this.#count(link);
      this.#retire(current, true, true);
    } else {
      this.#retire(link, true, true);
    }
    this.#kick(link);
    const done = link.done;
    link.done = null;
    link.target = null;
    if (done) this.#call(() => done(null, peer));
  }

  /** Which of two open links to the same peer both ends keep. */
  #keeps(older: Link, newer: Link): Link {
    const a = older.outbound ? older.localId : older.peer!.id;
    const b = newer.outbound ? newer.localId : newer.peer!.id;
    if (a !== b) return a < b ? older : newer;
    return newer;
  }

  // ---- losing links ----------------------------------------------------------------------

  /** Closes `link` at once (after a failure) and reports it. */
  #fail(link: Link, reason: string, type: ErrorClass): void {
    if (link.state === "closed") return;
    const unsent = link.takeUnsent();
    this.#destroy(link);
    this.#lost(link, reason, type, unsent);
  }

  /**
   * Reports that `link` is gone: to its `dial` callback, and to the node when it was the link
   * frames for its peer went to (unless another connection to that peer is about to take over).
   * `unsent` are frames queued on it that were never written.
   */
  #lost(
    link: Link,
    reason: string,
    type: ErrorClass,
    unsent: Frame[] = link.takeUnsent(),
    defer = false,
  ): void {
    const done = link.done;
    link.done = null;
    let slotId: number | undefined;
    for (const id of [link.target?.id, link.peer?.id]) {
      if (id !== undefined && this.#slots.get(id)?.active === link) slotId = id;
    }
    let down: (() => void) | null = null;
    if (slotId !== undefined) {
      const slot = this.#slots.get(slotId)!;
      this.#detach(slot, link);
      const next = this.#successor(slotId, link);
      if (next) {
        slot.active = next;
        this.#requeue(next, unsent);
      } else {
        this.stats.framesDropped += unsent.length;
        this.#tidy(slotId, slot);
        // A link that never came up was news to the node only if it sent something over it.
        const known = link.up || link.target !== null || unsent.length > 0;
        const ref = link.ref;
        if (link.orderly) {
          // The peer closed on purpose and is alive: what had not gone out goes on a new link.
          this.stats.framesDropped -= unsent.length;
          if (unsent.length && !this.#stopped) {
            queueMicrotask(() => unsent.forEach((f) => this.send(ref, f)));
          }
        } else if (known && !this.#stopped) {
          down = () => this.#events!.peerDown(ref, reason, unsent);
        }
      }
    } else if (unsent.length > 0) {
      // Nothing waits on this link any more (a dropped duplicate): its frames go to the link
      // that replaced it.
      const next = link.peer ? this.#slots.get(link.peer.id)?.active : undefined;
      if (next && next !== link) this.#requeue(next, unsent);
      else this.stats.framesDropped += unsent.length;
    }
    const fail = done ? () => done(new type(reason)) : null;
    const report = () => {
      if (down) this.#call(down);
      if (fail) this.#call(fail);
    };
    if (defer) queueMicrotask(report);
    else report();
  }

  #requeue(link: Link, frames: Frame[]): void {
    for (const frame of frames) {
      try {
        const before = link.out.length;
        link.append(frame, this.#maxFrame);
        this.#queuedSince += link.out.length - before;
      } catch {
        // It went through send() once: only a value changed since could fail here.
        this.stats.framesDropped++;
      }
    }
    if (link.state === "open") this.#kick(link);
  }

  /** Another connection to `id` whose handshake is under way and can take over from `gone`. */
  #successor(id: number, gone: Link): Link | null {
    for (const link of this.#links) {
      if (
        link !== gone && link.state === "confirm" && link.peer?.id === id && !link.closeWhenUp
      ) return link;
    }
    return null;
  }

  /**
   * Stops queuing on `link`: what is queued is still written, then it is half-closed and read
   * until the peer's end (delivering what arrives when `deliver`), then closed.
   */
  #retire(link: Link, deliver: boolean, duplicate = false): void {
    if (link.state === "closing" || link.state === "closed") return;
    link.state = "closing";
    link.deliver = deliver && !this.#stopped;
    if (!link.up) {
      // Only handshake frames may go out on a link that never came up; callers took the rest.
      this.stats.framesDropped += link.takeUnsent().length;
    }
    if ((duplicate || deliver) && !link.readEnded && link.peer) {
      link.draining = true;
      this.#slot(link.peer.id).draining++;
      this.#draining++;
    }
    clearTimeout(link.timer);
    link.timer = setTimeout(() => this.#timedOut(link), this.#timeoutMs);
    // Tell the peer this close is deliberate, so it does not take it for a crash.
    if (link.up && !duplicate) this.#requeue(link, [{ t: T.Bye }]);
    this.#kick(link);
  }

  /** `link` can deliver nothing more: release frames held behind it. */
  #undrain(link: Link): void {
    if (!link.draining) return;
    link.draining = false;
    this.#draining--;
    const id = link.peer!.id;
    const slot = this.#slots.get(id);
    if (!slot) return;
    slot.draining--;
    if (slot.draining > 0) return;
    const held = slot.held;
    slot.held = [];
    if (!this.#stopped) {
      for (const [from, frame] of held) {
        try {
          this.#events!.frame(from, frame);
        } catch (e) {
          console.error("p2ps: a transport event handler threw:", e);
        }
      }
    }
    this.#tidy(id, slot);
  }

  /** Closes the socket now. Reports nothing. */
  #destroy(link: Link): void {
    if (link.state === "closed") return;
    link.state = "closed";
    clearTimeout(link.timer);
    link.timer = undefined;
    link.connecting?.abort();
    try {
      link.conn?.close();
    } catch {
      // Already closed.
    }
    this.#links.delete(link);
    this.#uncount(link);
    this.#undrain(link);
    this.#wakeReady();
  }

  // ---- writing ---------------------------------------------------------------------------

  /** Starts the writer if there is something to write, or finishes a close when there is not. */
  #kick(link: Link): void {
    if (link.writing || !link.conn) return;
    const state = link.state;
    if (state === "closed") return;
    const data = link.up && link.head < link.frames.length;
    if (link.ctl.length > 0 || data) {
      link.writing = true;
      this.#track(this.#writeLoop(link, link.conn));
    } else if (state === "closing" && !link.shutting) {
      link.shutting = true;
      this.#track(this.#shutWrite(link, link.conn));
    }
  }

  async #shutWrite(link: Link, conn: Deno.TcpConn): Promise<void> {
    try {
      await conn.closeWrite();
    } catch {
      // The peer is gone already; closing below is all that is left to do.
    }
    link.writeEnded = true;
    if (link.readEnded) this.#destroy(link);
  }

  async #writeLoop(link: Link, conn: Deno.TcpConn): Promise<void> {
    // Let the rest of the current synchronous burst of send() calls join this write.
    await null;
    let generation = link.generation;
    try {
      while (true) {
        if (link.state === "closed") return;
        if (link.ctl.length > 0) {
          // Handshake frames, before anything queued.
          let size = 0;
          for (const c of link.ctl) size += c.length;
          const buf = new Uint8Array(size);
          let at = 0;
          for (const c of link.ctl) {
            buf.set(c, at);
            at += c.length;
          }
          link.ctl = [];
          for (let w = 0; w < size;) w += await conn.write(buf.subarray(w));
          this.stats.bytesOut += size;
          continue;
        }
        if (!link.up || link.out.length === 0) break;
        // Everything queued so far goes out in one write; later frames go to a fresh buffer.
        generation = link.generation;
        const batch = link.out;
        link.out = link.spare ?? new FrameWriter(this.#codec);
        link.spare = null;
        link.inflightEnds = link.ends;
        link.ends = [];
        link.inflightEnd = link.frames.length;
        link.inflightSize = batch.length;
        link.written = 0;
        link.used = performance.now();
        const bytes = batch.bytes();
        let written = 0;
        while (written < bytes.length) {
          const slice = Math.min(bytes.length, written + WRITE_SLICE);
          written += await conn.write(
            written === 0 && slice === bytes.length ? bytes : bytes.subarray(written, slice),
          );
          if (link.generation === generation) {
            link.written = written;
            if (written < bytes.length) this.#wakeReady();
          }
        }
        this.stats.bytesOut += bytes.length;
        if (link.generation !== generation) continue;
        this.stats.framesOut += batch.count;
        link.head = link.inflightEnd;
        link.inflightSize = link.written = 0;
        batch.reset();
        if (batch.capacity <= KEEP_BUFFER) link.spare = batch;
        if (link.head === link.frames.length) {
          link.frames = [];
          link.head = link.inflightEnd = 0;
        } else if (link.head > 1024 && link.head * 2 > link.frames.length) {
          link.frames = link.frames.slice(link.head);
          link.head = link.inflightEnd = 0;
        }
        this.#wakeReady();
      }
    } catch (e) {
      link.writing = false;
      if (link.state === "closed") return;
      if (link.generation === generation && link.inflightEnd > link.head) {
        // Frames wholly handed to the kernel count as sent; the rest of the batch was not.
        link.head += wholeFrames(link.inflightEnds, link.written);
        link.inflightEnd = link.head;
        link.inflightSize = link.written = 0;
      }
      this.#fail(link, `Connection to ${link.where} lost: ${describeError(e)}`, HandshakeError);
      return;
    }
    link.writing = false;
    this.#kick(link);
  }
}
