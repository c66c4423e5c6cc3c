/**
 * Scale: how large a network one process builds and routes in, with the real protocol code in
 * the simulator. Nodes join in batches of 1,024 through random members (each a real relaxed-ring
 * join: routed request, answer with predecessor, successors and the successor's fingers,
 * notify/stabilise); then random lookups are checked against the live responsible node.
 *
 * Periodic maintenance is slowed for the build (no faults are injected): no heartbeats, no
 * finger refresh, stabilisation every 60 s, fingers taken from the successor at join and
 * corrected on use rather than looked up one by one.
 *
 * Usage: deno run --v8-flags=--max-old-space-size=21000,--expose-gc bench/scale.ts [N]
 *
 * @module
 */

import { Simulator } from "../lib/node/simulator.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { responsibleAmong } from "./_lib.ts";

const N = Number(Deno.args[0] ?? 65536);
const timing = {
  heartbeatMs: 1e9,
  fingerRefreshMs: 1e9,
  stabilizeMs: 60_000,
  fingersOnJoin: false,
};
const sim = new Simulator({ seed: 1 });
const first = sim.createNet({ timing });
const t0 = performance.now();
let batch: Promise<P2PNode | null>[] = [];
let members: P2PNode[] = [first];
let failed = 0;
for (let i = 1; i < N; i++) {
  const via = members[Math.floor(sim.random() * members.length)];
  batch.push(sim.joinNet(via, { timing }).catch(() => (failed++, null)));
  if (batch.length >= 1024) {
    await sim.settle(Promise.all(batch), 20);
    batch = [];
    members = sim.live;
  }
  if (i % 65536 === 0) {
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    const gib = (Deno.memoryUsage().heapUsed / 2 ** 30).toFixed(2);
    // Progress on stderr (bench/run.ts shows it), the result alone on stdout.
    console.error(`  ${i} nodes joined, ${s} s, heap ${gib} GiB`);
  }
}
await sim.settle(Promise.all(batch));
// A join that timed out under the load of a thousand concurrent joins is simply retried, as an
// application would.
let retried = 0;
while (sim.live.length < N) {
  members = sim.live;
  const missing = N - members.length;
  batch = [];
  for (let i = 0; i < Math.min(missing, 1024); i++) {
    retried++;
    const via = members[Math.floor(sim.random() * members.length)];
    batch.push(sim.joinNet(via, { timing }).catch(() => (failed++, null)));
  }
  await sim.settle(Promise.all(batch), 20);
}
sim.run(10_000);
const joinS = (performance.now() - t0) / 1000;
(globalThis as { gc?: () => void }).gc?.();
const heap = Deno.memoryUsage().heapUsed;
const live = sim.live;
const responsible = responsibleAmong(live.map((n) => n.id).sort((a, b) => a - b));
let ok = 0;
let hops = 0;
const L = 20_000;
const t1 = performance.now();
for (let i = 0; i < L; i++) {
  const src = live[Math.floor(sim.random() * live.length)];
  const key = Math.floor(sim.random() * src.maxKey);
  const want = responsible(key);
  ringOf(src).lookup(key, (n, _p, h) => {
    if (n.id === want) ok++;
    hops += h;
  });
}
sim.run(5_000);
const lookupS = (performance.now() - t1) / 1000;
console.log(JSON.stringify({
  nodes: live.length,
  joinsTimedOut: failed,
  joinsRetried: retried,
  joinSeconds: Math.round(joinS),
  heapGiB: +(heap / 2 ** 30).toFixed(2),
  bytesPerNode: Math.round(heap / live.length),
  lookups: L,
  lookupsCorrect: ok,
  meanHops: +(hops / Math.max(1, ok)).toFixed(2),
  lookupsPerSecond: Math.round(L / lookupS),
}));
