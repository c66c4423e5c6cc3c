/**
 * Backpressure across a TCP transport's links. A link whose send queue passes its high-water mark
 * is congested until it drains below half of that: local senders wait in `ready()`, and the link
 * being read when it congested (whose frames were forwarded into it) is read no further until it
 * drains — so TCP's own window slows the upstream sender instead of a relay dropping frames.
 *
 * Two guards keep this from stalling anything for long: a paused link is read again after
 * `MAX_PAUSE_MS` whatever happens (two relays forwarding heavily into each other would otherwise
 * wait for each other forever, and a peer's heartbeats are never held back long), and a sender
 * that never waits lets the event loop turn every `MAX_HOLD_MS` (reads, writes and timers run).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { LinkStats } from "../transport.ts";
import type { Link } from "./link.ts";

/** Default congestion mark of a link's send queue (1 MiB). */
export const DEFAULT_HIGH_WATER_BYTES: number = 1024 * 1024;
/** Longest a link stays unread for congestion elsewhere, ms: then one more read goes through. */
const MAX_PAUSE_MS = 200;
/**
 * A sender that awaits `send()` in a loop runs on microtasks alone while the queues have room:
 * past this many ms without the event loop turning, `ready()` lets it turn.
 */
const MAX_HOLD_MS = 5;

const READY: Promise<void> = Promise.resolve();

/** The congestion state of one transport's links. */
export class Backpressure {
  /** Queued bytes past which a link is congested. */
  readonly high: number;
  /** Queued bytes below which a congested link is not any more. */
  readonly low: number;
  /** The link whose frames are being handed to the node now (it feeds what they cause). */
  reading: Link | null = null;
  readonly #stats: LinkStats;
  readonly #congested = new Set<Link>();
  #waiters: (() => void)[] = [];
  /** When the event loop was last seen turning (a read or a yield), and calls since a check. */
  #turned = performance.now();
  #calls = 0;
  #stopped = false;

  constructor(high: number, stats: LinkStats) {
    this.high = high;
    this.low = Math.floor(high / 2);
    this.#stats = stats;
  }

  /** The event loop turned (a read completed) at `now`. */
  turned(now: number): void {
    this.#turned = now;
  }

  /** `link`'s queue grew: congest it past the high-water mark. */
  queued(link: Link): void {
    if (link.queue.queued > this.high) this.#congest(link);
  }

  /** `link`'s queue shrank (a write went out): release it below the low-water mark. */
  drained(link: Link): void {
    if (link.queue.queued < this.low) this.#decongest(link);
  }

  /** Whether the link being read must wait for the links it fed to drain. */
  mustPause(link: Link): boolean {
    return (link.blockedBy?.size ?? 0) > 0;
  }

  /** Waits until the links `link` feeds have drained, for at most `MAX_PAUSE_MS`. */
  pause(link: Link): Promise<void> {
    this.#stats.pauses++;
    return new Promise((resolve) => {
      const timer = setTimeout(done, MAX_PAUSE_MS);
      function done() {
        clearTimeout(timer);
        link.resume = null;
        resolve();
      }
      link.resume = done;
    });
  }

  /**
   * Resolves when a local sender may queue more: at once while no link is congested (letting the
   * event loop turn now and then), else once none is.
   */
  ready(): Promise<void> {
    if (this.#stopped) return READY;
    if (this.#congested.size === 0) {
      if ((++this.#calls & 63) !== 0) return READY;
      const now = performance.now();
      if (now - this.#turned < MAX_HOLD_MS) return READY;
      this.#turned = now;
      // setImmediate: after pending I/O, without the clamping a zero timeout gets.
      return new Promise((resolve) => setImmediate(resolve));
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push(resolve);
    return promise;
  }

  /** `link` is closed: it congests and blocks nothing any more. */
  release(link: Link): void {
    this.#decongest(link);
    for (const fed of link.blockedBy ?? []) fed.blocking?.delete(link);
    link.blockedBy = null;
    link.resume?.();
    this.#wake();
  }

  /** The transport stopped: nobody waits any more. */
  stop(): void {
    this.#stopped = true;
    queueMicrotask(() => this.#wake());
  }

  /**
   * `link` is over its high-water mark: local senders wait, and the link being read now (whose
   * frames are forwarded into it) is read no further until it drains.
   */
  #congest(link: Link): void {
    this.#congested.add(link);
    const feeder = this.reading;
    if (feeder === null || feeder === link) return;
    (feeder.blockedBy ??= new Set()).add(link);
    (link.blocking ??= new Set()).add(feeder);
  }

  /** `link` drained below its low-water mark (or is gone): release what waited for it. */
  #decongest(link: Link): void {
    if (!this.#congested.delete(link)) return;
    const fed = link.blocking;
    link.blocking = null;
    if (fed) {
      for (const feeder of fed) {
        feeder.blockedBy?.delete(link);
        if (feeder.blockedBy?.size === 0) feeder.resume?.();
      }
    }
    this.#wake();
  }

  /** Wakes senders waiting in ready() once no link is congested (or we stopped). */
  #wake(): void {
    if (this.#waiters.length === 0) return;
    if (!this.#stopped && this.#congested.size > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
