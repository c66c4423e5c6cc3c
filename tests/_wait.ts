// Waiting in tests: every wait has a deadline and fails with a message naming what it waited for.
// Deadlines are failure bounds, not timing assumptions: tests never sleep for a fixed time and
// never assert how long something took.
import { setTimeout as delay } from "node:timers/promises";

/** Polls `cond` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** Resolves as `promise` does, or fails after `timeoutMs` naming `what` it waited for. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const ac = new AbortController();
  const timer = delay(timeoutMs, null, { signal: ac.signal }).then(() => {
    throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
  }, () => null as never);
  try {
    return await Promise.race([promise, timer]);
  } finally {
    ac.abort();
  }
}

/** Reads the next value of an async iterator, failing after `timeoutMs`. */
export async function nextWithin<T>(
  it: AsyncIterator<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const r = await within(it.next(), what, timeoutMs);
  if (r.done) throw new Error(`Stream ended while waiting for ${what}`);
  return r.value;
}

/**
 * Everything an iterator yields until it ends (a node's streams end when it stops), failing
 * after `timeoutMs` if it does not end.
 */
export async function drain<T>(
  it: AsyncIterator<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<T[]> {
  const out: T[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await within(it.next(), `the end of ${what}`, Math.max(1, end - Date.now()));
    if (r.done) return out;
    out.push(r.value);
  }
}
