// Broadcast by interval splitting. Group's splitting step (#inside) is private, so the first group
// measures a line-for-line copy of it against a proposed allocation-light version on the same
// converged table; the second runs the library's broadcast end to end in the simulator against
// the baseline of reaching the same nodes with N−1 routed sends.
import type { NodeRef } from "../lib/com/transport.ts";
import { cw, inOO } from "../lib/core/id_space.ts";
import type { RoutingTable } from "../lib/core/routing_table.ts";
import { Simulator } from "../lib/node/simulator.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { fullTable, randomRefs } from "./_tables.ts";

const tb = fullTable(randomRefs(4096), 17, "tango");
const lim = tb.self.id;

/** Copy of lib/services/group.ts `#inside` (known nodes strictly inside (self, lim), nearest first). */
function insideCopy(t: RoutingTable, lim: number): NodeRef[] {
  const me = t.self.id;
  const M = t.maxKey;
  const byId = new Map<number, NodeRef>();
  t.forEachKnown((n) => {
    if (inOO(n.id, me, lim, M)) byId.set(n.id, n);
  });
  return [...byId.values()].sort((a, b) => cw(me, a.id, M) - cw(me, b.id, M));
}

/** Proposal: distances into a reused typed array, numeric sort, adjacent de-duplication. */
const dist = new Float64Array(256);
const refs: NodeRef[] = new Array(256);
function insideSorted(t: RoutingTable, lim: number): NodeRef[] {
  const me = t.self.id;
  const M = t.maxKey;
  const span = lim === me ? M : cw(me, lim, M);
  let k = 0;
  const add = (n: NodeRef | null) => {
    if (!n) return;
    const d = cw(me, n.id, M);
    if (d > 0 && d < span) {
      dist[k] = d;
      refs[k++] = n;
    }
  };
  if (t.pred !== t.self) add(t.pred);
  for (const s of t.succList) add(s);
  for (const f of t.fingers) add(f);
  // Sort indices by distance (k is small: a few dozen entries).
  const idx = Array.from({ length: k }, (_, i) => i).sort((a, b) => dist[a] - dist[b]);
  const out: NodeRef[] = [];
  let last = -1;
  for (const i of idx) {
    if (dist[i] !== last) out.push(refs[i]);
    last = dist[i];
  }
  return out;
}

Deno.bench({
  name: "copy of Group#inside (Map + sort by cw)",
  group: "interval splitting at one node (tango, N=4096)",
  baseline: true,
  fn() {
    insideCopy(tb, lim);
  },
});
Deno.bench({
  name: "proposal: distances + index sort, no Map",
  group: "interval splitting at one node (tango, N=4096)",
  fn() {
    insideSorted(tb, lim);
  },
});

// End to end in the simulator.
const N = 1024;
const sim = new Simulator({ seed: 9 });
const timing = { heartbeatMs: 1e9, reviveMs: 1e9 };
const first = sim.createNet({ net: { fingers: "tango" }, timing });
const nodes: P2PNode[] = [first];
for (let i = 1; i < N; i++) {
  sim.joinNet(nodes[Math.floor(sim.random() * nodes.length)], { timing }).then((n) =>
    nodes.push(n)
  );
  if (i % 64 === 0) {
    sim.run(2000);
    await Promise.resolve();
  }
}
sim.run(20_000);
await new Promise((r) => setTimeout(r, 0));
const src = nodes[0];
const others = nodes.slice(1).map((n) => n.id);

Deno.bench({
  name: `${N - 1} routed sends`,
  group: `reach ${N} simulated nodes`,
  baseline: true,
  n: 50,
  async fn() {
    for (const id of others) await src.send(id, 1);
    sim.run(300);
  },
});
Deno.bench({
  name: "one broadcast (interval splitting)",
  group: `reach ${N} simulated nodes`,
  n: 50,
  async fn() {
    await src.broadcast(1);
    sim.run(300);
  },
});
