/**
 * Every handshake pattern of the Noise spec (revision 34), written once, in the spec's own
 * notation, and read into data at load: the one-way patterns (§7.4), the 12 fundamental
 * interactive patterns (§7.5) and the 23 deferred patterns (§7.6, appendix §18.1). The `pskN`
 * modifiers of §9.4 turn any of them into a PSK pattern.
 *
 * @module
 */

import { InvalidArgumentError } from "../../errors.ts";

/**
 * A token of a pre-message pattern: a public key known to the other party beforehand.
 *
 * @example
 * ```ts
 * import { HANDSHAKE_PATTERNS, type PreMessageToken } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const known: readonly PreMessageToken[] = HANDSHAKE_PATTERNS.KK.initiatorPreMessage;
 * assert.deepEqual(known, ["s"]);
 * ```
 */
export type PreMessageToken = "e" | "s";

/**
 * A token of a message pattern (spec §7.1, and `"psk"` from §9.2).
 *
 * @example
 * ```ts
 * import { HANDSHAKE_PATTERNS, type Token } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const first: readonly Token[] = HANDSHAKE_PATTERNS.IK.messages[0];
 * assert.deepEqual(first, ["e", "es", "s", "ss"]);
 * ```
 */
export type Token = "e" | "s" | "ee" | "es" | "se" | "ss" | "psk";

/**
 * A handshake pattern as data. Messages alternate, the initiator sending the first: message `i`
 * is the initiator's when `i` is even.
 *
 * @example XX
 * ```ts
 * import { HANDSHAKE_PATTERNS } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(HANDSHAKE_PATTERNS.XX.messages, [["e"], ["e", "ee", "s", "es"], ["s", "se"]]);
 * assert.deepEqual(HANDSHAKE_PATTERNS.NK.responderPreMessage, ["s"]);
 * ```
 */
export interface HandshakePattern {
  /** The pattern's name with its modifiers, as in a protocol name: `"XX"`, `"XXpsk3"`. */
  readonly name: string;
  /** Keys the responder knows of the initiator before the handshake (`-> s` before `...`). */
  readonly initiatorPreMessage: readonly PreMessageToken[];
  /** Keys the initiator knows of the responder before the handshake (`<- s` before `...`). */
  readonly responderPreMessage: readonly PreMessageToken[];
  /** The message patterns, in order. */
  readonly messages: readonly (readonly Token[])[];
}

/**
 * The name of a pattern of the spec, without modifiers.
 *
 * @example
 * ```ts
 * import { HANDSHAKE_PATTERNS, type PatternName } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const name: PatternName = "IK1";
 * assert.equal(HANDSHAKE_PATTERNS[name].messages.length, 2);
 * ```
 */
export type PatternName =
  | "N"
  | "K"
  | "X"
  | "NN"
  | "NK"
  | "NX"
  | "KN"
  | "KK"
  | "KX"
  | "XN"
  | "XK"
  | "XX"
  | "IN"
  | "IK"
  | "IX"
  | "NK1"
  | "NX1"
  | "X1N"
  | "X1K"
  | "XK1"
  | "X1K1"
  | "X1X"
  | "XX1"
  | "X1X1"
  | "K1N"
  | "K1K"
  | "KK1"
  | "K1K1"
  | "K1X"
  | "KX1"
  | "K1X1"
  | "I1N"
  | "I1K"
  | "IK1"
  | "I1K1"
  | "I1X"
  | "IX1"
  | "I1X1";

// The spec's tables, verbatim but for layout: the one source of the patterns (the compiler
// checks that it has exactly the names of PatternName).
const NOTATION: Readonly<Record<PatternName, string>> = {
  // §7.4 one-way patterns
  N: "<- s ... -> e, es",
  K: "-> s <- s ... -> e, es, ss",
  X: "<- s ... -> e, es, s, ss",
  // §7.5 fundamental interactive patterns
  NN: "-> e <- e, ee",
  NK: "<- s ... -> e, es <- e, ee",
  NX: "-> e <- e, ee, s, es",
  KN: "-> s ... -> e <- e, ee, se",
  KK: "-> s <- s ... -> e, es, ss <- e, ee, se",
  KX: "-> s ... -> e <- e, ee, se, s, es",
  XN: "-> e <- e, ee -> s, se",
  XK: "<- s ... -> e, es <- e, ee -> s, se",
  XX: "-> e <- e, ee, s, es -> s, se",
  IN: "-> e, s <- e, ee, se",
  IK: "<- s ... -> e, es, s, ss <- e, ee, se",
  IX: "-> e, s <- e, ee, se, s, es",
  // §18.1 deferred patterns
  NK1: "<- s ... -> e <- e, ee, es",
  NX1: "-> e <- e, ee, s -> es",
  X1N: "-> e <- e, ee -> s <- se",
  X1K: "<- s ... -> e, es <- e, ee -> s <- se",
  XK1: "<- s ... -> e <- e, ee, es -> s, se",
  X1K1: "<- s ... -> e <- e, ee, es -> s <- se",
  X1X: "-> e <- e, ee, s, es -> s <- se",
  XX1: "-> e <- e, ee, s -> es, s, se",
  X1X1: "-> e <- e, ee, s -> es, s <- se",
  K1N: "-> s ... -> e <- e, ee -> se",
  K1K: "-> s <- s ... -> e, es <- e, ee -> se",
  KK1: "-> s <- s ... -> e <- e, ee, se, es",
  K1K1: "-> s <- s ... -> e <- e, ee, es -> se",
  K1X: "-> s ... -> e <- e, ee, s, es -> se",
  KX1: "-> s ... -> e <- e, ee, se, s -> es",
  K1X1: "-> s ... -> e <- e, ee, s -> se, es",
  I1N: "-> e, s <- e, ee -> se",
  I1K: "<- s ... -> e, es, s <- e, ee -> se",
  IK1: "<- s ... -> e, s <- e, ee, se, es",
  I1K1: "<- s ... -> e, s <- e, ee, es -> se",
  I1X: "-> e, s <- e, ee, s, es -> se",
  IX1: "-> e, s <- e, ee, se, s -> es",
  I1X1: "-> e, s <- e, ee, s -> se, es",
};

const TOKENS: ReadonlySet<string> = new Set<Token>(["e", "s", "ee", "es", "se", "ss", "psk"]);

/** Reads one pattern in the spec's notation (arrows, comma-separated tokens, `...`). */
function parsePattern(name: string, notation: string): HandshakePattern {
  const [pre, main] = notation.includes("...") ? notation.split("...") : ["", notation];
  const lines = (text: string) =>
    text.split(/(?=->|<-)/).map((l) => l.trim()).filter((l) => l !== "").map((l) => ({
      initiator: l.startsWith("->"),
      tokens: l.slice(2).split(",").map((t) => t.trim()),
    }));
  const preMessages = lines(pre);
  const messages = lines(main);
  const fail = (why: string) => new Error(`Pattern ${name} in the table is broken: ${why}`);
  for (const [i, m] of messages.entries()) {
    if (m.initiator !== (i % 2 === 0)) throw fail(`message ${i} is sent out of turn`);
    for (const t of m.tokens) if (!TOKENS.has(t)) throw fail(`unknown token "${t}"`);
  }
  const preOf = (initiator: boolean) => {
    const tokens = preMessages.filter((m) => m.initiator === initiator).flatMap((m) => m.tokens);
    for (const t of tokens) if (t !== "e" && t !== "s") throw fail(`pre-message token "${t}"`);
    return Object.freeze(tokens as PreMessageToken[]);
  };
  return Object.freeze({
    name,
    initiatorPreMessage: preOf(true),
    responderPreMessage: preOf(false),
    messages: Object.freeze(messages.map((m) => Object.freeze(m.tokens as Token[]))),
  });
}

/**
 * Every pattern of the spec by name, without modifiers: N, K, X; NN … IX; NK1 … I1X1.
 *
 * @example
 * ```ts
 * import { HANDSHAKE_PATTERNS } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(Object.keys(HANDSHAKE_PATTERNS).length, 3 + 12 + 23);
 * assert.deepEqual(HANDSHAKE_PATTERNS.X1X1.messages.at(-1), ["se"]);
 * ```
 */
export const HANDSHAKE_PATTERNS: Readonly<Record<PatternName, HandshakePattern>> = Object
  .freeze(
    Object.fromEntries(
      Object.entries(NOTATION).map(([name, notation]) => [name, parsePattern(name, notation)]),
    ) as Record<PatternName, HandshakePattern>,
  );

/**
 * The base pattern of that name, or `undefined` if the spec defines none (own keys only: names
 * such as `"constructor"` are not patterns).
 *
 * @example
 * ```ts
 * import { findPattern } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(findPattern("IK")?.messages.length, 2);
 * assert.equal(findPattern("toString"), undefined);
 * ```
 */
export function findPattern(name: string): HandshakePattern | undefined {
  return Object.hasOwn(HANDSHAKE_PATTERNS, name)
    ? HANDSHAKE_PATTERNS[name as PatternName]
    : undefined;
}

/**
 * Applies `psk` modifiers (spec §9.4) in the order given: `psk0` puts a `"psk"` token at the
 * start of the first message, `pskN` (N ≥ 1) at the end of message N. The name gets the
 * modifiers appended as a protocol name spells them (`"XX"` + [0, 2] → `"XXpsk0+psk2"`).
 *
 * @param pattern a pattern, usually one of {@linkcode HANDSHAKE_PATTERNS}.
 * @param positions the N of each `pskN`.
 * @throws {InvalidArgumentError} if a position repeats, is not an integer, or is past the
 * pattern's last message.
 *
 * @example
 * ```ts
 * import { HANDSHAKE_PATTERNS, withPsk } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const p = withPsk(HANDSHAKE_PATTERNS.NN, [0, 2]);
 * assert.equal(p.name, "NNpsk0+psk2");
 * assert.deepEqual(p.messages, [["psk", "e"], ["e", "ee", "psk"]]);
 * ```
 */
export function withPsk(pattern: HandshakePattern, positions: readonly number[]): HandshakePattern {
  const messages = pattern.messages.map((m) => [...m]);
  const seen = new Set<number>();
  for (const n of positions) {
    if (!Number.isInteger(n) || n < 0 || n > messages.length || seen.has(n)) {
      throw new InvalidArgumentError(
        `Modifier psk${n} does not fit pattern ${pattern.name} (${messages.length} messages${
          seen.has(n) ? `, psk${n} given twice` : ""
        })`,
      );
    }
    seen.add(n);
    if (n === 0) messages[0].unshift("psk");
    else messages[n - 1].push("psk");
  }
  const modifiers = positions.map((n) => `psk${n}`).join("+");
  // Modifiers are lowercase: a first one is appended directly, later ones after a "+" (§8.1).
  const joint = modifiers !== "" && /[a-z]/.test(pattern.name) ? "+" : "";
  return Object.freeze({
    name: pattern.name + joint + modifiers,
    initiatorPreMessage: pattern.initiatorPreMessage,
    responderPreMessage: pattern.responderPreMessage,
    messages: Object.freeze(messages.map((m) => Object.freeze(m))),
  });
}
