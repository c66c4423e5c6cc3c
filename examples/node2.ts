/**
 * Slide 14 of the P2PS talk: node 16 joins the network through node 1's access point
 * (127.0.0.1:3001), with its own access point on port 3002, and displays what it receives.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/node2.ts [PORT [NODE1_AP]]
 * ```
 *
 * `PORT` (default 3002; 0 for any free port) and `NODE1_AP` (default `127.0.0.1:3001`) move the
 * access points.
 *
 * @module
 */

import { joinNet } from "../mod.ts";

const [port = "3002", node1 = "127.0.0.1:3001"] = Deno.args;
// The access point of a node already in the network (here, node 1).
const remoteAp = node1;
// Create a node with id 16 and join the network through it.
const node = await joinNet(remoteAp, { node: { id: 16 }, ap: { port: Number(port) } });
console.log(
  `node ${node.id} joined through ${remoteAp} at ${node.ap.hostname}:${node.ap.port}; ` +
    `successor ${node.info().succ.id}`,
);
Deno.addSignalListener("SIGINT", () => node.leave());

// Display each message received.
for await (const m of node.messages()) {
  console.log(`from ${m.src} (${m.kind}, ${m.hops} hops):`, m.msg);
}
Deno.exit(0);
