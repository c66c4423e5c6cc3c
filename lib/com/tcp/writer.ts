/**
 * The writing side of a link: one write loop per link while it has something to write — first
 * the raw handshake bytes and link frames, then the send queue a chunk per write (sealed when the
 * link is encrypted) — and, once a closing link has written everything, the half-close.
 *
 * @module
 */

import { LinkLostError } from "../../errors.ts";
import type { LinkStats } from "../transport.ts";
import type { Backpressure } from "./flow.ts";
import { describeError, type ErrorClass } from "./handshake.ts";
import type { Link } from "./link.ts";

/** What the writer needs from the transport that runs it. */
export interface WriterHost {
  readonly stats: LinkStats;
  readonly flow: Backpressure;
  /** Keeps a loop in the set `close()` waits for. */
  track(task: Promise<void>): void;
  /** Closes the socket now, reporting nothing. */
  destroy(link: Link): void;
  /** Closes `link` at once and reports it. */
  fail(link: Link, reason: string, type: ErrorClass): void;
}

/** Starts the writer if there is something to write, or finishes a close when there is not. */
export function kick(host: WriterHost, link: Link): void {
  if (link.writing || !link.conn) return;
  const state = link.state;
  if (state === "closed") return;
  const data = link.up && link.queue.pending;
  if (link.raw.length > 0 || (link.secure && link.ctl.length > 0) || data) {
    link.writing = true;
    host.track(writeLoop(host, link, link.conn));
  } else if (state === "closing" && !link.shutting) {
    link.shutting = true;
    host.track(shutWrite(host, link, link.conn));
  }
}

async function shutWrite(host: WriterHost, link: Link, conn: Deno.TcpConn): Promise<void> {
  try {
    await conn.closeWrite();
  } catch {
    // The peer is gone already; closing below is all that is left to do.
  }
  link.writeEnded = true;
  if (link.readEnded) host.destroy(link);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of parts) size += c.length;
  const buf = new Uint8Array(size);
  let at = 0;
  for (const c of parts) {
    buf.set(c, at);
    at += c.length;
  }
  return buf;
}

/**
 * Writes the raw bytes (preamble, handshake messages) and, once the channel is ready, the link
 * frames, in one write: link frames sealed when the link is encrypted.
 */
async function writeControl(host: WriterHost, link: Link, conn: Deno.TcpConn): Promise<void> {
  const raw = link.raw;
  const ctl = link.secure ? link.ctl : [];
  link.raw = [];
  if (link.secure) link.ctl = [];
  let frames: Uint8Array = concat(ctl);
  if (link.sealer && frames.length > 0) frames = link.sealer.seal(frames);
  const buf = concat([...raw, frames]);
  for (let w = 0; w < buf.length;) w += await conn.write(buf.subarray(w));
  host.stats.bytesOut += buf.length;
  link.wroteAt = performance.now();
}

async function writeLoop(host: WriterHost, link: Link, conn: Deno.TcpConn): Promise<void> {
  // Let the rest of the current synchronous burst of send() calls join this write.
  await null;
  const { stats, flow } = host;
  try {
    while (true) {
      if (link.state === "closed") return;
      if (link.raw.length > 0 || (link.secure && link.ctl.length > 0)) {
        // Preamble, handshake messages and link frames, before anything queued.
        await writeControl(host, link, conn);
        continue;
      }
      if (!link.up || link.queue.waiting === 0) break;
      // The next chunk of what is queued (the urgent lane first) goes out in one write.
      link.used = performance.now();
      const { frames, bytes } = await link.queue.flush(
        (b) => conn.write(b),
        link.sealer,
        () => flow.drained(link),
      );
      stats.bytesOut += bytes;
      link.wroteAt = performance.now();
      if (frames >= 0) stats.framesOut += frames;
      flow.drained(link);
    }
  } catch (e) {
    link.writing = false;
    if (link.state === "closed") return;
    host.fail(link, `Connection to ${link.where} lost: ${describeError(e)}`, LinkLostError);
    return;
  }
  link.writing = false;
  kick(host, link);
}
