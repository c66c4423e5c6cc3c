/**
 * Slide 15 of the P2PS talk: a third node joins through node 16 (127.0.0.1:3002), letting the
 * system choose its id and port; it sends a value to the node responsible for key 10 (node 16,
 * which holds the keys 2 to 16), multicasts `"hello"` to nodes 1 and 16, then leaves.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/node3.ts [NODE2_AP]
 * ```
 *
 * `NODE2_AP` (default `127.0.0.1:3002`) is the access point to join through.
 *
 * @module
 */

import { joinNet } from "../mod.ts";

// Join through node 16; the node id and the local port are left to the system.
await using node = await joinNet(Deno.args[0] ?? "127.0.0.1:3002");
console.log(`node ${node.id} joined at ${node.ap.hostname}:${node.ap.port}`);

// Send a message to the node responsible for key 10 (any CBOR value is a message).
const receipt = await node.send(10, { anOzValue: [1, 2, 3] }, { toResp: true, ack: true });
console.log(`key 10 → delivered to node ${receipt.node} in ${receipt.hops} hop(s)`);

// Multicast a message to the nodes with ids 1 and 16.
const report = await node.multicast([1, 16], "hello", { ack: true });
console.log(`multicast → reached [${report.reached.sort((a, b) => a - b).join(", ")}]`);
// Leaving happens at the end of the scope (`await using`).
