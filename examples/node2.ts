/**
 * Slide 14 of the P2PS talk: node 16 joins the network through node 1's access point
 * (127.0.0.1:3001), with its own access point on port 3002, and displays what it receives.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/node2.ts
 * ```
 *
 * @module
 */

import { joinNet } from "../mod.ts";

// The access point of a node already in the network (here, node 1).
const remoteAp = "127.0.0.1:3001";
// Create a node with id 16 and join the network through it.
const node = await joinNet(remoteAp, { node: { id: 16 }, ap: { port: 3002 } });
console.log(`node ${node.id} (port ${node.ap.port}) joined through ${remoteAp}`);
console.log(`its successor is node ${node.info().succ.id}`);
Deno.addSignalListener("SIGINT", () => node.leave());

// Display each message received.
for await (const m of node.messages()) {
  console.log(`from ${m.src} (${m.kind}, ${m.hops} hops):`, m.msg);
}
Deno.exit(0);
