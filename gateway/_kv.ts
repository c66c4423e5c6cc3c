/**
 * The DHT over HTTP: `PUT /kv/:key` stores, `GET /kv/:key` (and `HEAD`) reads, `DELETE /kv/:key`
 * removes. The key is the path segment (percent-decoded), a string key hashed with `hashKey`
 * into the network's space, as the library hashes it: the same string names the same item from
 * every node and from every gateway.
 *
 * - A JSON body (`Content-Type: application/json` or `…+json`) stores the value it holds, in the
 *   gateway's JSON forms (`json_value.ts`); `GET` answers it as JSON.
 * - Any other body is stored as raw bytes with their content type (absent:
 *   `application/octet-stream`): as CBOR tag 257, a "binary MIME message" (`Content-Type:` header,
 *   blank line, the bytes), which `GET` answers as it came, with that content type. A value
 *   stored through the library is answered in its JSON form.
 * - Versions are entity tags: `GET`, `PUT` and `DELETE` answer `ETag: "<version>"`. `If-Match:
 *   "<v>"` makes a `PUT` or `DELETE` a compare-and-set on version `v`, `If-Match: *` one on the
 *   version the key has now (absent: refused), `If-None-Match: *` a `PUT` that only creates. A
 *   mismatch answers 412 with the current version (`current`, 0 when absent). A `GET` with
 *   `If-None-Match` naming the current version answers 304.
 * - `?timeoutMs=` bounds the call (default 10 s): no majority of replicas by then answers 504.
 *
 * @module
 */

import type { Hono } from "npm:hono@4.13.19";
import { hashKey } from "../lib/core/id_space.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { Tag } from "../lib/vendor/cbor_x/index.js";
import { HttpError, jsonResponse } from "./_http_error.ts";
import { MAX_TIMEOUT_MS, parseJson, readBody } from "./_request_body.ts";
import { fromJsonValue, JsonFormError, toJsonValue } from "./json_value.ts";

/** Longest key, in UTF-8 bytes. */
export const MAX_KV_KEY_BYTES = 1024;
/** The CBOR tag of a raw body stored with its content type: "binary MIME message" (IANA). */
export const MIME_TAG = 257;
/** Longest content type stored with a raw body. */
const MAX_TYPE_BYTES = 255;

const encoder = new TextEncoder();

/** A body or header the caller got wrong: the library's argument error type. */
function invalid(message: string): HttpError {
  return new HttpError(400, message, { type: "InvalidArgumentError" });
}

/**
 * The key a `/kv/...` request names: its path segment as sent, percent-decoded. The keys `.`
 * and `..` are refused: URL clients resolve them (and `%2E`, `%2E%2E`) as steps of the path,
 * so a request for them reaches another route, or none.
 *
 * @example
 * ```ts
 * import { kvKey } from "./_kv.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(kvKey(new Request("http://h/kv/caf%C3%A9%2Fmenu")), "café/menu");
 * assert.equal(kvKey(new Request("http://h/kv/a%2F..")), "a/..");
 * assert.throws(() => kvKey(new Request("http://h/kv/%zz")), /not valid percent-encoding/);
 * ```
 */
export function kvKey(req: Request): string {
  // The path as the client sent it: a URL parser would resolve "." and ".." segments away.
  const url = req.url;
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2)).split(/[?#]/, 1)[0];
  const raw = path.slice("/kv/".length);
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw invalid(`Key "${raw.slice(0, 60)}" is not valid percent-encoding of UTF-8`);
  }
  if (key === "") throw invalid("Key must not be empty");
  if (key === "." || key === "..") {
    throw invalid(
      `Key "${key}" cannot be named in a URL (clients resolve it as a step of the path); ` +
        "use another key",
    );
  }
  if (encoder.encode(key).length > MAX_KV_KEY_BYTES) {
    throw invalid(`Key is longer than ${MAX_KV_KEY_BYTES} bytes`);
  }
  return key;
}

/** The version an entity tag names (`"3"`), for header `name`. */
function versionOf(tag: string, name: string): number {
  const m = /^"(\d{1,15})"$/.exec(tag.trim());
  if (!m) {
    throw invalid(`${name} must be * or one entity tag of a version, like "3"; got ${tag}`);
  }
  return Number(m[1]);
}

/** What the conditional headers of a write ask: nothing, a version, or "whatever it has now". */
type Precondition = { ifVersion?: number; ifPresent?: boolean };

/**
 * Reads `If-Match` and `If-None-Match` of a `PUT` or `DELETE`.
 *
 * @example
 * ```ts
 * import { writeCondition } from "./_kv.ts";
 * import assert from "node:assert/strict";
 *
 * const put = (headers: Record<string, string>) =>
 *   writeCondition(new Request("http://h/kv/a", { method: "PUT", headers }));
 * assert.deepEqual(put({ "if-match": '"4"' }), { ifVersion: 4 });
 * assert.deepEqual(put({ "if-none-match": "*" }), { ifVersion: 0 });
 * assert.deepEqual(put({ "if-match": "*" }), { ifPresent: true });
 * assert.throws(() => put({ "if-match": '"1", "2"' }), /one entity tag/);
 * ```
 */
export function writeCondition(req: Request): Precondition {
  const match = req.headers.get("if-match");
  const noneMatch = req.headers.get("if-none-match");
  if (match !== null && noneMatch !== null) {
    throw invalid("If-Match and If-None-Match cannot be combined");
  }
  if (noneMatch !== null) {
    if (noneMatch.trim() !== "*") {
      throw invalid(`If-None-Match on ${req.method} must be * (only if absent); got ${noneMatch}`);
    }
    return { ifVersion: 0 };
  }
  if (match === null) return {};
  if (match.trim() === "*") return { ifPresent: true };
  return { ifVersion: versionOf(match, "If-Match") };
}

/** `?timeoutMs=` of a request, checked. */
function timeoutOf(req: Request): number | undefined {
  const raw = new URL(req.url).searchParams.get("timeoutMs");
  if (raw === null) return undefined;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_TIMEOUT_MS)) {
    throw invalid(`timeoutMs must be an integer in [1, ${MAX_TIMEOUT_MS}], got "${raw}"`);
  }
  return n;
}

/** Whether a content type says JSON. */
function isJson(type: string): boolean {
  const media = type.split(";")[0].trim().toLowerCase();
  return media === "application/json" || /^[a-z0-9.+-]+\/[a-z0-9.+-]+\+json$/.test(media);
}

/**
 * The value a `PUT` body stores: the JSON value it holds, or its raw bytes with their content
 * type as a binary MIME message (CBOR tag 257).
 *
 * @example
 * ```ts
 * import { bodyValue, MIME_TAG, storedBody } from "./_kv.ts";
 * import assert from "node:assert/strict";
 *
 * const raw = bodyValue(new Uint8Array([1, 2]), "image/png") as { tag: number };
 * assert.equal(raw.tag, MIME_TAG);
 * assert.deepEqual(storedBody(raw), { type: "image/png", bytes: new Uint8Array([1, 2]) });
 * assert.deepEqual(bodyValue(new TextEncoder().encode('{"a":1}'), "application/json"), { a: 1 });
 * ```
 */
export function bodyValue(bytes: Uint8Array, type: string | null): unknown {
  if (type !== null && isJson(type)) {
    try {
      return fromJsonValue(parseJson(bytes, "a JSON value"));
    } catch (e) {
      if (e instanceof JsonFormError) throw new HttpError(400, e.message, { type: e.name });
      throw e;
    }
  }
  const t = type ?? "application/octet-stream";
  if (encoder.encode(t).length > MAX_TYPE_BYTES) {
    throw invalid(`Content-Type is longer than ${MAX_TYPE_BYTES} bytes`);
  }
  const head = encoder.encode(`Content-Type: ${t}\r\n\r\n`);
  const message = new Uint8Array(head.length + bytes.length);
  message.set(head);
  message.set(bytes, head.length);
  return new Tag(message, MIME_TAG);
}

/** A raw body stored by `PUT` (see {@linkcode bodyValue}), or `null` for any other value. */
export function storedBody(value: unknown): { type: string; bytes: Uint8Array } | null {
  if (!(value instanceof Tag) || value.tag !== MIME_TAG) return null;
  const message = value.value;
  if (!(message instanceof Uint8Array)) return null;
  let end = -1;
  for (let i = 0; i + 3 < message.length; i++) {
    if (
      message[i] === 13 && message[i + 1] === 10 && message[i + 2] === 13 && message[i + 3] === 10
    ) {
      end = i;
      break;
    }
  }
  if (end < 0) return null;
  const head = new TextDecoder().decode(message.subarray(0, end));
  const type = /^content-type:\s*(.+)$/im.exec(head)?.[1].trim();
  if (!type) return null;
  return { type, bytes: message.subarray(end + 4) };
}

/**
 * Adds the `/kv/:key` routes of `node` to `app`; bodies up to `maxBody` bytes, arriving within
 * `bodyMs`.
 */
export function kvRoutes(app: Hono, node: P2PNode, maxBody: number, bodyMs: number): void {
  const named = (key: string) => ({ key, id: hashKey(key, node.maxKey) });
  const etag = (version: number) => ({ etag: `"${version}"` });

  app.get("/kv/:key", async (c) => {
    const req = c.req.raw;
    const key = kvKey(req);
    if (req.headers.has("if-match")) throw invalid("If-Match applies to PUT and DELETE");
    const entry = await node.lookup(key, { timeoutMs: timeoutOf(req) });
    if (entry === undefined) {
      throw new HttpError(404, `No value under key "${key}"`, { details: named(key) });
    }
    const headers: Record<string, string> = { ...etag(entry.version), "cache-control": "no-cache" };
    const none = req.headers.get("if-none-match");
    if (
      none !== null &&
      (none.trim() === "*" ||
        none.split(",").some((t) => t.trim().replace(/^W\//, "") === headers.etag))
    ) {
      return new Response(null, { status: 304, headers });
    }
    const raw = storedBody(entry.value);
    if (raw) {
      return new Response(raw.bytes.slice(), { headers: { ...headers, "content-type": raw.type } });
    }
    return new Response(JSON.stringify(toJsonValue(entry.value)), {
      headers: { ...headers, "content-type": "application/json; charset=utf-8" },
    });
  });

  /** A write under the request's conditions. */
  const write = async (
    req: Request,
    op: (key: string, ifVersion: number | undefined, timeoutMs?: number) => Promise<
      { version: number; replicas: number }
    >,
  ): Promise<Response> => {
    const key = kvKey(req);
    const cond = writeCondition(req);
    const timeoutMs = timeoutOf(req);
    let ifVersion = cond.ifVersion;
    if (cond.ifPresent) {
      const now = await node.lookup(key, { timeoutMs });
      if (now === undefined) {
        throw new HttpError(412, `Key "${key}" is absent (If-Match: *)`, {
          type: "VersionConflictError",
          details: { current: 0 },
        });
      }
      ifVersion = now.version;
    }
    const { version, replicas } = await op(key, ifVersion, timeoutMs);
    return jsonResponse({ ok: true, ...named(key), version, replicas }, 200, etag(version));
  };

  app.put("/kv/:key", async (c) => {
    const req = c.req.raw;
    kvKey(req);
    writeCondition(req);
    const value = bodyValue(
      await readBody(req, maxBody, bodyMs),
      req.headers.get("content-type"),
    );
    return write(
      req,
      (key, ifVersion, timeoutMs) => node.insert(key, value, { ifVersion, timeoutMs }),
    );
  });

  app.delete("/kv/:key", (c) =>
    write(
      c.req.raw,
      (key, ifVersion, timeoutMs) => node.remove(key, { ifVersion, timeoutMs }),
    ));
}
