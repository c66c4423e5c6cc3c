/**
 * The Noise `CipherState` (spec §5.1): a cipher key `k` and a 64-bit nonce `n`.
 *
 * @module
 */

import { DecryptError, InvalidArgumentError, NoiseError } from "../../errors.ts";
import type { CipherFunctions, KeyedCipher } from "./crypto.ts";

/** 2^64 − 1: reserved by the spec (for `REKEY`), so never used to encrypt a message. */
const MAX_NONCE = 0xffff_ffff_ffff_ffffn;
const EMPTY = new Uint8Array(0);
const ZEROS = new Uint8Array(32);

/**
 * A cipher key `k` (possibly empty) and a nonce `n` (spec §5.1). `n` is a `bigint`, exact over the
 * whole 64-bit range. Once `n` reaches 2^64 − 1 every encryption or decryption fails with a
 * {@linkcode NoiseError}: the spec then requires the session to end. A failed decryption throws
 * {@linkcode DecryptError} and leaves `n` unchanged, so a nonce is never used twice either way.
 *
 * Outputs never share memory with inputs.
 *
 * @example A sending and a receiving CipherState under the same key
 * ```ts
 * import { CHACHAPOLY, CipherState } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const sender = new CipherState(CHACHAPOLY, key);
 * const receiver = new CipherState(CHACHAPOLY, key);
 * const ad = new Uint8Array(0);
 * const sealed = sender.encryptWithAd(ad, new TextEncoder().encode("hi"));
 * assert.equal(new TextDecoder().decode(receiver.decryptWithAd(ad, sealed)), "hi");
 * assert.equal(receiver.nonce, 1n);
 * ```
 */
export class CipherState {
  readonly #cipher: CipherFunctions;
  #k: KeyedCipher | undefined;
  #n = 0n;

  /**
   * Creates the state and calls `InitializeKey(key)`.
   *
   * @param cipher the suite's cipher functions.
   * @param key a 32-byte key, or `undefined` for the spec's `empty`.
   * @throws {InvalidArgumentError} if `key` is not 32 bytes long.
   */
  constructor(cipher: CipherFunctions, key?: Uint8Array) {
    this.#cipher = cipher;
    this.initializeKey(key);
  }

  /**
   * `InitializeKey(key)`: sets `k = key` and `n = 0`.
   *
   * @throws {InvalidArgumentError} if `key` is not 32 bytes long.
   */
  initializeKey(key: Uint8Array | undefined): void {
    this.#k = key === undefined ? undefined : this.#cipher.withKey(key);
    this.#n = 0n;
  }

  /** `HasKey()`: whether `k` is non-empty. */
  hasKey(): boolean {
    return this.#k !== undefined;
  }

  /** The nonce `n` the next message will use. */
  get nonce(): bigint {
    return this.#n;
  }

  /**
   * `SetNonce(nonce)`: sets `n`. Only for out-of-order transports (spec §11.4), whose caller must
   * itself reject nonces already used.
   *
   * @throws {InvalidArgumentError} if `nonce` is outside [0, 2^64 − 1].
   */
  setNonce(nonce: bigint): void {
    if (nonce < 0n || nonce > MAX_NONCE) {
      throw new InvalidArgumentError(`Nonce ${nonce} is outside [0, 2^64 - 1]`);
    }
    this.#n = nonce;
  }

  #keyForNextNonce(): KeyedCipher | undefined {
    if (this.#k !== undefined && this.#n === MAX_NONCE) {
      throw new NoiseError("Nonce exhausted (2^64 - 1 is reserved): the session must end");
    }
    return this.#k;
  }

  /**
   * `EncryptWithAd(ad, plaintext)`: `ENCRYPT(k, n++, ad, plaintext)`, or a copy of `plaintext`
   * while `k` is empty.
   *
   * @throws {NoiseError} if the nonce is exhausted.
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + (this.#k === undefined ? 0 : 16));
    this.encryptWithAdInto(ad, plaintext, out, 0);
    return out;
  }

  /**
   * `EncryptWithAd(ad, plaintext)` written into `out` at `at`, for callers that assemble a
   * message in a buffer of their own. `out` needs room for `plaintext.length` bytes, plus 16 if
   * {@linkcode CipherState.hasKey}.
   *
   * @returns the number of bytes written.
   * @throws {NoiseError} if the nonce is exhausted.
   *
   * @example
   * ```ts
   * import { CHACHAPOLY, CipherState } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const cs = new CipherState(CHACHAPOLY, new Uint8Array(32));
   * const out = new Uint8Array(2 + 5 + 16);
   * assert.equal(cs.encryptWithAdInto(new Uint8Array(0), new Uint8Array(5), out, 2), 21);
   * ```
   */
  encryptWithAdInto(ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, at: number): number {
    const k = this.#keyForNextNonce();
    if (k === undefined) {
      out.set(plaintext, at);
      return plaintext.length;
    }
    const written = k.encrypt(this.#n, ad, plaintext, out, at);
    this.#n++;
    return written;
  }

  /**
   * `DecryptWithAd(ad, ciphertext)`: `DECRYPT(k, n++, ad, ciphertext)`, or a copy of
   * `ciphertext` while `k` is empty. On an authentication failure `n` is not incremented.
   *
   * @throws {DecryptError} if authentication fails.
   * @throws {NoiseError} if the nonce is exhausted.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.#keyForNextNonce();
    if (k === undefined) return ciphertext.slice();
    const plaintext = k.decrypt(this.#n, ad, ciphertext);
    if (plaintext === null) {
      throw new DecryptError(
        `A ${ciphertext.length}-byte message failed authentication at nonce ${this.#n}`,
      );
    }
    this.#n++;
    return plaintext;
  }

  /**
   * `Rekey()`: `k = REKEY(k)`, the spec's default — the first 32 bytes of
   * `ENCRYPT(k, 2^64 − 1, empty, 32 zero bytes)`. `n` is unchanged. Nothing happens while `k` is
   * empty.
   *
   * @example Both ends rekey at the same point
   * ```ts
   * import { CHACHAPOLY, CipherState } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const a = new CipherState(CHACHAPOLY, new Uint8Array(32));
   * const b = new CipherState(CHACHAPOLY, new Uint8Array(32));
   * a.rekey();
   * b.rekey();
   * const ad = new Uint8Array(0);
   * assert.deepEqual(b.decryptWithAd(ad, a.encryptWithAd(ad, new Uint8Array([9]))), new Uint8Array([9]));
   * ```
   */
  rekey(): void {
    if (this.#k === undefined) return;
    const out = new Uint8Array(32 + 16);
    this.#k.encrypt(MAX_NONCE, EMPTY, ZEROS, out, 0);
    this.#k = this.#cipher.withKey(out.subarray(0, 32));
  }
}
