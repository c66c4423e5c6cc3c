/**
 * The Noise `HandshakeState` (spec §5.3, with the PSK rules of §9): runs a handshake pattern
 * message by message and ends with the two transport `CipherState`s.
 *
 * @module
 */

import { InvalidArgumentError, MessageTooLargeError, NoiseError } from "../../errors.ts";
import type { CipherState } from "./cipher_state.ts";
import type { KeyPair } from "./crypto.ts";
import type { PreMessageToken, Token } from "./patterns.ts";
import { type NoiseProtocol, resolveProtocol } from "./protocol.ts";
import { SymmetricState } from "./symmetric_state.ts";

/**
 * Largest Noise message, handshake or transport (spec §3).
 *
 * @example
 * ```ts
 * import { MAX_MESSAGE_LENGTH, MAX_TRANSPORT_PLAINTEXT, TAG_SIZE } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(MAX_MESSAGE_LENGTH, 65535);
 * assert.equal(MAX_TRANSPORT_PLAINTEXT + TAG_SIZE, MAX_MESSAGE_LENGTH);
 * ```
 */
export const MAX_MESSAGE_LENGTH = 65535;

const EMPTY = new Uint8Array(0);

/**
 * The exact size of message `index` of `protocol`'s handshake when it carries `payloadLength`
 * bytes of payload: ephemeral keys in the clear, static keys and the payload encrypted (plus a
 * tag) once a key is set — by a DH, a `"psk"`, or in a PSK handshake any `"e"`, pre-messages
 * included (spec §5.3, §9.2). A reader can bound what it buffers for an incoming message by it.
 *
 * @throws {InvalidArgumentError} if the pattern has no message `index`.
 *
 * @example The three messages of XX with a 100-byte payload each
 * ```ts
 * import { handshakeMessageLength, resolveProtocol } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const xx = resolveProtocol("Noise_XX_25519_ChaChaPoly_SHA256");
 * const sizes = [0, 1, 2].map((i) => handshakeMessageLength(xx, i, 100));
 * assert.deepEqual(sizes, [32 + 100, 32 + 48 + 116, 48 + 116]);
 * ```
 */
export function handshakeMessageLength(
  protocol: NoiseProtocol,
  index: number,
  payloadLength: number,
): number {
  const { pattern, dh } = protocol;
  if (!Number.isInteger(index) || index < 0 || index >= pattern.messages.length) {
    throw new InvalidArgumentError(`${pattern.name} has no handshake message ${index}`);
  }
  const psk = pattern.messages.some((m) => m.includes("psk"));
  let keyed = psk &&
    (pattern.initiatorPreMessage.includes("e") || pattern.responderPreMessage.includes("e"));
  let length = 0;
  for (let i = 0; i <= index; i++) {
    length = 0;
    for (const token of pattern.messages[i]) {
      if (token === "e") {
        length += dh.dhLen;
        keyed ||= psk;
      } else if (token === "s") {
        length += dh.dhLen + (keyed ? 16 : 0);
      } else {
        keyed = true;
      }
    }
  }
  return length + payloadLength + (keyed ? 16 : 0);
}

/**
 * The arguments of `Initialize()` (spec §5.3), with the pre-shared keys of §9.
 *
 * @example
 * ```ts
 * import { generateStaticKeyPair, HandshakeState, type HandshakeOptions } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const options: HandshakeOptions = {
 *   protocol: "Noise_XX_25519_ChaChaPoly_SHA256",
 *   initiator: true,
 *   s: generateStaticKeyPair(),
 * };
 * assert.equal(new HandshakeState(options).turn, "write");
 * ```
 */
export interface HandshakeOptions {
  /** The protocol, by full name (`"Noise_XXpsk3_25519_ChaChaPoly_SHA256"`) or resolved. */
  readonly protocol: string | NoiseProtocol;
  /** This party's role: initiator (sends the first message) or responder. */
  readonly initiator: boolean;
  /**
   * Context both parties must agree on, hashed into the handshake (spec §6).
   *
   * @default {empty}
   */
  readonly prologue?: Uint8Array;
  /** The local static key pair, if the pattern uses one. */
  readonly s?: KeyPair;
  /**
   * A fixed local ephemeral key pair. Only for test vectors (and pre-message ephemerals):
   * normally left out, and a fresh one is generated where the pattern sends `"e"`.
   */
  readonly e?: KeyPair;
  /** The remote static public key, if the pattern has it in a pre-message. */
  readonly rs?: Uint8Array;
  /** The remote ephemeral public key, if the pattern has it in a pre-message. */
  readonly re?: Uint8Array;
  /**
   * The 32-byte pre-shared keys, one per `"psk"` token, in the order the tokens are processed.
   *
   * @default {[]}
   */
  readonly psks?: readonly Uint8Array[];
}

/**
 * The two `CipherState`s a completed handshake returns (spec §5.2 `Split()`), by this party's
 * direction: the initiator sends with the first and receives with the second, the responder the
 * other way round. After a one-way pattern only the initiator's `send` and the responder's
 * `receive` may be used (spec §7.4).
 *
 * @example
 * ```ts
 * import { HandshakeState, type TransportCipherStates } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const protocol = "Noise_NN_25519_ChaChaPoly_SHA256";
 * const alice = new HandshakeState({ protocol, initiator: true });
 * const bob = new HandshakeState({ protocol, initiator: false });
 * bob.readMessage(alice.writeMessage());
 * alice.readMessage(bob.writeMessage());
 * const a: TransportCipherStates = alice.split();
 * const ad = new Uint8Array(0);
 * assert.deepEqual(bob.split().receive.decryptWithAd(ad, a.send.encryptWithAd(ad, new Uint8Array([1]))), new Uint8Array([1]));
 * ```
 */
export interface TransportCipherStates {
  /** Encrypts what this party sends. */
  readonly send: CipherState;
  /** Decrypts what this party receives. */
  readonly receive: CipherState;
}

/**
 * One party's side of a Noise handshake (spec §5.3). The constructor is `Initialize()`; then
 * {@linkcode HandshakeState.writeMessage} and {@linkcode HandshakeState.readMessage} alternate as
 * the pattern says ({@linkcode HandshakeState.turn}), and once the last message is processed
 * {@linkcode HandshakeState.split} returns the transport `CipherState`s. Any failure while
 * processing a message (authentication, DH) ends the handshake: later calls throw.
 *
 * In a PSK handshake (one with `"psk"` tokens) every `"e"` is followed by `MixKey(e)` (§9.2).
 *
 * @example XX with a pre-shared key (XXpsk3)
 * ```ts
 * import { generateStaticKeyPair, HandshakeState } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const protocol = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
 * const psks = [crypto.getRandomValues(new Uint8Array(32))];
 * const aliceKey = generateStaticKeyPair();
 * const bobKey = generateStaticKeyPair();
 * const alice = new HandshakeState({ protocol, initiator: true, s: aliceKey, psks });
 * const bob = new HandshakeState({ protocol, initiator: false, s: bobKey, psks });
 * bob.readMessage(alice.writeMessage());
 * alice.readMessage(bob.writeMessage());
 * const hello = bob.readMessage(alice.writeMessage(new TextEncoder().encode("hello")));
 * assert.equal(new TextDecoder().decode(hello), "hello");
 * assert.equal(alice.turn, "done");
 * assert.deepEqual(bob.remoteStaticKey, aliceKey.publicKey);
 * assert.deepEqual(alice.getHandshakeHash(), bob.getHandshakeHash());
 * ```
 */
export class HandshakeState {
  readonly #protocol: NoiseProtocol;
  readonly #initiator: boolean;
  readonly #symmetric: SymmetricState;
  readonly #psk: boolean;
  readonly #psks: readonly Uint8Array[];
  #pskIndex = 0;
  readonly #s: KeyPair | undefined;
  #e: KeyPair | undefined;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  /** Index of the next message pattern. */
  #message = 0;
  #split: TransportCipherStates | undefined;
  #failed = false;

  /**
   * `Initialize(handshake_pattern, initiator, prologue, s, e, rs, re)`, with the PSKs.
   *
   * @throws {InvalidArgumentError} if the protocol name is invalid or unsupported, a key the
   * pattern needs is missing or has the wrong length, a remote key the pattern transmits is
   * given in advance, or the number of PSKs differs from the pattern's `"psk"` tokens.
   */
  constructor(options: HandshakeOptions) {
    const protocol = typeof options.protocol === "string"
      ? resolveProtocol(options.protocol)
      : options.protocol;
    this.#protocol = protocol;
    this.#initiator = options.initiator;
    this.#s = options.s;
    this.#e = options.e;
    this.#rs = options.rs?.slice();
    this.#re = options.re?.slice();
    this.#psks = [...(options.psks ?? [])];
    this.#psk = protocol.pattern.messages.some((m) => m.includes("psk"));
    this.#checkKeys();
    this.#symmetric = new SymmetricState(protocol, protocol.name);
    this.#symmetric.mixHash(options.prologue ?? EMPTY);
    const { initiatorPreMessage, responderPreMessage } = protocol.pattern;
    for (const token of initiatorPreMessage) this.#mixPreMessageKey(token, this.#initiator);
    for (const token of responderPreMessage) this.#mixPreMessageKey(token, !this.#initiator);
  }

  /** The protocol being run. */
  get protocol(): NoiseProtocol {
    return this.#protocol;
  }

  /** Whether this party is the initiator. */
  get initiator(): boolean {
    return this.#initiator;
  }

  /**
   * What this party does next: write a message, read one, nothing more (`"done"`: call
   * {@linkcode HandshakeState.split}), or nothing ever (`"failed"`).
   */
  get turn(): "write" | "read" | "done" | "failed" {
    if (this.#failed) return "failed";
    if (this.#message === this.#protocol.pattern.messages.length) return "done";
    return (this.#message % 2 === 0) === this.#initiator ? "write" : "read";
  }

  /** The remote party's static public key (`rs`), once known. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#rs?.slice();
  }

  /**
   * `GetHandshakeHash()`: the handshake hash `h`, which identifies the session once the
   * handshake is complete (for channel binding, spec §11.2).
   */
  getHandshakeHash(): Uint8Array {
    return this.#symmetric.getHandshakeHash();
  }

  /**
   * `WriteMessage(payload, message_buffer)`: the next handshake message, carrying `payload`
   * (encrypted once the handshake has a key).
   *
   * @throws {NoiseError} if it is not this party's turn to write, or the handshake failed.
   * @throws {MessageTooLargeError} if the message would exceed 65,535 bytes (the handshake is
   * unchanged).
   */
  writeMessage(payload: Uint8Array = EMPTY): Uint8Array {
    const tokens = this.#nextMessagePattern("write");
    const length = handshakeMessageLength(this.#protocol, this.#message, payload.length);
    if (length > MAX_MESSAGE_LENGTH) {
      throw new MessageTooLargeError(
        `Handshake message ${this.#message} would be ${length} bytes (payload ${payload.length}), ` +
          `over the ${MAX_MESSAGE_LENGTH}-byte limit`,
      );
    }
    const out = new Uint8Array(length);
    const { dh } = this.#protocol;
    const symmetric = this.#symmetric;
    this.#failed = true; // until the message is complete
    let at = 0;
    for (const token of tokens) {
      if (token === "e") {
        this.#e ??= dh.generateKeyPair();
        out.set(this.#e.publicKey, at);
        at += dh.dhLen;
        this.#mixEphemeral(this.#e.publicKey);
      } else if (token === "s") {
        at += symmetric.encryptAndHashInto(this.#s!.publicKey, out, at);
      } else {
        this.#mixSecret(token);
      }
    }
    symmetric.encryptAndHashInto(payload, out, at);
    this.#failed = false;
    this.#finishMessage();
    return out;
  }

  /**
   * `ReadMessage(message, payload_buffer)`: processes the peer's next handshake message.
   *
   * @returns the message's payload (never a view of `message`).
   * @throws {DecryptError} if the message fails authentication: tampered, or the parties
   * disagree on a key, the prologue or a PSK. The handshake has failed.
   * @throws {NoiseError} if it is not this party's turn to read, the handshake failed before,
   * the message is shorter than its tokens need or longer than 65,535 bytes, or a received key
   * gives no DH result.
   */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.#nextMessagePattern("read");
    const least = handshakeMessageLength(this.#protocol, this.#message, 0);
    if (message.length < least || message.length > MAX_MESSAGE_LENGTH) {
      throw new NoiseError(
        `Handshake message ${this.#message} of ${this.#protocol.pattern.name} is ` +
          `${message.length} bytes; it must be ${least} to ${MAX_MESSAGE_LENGTH}`,
      );
    }
    const { dh } = this.#protocol;
    const symmetric = this.#symmetric;
    this.#failed = true; // until the message is complete
    let at = 0;
    for (const token of tokens) {
      if (token === "e") {
        this.#re = message.slice(at, at + dh.dhLen);
        at += dh.dhLen;
        this.#mixEphemeral(this.#re);
      } else if (token === "s") {
        const length = dh.dhLen + (symmetric.hasKey() ? 16 : 0);
        this.#rs = symmetric.decryptAndHash(message.subarray(at, at + length));
        at += length;
      } else {
        this.#mixSecret(token);
      }
    }
    const payload = symmetric.decryptAndHash(message.subarray(at));
    this.#failed = false;
    this.#finishMessage();
    return payload;
  }

  /**
   * The transport `CipherState`s, once the last handshake message has been written or read (the
   * spec's `WriteMessage`/`ReadMessage` return them then). Every call returns the same pair.
   *
   * @throws {NoiseError} if the handshake is not complete.
   */
  split(): TransportCipherStates {
    if (this.#split === undefined) {
      throw new NoiseError(
        `The ${this.#protocol.pattern.name} handshake is not complete (turn: ${this.turn})`,
      );
    }
    return this.#split;
  }

  #nextMessagePattern(action: "write" | "read"): readonly Token[] {
    const turn = this.turn;
    if (turn !== action) {
      const role = this.#initiator ? "initiator" : "responder";
      throw new NoiseError(
        turn === "failed"
          ? "The handshake failed earlier; start a new one"
          : `The ${role} cannot ${action} now: the handshake's next step is "${turn}"`,
      );
    }
    return this.#protocol.pattern.messages[this.#message];
  }

  #finishMessage(): void {
    this.#message++;
    if (this.#message < this.#protocol.pattern.messages.length) return;
    const [c1, c2] = this.#symmetric.split();
    this.#split = this.#initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  #mixEphemeral(publicKey: Uint8Array): void {
    this.#symmetric.mixHash(publicKey);
    // §9.2: in a PSK handshake the ephemeral key also randomises the encryption key.
    if (this.#psk) this.#symmetric.mixKey(publicKey);
  }

  #mixPreMessageKey(token: PreMessageToken, local: boolean): void {
    const key = token === "e"
      ? (local ? this.#e!.publicKey : this.#re!)
      : (local ? this.#s!.publicKey : this.#rs!);
    if (token === "e") this.#mixEphemeral(key);
    else this.#symmetric.mixHash(key);
  }

  /** `"psk"`, or a DH token: its first letter names the initiator's key, the second the responder's. */
  #mixSecret(token: Exclude<Token, "e" | "s">): void {
    if (token === "psk") {
      this.#symmetric.mixKeyAndHash(this.#psks[this.#pskIndex++]);
      return;
    }
    const [mine, theirs] = this.#initiator ? [token[0], token[1]] : [token[1], token[0]];
    const local = mine === "e" ? this.#e : this.#s;
    const remote = theirs === "e" ? this.#re : this.#rs;
    // #checkKeys and the pattern's validity guarantee both keys by now.
    this.#symmetric.mixKey(this.#protocol.dh.dh(local!, remote!));
  }

  /** Checks, before anything is hashed, that the keys given are the keys the pattern needs. */
  #checkKeys(): void {
    const { pattern, dh } = this.#protocol;
    const role = this.#initiator ? "initiator" : "responder";
    const peer = this.#initiator ? "responder" : "initiator";
    const fail = (why: string) => {
      throw new InvalidArgumentError(`Handshake ${pattern.name} as ${role}: ${why}`);
    };
    const mine = pattern.messages.filter((_, i) => (i % 2 === 0) === this.#initiator).flat();
    const theirs = pattern.messages.filter((_, i) => (i % 2 === 0) !== this.#initiator).flat();
    const myPre = this.#initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    const theirPre = this.#initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage;
    const myStaticDh = this.#initiator ? ["se", "ss"] : ["es", "ss"];
    const all = pattern.messages.flat();
    const needS = myPre.includes("s") || mine.includes("s") ||
      all.some((t) => myStaticDh.includes(t));
    if (needS && this.#s === undefined) fail("the local static key pair (s) is needed");
    if (myPre.includes("e") && this.#e === undefined) {
      fail("the local ephemeral key pair (e) of the pre-message is needed");
    }
    for (const [token, key, name] of [["s", this.#rs, "rs"], ["e", this.#re, "re"]] as const) {
      if (theirPre.includes(token) && key === undefined) {
        fail(
          `the ${peer}'s ${token === "s" ? "static" : "ephemeral"} public key (${name}) is needed`,
        );
      }
      if (theirs.includes(token) && key !== undefined) {
        const instead = name === "rs" ? "; compare remoteStaticKey after the handshake" : "";
        fail(`${name} is given, but the ${peer} sends it during the handshake${instead}`);
      }
    }
    for (
      const [name, key] of [
        ["s", this.#s?.publicKey],
        ["e", this.#e?.publicKey],
        ["rs", this.#rs],
        ["re", this.#re],
      ] as const
    ) {
      if (key !== undefined && key.length !== dh.dhLen) {
        fail(`${name} is ${key.length} bytes, not ${dh.dhLen}`);
      }
    }
    const pskTokens = all.filter((t) => t === "psk").length;
    if (this.#psks.length !== pskTokens) {
      fail(`${pskTokens} pre-shared keys are needed, ${this.#psks.length} given`);
    }
    for (const [i, psk] of this.#psks.entries()) {
      if (psk.length !== 32) fail(`pre-shared key ${i} is ${psk.length} bytes, not 32`);
    }
  }
}
