/**
 * Slide 13 of the P2PS talk: the first node of a new network, id 1 on port 3001, displaying
 * every message it receives.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/node1.ts [PORT]
 * ```
 *
 * Then start `examples/node2.ts` and `examples/node3.ts` in other terminals. Ctrl-C leaves.
 * `PORT` (default 3001; 0 for any free port) moves the access point.
 *
 * @module
 */

import { createNet } from "../mod.ts";

const port = Number(Deno.args[0] ?? 3001);
// Create the first node (with id 1) of a P2PS network, with its access point on port 3001.
const node = await createNet({ node: { id: 1 }, ap: { hostname: "127.0.0.1", port } });
console.log(`node ${node.id} created the network at ${node.ap.hostname}:${node.ap.port}`);
Deno.addSignalListener("SIGINT", () => node.leave());

// Display each message received on the message stream (the loop ends when the node leaves).
for await (const m of node.messages()) {
  console.log(`from ${m.src} (${m.kind}, ${m.hops} hops):`, m.msg);
}
Deno.exit(0);
