/**
 * `createGateway`: HTTP routes over one node, built with Hono and exposed as a plain `fetch`
 * handler, so it runs under `Deno.serve`, inside another server, or in-process in tests.
 *
 * @module
 */

import { Hono } from "npm:hono@4.13.19";
import type { Message, NodeEvent, P2PNode } from "../lib/node/node.ts";
import { EventLog, type EventLogOptions } from "./_event_log.ts";
import { errorResponse, HttpError, jsonResponse } from "./_http_error.ts";
import { kvRoutes } from "./_kv.ts";
import { type MetricSample, prometheusText } from "./_metrics.ts";
import {
  BODY_TIMEOUT_MS,
  BodyFields,
  MAX_NR_SUCC,
  MAX_TIMEOUT_MS,
  readJsonObject,
} from "./_request_body.ts";
import { Guard } from "./_security.ts";
import { dashboardHtml } from "./dashboard.ts";
import { toJsonValue } from "./json_value.ts";

/** Options of {@linkcode createGateway}. */
export interface GatewayOptions {
  /**
   * Bearer token required on every route (`Authorization: Bearer <token>`, or `?token=` for
   * clients such as `EventSource` that cannot set headers). Without a token the gateway only
   * answers requests whose `Host` is a loopback name or address.
   */
  token?: string;
  /** Origins whose pages may call the gateway (CORS); `"*"` allows any. @default [] */
  origins?: readonly string[];
  /** Largest request body, bytes; larger ones get 413. @default 1048576 */
  maxBodyBytes?: number;
  /** Longest a request body may take to arrive, ms; a slower one gets 408. @default 30000 */
  bodyTimeoutMs?: number;
  /** Events kept per stream for replay after `Last-Event-ID`. @default 1024 */
  replay?: number;
  /** Bytes of events kept per stream for replay. @default 8388608 */
  replayBytes?: number;
  /** Idle time after which an SSE connection gets a `: ping` comment, ms. @default 15000 */
  heartbeatMs?: number;
  /** Reconnection delay advised to SSE clients (`retry:`), ms. @default 2000 */
  retryMs?: number;
}

/** A running gateway: a `fetch` handler for one node. */
export interface Gateway extends Disposable {
  /** Answers one HTTP request. Never rejects; failures are JSON `{ "error": ... }` answers. */
  fetch(request: Request): Promise<Response>;
  /** Server-Sent-Events connections open now, per stream. */
  readonly connections: { messages: number; events: number };
  /**
   * Ends the SSE streams (clients see their responses end) and stops reading the node's
   * streams. Later requests get 503. The node itself keeps running. Idempotent.
   */
  close(): void;
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-store",
  // Tells nginx-style proxies not to buffer the stream.
  "x-accel-buffering": "no",
};

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
    "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "no-referrer",
};

function messageJson(m: Message): string {
  return JSON.stringify({
    src: m.src,
    srcAp: m.srcAp,
    dst: m.dst,
    kind: m.kind,
    hops: m.hops,
    id: m.id,
    msg: toJsonValue(m.msg),
  });
}

async function pump<T>(
  source: AsyncIterableIterator<T>,
  log: EventLog,
  entry: (v: T) => [string, string],
): Promise<void> {
  try {
    for await (const v of source) {
      const [event, data] = entry(v);
      log.append(event, data);
    }
  } finally {
    log.end();
  }
}

/**
 * Creates the HTTP gateway of `node`. Routes (JSON in and out; message values use the JSON
 * forms of `json_value.ts` for bytes, bigints, maps, `undefined`...):
 *
 * - `POST /send` `{ dst, msg, toResp?, ack?, timeoutMs? }` → `{ ok: true }`, or with `ack`
 *   `{ ok: true, receipt: { dst, node, hops, rtt } }`; `dst` is an id or key, or a string key
 *   hashed with `hashKey` into the network's space (then the answer also carries `dst`, the
 *   number it became);
 * - `POST /multicast` `{ dst: [ids], msg, toResp?, ack?, timeoutMs? }`,
 *   `POST /broadcast` `{ msg, toMyself?, ack?, timeoutMs? }`,
 *   `POST /succ` `{ msg, nrSucc, ack?, timeoutMs? }` → `{ ok: true }`, or with `ack`
 *   `{ ok: true, report: { reached, missing, rtt } }`;
 * - `GET /messages`, `GET /events`: Server-Sent Events with replay after `Last-Event-ID`, or of
 *   every event still kept with `?replay=all` (then an `event: replayed` marks where the past
 *   ends);
 * - `PUT /kv/:key` (a JSON body, or raw bytes with their content type) →
 *   `{ ok: true, key, id, version, replicas }`, `GET /kv/:key` → the value (JSON, or the raw
 *   bytes with their content type) or 404, `DELETE /kv/:key` → `{ ok: true, key, id, version,
 *   replicas }`: the DHT, a string key hashed with `hashKey` (`id`); versions are entity tags
 *   (`ETag`, `If-Match`, `If-None-Match: *`; see `_kv.ts`);
 * - `GET /stats` (JSON), `GET /metrics` (Prometheus text), `GET /node` (`info()`), `GET /` (the
 *   dashboard).
 *
 * Errors: 400 bad input, 401 token, 403 origin or host, 404 unknown route, absent node or key,
 * 405 wrong method, 412 version mismatch (`current`), 413 body, message or value too large, 503
 * node closed, 504 acknowledgement timeout or no quorum — always
 * `{ "error": "...", "type": "..." }`.
 *
 * SSE: every event has an id `<instance>-<n>`; a reconnecting client (header `Last-Event-ID` or
 * query `?lastEventId=`) gets the events it missed from a bounded buffer, preceded by an
 * `event: gap` (`{ lastEventId, missed, reason }`) when some are no longer there. A slow client
 * holds no buffer of its own: it reads the shared buffer at its own pace and, if it falls behind
 * the oldest event kept, gets a `gap` event (`reason: "slow"`) and continues from there.
 * Idle connections get a `: ping` comment every `heartbeatMs`.
 *
 * @param node The node to expose.
 * @param options Security and stream limits.
 * @returns The gateway; close it when done.
 * @throws {TypeError} If `options.token` is the empty string.
 *
 * @example Send through the gateway in-process
 * ```ts
 * import { createGateway } from "./gateway.ts";
 * import { Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator();
 * const node = sim.createNet({ node: { id: 1 } });
 * using gateway = createGateway(node);
 * const res = await gateway.fetch(
 *   new Request("http://127.0.0.1/send", {
 *     method: "POST",
 *     body: JSON.stringify({ dst: 1, msg: "hi" }),
 *   }),
 * );
 * assert.equal(res.status, 200);
 * assert.deepEqual(await res.json(), { ok: true });
 * node.crash();
 * ```
 */
export function createGateway(node: P2PNode, options?: GatewayOptions): Gateway {
  options ??= {};
  const guard = new Guard({ token: options.token, origins: options.origins });
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const bodyMs = options.bodyTimeoutMs ?? BODY_TIMEOUT_MS;
  const instance = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const logOptions: EventLogOptions = {
    replay: options.replay,
    replayBytes: options.replayBytes,
    heartbeatMs: options.heartbeatMs,
    retryMs: options.retryMs,
  };
  const logs = {
    messages: new EventLog(instance, logOptions),
    events: new EventLog(instance, logOptions),
  };
  const messages = node.messages();
  const events = node.events();
  pump(messages, logs.messages, (m: Message) => ["message", messageJson(m)]);
  pump(events, logs.events, (e: NodeEvent) => [e.type, JSON.stringify(toJsonValue(e))]);
  let closed = false;

  const body = async (req: Request, fields: readonly string[]): Promise<BodyFields> =>
    new BodyFields(await readJsonObject(req, maxBody, bodyMs), fields);
  // The wait is bounded by timeoutMs; request.signal is not used because Deno.serve also aborts
  // it on normal completion (and warns about that).
  const ackOptions = (b: BodyFields) => ({ timeoutMs: b.int("timeoutMs", 1, MAX_TIMEOUT_MS) });

  const app = new Hono();
  app.onError((err) => errorResponse(err));
  app.notFound((c) => {
    throw new HttpError(404, `No route ${c.req.method} ${c.req.path}`);
  });

  // String keys are hashed here: the answer says where they went.
  const sentTo = (b: BodyFields, dst: number | number[]) => b.hasStringKey("dst") ? { dst } : {};

  app.post("/send", async (c) => {
    const b = await body(c.req.raw, ["dst", "msg", "toResp", "ack", "timeoutMs"]);
    const dst = b.key("dst", node.maxKey);
    const msg = b.msg();
    const toResp = b.flag("toResp");
    const ack = ackOptions(b);
    if (b.flag("ack")) {
      const receipt = await node.send(dst, msg, { toResp, ack: true, ...ack });
      return jsonResponse({ ok: true, ...sentTo(b, dst), receipt });
    }
    await node.send(dst, msg, { toResp });
    return jsonResponse({ ok: true, ...sentTo(b, dst) });
  });

  app.post("/multicast", async (c) => {
    const b = await body(c.req.raw, ["dst", "msg", "toResp", "ack", "timeoutMs"]);
    const dst = b.keys("dst", node.maxKey);
    const msg = b.msg();
    const toResp = b.flag("toResp");
    const ack = ackOptions(b);
    if (b.flag("ack")) {
      const report = await node.multicast(dst, msg, { toResp, ack: true, ...ack });
      return jsonResponse({ ok: true, ...sentTo(b, dst), report });
    }
    await node.multicast(dst, msg, { toResp });
    return jsonResponse({ ok: true, ...sentTo(b, dst) });
  });

  app.post("/broadcast", async (c) => {
    const b = await body(c.req.raw, ["msg", "toMyself", "ack", "timeoutMs"]);
    const msg = b.msg();
    const toMyself = b.flag("toMyself");
    const ack = ackOptions(b);
    if (b.flag("ack")) {
      const report = await node.broadcast(msg, { toMyself, ack: true, ...ack });
      return jsonResponse({ ok: true, report });
    }
    await node.broadcast(msg, { toMyself });
    return jsonResponse({ ok: true });
  });

  app.post("/succ", async (c) => {
    const b = await body(c.req.raw, ["msg", "nrSucc", "ack", "timeoutMs"]);
    const nrSucc = b.int("nrSucc", 1, MAX_NR_SUCC, true)!;
    const msg = b.msg();
    const ack = ackOptions(b);
    if (b.flag("ack")) {
      const report = await node.sendToSucc(msg, nrSucc, { ack: true, ...ack });
      return jsonResponse({ ok: true, report });
    }
    await node.sendToSucc(msg, nrSucc);
    return jsonResponse({ ok: true });
  });

  kvRoutes(app, node, maxBody, bodyMs);

  const sse = (req: Request, log: EventLog): Response => {
    const query = new URL(req.url).searchParams;
    const raw = req.headers.get("last-event-id") ?? query.get("lastEventId");
    // `?replay=all` (a page that has just loaded) starts with every event still kept.
    const replayAll = raw === null && query.get("replay") === "all";
    const last = replayAll ? log.beforeOldest() : log.parseId(raw);
    // 204 tells an EventSource to stop reconnecting: the stream is over and nothing is missed.
    if (!log.hasAfter(last)) return new Response(null, { status: 204 });
    // Hono answers HEAD with the GET handler minus the body: open no stream for it.
    if (req.method === "HEAD") return new Response(null, { headers: SSE_HEADERS });
    return new Response(log.open(last, { markReplayed: replayAll }), { headers: SSE_HEADERS });
  };
  app.get("/messages", (c) => sse(c.req.raw, logs.messages));
  app.get("/events", (c) => sse(c.req.raw, logs.events));

  app.get("/stats", () => jsonResponse(toJsonValue(node.statistics())));
  app.get("/node", () => jsonResponse(toJsonValue(node.info())));
  app.get("/metrics", () => {
    const info = node.info();
    const streams = ["messages", "events"] as const;
    const text = prometheusText(node.statistics(), [
      ["p2ps_node_info", { id: String(info.id), status: info.status }, 1, "gauge", "This node."],
      ...streams.map((s): MetricSample => [
        "p2ps_gateway_sse_clients",
        { stream: s },
        logs[s].clients,
        "gauge",
        "SSE connections open now.",
      ]),
      ...streams.map((s): MetricSample => [
        "p2ps_gateway_sse_slow_gaps_total",
        { stream: s },
        logs[s].slowGaps,
        "counter",
        "Times an SSE client fell behind the replay buffer and skipped events.",
      ]),
    ]);
    return new Response(text, {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });
  app.get("/", () => new Response(dashboardHtml, { headers: PAGE_HEADERS }));

  const routes: Record<string, string> = {
    "/send": "POST",
    "/multicast": "POST",
    "/broadcast": "POST",
    "/succ": "POST",
    "/messages": "GET",
    "/events": "GET",
    "/stats": "GET",
    "/metrics": "GET",
    "/node": "GET",
    "/kv/:key": "GET, HEAD, PUT, DELETE",
    "/": "GET",
  };
  for (const [path, allow] of Object.entries(routes)) {
    app.all(path, (c) => {
      throw new HttpError(405, `${path} does not accept ${c.req.method}; use ${allow}`, {
        headers: { allow },
      });
    });
  }

  const close = (): void => {
    if (closed) return;
    closed = true;
    messages.return?.();
    events.return?.();
  };

  return {
    async fetch(req: Request): Promise<Response> {
      let res: Response;
      try {
        if (closed) throw new HttpError(503, "The gateway is closed");
        const preflight = guard.preflight(req);
        if (preflight) return preflight;
        guard.check(req);
        res = await app.fetch(req);
      } catch (e) {
        res = errorResponse(e);
      }
      for (const [k, v] of Object.entries(guard.cors(req))) res.headers.set(k, v);
      res.headers.set("x-content-type-options", "nosniff");
      return res;
    },
    get connections() {
      return { messages: logs.messages.clients, events: logs.events.clients };
    },
    close,
    [Symbol.dispose]: close,
  };
}
