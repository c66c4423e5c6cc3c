// Routing tables filled the way a converged ring fills them: predecessor, successor list and
// every finger pointing at the right node. Shared by the micro-benchmarks and the allocation probe.
import type { NodeRef } from "../lib/com/transport.ts";
import { fingerPolicy } from "../lib/core/fingers.ts";
import { RoutingTable } from "../lib/core/routing_table.ts";
import { seededRandom } from "../lib/com/virtual_clock.ts";

/** Identifier-space size used throughout the micro-benchmarks (the library's default). */
export const MAX_KEY = 2 ** 52;

/** `n` distinct random node refs, sorted by id. */
export function randomRefs(n: number, seed = 1, maxKey = MAX_KEY): NodeRef[] {
  const rnd = seededRandom(seed);
  const ids = new Set<number>();
  while (ids.size < n) ids.add(Math.floor(rnd() * maxKey));
  return [...ids].sort((a, b) => a - b).map((id, i) => ({
    id,
    ap: { hostname: "127.0.0.1", port: 10000 + i },
  }));
}

/** The converged table of `refs[at]` under `policy` (candidates offered through considerFinger). */
export function fullTable(
  refs: NodeRef[],
  at: number,
  policy: string,
  succListSize = 4,
): RoutingTable {
  const n = refs.length;
  const tb = new RoutingTable(refs[at], MAX_KEY, fingerPolicy(policy, MAX_KEY), succListSize);
  tb.pred = refs[(at - 1 + n) % n];
  const succs: NodeRef[] = [];
  for (let k = 1; k <= succListSize; k++) succs.push(refs[(at + k) % n]);
  tb.setSuccList(succs[0], succs.slice(1));
  for (const r of refs) if (r !== refs[at]) tb.considerFinger(r);
  return tb;
}

/** `count` random keys. */
export function randomKeys(count: number, seed = 7): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, () => Math.floor(rnd() * MAX_KEY));
}
