/**
 * The bytes of a TCP link below its frames: a preamble, then either a Noise handshake and sealed
 * transport messages, or plain frames.
 *
 * Every link starts with a 6-byte preamble from each end: `p2ps`, the protocol version and the
 * link's security (0 in the clear, 1 Noise, 2 Noise with a network secret). Ends that disagree
 * close the link, and the dialer learns the other end's choice from its preamble (a joiner
 * adopts its network's encryption; a secret must be given).
 *
 * With Noise, the initiator and responder run `Noise_XX_25519_ChaChaPoly_SHA256`, or
 * `Noise_XXpsk3_25519_ChaChaPoly_SHA256` in a private network, each handshake message preceded
 * by its length (2 bytes, big-endian); the prologue binds the protocol version. The hellos ride
 * in the handshake payloads: the initiator's in message 3; the responder's in message 2 in an
 * open network. In a private network the responder's message 2 payload is empty and it sends its
 * hello as its first sealed frame, once message 3 proved the secret: an outsider who dials a
 * member learns its static public key (XX sends it in message 2) and nothing else. After the
 * handshake every byte is sealed (see `TransportSealer`: one seal per write, split into as few
 * transport messages as fit). A tampered, replayed, reordered or truncated message fails to open
 * and ends the link.
 *
 * @module
 */

import { FrameError, HandshakeError, NoiseError } from "../../errors.ts";
import {
  handshakeMessageLength,
  HandshakeState,
  type HandshakeState as NoiseHandshake,
  LENGTH_PREFIX_SIZE,
  type NoiseProtocol,
  resolveProtocol,
  TAG_SIZE,
  TransportOpener,
  TransportSealer,
} from "../noise/mod.ts";
import { FRAME_HEADER_SIZE } from "../../wire/frame_writer.ts";
import { type Encryption, type LinkSecurity, PROTOCOL_VERSION } from "../transport.ts";
import { LARGEST_HELLO_BODY, LARGEST_LINK_FRAME_BODY } from "./handshake_size.ts";

export type { Encryption, LinkSecurity } from "../transport.ts";

/** Bytes of the preamble each end sends first. */
export const PREAMBLE_SIZE = 6;
const MAGIC = [0x70, 0x32, 0x70, 0x73]; // "p2ps"
/** The security a preamble announces. */
type Mode = 0 | 1 | 2;

function modeOf(security: LinkSecurity): Mode {
  return security.encryption === "none" ? 0 : security.psk ? 2 : 1;
}
const PROLOGUE = new TextEncoder().encode(`p2ps/${PROTOCOL_VERSION}`);
const XX: NoiseProtocol = resolveProtocol("Noise_XX_25519_ChaChaPoly_SHA256");
const XX_PSK3: NoiseProtocol = resolveProtocol("Noise_XXpsk3_25519_ChaChaPoly_SHA256");
const EMPTY = new Uint8Array(0);
/** Bytes of the length that precedes each handshake message. */
const HANDSHAKE_LENGTH_SIZE = 2;

/** The longest handshake message of `protocol` a peer may send: its payloads carry hellos. */
function largestHandshakeMessage(protocol: NoiseProtocol): number {
  return Math.max(
    ...protocol.pattern.messages.map((_, i) =>
      handshakeMessageLength(protocol, i, LARGEST_HELLO_BODY)
    ),
  );
}

/** Bytes of all handshake messages of `protocol`, with their lengths and the largest hellos. */
function handshakeBytes(protocol: NoiseProtocol): number {
  return protocol.pattern.messages.reduce(
    (n, _, i) =>
      n + HANDSHAKE_LENGTH_SIZE + handshakeMessageLength(protocol, i, LARGEST_HELLO_BODY),
    0,
  );
}

/** The most bytes one link frame takes on the wire: sealed, in a transport message of its own. */
const LARGEST_LINK_FRAME = LENGTH_PREFIX_SIZE + FRAME_HEADER_SIZE + LARGEST_LINK_FRAME_BODY +
  TAG_SIZE;

/**
 * The most bytes one piece of what a peer legally sends before its link is up takes on the
 * wire: the preamble, a handshake message with its length, or a link frame (plain, or sealed in
 * one transport message). A connection in its handshake is read with a buffer of this size.
 *
 * @example
 * ```ts
 * import { HANDSHAKE_READ_SIZE, PREAMBLE_SIZE } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(HANDSHAKE_READ_SIZE > PREAMBLE_SIZE && HANDSHAKE_READ_SIZE < 1024);
 * ```
 */
export const HANDSHAKE_READ_SIZE: number = Math.max(
  PREAMBLE_SIZE,
  HANDSHAKE_LENGTH_SIZE + largestHandshakeMessage(XX),
  HANDSHAKE_LENGTH_SIZE + largestHandshakeMessage(XX_PSK3),
  LARGEST_LINK_FRAME,
);

/**
 * The most bytes a peer may send before its link is up, whatever its role and its network's
 * security: its preamble, every message of the handshake pattern (as if it sent them all), a
 * hello, an accept and a refusal, each at its largest. A peer that sends more without completing
 * its handshake breaks the protocol; nothing it sends makes the connection hold more than this.
 *
 * @example
 * ```ts
 * import { HANDSHAKE_INPUT_LIMIT, HANDSHAKE_READ_SIZE } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(HANDSHAKE_INPUT_LIMIT > 3 * HANDSHAKE_READ_SIZE && HANDSHAKE_INPUT_LIMIT < 8192);
 * ```
 */
export const HANDSHAKE_INPUT_LIMIT: number = PREAMBLE_SIZE +
  Math.max(handshakeBytes(XX), handshakeBytes(XX_PSK3)) + 3 * LARGEST_LINK_FRAME;

/** Whose turn it is (a function, so that checks after a state change are not narrowed away). */
function turnOf(noise: NoiseHandshake): NoiseHandshake["turn"] {
  return noise.turn;
}

/** The other end chose another encryption: a dialer may adopt it (see `peerEncryption`). */
export class EncryptionMismatchError extends HandshakeError {
  /** What the other end uses. */
  readonly peerEncryption: Encryption;
  /** Creates the error. */
  constructor(message: string, peerEncryption: Encryption) {
    super(message);
    this.name = "EncryptionMismatchError";
    this.peerEncryption = peerEncryption;
  }
}

/** The preamble of a link with `encryption` (and a network secret, with `psk`). */
export function preamble(encryption: Encryption, psk = false): Uint8Array {
  return new Uint8Array([
    ...MAGIC,
    PROTOCOL_VERSION,
    encryption === "none" ? 0 : psk ? 2 : 1,
  ]);
}

/** What a channel tells its link. */
export interface ChannelEvents {
  /** Bytes to write as they are, before anything sealed (preamble, handshake messages). */
  raw(bytes: Uint8Array): void;
  /**
   * Frames may flow from now on: sealed by `sealer` (Noise), or in the clear (`null`). `peerKey`
   * is the static key the peer proved it holds (Noise), or `null`.
   */
  ready(sealer: TransportSealer | null, peerKey: Uint8Array | null): void;
  /** The peer's hello frame (its body) arrived in a handshake payload. */
  hello(body: Uint8Array): void;
  /** Bytes of the frame stream, opened. */
  frames(bytes: Uint8Array): void;
}

/**
 * The byte pipeline of one link: preamble, handshake, then sealing and opening (or nothing).
 *
 * @example Two ends of a private link, wired back to back
 * ```ts
 * import { Channel, type ChannelEvents } from "./channel.ts";
 * import { generateStaticKeyPair } from "../noise/mod.ts";
 * import assert from "node:assert/strict";
 *
 * const psk = new Uint8Array(32).fill(7);
 * const got: string[] = [];
 * let a: Channel, b: Channel;
 * const wire = (to: () => Channel, name: string): ChannelEvents => ({
 *   raw: (bytes) => to().push(bytes),
 *   ready: (sealer) => sealer && to().push(sealer.seal(new TextEncoder().encode(`${name} ok`))),
 *   hello: (body) => got.push(`hello ${new TextDecoder().decode(body)}`),
 *   frames: (bytes) => got.push(new TextDecoder().decode(bytes)),
 * });
 * const hello = (s: string) => () => new TextEncoder().encode(s);
 * a = new Channel(true, { encryption: "noise", keyPair: generateStaticKeyPair(), psk }, hello("A"), wire(() => b, "A"));
 * b = new Channel(false, { encryption: "noise", keyPair: generateStaticKeyPair(), psk }, hello("B"), wire(() => a, "B"));
 * b.start();
 * a.start();
 * assert.deepEqual(got.sort(), ["A ok", "B ok", "hello A"]);
 * ```
 */
export class Channel {
  readonly #initiator: boolean;
  readonly #security: LinkSecurity;
  readonly #helloBody: () => Uint8Array;
  readonly #events: ChannelEvents;
  readonly #encryption: Encryption;
  #stage: "preamble" | "handshake" | "open" = "preamble";
  #pending: Uint8Array = EMPTY;
  #noise: NoiseHandshake | null = null;
  #opener: TransportOpener | null = null;
  /** The longest handshake message the peer may send (see `start`). */
  #largest = 0;
  /** Whether our hello went in a handshake payload (otherwise the link sends it as a frame). */
  helloSent = false;

  /**
   * A channel for one link end. `helloBody` gives the body of this node's hello frame (asked
   * for when a payload can carry it).
   */
  constructor(
    initiator: boolean,
    security: LinkSecurity,
    helloBody: () => Uint8Array,
    events: ChannelEvents,
  ) {
    this.#initiator = initiator;
    this.#security = security;
    this.#helloBody = helloBody;
    this.#events = events;
    this.#encryption = security.encryption;
  }

  /** The encryption this link uses. */
  get encryption(): Encryption {
    return this.#encryption;
  }

  /** Sends the preamble (and, for a Noise initiator, the first handshake message). */
  start(): void {
    this.#events.raw(preamble(this.#encryption, this.#security.psk !== null));
    if (this.#encryption === "none") {
      this.#events.ready(null, null);
      return;
    }
    const keyPair = this.#security.keyPair;
    if (!keyPair) throw new HandshakeError("A Noise link needs this node's static key pair");
    const psk = this.#security.psk;
    const protocol = psk ? XX_PSK3 : XX;
    this.#largest = largestHandshakeMessage(protocol);
    this.#noise = new HandshakeState({
      protocol,
      initiator: this.#initiator,
      prologue: PROLOGUE,
      s: keyPair,
      psks: psk ? [psk] : [],
    });
    if (this.#initiator) this.#sendHandshake(EMPTY);
  }

  /**
   * Feeds bytes read from the socket.
   *
   * @throws {HandshakeError} for a preamble or handshake the link cannot go on with (an
   * {@linkcode EncryptionMismatchError} when the peer chose another encryption).
   * @throws {import("../../errors.ts").DecryptError} for a transport message that fails to
   * open.
   * @throws {FrameError} for a handshake message that is malformed.
   */
  push(chunk: Uint8Array): void {
    if (this.#stage === "open") return this.#open(chunk);
    let data = chunk;
    if (this.#pending.length > 0) {
      data = new Uint8Array(this.#pending.length + chunk.length);
      data.set(this.#pending);
      data.set(chunk, this.#pending.length);
      this.#pending = EMPTY;
    }
    let pos = 0;
    if (this.#stage === "preamble") {
      if (data.length < PREAMBLE_SIZE) {
        this.#pending = data.slice();
        return;
      }
      this.#checkPreamble(data.subarray(0, PREAMBLE_SIZE));
      pos = PREAMBLE_SIZE;
      this.#stage = this.#encryption === "none" ? "open" : "handshake";
    }
    while (this.#stage === "handshake" && data.length - pos >= HANDSHAKE_LENGTH_SIZE) {
      const n = (data[pos] << 8) | data[pos + 1];
      // Checked before waiting for the rest: what is kept for an unfinished message (and copied
      // again at every read) must stay as small as the largest one a peer may send.
      if (n > this.#largest) {
        throw new FrameError(
          `A handshake message declares ${n} bytes, over the ${this.#largest}-byte limit`,
        );
      }
      const start = pos + HANDSHAKE_LENGTH_SIZE;
      if (data.length - start < n) break;
      this.#onHandshake(data.subarray(start, start + n));
      pos = start + n;
    }
    if (pos >= data.length) return;
    if (this.#stage === "open") this.#open(data.subarray(pos));
    else this.#pending = data.slice(pos);
  }

  /**
   * Whether {@linkcode Channel.push} keeps no reference to the chunks it is given (the link is
   * up and encrypted: plaintexts are new buffers), so a reader may reuse its buffer.
   */
  get copiesInput(): boolean {
    return this.#stage === "open" && this.#opener !== null;
  }

  /**
   * Declares the end of the stream.
   *
   * @throws {HandshakeError} when it ended during the handshake;
   * {@linkcode import("../../errors.ts").DecryptError} when inside a transport message.
   */
  end(): void {
    if (this.#stage !== "open") {
      throw new HandshakeError("The peer closed the connection during the handshake");
    }
    this.#opener?.end();
  }

  #open(chunk: Uint8Array): void {
    if (this.#opener) this.#opener.push(chunk, this.#events.frames);
    else this.#events.frames(chunk);
  }

  #checkPreamble(p: Uint8Array): void {
    for (let i = 0; i < MAGIC.length; i++) {
      if (p[i] !== MAGIC[i]) throw new FrameError("Not a P2PS peer (no p2ps preamble)");
    }
    if (p[4] !== PROTOCOL_VERSION) {
      throw new HandshakeError(
        `Protocol version ${p[4]} is not supported (expected ${PROTOCOL_VERSION})`,
      );
    }
    const theirs = p[5];
    if (theirs > 2) throw new FrameError(`Unknown link security ${theirs}`);
    const ours = modeOf(this.#security);
    if (theirs === ours) return;
    if (theirs === 0 || ours === 0) {
      const peer: Encryption = theirs === 0 ? "none" : "noise";
      throw new EncryptionMismatchError(
        `The peer's links use encryption "${peer}", this node's "${this.#encryption}"`,
        peer,
      );
    }
    throw new HandshakeError(
      theirs === 2
        ? "The peer's network requires a secret (net.secret), and this node has none"
        : "This node has a network secret, and the peer's network has none",
    );
  }

  #sendHandshake(payload: Uint8Array): void {
    this.#events.raw(this.#frameHandshake(payload));
  }

  /** Writes our next handshake message (with its length) and returns it. */
  #frameHandshake(payload: Uint8Array): Uint8Array {
    const msg = this.#noise!.writeMessage(payload);
    const out = new Uint8Array(HANDSHAKE_LENGTH_SIZE + msg.length);
    out[0] = msg.length >>> 8;
    out[1] = msg.length & 0xff;
    out.set(msg, HANDSHAKE_LENGTH_SIZE);
    return out;
  }

  /** One handshake message from the peer; answers it, and completes the handshake after it. */
  #onHandshake(msg: Uint8Array): void {
    const noise = this.#noise!;
    if (noise.turn !== "read") throw new FrameError("A handshake message out of turn");
    let payload: Uint8Array;
    try {
      payload = noise.readMessage(msg);
    } catch (e) {
      throw new HandshakeError(
        this.#security.psk
          ? "The peer's handshake failed: it holds another network secret, or the message was tampered with"
          : `The peer's handshake failed: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (this.#initiator && this.#security.psk !== null && payload.length > 0) {
      // Message 2 is written before the psk is mixed in: whoever wrote it has proved nothing,
      // so a hello there must not reach the node's checks (and its key book).
      throw new HandshakeError(
        "The peer sent a hello in message 2, before proving it holds the network secret",
      );
    }
    let reply: Uint8Array | null = null;
    if (turnOf(noise) === "write") {
      // Our reply carries our hello where the pattern lets it be secret from outsiders: the
      // initiator's message 3 always, the responder's message 2 in an open network only.
      const carry = this.#initiator || this.#security.psk === null;
      try {
        reply = this.#frameHandshake(carry ? this.#helloBody() : EMPTY);
      } catch (e) {
        // Our answer mixes DH with the peer's keys: a key that gives no shared secret (zero, or
        // of low order) is the peer's fault, and a protocol violation like any other.
        if (!(e instanceof NoiseError)) throw e;
        throw new HandshakeError(`The peer's handshake failed: ${e.message}`, { cause: e });
      }
      this.helloSent = carry;
    }
    let sealer: TransportSealer | null = null;
    if (turnOf(noise) === "done") {
      // Open before anything is written: the peer may answer before this call returns.
      const { send, receive } = noise.split();
      this.#opener = new TransportOpener(receive);
      this.#stage = "open";
      sealer = new TransportSealer(send);
    }
    if (reply) this.#events.raw(reply);
    if (!sealer) return;
    this.#events.ready(sealer, noise.remoteStaticKey ?? null);
    if (payload.length > 0) this.#events.hello(payload);
  }
}
