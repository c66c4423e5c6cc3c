/**
 * The hello protocol that opens every link, above its channel (see `channel.ts`): each end
 * presents a hello (protocol version, network, node id, access point, frame limit), checks the
 * other's, and answers `Accept` or `Refuse`. A side considers the link up only when it has
 * accepted the peer's hello AND received the peer's `Accept`: without that second step a dialer
 * could not tell a refusal from a success (checks need not be symmetric), and two ends could
 * disagree about which connections exist.
 *
 * On an encrypted link the hellos ride in the Noise handshake's payloads where they can (see
 * `channel.ts`) and everything else is sealed; the checks are the same. The peer's static key is
 * part of what is checked: it must be the key the node knows for that id, if any, and it must
 * match the id in a network that derives ids from keys.
 *
 * @module
 */

import { HandshakeError } from "../../errors.ts";
import type { Codec } from "../../wire/codec.ts";
import { encodeFrame } from "../../wire/frame_writer.ts";
import { type Frame, type FrameOf, T } from "../../wire/schema.ts";
import { type Hello, helloProblem, type NodeRef, type TransportEvents } from "../transport.ts";
import { sameKey } from "../noise/mod.ts";
import { Channel } from "./channel.ts";
import { type Link, LinkContext } from "./link.ts";
import type { Slot } from "./slots.ts";

/** A class of error a failed link is reported with. */
export type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/** What the handshake needs from the transport that runs it. */
export interface HandshakeHost {
  readonly codec: Codec;
  readonly maxFrame: number;
  readonly events: TransportEvents;
  /** Counts a connection closed for breaking the protocol. */
  badLink(): void;
  slot(id: number): Slot;
  /** The link frames for `id` go to now, if any (no slot is made). */
  active(id: number): Link | null;
  /** Starts the writer if there is something to write. */
  kick(link: Link): void;
  /** Closes `link` at once and reports it. */
  fail(link: Link, reason: string, type: ErrorClass): void;
  /** Reports that `link` is gone (it is closed or closing already). */
  lost(link: Link, reason: string, type: ErrorClass, unsent: Frame[]): void;
  /** Stops queuing on `link`; what is queued still goes out before it closes. */
  retire(link: Link, deliver: boolean, duplicate?: boolean): void;
  /** The link is up: make it the peer's link (or resolve a duplicate). */
  complete(link: Link): void;
  /** Runs a callback of the node's. */
  call(fn: () => void): void;
}

/** What went wrong in words, without the runtime's error codes. */
export function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/ \(os error \d+\)$/, "");
}

/** Starts the handshake on a connected link: preamble, Noise, hello. */
export function startHandshake(host: HandshakeHost, link: Link): void {
  const hello: Hello = { ...host.events.hello(), mf: host.maxFrame };
  link.localId = hello.id;
  link.mine = hello;
  const body = () => host.codec.encode({ t: T.Hello, ...hello });
  link.channel = new Channel(link.outbound, host.events.security, body, {
    raw: (bytes) => {
      link.raw.push(bytes);
      host.kick(link);
    },
    ready: (sealer, peerKey) => {
      link.sealer = sealer;
      link.peerKey = peerKey;
      link.secure = true;
      if (!link.channel!.helloSent) sendLinkFrame(host, link, { t: T.Hello, ...hello });
      host.kick(link);
    },
    hello: (bodyBytes) => {
      // The peer's hello, from a handshake payload: read as the frame it is.
      let frame: Frame;
      try {
        frame = host.codec.reader().read(bodyBytes, 0, bodyBytes.length, link.decoder.ctx);
      } catch (e) {
        host.badLink();
        return host.fail(
          link,
          `Malformed hello from ${link.where}: ${describeError(e)}`,
          HandshakeError,
        );
      }
      onLinkFrame(host, link, frame);
    },
    frames: (bytes) => link.decoder.push(bytes, link.onFrame, link.onBad),
  });
  link.channel.start();
}

function sendLinkFrame(host: HandshakeHost, link: Link, frame: Frame): void {
  link.ctl.push(encodeFrame(host.codec, frame, host.maxFrame));
  host.kick(link);
}

/** Sends a refusal and closes; the caller reports the failure. */
export function refuse(host: HandshakeHost, link: Link, why: string): void {
  if (link.secure) sendLinkFrame(host, link, { t: T.Refuse, why: why.slice(0, 500) });
  host.retire(link, false);
}

/** A link frame (hello, accept, refuse) while the link is being set up. */
export function onLinkFrame(host: HandshakeHost, link: Link, frame: Frame): void {
  if (frame.t === T.Refuse) return refused(host, link, frame.why);
  if (link.state === "hello") {
    if (frame.t !== T.Hello) {
      return violation(host, link, `Expected a hello frame, got a frame of type ${frame.t}`);
    }
    return onHello(host, link, frame);
  }
  if (link.state === "confirm" && frame.t === T.Accept) return host.complete(link);
  violation(
    host,
    link,
    `Handshake with ${link.where} failed: got a frame of type ${frame.t} before the peer ` +
      "accepted our hello",
  );
}

function violation(host: HandshakeHost, link: Link, why: string): void {
  host.badLink();
  host.fail(link, why, HandshakeError);
}

function refused(host: HandshakeHost, link: Link, why: string): void {
  const unsent = link.queue.takeUnsent();
  host.retire(link, false);
  host.lost(link, `Handshake with ${link.where} refused: ${why}`, HandshakeError, unsent);
}

/**
 * Why `link`'s hello for id `id` must be refused while another link to that id, whose hello was
 * accepted, is still in its handshake with another key: the node's key book does not count that
 * id as live yet, and the link that completed first would take the frames queued for it.
 */
function rivalProblem(host: HandshakeHost, link: Link, id: number): string | null {
  const rival = host.active(id);
  if (!rival || rival === link || rival.up || rival.peer?.id !== id) return null;
  if (!rival.peerKey || !link.peerKey || sameKey(rival.peerKey, link.peerKey)) return null;
  return `Node id ${id} is being linked with another key: refused`;
}

function onHello(host: HandshakeHost, link: Link, frame: FrameOf<"Hello">): void {
  const { t: _, ...h } = frame;
  let why: string | null;
  try {
    why = rivalProblem(host, link, h.id) ??
      helloProblem(h, link.localId, host.events, link.peerKey);
  } catch (e) {
    why = `Hello check failed: ${describeError(e)}`;
  }
  if (why !== null) {
    host.badLink();
    const unsent = link.queue.takeUnsent();
    refuse(host, link, why);
    host.lost(link, `Handshake with ${link.where} refused: ${why}`, HandshakeError, unsent);
    return;
  }
  const peer: NodeRef = { id: h.id, ap: { hostname: h.host, port: h.port } };
  link.peer = peer;
  link.theirs = h;
  link.decoder.ctx = new LinkContext(host.events.limits, peer);
  // Runs must fit the peer's frame limit as well as ours.
  link.runLimit = Math.min(h.mf, host.maxFrame);
  if (link.target && link.target.id !== h.id) {
    // A stale address: another node lives there now. Not a protocol violation.
    const stale = `Expected node ${link.target.id} at ${link.where}, found node ${h.id}`;
    const unsent = link.queue.takeUnsent();
    refuse(host, link, stale);
    host.lost(link, stale, HandshakeError, unsent);
    return;
  }
  const slot = link.closeWhenUp ? null : host.slot(h.id);
  if (!slot) {
    // Given up by the node: it only finishes its handshake to flush what was queued.
  } else if (!slot.active) {
    // Frames sent to this peer from now on wait for this link instead of dialing another one.
    slot.active = link;
  } else if (link.outbound && slot.active !== link) {
    // A bootstrap dial to a node we are already linked with (or dialing): use that link, so
    // that one node never has two connections of its own to the same peer.
    const other = slot.active.peer ?? peer;
    const done = link.done;
    link.done = null;
    refuse(host, link, "Already connected");
    if (done) host.call(() => done(null, other));
    return;
  }
  link.state = "confirm";
  sendLinkFrame(host, link, { t: T.Accept });
}
