/**
 * Noise protocol names (spec §8): `Noise_<pattern><modifiers>_<DH>_<cipher>_<hash>`, read into
 * the pattern and the crypto functions they name.
 *
 * @module
 */

import { InvalidArgumentError } from "../../errors.ts";
import {
  CIPHER_FUNCTIONS,
  type CipherFunctions,
  DH_FUNCTIONS,
  type DhFunctions,
  HASH_FUNCTIONS,
  type HashFunctions,
} from "./crypto.ts";
import { findPattern, type HandshakePattern, withPsk } from "./patterns.ts";

/**
 * A concrete Noise protocol: a handshake pattern (modifiers applied) and a suite of crypto
 * functions.
 *
 * @example
 * ```ts
 * import { type NoiseProtocol, resolveProtocol } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const p: NoiseProtocol = resolveProtocol("Noise_XXpsk3_25519_ChaChaPoly_SHA256");
 * assert.deepEqual(p.pattern.messages[2], ["s", "se", "psk"]);
 * assert.equal(p.dh.dhLen, 32);
 * ```
 */
export interface NoiseProtocol {
  /** The full protocol name, hashed into the handshake by `InitializeSymmetric`. */
  readonly name: string;
  /** The handshake pattern, with its modifiers applied. */
  readonly pattern: HandshakePattern;
  /** The DH functions. */
  readonly dh: DhFunctions;
  /** The cipher functions. */
  readonly cipher: CipherFunctions;
  /** The hash functions. */
  readonly hash: HashFunctions;
}

/**
 * What a protocol name means to this library: a protocol it can run; a well-formed name whose
 * pattern, modifier or crypto functions it lacks (`"unsupported"`, e.g. `448` or `fallback`); or
 * not a valid Noise protocol name at all (`"invalid"`). `reason` names the offending part.
 *
 * @example
 * ```ts
 * import { parseProtocolName, type ProtocolLookup } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const lookup: ProtocolLookup = parseProtocolName("Noise_XX_448_ChaChaPoly_SHA256");
 * assert.equal(lookup.status, "unsupported");
 * ```
 */
export type ProtocolLookup =
  | { readonly status: "supported"; readonly protocol: NoiseProtocol }
  | { readonly status: "unsupported"; readonly reason: string }
  | { readonly status: "invalid"; readonly reason: string };

// §8.1: an uppercase pattern name, then lowercase modifiers, the second and later after a "+".
const PATTERN_SECTION = /^([A-Z0-9]+)([a-z][a-z0-9]*(?:\+[a-z][a-z0-9]*)*)?$/;
// §8.2: algorithm names of alphanumerics and "/", several joined by "+".
const ALGORITHM_SECTION = /^[A-Za-z0-9/]+(?:\+[A-Za-z0-9/]+)*$/;
const PSK_MODIFIER = /^psk(0|[1-9][0-9]*)$/;

/**
 * Reads a full protocol name, never throwing: unknown or unsupported parts come back as a
 * status with a reason, so a caller can skip what it cannot run and report what is malformed.
 *
 * @param name e.g. `"Noise_XXpsk3_25519_ChaChaPoly_SHA256"` or `"Noise_NNpsk0+psk2_..."`.
 *
 * @example
 * ```ts
 * import { parseProtocolName } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const ok = parseProtocolName("Noise_IKpsk2_25519_ChaChaPoly_SHA256");
 * assert.equal(ok.status === "supported" && ok.protocol.pattern.name, "IKpsk2");
 * assert.equal(parseProtocolName("Noise_XX_25519_AESGCM_SHA256").status, "unsupported");
 * assert.equal(parseProtocolName("Noise_XX_25519").status, "invalid");
 * assert.equal(parseProtocolName("Noise_NNpsk3_25519_ChaChaPoly_SHA256").status, "invalid");
 * ```
 */
export function parseProtocolName(name: string): ProtocolLookup {
  const invalid = (why: string): ProtocolLookup => ({
    status: "invalid",
    reason: `"${name}" is not a Noise protocol name: ${why}`,
  });
  const unsupported = (what: string): ProtocolLookup => ({
    status: "unsupported",
    reason: `"${name}": ${what} not supported`,
  });
  if (name.length > 255) return invalid("longer than 255 bytes");
  if (!name.startsWith("Noise_")) return invalid('it does not start with "Noise_"');
  const sections = name.slice("Noise_".length).split("_");
  if (sections.length !== 4) {
    return invalid(`it has ${sections.length} sections after "Noise_", not 4`);
  }
  const [patternSection, dhName, cipherName, hashName] = sections;
  const parts = PATTERN_SECTION.exec(patternSection);
  if (parts === null) return invalid(`bad pattern section "${patternSection}"`);
  for (const section of [dhName, cipherName, hashName]) {
    if (!ALGORITHM_SECTION.test(section)) return invalid(`bad algorithm section "${section}"`);
  }
  const [, baseName, modifierText] = parts;
  const modifiers = modifierText === undefined ? [] : modifierText.split("+");
  const base = findPattern(baseName);
  if (base === undefined) return unsupported(`handshake pattern ${baseName} is`);
  const positions: number[] = [];
  for (const modifier of modifiers) {
    const psk = PSK_MODIFIER.exec(modifier);
    if (psk === null) return unsupported(`modifier "${modifier}" is`);
    positions.push(Number(psk[1]));
  }
  let pattern: HandshakePattern;
  try {
    pattern = withPsk(base, positions);
  } catch (e) {
    return invalid((e as Error).message);
  }
  const dh = DH_FUNCTIONS.find((f) => f.name === dhName);
  if (dh === undefined) return unsupported(`DH functions "${dhName}" are`);
  const cipher = CIPHER_FUNCTIONS.find((f) => f.name === cipherName);
  if (cipher === undefined) return unsupported(`cipher functions "${cipherName}" are`);
  const hash = HASH_FUNCTIONS.find((f) => f.name === hashName);
  if (hash === undefined) return unsupported(`hash functions "${hashName}" are`);
  return { status: "supported", protocol: Object.freeze({ name, pattern, dh, cipher, hash }) };
}

/**
 * The protocol a name denotes.
 *
 * @throws {InvalidArgumentError} if the name is invalid or not supported (the message says
 * which part).
 *
 * @example
 * ```ts
 * import { resolveProtocol } from "./mod.ts";
 * import { InvalidArgumentError } from "../../errors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(resolveProtocol("Noise_NK1_25519_ChaChaPoly_SHA256").pattern.messages.length, 2);
 * assert.throws(() => resolveProtocol("Noise_XX_25519_ChaChaPoly_BLAKE2s"), InvalidArgumentError);
 * ```
 */
export function resolveProtocol(name: string): NoiseProtocol {
  const lookup = parseProtocolName(name);
  if (lookup.status !== "supported") throw new InvalidArgumentError(lookup.reason);
  return lookup.protocol;
}
