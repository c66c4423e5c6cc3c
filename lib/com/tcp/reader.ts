/**
 * The reading side of a link: one read loop per connection that feeds the channel (preamble,
 * handshake, transport messages) and hands what it yields on — link frames to the handshake,
 * frames to the node once the link is up, schema violations to the bad-frame counter — and what
 * the peer's end of the stream means in each state.
 *
 * @module
 */

import { DecryptError, FrameError, HandshakeError, LinkLostError } from "../../errors.ts";
import { WireError } from "../../wire/cbor.ts";
import { type Frame, T } from "../../wire/schema.ts";
import type { NodeRef } from "../transport.ts";
import { EncryptionMismatchError, HANDSHAKE_INPUT_LIMIT, HANDSHAKE_READ_SIZE } from "./channel.ts";
import { describeError, type ErrorClass, type HandshakeHost, onLinkFrame } from "./handshake.ts";
import type { Link } from "./link.ts";
import type { WriterHost } from "./writer.ts";

/** Most bytes read per `read` call once the link is up; one buffer per link, reused. */
const READ_SIZE = 64 * 1024;

/** What the reader needs from the transport that runs it. */
export interface ReaderHost extends HandshakeHost, WriterHost {
  /** Whether the transport stopped (nothing is delivered any more). */
  readonly stopped: boolean;
  /** Reports `link` gone with `error` (a typed error of its own). */
  lost(
    link: Link,
    reason: string,
    type: ErrorClass,
    unsent: Frame[],
    defer?: boolean,
    error?: Error,
  ): void;
  /** Releases frames held behind `link`, which can deliver nothing more. */
  undrain(link: Link): void;
  /** Whether `frame` from `from` waits behind a draining link (then it is kept). */
  hold(link: Link, from: NodeRef, frame: Frame): boolean;
}

/** Reads `conn` until it ends or fails, and closes `link` accordingly. */
export async function readLoop(host: ReaderHost, link: Link, conn: Deno.TcpConn): Promise<void> {
  const { stats, flow } = host;
  // Until the handshake completes, the peer has proved nothing and may send only small pieces
  // (see HANDSHAKE_READ_SIZE): a connection that never completes holds a small buffer, not a
  // full one, for as long as the handshake may take. Once the link is up the buffer doubles
  // each time a read fills it, up to READ_SIZE: a link that carries little (or a peer that
  // opened it and stays quiet) holds little, and a busy one reaches full-size reads within a
  // few reads, for good.
  let buf = new Uint8Array(HANDSHAKE_READ_SIZE);
  /** The last read filled the buffer. */
  let full = false;
  /** Bytes read before this read while the link was not up. */
  let early = 0;
  try {
    while (true) {
      if (full && link.up && buf.length < READ_SIZE) {
        buf = new Uint8Array(Math.min(2 * buf.length, READ_SIZE));
      }
      const n = await conn.read(buf);
      full = n === buf.length;
      if (link.state === "closed") return;
      // A link refused during its handshake leaves its input unread: nothing there is checked.
      const unread = !link.up && link.state === "closing";
      if (n === null) {
        if (!unread) {
          link.channel!.end();
          link.decoder.end();
        }
        ended(host, link);
        return;
      }
      stats.bytesIn += n;
      if (unread) continue;
      if (!link.up) {
        // A read that completes the handshake may carry the first frames after it; the reads
        // before it carry nothing else.
        if (early > HANDSHAKE_INPUT_LIMIT) {
          throw new FrameError(
            `${early} bytes arrived before the handshake completed, over the ` +
              `${HANDSHAKE_INPUT_LIMIT}-byte limit`,
          );
        }
        early += n;
      }
      // Idleness is tracked per read and per write, not per frame (clock reads cost).
      const now = performance.now();
      link.used = link.readAt = now;
      flow.turned(now);
      // Received frames keep views of the bytes they arrived in (one copy of the read instead
      // of one per byte string): each read gets a buffer of its own, of its exact size —
      // except on an encrypted link, whose plaintexts are new buffers already.
      flow.reading = link;
      const channel = link.channel!;
      try {
        channel.push(channel.copiesInput ? buf.subarray(0, n) : buf.slice(0, n));
      } finally {
        flow.reading = null;
      }
      if (link.isClosed()) return;
      // Forwarding what it sent congested another link: stop reading until that drains.
      if (flow.mustPause(link)) await flow.pause(link);
      if (link.isClosed()) return;
    }
  } catch (e) {
    if (link.state === "closed") return;
    if (e instanceof DecryptError || e instanceof FrameError) {
      stats.badLinks++;
      host.fail(
        link,
        `Protocol violation by ${link.where}: ${e.message}`,
        e.constructor as ErrorClass,
      );
    } else if (e instanceof HandshakeError) {
      if (!(e instanceof EncryptionMismatchError && link.outbound)) stats.badLinks++;
      failWith(host, link, e);
    } else {
      host.fail(link, `Connection to ${link.where} lost: ${describeError(e)}`, LinkLostError);
    }
  }
}

/** Closes `link` after the handshake failed with `error` (a mismatch keeps its class). */
function failWith(host: ReaderHost, link: Link, error: Error): void {
  if (link.state === "closed") return;
  const unsent = link.queue.takeUnsent();
  host.destroy(link);
  const reason = `Handshake with ${link.where} failed: ${error.message}`;
  const typed = error instanceof EncryptionMismatchError
    ? new EncryptionMismatchError(reason, error.peerEncryption)
    : new HandshakeError(reason, { cause: error });
  host.lost(link, reason, HandshakeError, unsent, false, typed);
}

/** A frame the channel yielded on `link`. */
export function onFrame(host: ReaderHost, link: Link, frame: Frame): void {
  if (frame.t === T.Bye && link.up) {
    link.orderly = true;
    return;
  }
  switch (link.state) {
    case "open":
    case "closing":
      if (host.codec.isLinkFrame(frame.t)) {
        // Handshake frames are over once the link is up; on a link refused during its
        // handshake they are the peer's last words, and go unread.
        if (link.up) {
          onBad(host, link, new WireError("type", `Frame type ${frame.t} after the handshake`));
        }
      } else if (link.state === "open" || link.deliver) deliver(host, link, frame);
      return;
    case "hello":
    case "confirm":
      if (host.codec.isLinkFrame(frame.t)) return onLinkFrame(host, link, frame);
      host.stats.badLinks++;
      return host.fail(
        link,
        `Handshake with ${link.where} failed: got a frame of type ${frame.t} before the ` +
          "peer accepted our hello",
        HandshakeError,
      );
  }
}

/** A frame on `link` broke the schema: during the handshake the link fails, after it is dropped. */
export function onBad(host: ReaderHost, link: Link, error: WireError): void {
  if (link.up) {
    if (link.state === "open" || link.deliver) {
      host.call(() => host.events.badFrame(link.peer!, error));
    }
    return;
  }
  if (link.state === "closed" || link.state === "closing") return;
  host.stats.badLinks++;
  host.fail(link, `Protocol violation by ${link.where}: ${error.message}`, HandshakeError);
}

function deliver(host: ReaderHost, link: Link, frame: Frame): void {
  host.stats.framesIn++;
  const from = link.peer!;
  if (host.hold(link, from, frame)) return;
  if (host.stopped) return;
  host.call(() => host.events.frame(from, frame));
}

/** The peer finished sending on `link`. */
function ended(host: ReaderHost, link: Link): void {
  link.readEnded = true;
  switch (link.state) {
    case "hello":
    case "confirm": {
      // In a private network, a responder that finds the wrong secret in our last handshake
      // message can only hang up: that is what it means here.
      const secret = link.outbound && link.secure && host.events.security.psk !== null;
      host.fail(
        link,
        `Handshake with ${link.where} failed: the peer closed the connection` +
          (secret ? " (it holds another network secret, or refused us)" : ""),
        HandshakeError,
      );
      return;
    }
    case "open":
      // The peer closed the link (it disconnected, closed, or dropped this duplicate): flush
      // what we have for it, since it reads until our end, then close.
      host.retire(link, false);
      host.lost(link, "connection closed by peer", LinkLostError, []);
      return;
    case "closing":
      host.undrain(link);
      if (link.writeEnded) host.destroy(link);
      return;
  }
}
