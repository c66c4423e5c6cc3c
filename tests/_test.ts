// The suite's `Deno.test`. Deno sets no time limit on a test, so one regression that makes a test
// wait forever stalls the whole run; here every test runs under a limit and fails with its name
// when it passes it. Each test also gets a seeded random generator (the seed is printed when the
// test fails, and P2PS_TEST_SEED replays it) and a signal that fires at the limit.
//
// A test that passes its limit is abandoned, not stopped: what it left running (sockets, timers,
// child processes) is not waited for, so the run carries on, and Deno still exits at its end.
import { readEnv, SEED_VARIABLE, seeded, testSeed } from "./_values.ts";

/**
 * The time limit of a test that sets none, ms, and when P2PS_TEST_LIMIT_MS is set, the limit of
 * every test (no test's own limit can exceed it then). @default 120000
 */
export const TEST_LIMIT_MS: number = limitFromEnv() ?? 120_000;

function limitFromEnv(): number | undefined {
  const raw = readEnv("P2PS_TEST_LIMIT_MS");
  if (raw === undefined) return undefined;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new Error(`P2PS_TEST_LIMIT_MS must be a positive integer, got "${raw}"`);
  }
  return ms;
}

/** What a test body gets. */
export interface TestContext {
  /** The test's name. */
  readonly name: string;
  /** The seed of {@linkcode TestContext.random}. */
  readonly seed: number;
  /** Numbers in [0, 1) from the test's seed (using it makes a failure print the seed). */
  random(): number;
  /** An integer in [0, n) from the test's seed. */
  int(n: number): number;
  /** Aborted when the test passes its time limit: loops and waits may stop on it. */
  readonly signal: AbortSignal;
  /** Deno's own context (steps, origin). */
  readonly deno: Deno.TestContext;
}

/** Options of {@linkcode test}. */
export interface TestOptions {
  /** Time limit of this test, ms. @default TEST_LIMIT_MS */
  limitMs?: number;
  /** Skip the test (say why next to it). */
  ignore?: boolean;
}

/** Registers a test that fails, naming itself, if it runs past its time limit. */
export function test(
  name: string,
  fn: (ctx: TestContext) => void | Promise<void>,
  options: TestOptions = {},
): void {
  const cap = limitFromEnv() ?? Infinity;
  const limitMs = Math.min(options.limitMs ?? TEST_LIMIT_MS, cap);
  Deno.test({
    name,
    ignore: options.ignore ?? false,
    async fn(t) {
      const seed = testSeed();
      const rnd = seeded(seed);
      let drew = false;
      const abort = new AbortController();
      const ctx: TestContext = {
        name,
        seed,
        random: () => {
          drew = true;
          return rnd();
        },
        int: (n) => Math.floor(ctx.random() * n),
        signal: abort.signal,
        deno: t,
      };
      const body = Promise.resolve().then(() => fn(ctx));
      // A body abandoned at the limit may still fail later; that failure is already reported.
      body.catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(
            `Test "${name}" did not finish within its limit of ${limitMs} ms ` +
              "(P2PS_TEST_LIMIT_MS): it was waiting for something that never came",
          );
          abort.abort(e);
          reject(e);
        }, limitMs);
      });
      try {
        await Promise.race([body, limit]);
      } catch (e) {
        if (drew) {
          console.error(
            `Random choices of "${name}" came from seed ${seed}; replay them with\n` +
              `  ${SEED_VARIABLE}=${seed} deno task test --filter ${JSON.stringify(name)}`,
          );
        }
        throw e;
      } finally {
        clearTimeout(timer);
      }
    },
  });
}
