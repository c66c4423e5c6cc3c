// Shared values for tests: integers at the edges of CBOR's argument widths, and the seeded
// generator every random choice in the suite comes from, so that random cases are the same on
// every run with the same seed.

/** Integers at the edges of CBOR's 1-, 2-, 4- and 8-byte arguments and of safe integers. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  1,
  23,
  24,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 52,
  2 ** 53 - 1,
];

/**
 * A deterministic generator of numbers in [0, 1): the linear congruential generator of ANSI C
 * (modulus 2^31, full period). `Math.imul` keeps the product exact; a plain `*` would round it
 * in a double and collapse the sequence into cycles of about 15,000 values.
 */
export function seeded(seed: number): () => number {
  let x = Math.abs(Math.trunc(seed)) % 2 ** 31;
  return () => (x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff) / 2 ** 31;
}

/** The environment variable that fixes the seed of every test (to replay a failure). */
export const SEED_VARIABLE = "P2PS_TEST_SEED";

/**
 * The seed for a test: `P2PS_TEST_SEED` when set (a decimal integer), otherwise a fresh random
 * one, so that each run tries new cases and a failing one can be replayed.
 */
export function testSeed(): number {
  const fixed = readEnv(SEED_VARIABLE);
  if (fixed !== undefined) {
    const seed = Number(fixed);
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`${SEED_VARIABLE} must be a non-negative integer, got "${fixed}"`);
    }
    return seed;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0] % 2 ** 31;
}

/** An environment variable, or `undefined` when unset or when the test may not read it. */
export function readEnv(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name) || undefined;
}

/**
 * A TCP port nothing listens on: port 1 lies below the kernel's ephemeral range, so no test
 * listening on port 0 can be given it (a port found free and released could be taken meanwhile).
 */
export const CLOSED_PORT = 1;
