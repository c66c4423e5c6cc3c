// Waiting on real sockets: poll a condition until it holds or a deadline passes. The deadline
// is a failure bound, not a timing assumption: tests never sleep for a fixed time.
import { setTimeout as delay } from "node:timers/promises";

/** Polls `cond` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function until(
  cond: () => boolean,
  what: string,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** Reads the next value of an async iterator, failing after `timeoutMs`. */
export async function nextWithin<T>(
  it: AsyncIterator<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const ac = new AbortController();
  const timer = delay(timeoutMs, null, { signal: ac.signal }).then(() => {
    throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
  }, () => null);
  try {
    const r = await Promise.race([it.next(), timer]);
    if (!r || r.done) throw new Error(`Stream ended while waiting for ${what}`);
    return r.value;
  } finally {
    ac.abort();
  }
}
