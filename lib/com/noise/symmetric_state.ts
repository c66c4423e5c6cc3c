/**
 * The Noise `SymmetricState` (spec §5.2): a `CipherState` plus the chaining key `ck` and the
 * handshake hash `h`.
 *
 * @module
 */

import { CipherState } from "./cipher_state.ts";
import type { CipherFunctions, HashFunctions } from "./crypto.ts";

const EMPTY = new Uint8Array(0);

/**
 * The cipher and hash functions a {@linkcode SymmetricState} uses.
 *
 * @example
 * ```ts
 * import { CHACHAPOLY, SHA256, SymmetricState, type SymmetricSuite } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const suite: SymmetricSuite = { cipher: CHACHAPOLY, hash: SHA256 };
 * const s = new SymmetricState(suite, "Noise_NN_25519_ChaChaPoly_SHA256");
 * assert.equal(s.hasKey(), false);
 * ```
 */
export interface SymmetricSuite {
  /** The cipher functions. */
  readonly cipher: CipherFunctions;
  /** The hash functions. */
  readonly hash: HashFunctions;
}

/** A `temp_k` cut to a 32-byte cipher key (it is longer when `HASHLEN` is 64). */
function cipherKey(tempK: Uint8Array): Uint8Array {
  return tempK.subarray(0, 32);
}

/**
 * All the symmetric crypto of a handshake (spec §5.2): the chaining key `ck`, the handshake
 * hash `h`, and the `CipherState` that encrypts handshake payloads and static keys.
 *
 * @example Two parties mixing the same inputs derive the same transport keys
 * ```ts
 * import { CHACHAPOLY, SHA256, SymmetricState } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const suite = { cipher: CHACHAPOLY, hash: SHA256 };
 * const [a, b] = [0, 1].map(() => new SymmetricState(suite, "Noise_NN_25519_ChaChaPoly_SHA256"));
 * for (const s of [a, b]) s.mixKey(new Uint8Array(32).fill(7));
 * const hello = a.encryptAndHash(new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(b.decryptAndHash(hello)), "hello");
 * assert.deepEqual(a.getHandshakeHash(), b.getHandshakeHash());
 * const [a1] = a.split();
 * const [b1] = b.split();
 * const ad = new Uint8Array(0);
 * assert.deepEqual(b1.decryptWithAd(ad, a1.encryptWithAd(ad, new Uint8Array([1]))), new Uint8Array([1]));
 * ```
 */
export class SymmetricState {
  readonly #suite: SymmetricSuite;
  readonly #cipherState: CipherState;
  #ck: Uint8Array;
  #h: Uint8Array;

  /**
   * `InitializeSymmetric(protocol_name)`: `h` is the name padded with zeros to `HASHLEN`, or its
   * hash if longer; `ck = h`; `k` is empty.
   *
   * @param suite the cipher and hash functions.
   * @param protocolName the full protocol name, e.g. `"Noise_XX_25519_ChaChaPoly_SHA256"`.
   */
  constructor(suite: SymmetricSuite, protocolName: string) {
    this.#suite = suite;
    const name = new TextEncoder().encode(protocolName);
    const hashLen = suite.hash.hashLen;
    if (name.length <= hashLen) {
      this.#h = new Uint8Array(hashLen);
      this.#h.set(name);
    } else {
      this.#h = suite.hash.hash(name);
    }
    this.#ck = this.#h;
    this.#cipherState = new CipherState(suite.cipher);
  }

  /** `MixKey(input_key_material)`: `ck, temp_k = HKDF(ck, ikm, 2)`; `InitializeKey(temp_k)`. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.#suite.hash.hkdf(this.#ck, inputKeyMaterial, 2);
    this.#ck = ck;
    this.#cipherState.initializeKey(cipherKey(tempK));
  }

  /** `MixHash(data)`: `h = HASH(h || data)`. */
  mixHash(data: Uint8Array): void {
    this.#h = this.#suite.hash.hash(this.#h, data);
  }

  /**
   * `MixKeyAndHash(input_key_material)`, for pre-shared keys: `ck, temp_h, temp_k =
   * HKDF(ck, ikm, 3)`; `MixHash(temp_h)`; `InitializeKey(temp_k)`.
   */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempH, tempK] = this.#suite.hash.hkdf(this.#ck, inputKeyMaterial, 3);
    this.#ck = ck;
    this.mixHash(tempH);
    this.#cipherState.initializeKey(cipherKey(tempK));
  }

  /** `HasKey()` of the handshake `CipherState`: whether payloads are encrypted yet. */
  hasKey(): boolean {
    return this.#cipherState.hasKey();
  }

  /** `GetHandshakeHash()`: a copy of `h`. Meaningful once the handshake is complete. */
  getHandshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /**
   * `EncryptAndHash(plaintext)`: `ciphertext = EncryptWithAd(h, plaintext)`;
   * `MixHash(ciphertext)`.
   *
   * @throws {NoiseError} if the nonce is exhausted.
   */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + (this.hasKey() ? 16 : 0));
    this.encryptAndHashInto(plaintext, out, 0);
    return out;
  }

  /**
   * `EncryptAndHash(plaintext)` written into `out` at `at` (room for `plaintext.length` bytes,
   * plus 16 if {@linkcode SymmetricState.hasKey}).
   *
   * @returns the number of bytes written.
   * @throws {NoiseError} if the nonce is exhausted.
   *
   * @example Before any key, the "ciphertext" is the plaintext
   * ```ts
   * import { CHACHAPOLY, SHA256, SymmetricState } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const s = new SymmetricState({ cipher: CHACHAPOLY, hash: SHA256 }, "Noise_NN_25519_ChaChaPoly_SHA256");
   * const out = new Uint8Array(3);
   * assert.equal(s.encryptAndHashInto(new Uint8Array([1, 2, 3]), out, 0), 3);
   * assert.deepEqual(out, new Uint8Array([1, 2, 3]));
   * ```
   */
  encryptAndHashInto(plaintext: Uint8Array, out: Uint8Array, at: number): number {
    const written = this.#cipherState.encryptWithAdInto(this.#h, plaintext, out, at);
    this.mixHash(out.subarray(at, at + written));
    return written;
  }

  /**
   * `DecryptAndHash(ciphertext)`: `plaintext = DecryptWithAd(h, ciphertext)`;
   * `MixHash(ciphertext)`.
   *
   * @throws {DecryptError} if authentication fails.
   * @throws {NoiseError} if the nonce is exhausted.
   */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.#cipherState.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * `Split()`: `temp_k1, temp_k2 = HKDF(ck, empty, 2)` and two new `CipherState`s under them —
   * the first for initiator-to-responder messages, the second for the other direction.
   */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.#suite.hash.hkdf(this.#ck, EMPTY, 2);
    return [
      new CipherState(this.#suite.cipher, cipherKey(k1)),
      new CipherState(this.#suite.cipher, cipherKey(k2)),
    ];
  }
}
