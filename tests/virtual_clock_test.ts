import assert from "node:assert/strict";
import { seededRandom, VirtualClock } from "../lib/com/virtual_clock.ts";
import { test } from "./_test.ts";

/** The specification: timers run in (time, insertion) order, found by a linear scan. */
class ReferenceClock {
  now = 0;
  #seq = 0;
  #timers: { at: number; seq: number; fn: (() => void) | null }[] = [];

  timer(ms: number, fn: () => void): { cancel(): void } {
    const t = { at: this.now + (ms > 0 ? ms : 0), seq: this.#seq++, fn: fn as (() => void) | null };
    this.#timers.push(t);
    return { cancel: () => void (t.fn = null) };
  }

  get pending(): number {
    return this.#timers.filter((t) => t.fn).length;
  }

  run(until = Infinity, maxEvents = Infinity): number {
    let n = 0;
    while (n < maxEvents) {
      let best = -1;
      for (let i = 0; i < this.#timers.length; i++) {
        const t = this.#timers[i];
        if (!t.fn) continue;
        const b = this.#timers[best];
        if (best < 0 || t.at < b.at || (t.at === b.at && t.seq < b.seq)) best = i;
      }
      if (best < 0 || this.#timers[best].at > until) break;
      const t = this.#timers[best];
      const fn = t.fn!;
      t.fn = null;
      this.now = t.at;
      fn();
      n++;
    }
    this.#timers = this.#timers.filter((t) => t.fn);
    if (until !== Infinity && this.now < until && n < maxEvents) this.now = until;
    return n;
  }
}

interface AnyClock {
  timer(ms: number, fn: () => void): { cancel(): void };
  run(until?: number, maxEvents?: number): number;
  readonly pending: number;
  now(): number;
}

/**
 * Drives a clock with a random workload from `seed`: timers at fractional and whole delays
 * (zero, below a millisecond, a few milliseconds, seconds), timers that schedule more timers
 * (some into the millisecond being run), cancellations, and runs bounded by time and by count.
 * Returns the trace of (label, time) pairs and of run results.
 */
function drive(clock: AnyClock, seed: number): string[] {
  const random = seededRandom(seed);
  const trace: string[] = [];
  const handles: { cancel(): void }[] = [];
  let label = 0;
  const delay = () => {
    const r = random();
    if (r < 0.1) return 0;
    if (r < 0.2) return random() * 0.9;
    if (r < 0.3) return Math.floor(random() * 4);
    if (r < 0.8) return 1 + random() * 4;
    return random() * 3000;
  };
  const schedule = (depth: number) => {
    const me = label++;
    handles.push(clock.timer(delay(), () => {
      trace.push(`${me}@${clock.now()}`);
      if (depth < 3) {
        const k = Math.floor(random() * 3);
        for (let i = 0; i < k; i++) schedule(depth + 1);
      }
      if (random() < 0.1 && handles.length) handles[Math.floor(random() * handles.length)].cancel();
    }));
  };
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 20; i++) schedule(0);
    for (let i = 0; i < 3; i++) handles[Math.floor(random() * handles.length)].cancel();
    const r = random();
    const ran = r < 0.4
      ? clock.run(clock.now() + random() * 10)
      : r < 0.7
      ? clock.run(Infinity, 1 + Math.floor(random() * 30))
      : clock.run(clock.now() + random() * 500, 1 + Math.floor(random() * 50));
    trace.push(`run ${ran} now ${clock.now()} pending ${clock.pending}`);
  }
  trace.push(`last ${clock.run()} now ${clock.now()} pending ${clock.pending}`);
  return trace;
}

test("the virtual clock runs timers in (time, insertion) order, as a linear scan does", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const ref = new ReferenceClock();
    const refClock: AnyClock = {
      timer: (ms, fn) => ref.timer(ms, fn),
      run: (u, m) => ref.run(u, m),
      get pending() {
        return ref.pending;
      },
      now: () => ref.now,
    };
    assert.deepEqual(drive(new VirtualClock(), seed), drive(refClock, seed), `seed ${seed}`);
  }
});

test("timers due at the same time run in the order they were set, even when set while running", () => {
  const clock = new VirtualClock();
  const seen: string[] = [];
  clock.timer(5.5, () => {
    seen.push("a");
    clock.timer(0, () => seen.push("c"));
    clock.timer(0.25, () => seen.push("e"));
  });
  clock.timer(5.5, () => seen.push("b"));
  clock.timer(5.75, () => seen.push("f"));
  clock.timer(5.5, () => seen.push("b2"));
  clock.run(5.625);
  assert.deepEqual(seen, ["a", "b", "b2", "c"]);
  assert.equal(clock.now(), 5.625);
  clock.timer(0.125, () => seen.push("d")); // due at 5.75 too, set last
  clock.run();
  assert.deepEqual(seen, ["a", "b", "b2", "c", "f", "e", "d"]);
  assert.equal(clock.pending, 0);
});

test("a cancelled timer never runs and no longer counts as pending", () => {
  const clock = new VirtualClock();
  let ran = false;
  const t = clock.timer(10, () => (ran = true));
  clock.timer(20, () => {});
  assert.equal(clock.pending, 2);
  t.cancel();
  t.cancel();
  assert.equal(clock.pending, 1);
  assert.equal(clock.run(), 1);
  assert.equal(ran, false);
  assert.equal(clock.now(), 20);
});

test("the seeded random source draws distinct 52-bit ids for a million-node network", () => {
  // With 32 random bits per draw, 300,000 ids in [0, 2^52) repeat about ten times (birthday
  // bound); with 53 bits a repeat has a chance of about 1e-5.
  const random = seededRandom(7);
  const ids = new Set<number>();
  for (let i = 0; i < 300_000; i++) {
    const x = random();
    assert.ok(x >= 0 && x < 1);
    ids.add(Math.floor(x * 2 ** 52));
  }
  assert.equal(ids.size, 300_000);
  // Deterministic: the same seed gives the same sequence.
  const a = seededRandom(3), b = seededRandom(3);
  for (let i = 0; i < 100; i++) assert.equal(a(), b());
});
