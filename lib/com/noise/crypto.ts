/**
 * The crypto functions of the Noise Protocol Framework (revision 34, §4 and §12) as three small
 * interfaces — DH functions, cipher functions, hash functions — and the adapters of the one suite
 * this library supports, `25519` / `ChaChaPoly` / `SHA256`, all built on `node:crypto`. Another
 * suite is added by writing its adapter and listing it in the lookup tables at the end.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { InvalidArgumentError, NoiseError } from "../../errors.ts";

/**
 * A Diffie-Hellman key pair, keys as raw bytes (`DHLEN` = 32 bytes each for 25519). Pairs made by
 * a {@linkcode DhFunctions} also hold the key in the form their DH function computes with, so
 * keep and pass the object itself rather than a copy of its fields.
 *
 * @example
 * ```ts
 * import { generateStaticKeyPair, type KeyPair } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const pair: KeyPair = generateStaticKeyPair();
 * assert.equal(pair.publicKey.length, 32);
 * assert.equal(pair.privateKey.length, 32);
 * ```
 */
export interface KeyPair {
  /** The public key, sent to or known by the peer. */
  readonly publicKey: Uint8Array;
  /** The private key; never leaves this party. */
  readonly privateKey: Uint8Array;
}

/**
 * The DH functions of a suite (spec §4.1): `GENERATE_KEYPAIR()`, `DH()` and `DHLEN`.
 *
 * @example
 * ```ts
 * import { X25519 } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * const a = X25519.generateKeyPair();
 * const b = X25519.generateKeyPair();
 * assert.deepEqual(X25519.dh(a, b.publicKey), X25519.dh(b, a.publicKey));
 * ```
 */
export interface DhFunctions {
  /** The name in a protocol name, e.g. `"25519"`. */
  readonly name: string;
  /** `DHLEN`: the size of public keys and of DH outputs, in bytes. */
  readonly dhLen: number;
  /** `GENERATE_KEYPAIR()`: a fresh random key pair. */
  generateKeyPair(): KeyPair;
  /**
   * The key pair of a given private key.
   *
   * @throws {InvalidArgumentError} if the key is not `dhLen` bytes long.
   */
  keyPairFromPrivate(privateKey: Uint8Array): KeyPair;
  /**
   * `DH(key_pair, public_key)`: the shared secret, `dhLen` bytes.
   *
   * @throws {NoiseError} if the public key gives no shared secret (a low-order point: the spec
   * lets an implementation signal an error instead of returning zeros).
   */
  dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array;
}

/**
 * The cipher functions of a suite (spec §4.2), bound to one key at a time: `withKey(k)` returns
 * `ENCRYPT(k, ...)` and `DECRYPT(k, ...)`, so that a suite can prepare the key once per key
 * rather than once per message.
 *
 * @example
 * ```ts
 * import { CHACHAPOLY } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * const k = CHACHAPOLY.withKey(new Uint8Array(32));
 * const out = new Uint8Array(3 + 16);
 * k.encrypt(7n, new Uint8Array(0), new Uint8Array([1, 2, 3]), out, 0);
 * assert.deepEqual(k.decrypt(7n, new Uint8Array(0), out), new Uint8Array([1, 2, 3]));
 * assert.equal(k.decrypt(8n, new Uint8Array(0), out), null);
 * ```
 */
export interface CipherFunctions {
  /** The name in a protocol name, e.g. `"ChaChaPoly"`. */
  readonly name: string;
  /**
   * The AEAD under key `k` (32 bytes).
   *
   * @throws {InvalidArgumentError} if `k` is not 32 bytes long.
   */
  withKey(k: Uint8Array): KeyedCipher;
}

/**
 * `ENCRYPT` and `DECRYPT` of a suite under one key (see {@linkcode CipherFunctions}).
 *
 * @example
 * ```ts
 * import { CHACHAPOLY, type KeyedCipher } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const cipher: KeyedCipher = CHACHAPOLY.withKey(new Uint8Array(32));
 * const out = new Uint8Array(1 + 16);
 * assert.equal(cipher.encrypt(0n, new Uint8Array(0), new Uint8Array([7]), out, 0), 17);
 * assert.deepEqual(cipher.decrypt(0n, new Uint8Array(0), out), new Uint8Array([7]));
 * ```
 */
export interface KeyedCipher {
  /**
   * `ENCRYPT(k, n, ad, plaintext)`, written at `out[at..]`: the ciphertext followed by the
   * 16-byte authentication tag. `out` must have room for `plaintext.length + 16` bytes.
   *
   * @returns the number of bytes written (`plaintext.length + 16`).
   */
  encrypt(n: bigint, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, at: number): number;
  /**
   * `DECRYPT(k, n, ad, ciphertext)`.
   *
   * @returns the plaintext, or `null` if authentication fails (or `ciphertext` is shorter than
   * its tag).
   */
  decrypt(n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
}

/**
 * The hash functions of a suite (spec §4.3): `HASH()`, `HASHLEN`, and `HKDF()` built on
 * `HMAC-HASH`.
 *
 * @example
 * ```ts
 * import { SHA256 } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * const [ck, k] = SHA256.hkdf(new Uint8Array(32), new Uint8Array(32), 2);
 * assert.equal(ck.length, 32);
 * assert.notDeepEqual(ck, k);
 * assert.equal(SHA256.hash(new Uint8Array(1)).length, SHA256.hashLen);
 * ```
 */
export interface HashFunctions {
  /** The name in a protocol name, e.g. `"SHA256"`. */
  readonly name: string;
  /** `HASHLEN`: the size of a hash output, 32 or 64 bytes. */
  readonly hashLen: number;
  /** `HASH(a || b)`. */
  hash(a: Uint8Array, b?: Uint8Array): Uint8Array;
  /**
   * `HKDF(chaining_key, input_key_material, num_outputs)` as the spec defines it: two or three
   * outputs of `hashLen` bytes each.
   */
  hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[];
}

const EMPTY = new Uint8Array(0);

/** A view of a Node `Buffer` as a plain `Uint8Array` (whose `slice` copies, unlike Buffer's). */
function bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A DER key: a fixed prefix and the raw key. */
function der(prefix: Uint8Array, rawKey: Uint8Array): Buffer {
  return Buffer.concat([prefix, rawKey]);
}

function fromBase64url(text: string): Uint8Array {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}

// Raw X25519 keys go in as DER with the fixed RFC 8410 prefixes: a JWK private key would need its
// public half first, and a DER public key imported a little faster than a JWK one here.
const X25519_SPKI_PREFIX = Uint8Array.fromHex("302a300506032b656e032100");
const X25519_PKCS8_PREFIX = Uint8Array.fromHex("302e020100300506032b656e04220420");

/** An X25519 key pair that carries its private key as the `KeyObject` `diffieHellman` needs. */
class X25519KeyPair implements KeyPair {
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;
  // Exported on first read only: an ephemeral key's private half is never needed as bytes.
  #privateKey: Uint8Array | undefined;

  constructor(key: KeyObject, publicKey: Uint8Array, privateKey?: Uint8Array) {
    this.#key = key;
    this.publicKey = publicKey;
    this.#privateKey = privateKey;
  }

  get privateKey(): Uint8Array {
    this.#privateKey ??= fromBase64url(this.#key.export({ format: "jwk" }).d as string);
    return this.#privateKey;
  }

  /** The `KeyObject` of any key pair: its own if it is one of ours, else imported. */
  static keyObjectOf(pair: KeyPair): KeyObject {
    return #key in pair ? pair.#key : X25519KeyPair.fromPrivate(pair.privateKey).#key;
  }

  static fromPrivate(privateKey: Uint8Array): X25519KeyPair {
    if (privateKey.length !== 32) {
      throw new InvalidArgumentError(
        `An X25519 private key is 32 bytes, not ${privateKey.length}`,
      );
    }
    const key = createPrivateKey({
      key: der(X25519_PKCS8_PREFIX, privateKey),
      format: "der",
      type: "pkcs8",
    });
    const publicKey = fromBase64url(key.export({ format: "jwk" }).x as string);
    return new X25519KeyPair(key, publicKey, privateKey.slice());
  }
}

/**
 * The `25519` DH functions (spec §12.1): X25519 from `node:crypto`. An invalid public key that
 * would give an all-zero output is reported as a {@linkcode NoiseError} (the spec allows it, and
 * it is what `node:crypto` does).
 *
 * @example
 * ```ts
 * import { X25519 } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = X25519.generateKeyPair();
 * assert.deepEqual(X25519.keyPairFromPrivate(pair.privateKey).publicKey, pair.publicKey);
 * ```
 */
export const X25519: DhFunctions = Object.freeze({
  name: "25519",
  dhLen: 32,
  generateKeyPair(): KeyPair {
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    return new X25519KeyPair(
      privateKey,
      fromBase64url(publicKey.export({ format: "jwk" }).x as string),
    );
  },
  keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
    return X25519KeyPair.fromPrivate(privateKey);
  },
  dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array {
    if (publicKey.length !== 32) {
      throw new InvalidArgumentError(`An X25519 public key is 32 bytes, not ${publicKey.length}`);
    }
    const privateKey = X25519KeyPair.keyObjectOf(keyPair);
    try {
      return bytes(diffieHellman({
        privateKey,
        publicKey: createPublicKey({
          key: der(X25519_SPKI_PREFIX, publicKey),
          format: "der",
          type: "spki",
        }),
      }));
    } catch (e) {
      throw new NoiseError(
        `X25519 with public key ${publicKey.toHex()} gives no shared secret`,
        { cause: e },
      );
    }
  },
});

/** ChaCha20-Poly1305 under one key; the nonce buffer is reused from message to message. */
class ChaChaPolyKey implements KeyedCipher {
  // Raw bytes, not a KeyObject: createCipheriv turns its key argument into bytes at every call,
  // and a KeyObject made a message 1.2 to 1.8 times slower here.
  readonly #key: Uint8Array;
  readonly #nonce = new Uint8Array(12);
  readonly #nonceView = new DataView(this.#nonce.buffer);

  constructor(k: Uint8Array) {
    if (k.length !== 32) {
      throw new InvalidArgumentError(`A ChaChaPoly key is 32 bytes, not ${k.length}`);
    }
    this.#key = k.slice();
  }

  #setNonce(n: bigint): Uint8Array {
    // Spec §12.3: 32 bits of zeros, then n as a 64-bit little-endian integer.
    this.#nonceView.setBigUint64(4, n, true);
    return this.#nonce;
  }

  encrypt(n: bigint, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, at: number): number {
    const c = createCipheriv("chacha20-poly1305", this.#key, this.#setNonce(n), {
      authTagLength: 16,
    });
    if (ad.length > 0) c.setAAD(ad, { plaintextLength: plaintext.length });
    const body = c.update(plaintext);
    c.final();
    out.set(body, at);
    out.set(c.getAuthTag(), at + body.length);
    return body.length + 16;
  }

  decrypt(n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    const length = ciphertext.length - 16;
    if (length < 0) return null;
    const d = createDecipheriv("chacha20-poly1305", this.#key, this.#setNonce(n), {
      authTagLength: 16,
    });
    if (ad.length > 0) d.setAAD(ad, { plaintextLength: length });
    d.setAuthTag(ciphertext.subarray(length));
    const plaintext = d.update(ciphertext.subarray(0, length));
    try {
      d.final();
    } catch {
      return null;
    }
    return bytes(plaintext);
  }
}

/**
 * The `ChaChaPoly` cipher functions (spec §12.3): `AEAD_CHACHA20_POLY1305` from `node:crypto`,
 * with the 96-bit nonce made of 32 zero bits and the 64-bit counter in little-endian order.
 *
 * @example
 * ```ts
 * import { CHACHAPOLY } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * const out = new Uint8Array(16);
 * assert.equal(CHACHAPOLY.withKey(new Uint8Array(32)).encrypt(0n, new Uint8Array(0), new Uint8Array(0), out, 0), 16);
 * ```
 */
export const CHACHAPOLY: CipherFunctions = Object.freeze({
  name: "ChaChaPoly",
  withKey(k: Uint8Array): KeyedCipher {
    return new ChaChaPolyKey(k);
  },
});

/**
 * The `SHA256` hash functions (spec §12.5). `HKDF()` is computed by `node:crypto`'s `hkdfSync`:
 * the spec (§4.3) notes that its HKDF is RFC 5869 HKDF with the chaining key as salt and an empty
 * info, whose output blocks are exactly `output1 || output2 || output3`; one call measured about
 * twice as fast as three `createHmac` calls. A test checks it against the HMAC definition.
 *
 * @example
 * ```ts
 * import { SHA256 } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(SHA256.hash(new TextEncoder().encode("abc")).toHex().slice(0, 8), "ba7816bf");
 * ```
 */
export const SHA256: HashFunctions = Object.freeze({
  name: "SHA256",
  hashLen: 32,
  hash(a: Uint8Array, b?: Uint8Array): Uint8Array {
    const h = createHash("sha256").update(a);
    if (b !== undefined) h.update(b);
    return bytes(h.digest());
  },
  hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
    const out = new Uint8Array(
      hkdfSync("sha256", inputKeyMaterial, chainingKey, EMPTY, 32 * numOutputs),
    );
    const outputs = [out.subarray(0, 32), out.subarray(32, 64)];
    if (numOutputs === 3) outputs.push(out.subarray(64, 96));
    return outputs;
  },
});

/**
 * The DH functions this library has; a protocol name refers to one by its `name`.
 *
 * @example
 * ```ts
 * import { DH_FUNCTIONS } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(DH_FUNCTIONS.map((f) => f.name), ["25519"]);
 * ```
 */
export const DH_FUNCTIONS: readonly DhFunctions[] = Object.freeze([X25519]);

/**
 * The cipher functions this library has; a protocol name refers to one by its `name`.
 *
 * @example
 * ```ts
 * import { CIPHER_FUNCTIONS } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(CIPHER_FUNCTIONS.map((f) => f.name), ["ChaChaPoly"]);
 * ```
 */
export const CIPHER_FUNCTIONS: readonly CipherFunctions[] = Object.freeze([CHACHAPOLY]);

/**
 * The hash functions this library has; a protocol name refers to one by its `name`.
 *
 * @example
 * ```ts
 * import { HASH_FUNCTIONS } from "./crypto.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(HASH_FUNCTIONS.map((f) => f.name), ["SHA256"]);
 * ```
 */
export const HASH_FUNCTIONS: readonly HashFunctions[] = Object.freeze([SHA256]);
