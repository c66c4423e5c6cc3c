/**
 * The Noise Protocol Framework, revision 34 (https://noiseprotocol.org/noise.html), for the
 * project's encrypted links. It follows the spec's own objects — {@linkcode CipherState},
 * {@linkcode SymmetricState}, {@linkcode HandshakeState} — with every handshake pattern of the
 * spec as data (one-way, fundamental, deferred) and the `pskN` modifiers. Crypto comes from
 * `node:crypto` only; the suite is `25519` / `ChaChaPoly` / `SHA256`.
 *
 * For a stream: run a handshake, then seal writes with a {@linkcode TransportSealer} and open
 * the received chunks with a {@linkcode TransportOpener} (2-byte length-prefixed transport
 * messages).
 *
 * Failures are typed: {@linkcode DecryptError} when a message fails authentication,
 * {@linkcode NoiseError} for any other broken rule; both end the session.
 *
 * @example An XXpsk3 handshake, then transport messages
 * ```ts
 * import {
 *   generateStaticKeyPair,
 *   HandshakeState,
 *   pskFromSecret,
 *   TransportOpener,
 *   TransportSealer,
 * } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const protocol = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
 * const psks = [pskFromSecret("a long random network secret", "my-net")];
 * const dialer = new HandshakeState({ protocol, initiator: true, s: generateStaticKeyPair(), psks });
 * const listener = new HandshakeState({ protocol, initiator: false, s: generateStaticKeyPair(), psks });
 * listener.readMessage(dialer.writeMessage());
 * dialer.readMessage(listener.writeMessage());
 * listener.readMessage(dialer.writeMessage());
 *
 * const sealer = new TransportSealer(dialer.split().send);
 * const opener = new TransportOpener(listener.split().receive);
 * const received: Uint8Array[] = [];
 * opener.push(sealer.seal(new Uint8Array(100_000)), (p) => received.push(p));
 * assert.equal(received.reduce((n, p) => n + p.length, 0), 100_000);
 * ```
 *
 * @module
 */

export {
  DecryptError,
  InvalidArgumentError,
  MessageTooLargeError,
  NoiseError,
  P2PSError,
} from "../../errors.ts";
export { CipherState } from "./cipher_state.ts";
export {
  CHACHAPOLY,
  CIPHER_FUNCTIONS,
  type CipherFunctions,
  DH_FUNCTIONS,
  type DhFunctions,
  HASH_FUNCTIONS,
  type HashFunctions,
  type KeyedCipher,
  type KeyPair,
  SHA256,
  X25519,
} from "./crypto.ts";
export {
  handshakeMessageLength,
  type HandshakeOptions,
  HandshakeState,
  MAX_MESSAGE_LENGTH,
  type TransportCipherStates,
} from "./handshake_state.ts";
export {
  generateStaticKeyPair,
  keyPairFromPrivate,
  PSK_SALT,
  pskFromSecret,
  sameKey,
} from "./keys.ts";
export {
  findPattern,
  HANDSHAKE_PATTERNS,
  type HandshakePattern,
  type PatternName,
  type PreMessageToken,
  type Token,
  withPsk,
} from "./patterns.ts";
export {
  type NoiseProtocol,
  parseProtocolName,
  type ProtocolLookup,
  resolveProtocol,
} from "./protocol.ts";
export { SymmetricState, type SymmetricSuite } from "./symmetric_state.ts";
export {
  LENGTH_PREFIX_SIZE,
  MAX_TRANSPORT_PLAINTEXT,
  sealedLength,
  TAG_SIZE,
  TransportOpener,
  TransportSealer,
} from "./transport.ts";
