/**
 * `createNet` and `joinNet`: nodes over real TCP sockets.
 *
 * @module
 */

import { TcpTransport } from "../com/tcp/transport.ts";
import type { AccessPoint } from "../com/transport.ts";
import { InvalidArgumentError } from "../errors.ts";
import { type NodeOptions, P2PNode } from "./node.ts";

/**
 * Parses `"host:port"` or `{ hostname, port }` into an access point.
 *
 * @example
 * ```ts
 * import { parseAccessPoint } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseAccessPoint("127.0.0.1:3001"), { hostname: "127.0.0.1", port: 3001 });
 * assert.throws(() => parseAccessPoint("nowhere"), /host:port/);
 * ```
 */
export function parseAccessPoint(ap: string | Partial<AccessPoint>): AccessPoint {
  if (typeof ap === "string") {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(ap.trim());
    if (!m || m[1] === "") {
      throw new InvalidArgumentError(`Access point must look like "host:port", got "${ap}"`);
    }
    return parseAccessPoint({ hostname: m[1], port: Number(m[2]) });
  }
  const port = ap.port;
  if (!(Number.isInteger(port) && port! > 0 && port! < 65536)) {
    throw new InvalidArgumentError(`Access point port must be in [1, 65535], got ${port}`);
  }
  return { hostname: ap.hostname || "127.0.0.1", port: port! };
}

async function listen(options: NodeOptions): Promise<TcpTransport> {
  const port = options.ap?.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new InvalidArgumentError(`ap.port must be in [0, 65535], got ${port}`);
  }
  return await TcpTransport.listen({
    hostname: options.ap?.hostname ?? "127.0.0.1",
    port,
    maxFrameSize: options.maxFrameSize,
  });
}

/**
 * Creates the first node of a new network, listening on `options.ap` (port 0 picks a free
 * port). Network characteristics go in `options.net`.
 *
 * @example Create a network and leave it
 * ```ts
 * import { createNet } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * await using node = await createNet({ node: { id: 1 }, ap: { port: 0 } });
 * assert.equal(node.id, 1);
 * assert.equal(node.status, "alone");
 * ```
 */
export async function createNet(options?: NodeOptions): Promise<P2PNode> {
  options ??= {};
  const transport = await listen(options);
  try {
    const node = new P2PNode({ transport, keys: true }, options);
    node.startNet(options.net);
    return node;
  } catch (e) {
    await transport.close();
    throw e;
  }
}

/**
 * Joins the network of the node at `accessPoint` (`"host:port"` or `{ hostname, port }`).
 * Resolves once this node is on the ring; rejects with a `ConnectError`, `HandshakeError`,
 * `JoinError` or `TimeoutError` naming the problem.
 *
 * @example Two nodes
 * ```ts
 * import { createNet, joinNet } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * await using first = await createNet({ node: { id: 1 } });
 * await using second = await joinNet(first.ap, { node: { id: 16 } });
 * assert.equal(second.info().succ.id, 1);
 * ```
 */
export async function joinNet(
  accessPoint: string | AccessPoint,
  options?: NodeOptions,
): Promise<P2PNode> {
  options ??= {};
  const remote = parseAccessPoint(accessPoint);
  const transport = await listen(options);
  let node: P2PNode;
  try {
    node = new P2PNode({ transport, keys: true }, options);
  } catch (e) {
    await transport.close();
    throw e;
  }
  try {
    await node.startJoin(remote);
  } catch (e) {
    await node.leave();
    throw e;
  }
  return node;
}
