/**
 * Finger policies: which ring positions a node keeps a pointer to.
 *
 * A policy is a list of signed offsets; the finger for offset `d` of node `s` is the node
 * responsible for `(s + d) mod maxKey`. Tango keeps two fingers per level at distances 1, 4, 12,
 * 36, ... (`d_n = 4·3^(n-2)`), one each way, so the key ranges reachable in n hops do not
 * overlap; Chord keeps clockwise powers of two; DKS(k) keeps `k − 1` fingers per level at
 * `j·k^i`; full mesh keeps every node it hears of.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

/** The name of a finger policy: `"tango"`, `"chord"`, `"dks:K"` (K ≥ 2) or `"fullmesh"`. */
export type FingerPolicyName = "tango" | "chord" | "fullmesh" | `dks:${number}`;

/** A parsed finger policy. */
export interface FingerPolicy {
  readonly name: FingerPolicyName;
  /** Signed offsets, ordered by absolute distance; empty for full mesh. */
  readonly offsets: readonly number[];
  /** Whether every node heard of is kept as a routing entry (full mesh). */
  readonly keepAll: boolean;
  /**
   * Whether fingers point both ways. One-way (clockwise) policies must approach a key from
   * behind, as Chord does; two-way policies may approach from either side.
   */
  readonly bidirectional: boolean;
}

/** Tango distances `1, 4, 12, 36, ...` up to `maxKey / 2`. */
export function tangoDistances(maxKey: number): number[] {
  const out: number[] = [];
  let d = 1;
  let r = 1;
  while (d <= maxKey / 2) {
    out.push(d);
    d = 2 * (r + 1);
    r = d + r;
  }
  return out;
}

/**
 * The policies of the default identifier space (2^52), built once, frozen and shared by every
 * node that uses them: a simulated network of a million nodes would otherwise hold a million
 * copies of the same offsets.
 */
const SHARED: Readonly<Record<string, FingerPolicy>> = Object.freeze({
  tango: frozen(build("tango", 2 ** 52)),
  chord: frozen(build("chord", 2 ** 52)),
});

function frozen(p: FingerPolicy): FingerPolicy {
  return Object.freeze({ ...p, offsets: Object.freeze([...p.offsets]) });
}

/** Builds the policy named `name` for a ring of `maxKey` positions. */
export function fingerPolicy(name: string, maxKey: number): FingerPolicy {
  if (maxKey === 2 ** 52 && Object.hasOwn(SHARED, name)) return SHARED[name];
  return build(name, maxKey);
}

function build(name: string, maxKey: number): FingerPolicy {
  if (name === "tango") {
    const offsets: number[] = [];
    for (const d of tangoDistances(maxKey)) {
      offsets.push(d);
      if (d !== maxKey - d) offsets.push(-d);
    }
    return { name, offsets, keepAll: false, bidirectional: true };
  }
  if (name === "chord") {
    const offsets: number[] = [];
    for (let d = 1; d < maxKey; d *= 2) offsets.push(d);
    return { name, offsets, keepAll: false, bidirectional: false };
  }
  if (name === "fullmesh") return { name, offsets: [1, -1], keepAll: true, bidirectional: true };
  const m = /^dks:(\d+)$/.exec(name);
  if (m) {
    const k = Number(m[1]);
    if (!(k >= 2 && k <= 1024)) {
      throw new InvalidArgumentError(`DKS arity must be between 2 and 1024, got ${m[1]}`);
    }
    const offsets: number[] = [];
    for (let level = 1; level < maxKey; level *= k) {
      for (let j = 1; j < k && j * level < maxKey; j++) offsets.push(j * level);
    }
    return { name: name as FingerPolicyName, offsets, keepAll: false, bidirectional: false };
  }
  throw new InvalidArgumentError(
    `Unknown finger policy "${name}": expected "tango", "chord", "dks:K" or "fullmesh"`,
  );
}
