// Next-hop choice on a converged routing table, and finger-table construction, per finger policy.
// Chord is the baseline: Tango must not make the per-hop decision noticeably dearer.
import { fingerPolicy } from "../lib/core/fingers.ts";
import { Phase, RoutingTable } from "../lib/core/routing_table.ts";
import { fullTable, MAX_KEY, randomKeys, randomRefs } from "./_tables.ts";

const N = 4096;
const refs = randomRefs(N);
const keys = randomKeys(1024);
const POLICIES = ["chord", "tango", "dks:4", "fullmesh"] as const;

for (const policy of POLICIES) {
  const tb = fullTable(refs, 17, policy);
  let i = 0;
  Deno.bench({
    name: `nextHop ${policy} (N=${N}, ${distinct(tb)} entries)`,
    group: "nextHop on a converged table",
    baseline: policy === "chord",
    fn() {
      tb.nextHop(keys[i++ & 1023], Phase.Approach);
    },
  });
}

// Construction: a node offered 256 candidates (what a joiner hears from its JoinOk and first
// lookups), from an empty table.
const candidates = randomRefs(256, 3);
for (const policy of POLICIES) {
  const p = fingerPolicy(policy, MAX_KEY);
  Deno.bench({
    name: `build ${policy} table from 256 candidates`,
    group: "finger-table construction",
    baseline: policy === "chord",
    fn() {
      const tb = new RoutingTable(candidates[0], MAX_KEY, p, 4);
      for (let j = 1; j < candidates.length; j++) tb.considerFinger(candidates[j]);
    },
  });
}

for (const policy of POLICIES) {
  Deno.bench({
    name: `fingerPolicy("${policy}") offsets`,
    group: "finger policy parsing",
    baseline: policy === "chord",
    fn() {
      fingerPolicy(policy, MAX_KEY);
    },
  });
}

function distinct(tb: RoutingTable): number {
  const s = new Set<number>();
  tb.forEachKnown((n) => s.add(n.id));
  return s.size;
}
