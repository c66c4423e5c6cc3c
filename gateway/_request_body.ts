/**
 * Reading and checking the JSON bodies of the sending routes. Every problem becomes an
 * {@linkcode HttpError} whose message names the field and the value that was wrong.
 *
 * @module
 */

import { hashKey } from "../lib/core/id_space.ts";
import { HttpError } from "./_http_error.ts";
import { fromJsonValue, JsonFormError } from "./json_value.ts";

/** Largest `timeoutMs` a request may ask for. */
export const MAX_TIMEOUT_MS = 600_000;
/** Largest `nrSucc` a request may ask for. */
export const MAX_NR_SUCC = 1024;
/** Longest a request body may take to arrive, ms (see `GatewayOptions.bodyTimeoutMs`). */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * Reads a request body of at most `limit` bytes and parses it as a JSON object.
 *
 * @param req The request.
 * @param limit Largest body accepted, in bytes.
 * @param timeoutMs Longest the body may take to arrive, ms.
 * @returns The parsed object.
 * @throws {HttpError} 413 past the limit, 400 for an empty body, bad UTF-8, malformed JSON or
 * anything but an object.
 *
 * @example
 * ```ts
 * import { readJsonObject } from "./_request_body.ts";
 * import assert from "node:assert/strict";
 *
 * const req = new Request("http://localhost/send", { method: "POST", body: '{"dst":1}' });
 * assert.deepEqual(await readJsonObject(req, 1024), { dst: 1 });
 * ```
 */
export async function readJsonObject(
  req: Request,
  limit: number,
  timeoutMs: number = BODY_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  const value = parseJson(await readBody(req, limit, timeoutMs), "a JSON object");
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new HttpError(400, `Body must be a JSON object, got ${got}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Parses a body as JSON text (UTF-8).
 *
 * @param bytes The body.
 * @param expected What the body should hold, for the message about an empty one.
 * @returns The parsed value.
 * @throws {HttpError} 400 for an empty body, bad UTF-8 or malformed JSON.
 *
 * @example
 * ```ts
 * import { parseJson } from "./_request_body.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseJson(new TextEncoder().encode("[1]"), "a value"), [1]);
 * assert.throws(() => parseJson(new Uint8Array(), "a value"), /Body is empty; expected a value/);
 * ```
 */
export function parseJson(bytes: Uint8Array, expected: string): unknown {
  if (bytes.length === 0) throw new HttpError(400, `Body is empty; expected ${expected}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "Body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `Body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Reads a request body of at most `limit` bytes, arriving within `timeoutMs` (a client that
 * trickles a body must not hold a request, and its buffer, open for ever).
 *
 * @param req The request.
 * @param limit Largest body accepted, in bytes.
 * @param timeoutMs Longest the body may take to arrive, ms.
 * @returns The body's bytes (empty when there is none).
 * @throws {HttpError} 413 past the limit (declared or read), before more is read; 408 when the
 * body is still incomplete after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { readBody } from "./_request_body.ts";
 * import assert from "node:assert/strict";
 *
 * const req = new Request("http://localhost/kv/a", { method: "PUT", body: "abc" });
 * assert.equal((await readBody(req, 1024)).length, 3);
 * const big = new Request("http://localhost/kv/a", { method: "PUT", body: "abcd" });
 * await assert.rejects(readBody(big, 3), /larger than the limit of 3 bytes/);
 * ```
 */
export async function readBody(
  req: Request,
  limit: number,
  timeoutMs: number = BODY_TIMEOUT_MS,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError(413, `Body is larger than the limit of ${limit} bytes`, {
      details: { limit },
    });
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HttpError(408, `Body did not arrive within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), late]).catch(async (e) => {
          await reader.cancel().catch(() => {});
          throw e;
        });
        if (done) break;
        size += value.length;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          throw tooLarge();
        }
        chunks.push(value);
      }
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** A field of the body is missing or wrong: the same type as the library's own check. */
function invalid(message: string): HttpError {
  return new HttpError(400, message, { type: "InvalidArgumentError" });
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Checks the fields of one request body. */
export class BodyFields {
  readonly #body: Record<string, unknown>;

  /**
   * Refuses any field not in `allowed`, so that a misspelt option is an error rather than
   * silently ignored.
   *
   * @example
   * ```ts
   * import { BodyFields } from "./_request_body.ts";
   * import assert from "node:assert/strict";
   *
   * assert.throws(() => new BodyFields({ toresp: true }, ["toResp"]), /Unknown field "toresp"/);
   * ```
   */
  constructor(body: Record<string, unknown>, allowed: readonly string[]) {
    this.#body = body;
    for (const k of Object.keys(body)) {
      if (!allowed.includes(k)) {
        throw invalid(`Unknown field "${k}"; expected ${allowed.join(", ")}`);
      }
    }
  }

  /** The message value (required), read from its JSON form. */
  msg(): unknown {
    if (!("msg" in this.#body)) throw invalid(`Field "msg" is required`);
    try {
      return fromJsonValue(this.#body.msg);
    } catch (e) {
      if (e instanceof JsonFormError) throw new HttpError(400, e.message, { type: e.name });
      throw e;
    }
  }

  /**
   * An id or key (required): an integer in `[0, maxKey)`, or a string, hashed into that range
   * with `hashKey`.
   *
   * @example A string key is hashed
   * ```ts
   * import { BodyFields } from "./_request_body.ts";
   * import { hashKey } from "@p2ps/p2ps";
   * import assert from "node:assert/strict";
   *
   * const b = new BodyFields({ dst: "alice" }, ["dst"]);
   * assert.equal(b.key("dst", 1024), hashKey("alice", 1024));
   * ```
   */
  key(name: string, maxKey: number): number {
    if (!(name in this.#body)) throw invalid(`Field "${name}" is required`);
    return checkKey(this.#body[name], name, maxKey);
  }

  /** Whether the field holds a string key, or an array with one. */
  hasStringKey(name: string): boolean {
    const v = this.#body[name];
    return typeof v === "string" || (Array.isArray(v) && v.some((k) => typeof k === "string"));
  }

  /** A non-empty array of ids or keys (required), each as {@linkcode BodyFields.key} reads it. */
  keys(name: string, maxKey: number): number[] {
    const v = this.#body[name];
    if (!(name in this.#body)) throw invalid(`Field "${name}" is required`);
    if (!Array.isArray(v) || v.length === 0) {
      throw invalid(`Field "${name}" must be a non-empty array of ids or keys, got ${show(v)}`);
    }
    return v.map((k, i) => checkKey(k, `${name}[${i}]`, maxKey));
  }

  /** An optional boolean. */
  flag(name: string): boolean | undefined {
    const v = this.#body[name];
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") {
      throw invalid(`Field "${name}" must be true or false, got ${show(v)}`);
    }
    return v;
  }

  /** An integer in `[min, max]`; `undefined` when absent unless `required`. */
  int(name: string, min: number, max: number, required = false): number | undefined {
    const v = this.#body[name];
    if (v === undefined) {
      if (required) throw invalid(`Field "${name}" is required`);
      return undefined;
    }
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw invalid(`Field "${name}" must be an integer in [${min}, ${max}], got ${show(v)}`);
    }
    return v;
  }
}

function checkKey(v: unknown, name: string, maxKey: number): number {
  if (typeof v === "string" && v !== "") return hashKey(v, maxKey);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v >= maxKey) {
    throw invalid(
      `Field "${name}" must be an integer in [0, ${maxKey}) (the identifier space) or a ` +
        `non-empty string key, got ${show(v)}`,
    );
  }
  return v;
}
