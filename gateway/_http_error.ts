/**
 * Errors that carry their HTTP status, and the mapping from the library's errors to statuses.
 * Every failure the gateway answers is a JSON body `{ "error": "<what went wrong>", "type":
 * "<kind of error>" }`; nothing becomes a 500.
 *
 * @module
 */

import {
  InvalidArgumentError,
  MessageTooLargeError,
  NodeAbsentError,
  NodeClosedError,
  QuorumError,
  TimeoutError,
  VersionConflictError,
} from "../lib/errors.ts";
import { JsonFormError } from "./json_value.ts";

/** The `type` of the gateway's own errors, by status. */
const STATUS_TYPES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  408: "RequestTimeout",
  412: "PreconditionFailed",
  413: "PayloadTooLarge",
  503: "Unavailable",
};

/** An error the gateway answers with `status` and a JSON body naming the problem. */
export class HttpError extends Error {
  /** HTTP status of the answer. */
  readonly status: number;
  /** The body's `type`: what kind of problem, for clients to tell them apart. */
  readonly type: string;
  /** Extra fields of the JSON body. */
  readonly details: Record<string, unknown>;
  /** Extra response headers. */
  readonly headers: Record<string, string>;

  /**
   * Creates the error.
   *
   * @example A bad request
   * ```ts
   * import { HttpError } from "./_http_error.ts";
   * import assert from "node:assert/strict";
   *
   * const e = new HttpError(400, "Body is empty");
   * assert.equal(e.status, 400);
   * assert.equal(e.type, "BadRequest");
   * ```
   */
  constructor(
    status: number,
    message: string,
    init: {
      type?: string;
      details?: Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.type = init.type ?? STATUS_TYPES[status] ?? "HttpError";
    this.details = init.details ?? {};
    this.headers = init.headers ?? {};
  }
}

/**
 * The status and JSON body for any error thrown while answering a request: the library's typed
 * errors map to 400 (invalid argument), 413 (message too large), 404 (absent node), 412 (a
 * compare-and-set found another version: `current`), 504 (timeout; for want of a quorum also
 * `answered`, `needed`, `replicas`), 503 (node closed); anything unexpected to 502, the node
 * being the upstream.
 *
 * @param e What was thrown.
 * @returns The answer to send.
 *
 * @example An absent node becomes a 404 that lists what was missed
 * ```ts
 * import { errorResponse } from "./_http_error.ts";
 * import { NodeAbsentError } from "../lib/errors.ts";
 * import assert from "node:assert/strict";
 *
 * const res = errorResponse(new NodeAbsentError("No node 7", [7]));
 * assert.equal(res.status, 404);
 * assert.deepEqual(await res.json(), { error: "No node 7", type: "NodeAbsentError", missing: [7] });
 * ```
 */
export function errorResponse(e: unknown): Response {
  let status = 502;
  let details: Record<string, unknown> = {};
  let headers: Record<string, string> = {};
  const err = e instanceof Error ? e : new Error(String(e));
  if (err instanceof HttpError) {
    status = err.status;
    details = err.details;
    headers = err.headers;
  } else if (err instanceof InvalidArgumentError || err instanceof JsonFormError) {
    status = 400;
  } else if (err instanceof MessageTooLargeError) {
    status = 413;
  } else if (err instanceof NodeAbsentError) {
    status = 404;
    details = { missing: err.missing };
  } else if (err instanceof VersionConflictError) {
    status = 412;
    details = { current: err.current };
  } else if (err instanceof QuorumError) {
    status = 504;
    details = { answered: err.answered, needed: err.needed, replicas: err.replicas };
  } else if (err instanceof TimeoutError) {
    status = 504;
  } else if (err instanceof NodeClosedError) {
    status = 503;
  }
  const body = {
    error: err.message || err.name,
    type: err instanceof HttpError ? err.type : err.name,
  };
  return jsonResponse({ ...body, ...details }, status, headers);
}

/**
 * A JSON response that is never cached.
 *
 * @example
 * ```ts
 * import { jsonResponse } from "./_http_error.ts";
 * import assert from "node:assert/strict";
 *
 * const res = jsonResponse({ ok: true });
 * assert.equal(res.headers.get("cache-control"), "no-store");
 * assert.deepEqual(await res.json(), { ok: true });
 * ```
 */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}
