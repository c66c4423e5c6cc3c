// Shared by the codec tests: integers at the edges of CBOR's argument widths and a seeded
// generator, so that random cases are the same on every run.

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

/** A deterministic generator of numbers in [0, 1) (a linear congruential generator). */
export function seeded(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}
