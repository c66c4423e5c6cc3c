/**
 * `serveGateway`: a node's gateway on an HTTP port, with the binding rules enforced: loopback
 * unless told otherwise, and a token whenever the address is not loopback.
 *
 * @module
 */

import { InvalidArgumentError } from "../lib/errors.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { isLoopback } from "./_security.ts";
import { createGateway, type Gateway, type GatewayOptions } from "./gateway.ts";

/** Options of {@linkcode serveGateway}. */
export interface ServeGatewayOptions extends GatewayOptions {
  /** Address to listen on; anything but loopback requires `token`. @default "127.0.0.1" */
  hostname?: string;
  /** Port; 0 picks a free one. @default 8080 */
  port?: number;
}

/** A gateway listening on a port. */
export interface GatewayServer extends AsyncDisposable {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The port actually bound. */
  readonly port: number;
  /** The gateway answering the requests. */
  readonly gateway: Gateway;
  /** Ends open streams, stops listening and waits for answers in flight. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Serves the gateway of `node` over HTTP.
 *
 * @param node The node to expose.
 * @param options Where to listen, plus the {@linkcode GatewayOptions}.
 * @returns The running server.
 * @throws {InvalidArgumentError} For a bad port, or a non-loopback `hostname` without a token.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 *
 * @example Serve on a free port and read the statistics
 * ```ts
 * import { serveGateway } from "./serve.ts";
 * import { Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const node = new Simulator().createNet({ node: { id: 7 } });
 * await using server = serveGateway(node, { port: 0 });
 * const res = await fetch(`${server.url}/node`);
 * assert.equal((await res.json()).id, 7);
 * node.crash();
 * ```
 */
export function serveGateway(node: P2PNode, options?: ServeGatewayOptions): GatewayServer {
  options ??= {};
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8080;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new InvalidArgumentError(`HTTP port must be an integer in [0, 65535], got ${port}`);
  }
  if (!isLoopback(hostname) && !options.token) {
    throw new InvalidArgumentError(
      `Serving the gateway on ${hostname} (not loopback) requires a token`,
    );
  }
  const gateway = createGateway(node, options);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, onListen: () => {} }, (req) => gateway.fetch(req));
  } catch (e) {
    gateway.close();
    throw e;
  }
  const bound = server.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let done: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    done ??= (async () => {
      gateway.close();
      await server.shutdown();
    })();
    return done;
  };
  return {
    url: `http://${host}:${bound}`,
    port: bound,
    gateway,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
