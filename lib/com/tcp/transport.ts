/**
 * The TCP transport: one connection per neighbour (`slots.ts`), a secured handshake on every
 * connection (`channel.ts`, `handshake.ts`), a reader (`reader.ts`) and a writer (`writer.ts`)
 * per link — the writer coalesces everything queued for a link into one write (`send_queue.ts`)
 * — backpressure across links (`flow.ts`), and caps on inbound connections still in their
 * handshake (`admission.ts`). This file runs the links' lives: listening, connecting, and what
 * happens when links come up and go.
 *
 * It stays one file of about 730 lines because what it holds is one state machine, a link's life
 * (dialed or accepted, handshaking, up, replaced by a duplicate, retiring, lost, destroyed): every
 * transition touches the slot table, the counters and the node's callbacks together.
 *
 * Closing. Links are always half-closed and read to the end before the socket is closed: closing a
 * socket with unread input makes the kernel send a reset, which can destroy frames the peer has
 * not read yet (a refusal message, the last frames of a flush).
 *
 * @module
 */

import {
  ConnectError,
  HandshakeError,
  InvalidArgumentError,
  P2PSError,
  SendQueueFullError,
} from "../../errors.ts";
import { Codec } from "../../wire/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../../wire/frame_decoder.ts";
import { type Frame, T } from "../../wire/schema.ts";
import {
  type AccessPoint,
  type LinkStats,
  newLinkStats,
  type NodeRef,
  type Transport,
  type TransportEvents,
} from "../transport.ts";
import { Backpressure, DEFAULT_HIGH_WATER_BYTES } from "./flow.ts";
import { describeError, type ErrorClass, refuse, startHandshake } from "./handshake.ts";
import {
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_PENDING_PER_ADDRESS,
  PendingHandshakes,
} from "./admission.ts";
import { type DialCallback, Link } from "./link.ts";
import { onBad, onFrame, type ReaderHost, readLoop } from "./reader.ts";
import { keeps, type Slot, Slots } from "./slots.ts";
import { kick } from "./writer.ts";

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
  /**
   * A link with this many bytes queued is congested: the links whose frames are forwarded into
   * it stop being read (so TCP's window slows their senders down) and `ready()` makes local
   * senders wait, until it drains below half of it. @default 1 MiB (at most a quarter of
   * `maxQueuedBytes`)
   */
  highWaterBytes?: number;
  /**
   * Inbound connections from one address that may be in their handshake at once. A new one
   * past this sheds the oldest of them (see `admission.ts`). @default 64
   */
  maxPendingPerAddress?: number;
  /**
   * Inbound connections that may be in their handshake at once, from all addresses. A new one
   * past this sheds the oldest pending handshake of the address with the most.
   * @default 1024
   */
  maxPendingHandshakes?: number;
}

/** Default high-water mark of a link's send queue (16 MiB). */
export const DEFAULT_MAX_QUEUED_BYTES: number = 16 * 1024 * 1024;
/** Default handshake (and closing) timeout in ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
function where(ap: AccessPoint): string {
  return `${ap.hostname}:${ap.port}`;
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
  readonly #links = new Set<Link>();
  readonly #flow: Backpressure;
  readonly #slots = new Slots();
  /** Inbound links still in their handshake. */
  readonly #pending: PendingHandshakes<Link>;
  /** Every loop and pending operation; `close()` waits for all of them. */
  readonly #tasks = new Set<Promise<void>>();
  #stopped = false;
  #closing: Promise<void> | null = null;
  #host: ReaderHost | null = null;

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
    if (this.#maxFrame > 0xffffffff) {
      throw new InvalidArgumentError(`maxFrameSize must fit in 32 bits, got ${this.#maxFrame}`);
    }
    this.#codec = options.codec ?? new Codec();
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
    this.#flow = new Backpressure(
      checkPositive(
        "highWaterBytes",
        options.highWaterBytes,
        Math.max(1, Math.min(DEFAULT_HIGH_WATER_BYTES, Math.floor(this.#maxQueued / 4))),
      ),
      this.stats,
    );
    this.#pending = new PendingHandshakes(
      checkPositive(
        "maxPendingPerAddress",
        options.maxPendingPerAddress,
        DEFAULT_MAX_PENDING_PER_ADDRESS,
      ),
      checkPositive(
        "maxPendingHandshakes",
        options.maxPendingHandshakes,
        DEFAULT_MAX_PENDING_HANDSHAKES,
      ),
    );
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
    this.#host = this.#linkHost(events);
    if (!this.#stopped) this.#track(this.#acceptLoop());
  }

  /**
   * Queues `frame` for `to`, dialing `to.ap` when there is no link. Link failures are reported
   * through `peerDown`, never thrown.
   *
   * @throws {MessageTooLargeError} when the frame is over the frame limit: that is the caller's
   * fault, not the peer's.
   */
  send(to: NodeRef, frame: Frame): void {
    if (this.#stopped) {
      this.stats.framesDropped++;
      return;
    }
    const slot = this.#slots.slot(to.id);
    let link = slot.active;
    if (!link) {
      // Queued before dialing: a frame that cannot go (too large) opens no connection.
      link = this.#newLink(true, where(to.ap), to, null);
      this.#append(link, frame);
      this.#launch(link, to.ap);
      slot.active = link;
    } else this.#append(link, frame);
    if (link.queue.queued > this.#maxQueued) {
      this.stats.badLinks++;
      const reason = `More than ${this.#maxQueued} bytes queued for ${link.where}: ` +
        "the peer is not reading";
      const unsent = link.queue.takeUnsent();
      this.#destroy(link);
      // Deferred: the node should not see a peer go down inside its own send().
      this.#lost(link, reason, SendQueueFullError, unsent, true);
      return;
    }
    this.#flow.queued(link);
    if (link.state === "open") this.#kick(link);
  }

  #append(link: Link, frame: Frame): void {
    link.queue.append(frame, this.#maxFrame, link.runLimit);
  }

  /** Opens a link to `ap` whose node id is unknown; `done` gets the peer or the failure. */
  dial(ap: AccessPoint, done: (err: Error | null, peer?: NodeRef) => void): void {
    if (this.#stopped) {
      queueMicrotask(() =>
        this.#call(() => done(new ConnectError(`Cannot connect to ${where(ap)}: transport closed`)))
      );
      return;
    }
    this.#launch(this.#newLink(true, where(ap), null, done), ap);
  }

  ready(): Promise<void> {
    return this.#flow.ready();
  }

  idle(ms: number): number[] {
    const since = performance.now() - ms;
    const out: number[] = [];
    for (const [id, slot] of this.#slots.entries()) {
      const link = slot.active;
      if (link && link.state === "open" && link.used < since && !link.queue.pending) out.push(id);
    }
    return out;
  }

  quiet(ms: number): NodeRef[] {
    const since = performance.now() - ms;
    const out: NodeRef[] = [];
    for (const [, slot] of this.#slots.entries()) {
      const link = slot.active;
      if (
        link && link.state === "open" && link.readAt >= since && link.wroteAt < since &&
        !link.queue.pending
      ) out.push(link.peer!);
    }
    return out;
  }

  isLinked(peerId: number): boolean {
    return this.#slots.get(peerId)?.active?.state === "open";
  }

  /** Flushes what is queued for `peerId`, then closes the link, without reporting it down. */
  disconnect(peerId: number): void {
    const slot = this.#slots.get(peerId);
    const link = slot?.active;
    if (!slot || !link) return;
    this.#detach(slot, link);
    this.#slots.tidy(peerId, slot);
    if (link.state === "open") {
      this.#retire(link, true);
      return;
    }
    // Not up yet: finish the handshake, flush what is queued, then close. Nothing is reported
    // for this link any more (the node asked for it), except to a pending dial().
    link.target = null;
    link.closeWhenUp = true;
    if (!link.queue.pending) {
      if (link.state === "connecting") this.#destroy(link);
      else refuse(this.#host!, link, "Disconnected");
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
        if (!link.queue.pending) this.#destroy(link);
        if (done) {
          this.#call(() =>
            done(new ConnectError(`Cannot connect to ${link.where}: transport closed`))
          );
        }
      }
    }
    this.#slots.clear();
    this.#closing = this.#drainTasks();
    return this.#closing;
  }

  /** Closes the listener and every socket at once: no flush, no events (a crash). */
  abort(): void {
    this.#stop();
    for (const link of [...this.#links]) {
      this.stats.framesDropped += link.queue.takeUnsent().length;
      link.done = null;
      this.#destroy(link);
    }
    this.#slots.clear();
  }

  // ---- lifecycle -------------------------------------------------------------------------

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#flow.stop();
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

  /** Starts connecting an outbound link. */
  #launch(link: Link, ap: AccessPoint): void {
    this.#links.add(link);
    link.timer = setTimeout(() => this.#timedOut(link), this.#timeoutMs);
    this.#track(this.#connect(link, ap));
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
      const link = this.#newLink(false, where(conn.remoteAddr), null, null);
      const shed = this.#pending.admit(conn.remoteAddr.hostname, link);
      if (shed) {
        this.stats.shedLinks++;
        this.#fail(
          shed,
          `Handshake with ${shed.where} abandoned: too many connections in their handshake`,
          HandshakeError,
        );
      }
      this.#links.add(link);
      link.timer = setTimeout(() => this.#timedOut(link), this.#timeoutMs);
      this.#start(link, conn);
    }
  }

  /** A connection is up: start its handshake and its reader. */
  #start(link: Link, conn: Deno.TcpConn): void {
    link.conn = conn;
    link.state = "hello";
    try {
      conn.setNoDelay(true);
    } catch {
      // The socket already failed; the read loop will report it.
    }
    const host = this.#host!;
    link.onFrame = (frame) => onFrame(host, link, frame);
    link.onBad = (error) => onBad(host, link, error);
    try {
      startHandshake(this.#host!, link);
    } catch (e) {
      this.#fail(
        link,
        `Cannot start a handshake with ${link.where}: ${describeError(e)}`,
        HandshakeError,
      );
      return;
    }
    this.#track(readLoop(this.#host!, link, conn));
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

  // ---- the view of the transport its handshake, reader and writer get ---------------------

  #linkHost(events: TransportEvents): ReaderHost {
    // deno-lint-ignore no-this-alias
    const transport = this;
    return {
      codec: this.#codec,
      maxFrame: this.#maxFrame,
      events,
      stats: this.stats,
      flow: this.#flow,
      get stopped() {
        return transport.#stopped;
      },
      badLink: () => this.stats.badLinks++,
      slot: (id) => this.#slots.slot(id),
      active: (id) => this.#slots.get(id)?.active ?? null,
      kick: (link) => this.#kick(link),
      track: (task) => this.#track(task),
      destroy: (link) => this.#destroy(link),
      fail: (link, reason, type) => this.#fail(link, reason, type),
      lost: (link, reason, type, unsent, defer, error) =>
        this.#lost(link, reason, type, unsent, defer, error),
      retire: (link, deliver, duplicate) => this.#retire(link, deliver, duplicate),
      undrain: (link) => this.#undrain(link),
      hold: (link, from, frame) => this.#slots.hold(link, from, frame),
      complete: (link) => this.#complete(link),
      call: (fn) => this.#call(fn),
    };
  }

  /** Both ends accepted each other: the link is up. */
  #complete(link: Link): void {
    clearTimeout(link.timer);
    link.timer = undefined;
    link.state = "open";
    link.up = true;
    // From the next frame on (this runs from the decoder's callback for the peer's accept).
    link.decoder.maxFrameSize = this.#maxFrame;
    this.#pending.remove(link);
    if (link.closeWhenUp || this.#stopped) {
      this.#retire(link, !this.#stopped);
      return;
    }
    const peer = link.peer!;
    const slot = this.#slots.slot(peer.id);
    const current = slot.active;
    if (!current || current === link || current.state !== "open") {
      if (current && current !== link) {
        // Another link to this peer was still being set up and held frames: this one is first.
        link.queue.adopt(current.queue);
      }
      slot.active = link;
      this.#count(link);
    } else if (keeps(current, link) === link) {
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

  // ---- losing links ----------------------------------------------------------------------

  /** Closes `link` at once (after a failure) and reports it. */
  #fail(link: Link, reason: string, type: ErrorClass): void {
    if (link.state === "closed") return;
    const unsent = link.queue.takeUnsent();
    this.#destroy(link);
    this.#lost(link, reason, type, unsent);
  }

  /**
   * Reports that `link` is gone: to its `dial` callback (with `error`, or a `type` made of
   * `reason`), and to the node when it was the link frames for its peer went to (unless another
   * connection to that peer is about to take over). `unsent` are frames queued on it that were
   * never written.
   */
  #lost(
    link: Link,
    reason: string,
    type: ErrorClass,
    unsent: Frame[] = link.queue.takeUnsent(),
    defer = false,
    error?: Error,
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
        this.#slots.tidy(slotId, slot);
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
    const fail = done ? () => done(error ?? new type(reason)) : null;
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
        this.#append(link, frame);
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
      this.stats.framesDropped += link.queue.takeUnsent().length;
    }
    if (duplicate || deliver) this.#slots.startDraining(link);
    clearTimeout(link.timer);
    link.timer = setTimeout(() => this.#timedOut(link), this.#timeoutMs);
    // Tell the peer this close is deliberate, so it does not take it for a crash.
    if (link.up && !duplicate) this.#requeue(link, [{ t: T.Bye }]);
    this.#kick(link);
  }

  /** `link` can deliver nothing more: release frames held behind it. */
  #undrain(link: Link): void {
    const held = this.#slots.undrain(link);
    if (!held || this.#stopped) return;
    for (const [from, frame] of held) this.#call(() => this.#events!.frame(from, frame));
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
    this.#pending.remove(link);
    this.#uncount(link);
    this.#undrain(link);
    this.#flow.release(link);
  }

  /** Starts the writer if there is something to write, or finishes a close when there is not. */
  #kick(link: Link): void {
    kick(this.#host!, link);
  }
}
