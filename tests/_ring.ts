// Shared fixtures for simulator tests: build a ring, check the ring invariant, read a stream.
import { Simulator, type SimulatorOptions } from "../lib/node/simulator.ts";
import { type NodeOptions, type P2PNode, ringOf } from "../lib/node/node.ts";

/**
 * Builds a ring of `n` nodes joining through the first, in batches, then lets it settle. Ids are
 * the system's choice, or `ids[i]` for the i-th node.
 */
export async function buildRing(
  n: number,
  options: SimulatorOptions & {
    node?: NodeOptions;
    batch?: number;
    settleMs?: number;
    ids?: readonly number[];
  } = {},
): Promise<Simulator> {
  const sim = new Simulator(options);
  const id = (i: number) => options.ids ? { node: { id: options.ids[i] } } : {};
  const first = sim.createNet({ ...options.node, ...id(0) });
  const joins: Promise<P2PNode>[] = [];
  const batch = options.batch ?? 50;
  for (let i = 1; i < n; i++) {
    joins.push(sim.joinNet(first, { timing: options.node?.timing, ...id(i) }));
    if (i % batch === 0) sim.run(200);
  }
  sim.run(options.settleMs ?? 30_000);
  await Promise.all(joins);
  return sim;
}

/** Whether every node's successor and predecessor are its neighbours among `nodes` by id. */
export function ringOk(nodes: P2PNode[]): boolean {
  const ids = nodes.map((n) => n.id).sort((a, b) => a - b);
  return nodes.every((n) => {
    const i = ids.indexOf(n.id);
    const info = n.info();
    return info.succ.id === ids[(i + 1) % ids.length] &&
      info.pred?.id === ids[(i - 1 + ids.length) % ids.length];
  });
}

/** Ring-invariant violations among the live nodes: wrong successor or predecessor. */
export function ringViolations(sim: Simulator): string[] {
  const live = sim.live.sort((a, b) => a.id - b.id);
  const out: string[] = [];
  for (let i = 0; i < live.length; i++) {
    const info = live[i].info();
    const succ = live[(i + 1) % live.length].id;
    const pred = live[(i - 1 + live.length) % live.length].id;
    if (live.length === 1) {
      if (info.status !== "alone") out.push(`${info.id} is ${info.status}, expected alone`);
      continue;
    }
    if (info.succ.id !== succ) out.push(`${info.id}: succ ${info.succ.id}, expected ${succ}`);
    if (info.pred?.id !== pred) out.push(`${info.id}: pred ${info.pred?.id}, expected ${pred}`);
  }
  return out;
}

/** The id of the live node responsible for `key` (the first at or after it). */
export function responsibleFor(sim: Simulator, key: number): number {
  const ids = sim.live.map((n) => n.id).sort((a, b) => a - b);
  return ids.find((id) => id >= key) ?? ids[0];
}

/** Looks up `count` random keys from random nodes; returns hops and wrong answers. */
export function lookups(
  sim: Simulator,
  count: number,
): { hops: number[]; wrong: number; lost: number } {
  const live = sim.live;
  const maxKey = live[0].maxKey;
  const hops: number[] = [];
  let wrong = 0;
  let answered = 0;
  for (let i = 0; i < count; i++) {
    const src = live[Math.floor(sim.random() * live.length)];
    const key = Math.floor(sim.random() * maxKey);
    const expected = responsibleFor(sim, key);
    ringOf(src).lookup(key, (n, _p, h) => {
      answered++;
      if (n.id !== expected) wrong++;
      hops.push(h);
    });
  }
  sim.run(20_000);
  return { hops, wrong, lost: count - answered };
}

/** Collects everything delivered to each node until stopped. */
export function collect(
  nodes: P2PNode[],
): { got: Map<number, unknown[]>; hops: number[]; stop(): Promise<void> } {
  const got = new Map<number, unknown[]>();
  const hops: number[] = [];
  const its = nodes.map((n) => {
    const it = n.messages();
    (async () => {
      for await (const m of it) {
        if (!got.has(n.id)) got.set(n.id, []);
        got.get(n.id)!.push(m.msg);
        hops.push(m.hops);
      }
    })();
    return it;
  });
  return {
    got,
    hops,
    async stop() {
      for (const it of its) await it.return?.();
    },
  };
}

/**
 * Runs `sim` until `cond` holds; fails, naming `what`, when it does not within `limitMs` of
 * virtual time. For what the protocol only promises eventually. It checks every 50 ms of virtual
 * time, or with `eachEvent` after every event, for a state that may last less than that (two
 * events a millisecond apart).
 */
export function runUntil(
  sim: Simulator,
  cond: () => boolean,
  what: string,
  { limitMs = 30_000, eachEvent = false }: { limitMs?: number; eachEvent?: boolean } = {},
): void {
  const end = sim.clock.now() + limitMs;
  while (!cond()) {
    if (sim.clock.now() >= end) {
      throw new Error(`No ${what} within ${limitMs} ms of virtual time`);
    }
    sim.run(50, eachEvent ? 1 : Infinity);
  }
}

/** Lets pending promise callbacks run (the simulator's clock does not move). */
export function flush(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Mean of numbers. */
export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The p-quantile of numbers. */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/**
 * The values a stream reader has queued now (the simulator's clock does not move). Its next value
 * is consumed by the last, losing read: release the reader afterwards.
 */
export async function queued<T>(it: AsyncIterator<T>): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const r = await Promise.race([it.next(), flush().then(() => null)]);
    if (!r || r.done) return out;
    out.push(r.value);
  }
}

/** A promise's outcome, read without waiting for it (see {@linkcode outcome}). */
export interface Outcome<T> {
  /** Whether it settled, and how. */
  readonly state: "pending" | "fulfilled" | "rejected";
  readonly value?: T;
  readonly error?: unknown;
}

/**
 * Watches `p` so that its outcome can be read at any moment. In the simulator a promise settles
 * only while time runs: awaiting one that never will hangs the test, checking its outcome fails
 * it at once.
 */
export function outcome<T>(p: Promise<T>): { readonly now: Outcome<T> } {
  let now: Outcome<T> = { state: "pending" };
  p.then(
    (value) => (now = { state: "fulfilled", value }),
    (error) => (now = { state: "rejected", error }),
  );
  return {
    get now() {
      return now;
    },
  };
}

/**
 * Runs `sim` until `p` settles and returns its outcome; fails, naming `what`, if it has not
 * settled after `limitMs` of virtual time (Simulator.settle would then wait for it forever).
 */
export async function settle<T>(
  sim: Simulator,
  p: Promise<T>,
  what: string,
  limitMs = 600_000,
): Promise<T> {
  const o = outcome(p);
  const end = sim.clock.now() + limitMs;
  while (o.now.state === "pending" && sim.clock.now() < end) {
    sim.run(100);
    for (let i = 0; i < 4; i++) await Promise.resolve();
  }
  await flush();
  if (o.now.state === "pending") {
    throw new Error(`${what} did not settle within ${limitMs} ms of virtual time`);
  }
  return await p;
}
