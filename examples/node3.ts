/**
 * Slide 15 of the P2PS talk: a third node joins through node 16 (127.0.0.1:3002), letting the
 * system choose its id and port; it sends a value to the node responsible for key 42, multicasts
 * `"hello"` to nodes 1 and 16, then leaves.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/node3.ts
 * ```
 *
 * @module
 */

import { joinNet } from "../mod.ts";

// Join through node 16; the node id and the local port are left to the system.
await using node = await joinNet("127.0.0.1:3002");
console.log(`node ${node.id} joined at ${node.ap.hostname}:${node.ap.port}`);

// Send a message to the node responsible for key 42 (any CBOR value is a message).
const receipt = await node.send(42, { anOzValue: [1, 2, 3] }, { toResp: true, ack: true });
console.log(`key 42 → delivered to node ${receipt.node} in ${receipt.hops} hop(s)`);

// Multicast a message to the nodes with ids 1 and 16.
const report = await node.multicast([1, 16], "hello", { ack: true });
console.log(`multicast → reached [${report.reached.sort((a, b) => a - b).join(", ")}]`);
// Leaving happens at the end of the scope (`await using`).
