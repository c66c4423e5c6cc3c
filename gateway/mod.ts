/**
 * The HTTP/SSE gateway of a P2PS node: anything that speaks HTTP can send through the overlay
 * (`curl`), and a browser can watch a node's streams (`EventSource`) or open its dashboard.
 *
 * - {@linkcode createGateway} makes the `fetch` handler of one node (mount it anywhere, or call
 *   it in-process in tests);
 * - {@linkcode serveGateway} serves it on a port, loopback by default;
 * - {@linkcode toJsonValue} / {@linkcode fromJsonValue} are the JSON forms of CBOR values
 *   (bytes, bigints, maps, `undefined`, dates...) used in bodies and streams.
 *
 * @example A gateway for a node on a free port
 * ```ts
 * import { serveGateway } from "@p2ps/p2ps/gateway";
 * import { createNet } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * await using node = await createNet({ node: { id: 1 } });
 * await using server = serveGateway(node, { port: 0 });
 * const res = await fetch(`${server.url}/send`, {
 *   method: "POST",
 *   body: JSON.stringify({ dst: 1, msg: "to myself" }),
 * });
 * assert.deepEqual(await res.json(), { ok: true });
 * ```
 *
 * @module
 */

export { createGateway, type Gateway, type GatewayOptions } from "./gateway.ts";
export { type GatewayServer, serveGateway, type ServeGatewayOptions } from "./serve.ts";
export {
  fromJsonValue,
  JsonFormError,
  type JsonValue,
  MAX_JSON_DEPTH,
  toJsonValue,
} from "./json_value.ts";
export { dashboardHtml } from "./dashboard.ts";
