/**
 * Keys for the project's Noise links: static X25519 key pairs, and the pre-shared key derived
 * from a network's secret.
 *
 * @module
 */

import { hkdfSync } from "node:crypto";
import { InvalidArgumentError } from "../../errors.ts";
import { type KeyPair, X25519 } from "./crypto.ts";

/**
 * The salt of {@linkcode pskFromSecret}: a fixed label, so that a secret shared with other
 * software never yields the same key there as here.
 *
 * @example
 * ```ts
 * import { PSK_SALT, pskFromSecret } from "./mod.ts";
 * import assert from "node:assert/strict";
 * import { hkdfSync } from "node:crypto";
 *
 * const psk = new Uint8Array(hkdfSync("sha256", "secret", PSK_SALT, "net", 32));
 * assert.deepEqual(pskFromSecret("secret", "net"), psk);
 * ```
 */
export const PSK_SALT = "p2ps/v1 psk";

/**
 * A fresh static X25519 key pair: a node's long-term identity on its Noise links. The returned
 * object also holds the key in the form `node:crypto` computes with, so pass the object itself
 * to the handshake (a plain `{ publicKey, privateKey }` copy works, but is re-imported at every
 * DH).
 *
 * @example
 * ```ts
 * import { generateStaticKeyPair, keyPairFromPrivate } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = generateStaticKeyPair();
 * assert.deepEqual(keyPairFromPrivate(pair.privateKey).publicKey, pair.publicKey);
 * ```
 */
export function generateStaticKeyPair(): KeyPair {
  return X25519.generateKeyPair();
}

/**
 * The X25519 key pair of a stored 32-byte private key (its public key is derived).
 *
 * @throws {InvalidArgumentError} if `privateKey` is not 32 bytes long.
 *
 * @example
 * ```ts
 * import { keyPairFromPrivate } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * // RFC 7748 §6.1: Alice's private key and public key.
 * const alice = keyPairFromPrivate(Uint8Array.fromHex(
 *   "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
 * ));
 * assert.equal(alice.publicKey.toHex(), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
 * ```
 */
export function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  return X25519.keyPairFromPrivate(privateKey);
}

/**
 * Whether two keys are the same bytes (static public keys: no secret, but compared in full).
 *
 * @example
 * ```ts
 * import { generateStaticKeyPair, sameKey } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const a = generateStaticKeyPair().publicKey;
 * assert.equal(sameKey(a, a.slice()), true);
 * assert.equal(sameKey(a, generateStaticKeyPair().publicKey), false);
 * ```
 */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The 32-byte Noise pre-shared key of a network secret. To reproduce it elsewhere:
 *
 *     psk = HKDF-SHA256(ikm = UTF-8(secret), salt = UTF-8("p2ps/v1 psk"),
 *                       info = UTF-8(networkName), length = 32)
 *
 * (RFC 5869; here `node:crypto` `hkdfSync("sha256", secret, "p2ps/v1 psk", networkName, 32)`).
 * Binding the network name means one secret reused for two networks gives two keys. HKDF is
 * not a password hash: a low-entropy secret can be guessed offline by anyone who records a
 * handshake, so use a long random secret.
 *
 * @param secret the network's shared secret (non-empty).
 * @param networkName the network's name.
 * @throws {InvalidArgumentError} if `secret` is empty.
 *
 * @example
 * ```ts
 * import { pskFromSecret } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const psk = pskFromSecret("correct horse battery staple", "lab");
 * assert.equal(psk.length, 32);
 * assert.notDeepEqual(psk, pskFromSecret("correct horse battery staple", "prod"));
 * ```
 */
export function pskFromSecret(secret: string, networkName: string): Uint8Array {
  if (secret.length === 0) throw new InvalidArgumentError("The network secret is empty");
  const encoder = new TextEncoder();
  return new Uint8Array(
    hkdfSync(
      "sha256",
      encoder.encode(secret),
      encoder.encode(PSK_SALT),
      encoder.encode(networkName),
      32,
    ),
  );
}
