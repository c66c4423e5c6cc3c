/**
 * The Noise Protocol Framework, revision 34 (https://noiseprotocol.org/noise.html), for the
 * project's encrypted links. It follows the spec's own objects — {@linkcode CipherState},
 * {@linkcode SymmetricState}, {@linkcode HandshakeState} — with every handshake pattern of the
 * spec as data (one-way, fundamental, deferred) and the `pskN` modifiers. Crypto comes from
 * `node:crypto` only; the suite is `25519` / `ChaChaPoly` / `SHA256`.
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
  type HandshakeOptions,
  HandshakeState,
  MAX_MESSAGE_LENGTH,
  type TransportCipherStates,
} from "./handshake_state.ts";
export { generateStaticKeyPair, keyPairFromPrivate, PSK_SALT, pskFromSecret } from "./keys.ts";
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
