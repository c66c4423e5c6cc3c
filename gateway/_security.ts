/**
 * The gateway's checks before any route runs: bearer token, allowed origins (CORS), and — when
 * there is no token — a loopback `Host`, which stops a web page from reaching a token-less
 * gateway through DNS rebinding.
 *
 * @module
 */

import { HttpError } from "./_http_error.ts";

/** Settings of {@linkcode Guard}. */
export interface GuardOptions {
  /** Bearer token every request must present; none when `undefined`. */
  token?: string;
  /** Origins allowed to call from a browser page of another origin; `"*"` allows any. */
  origins?: readonly string[];
}

const LOOPBACK_HOST = /^(localhost|[a-z0-9-]+\.localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/**
 * Whether a host (name or address, with an optional port) is on the loopback interface.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./_security.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isLoopback("127.0.0.1:8080"));
 * assert.ok(!isLoopback("0.0.0.0"));
 * ```
 */
export function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOST.test(hostname);
}

function sameBytes(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  // Compare in time independent of where the strings first differ.
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Checks requests and decorates responses with CORS headers. */
export class Guard {
  readonly #token?: string;
  readonly #origins: ReadonlySet<string>;

  /**
   * Creates a guard.
   *
   * @example
   * ```ts
   * import { Guard } from "./_security.ts";
   * import assert from "node:assert/strict";
   *
   * const guard = new Guard({ token: "s3cret" });
   * assert.throws(() => guard.check(new Request("http://127.0.0.1/stats")), /bearer token/);
   * ```
   */
  constructor(options: GuardOptions = {}) {
    if (options.token !== undefined && options.token.length === 0) {
      throw new TypeError("The token must not be empty");
    }
    this.#token = options.token;
    this.#origins = new Set(options.origins ?? []);
  }

  /** The `Origin` of a cross-origin request, or `null` for same-origin and non-browser ones. */
  #crossOrigin(req: Request): string | null {
    const origin = req.headers.get("origin");
    if (origin === null) return null;
    const host = req.headers.get("host") ?? new URL(req.url).host;
    try {
      if (origin !== "null" && new URL(origin).host === host) return null;
    } catch {
      // A malformed Origin is treated as a foreign one.
    }
    return origin;
  }

  #allowed(origin: string): boolean {
    return this.#origins.has("*") || this.#origins.has(origin);
  }

  /** The answer to a CORS preflight, or `null` when `req` is not one. */
  preflight(req: Request): Response | null {
    if (req.method !== "OPTIONS" || !req.headers.has("access-control-request-method")) return null;
    const origin = this.#crossOrigin(req);
    if (origin !== null && !this.#allowed(origin)) {
      throw new HttpError(403, `Origin ${origin} is not allowed`);
    }
    return new Response(null, {
      status: 204,
      headers: {
        ...this.cors(req),
        "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
        "access-control-allow-headers":
          "authorization, content-type, last-event-id, if-match, if-none-match",
        "access-control-max-age": "600",
      },
    });
  }

  /**
   * Throws the {@linkcode HttpError} a request deserves (403 for a foreign origin or, without a
   * token, a non-loopback `Host`; 401 for a missing or wrong token), or returns when it may go on.
   */
  check(req: Request): void {
    const origin = this.#crossOrigin(req);
    if (origin !== null && !this.#allowed(origin)) {
      throw new HttpError(403, `Origin ${origin} is not allowed`);
    }
    const url = new URL(req.url);
    if (this.#token === undefined) {
      const host = req.headers.get("host") ?? url.host;
      if (!isLoopback(host)) {
        throw new HttpError(403, `Host ${host} is not allowed without a token`);
      }
      return;
    }
    const auth = req.headers.get("authorization");
    const given = auth !== null
      ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] ?? null
      : url.searchParams.get("token");
    if (given === null) {
      throw new HttpError(401, "A bearer token is required (Authorization: Bearer <token>)", {
        headers: { "www-authenticate": 'Bearer realm="p2ps"' },
      });
    }
    if (!sameBytes(given, this.#token)) {
      throw new HttpError(401, "The bearer token is wrong", {
        headers: { "www-authenticate": 'Bearer realm="p2ps", error="invalid_token"' },
      });
    }
  }

  /** CORS headers for the response to `req` (none unless it comes from an allowed origin). */
  cors(req: Request): Record<string, string> {
    const origin = this.#crossOrigin(req);
    if (origin === null || !this.#allowed(origin)) return {};
    return {
      "access-control-allow-origin": origin,
      "access-control-expose-headers": "etag",
      "vary": "Origin",
    };
  }
}
