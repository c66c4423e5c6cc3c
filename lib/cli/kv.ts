/**
 * The command line's DHT commands, `put`, `get` and `del`: requests to the `/kv/:key` routes of
 * a running node's gateway (see `gateway/_kv.ts`), one JSON line of output each.
 *
 * @module
 */

import { int, only, UsageError, type Values } from "./options.ts";

/** The gateway the commands talk to unless `--gateway` says otherwise (the demo's first node). */
export const DEFAULT_GATEWAY = "http://127.0.0.1:8080";
/** Exit status of `get` for an absent key. */
export const ABSENT = 3;

/** A failure the gateway reported (or reaching it failed): exit status 1. */
export class GatewayError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { GatewayError } from "./kv.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new GatewayError("No value").name, "GatewayError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GatewayError";
  }
}

/** What a command prints: a line for stdout, raw bytes for stdout, and its exit status. */
export interface KvOutcome {
  /** One JSON object, printed as a line. */
  line?: Record<string, unknown>;
  /** Bytes written to stdout as they are (`get --raw`). */
  bytes?: Uint8Array;
  /** The exit status. */
  code: number;
}

const COMMON = ["gateway", "token", "timeout-ms"];

/** The request a `put`, `get` or `del` command line makes (checked before anything is sent). */
export async function kvRequest(
  command: "put" | "get" | "del",
  positionals: string[],
  values: Values,
): Promise<{ url: string; init: RequestInit; timeoutMs: number }> {
  const extra = {
    put: ["if-version", "if-absent", "file", "type"],
    get: ["raw"],
    del: ["if-version"],
  };
  only(values, command, [...COMMON, ...extra[command]]);
  const want = command === "put" && values.file === undefined ? 2 : 1;
  if (positionals.length !== want) {
    const shape = want === 2 ? "KEY VALUE" : "KEY";
    throw new UsageError(
      `"${command}" needs ${shape}${command === "put" ? " (or KEY --file PATH)" : ""}`,
    );
  }
  const [key, value] = positionals;
  if (key === "") throw new UsageError("KEY must not be empty");
  // A URL would resolve them as steps of its path: the request would reach another route.
  if (key === "." || key === "..") {
    throw new UsageError(`KEY "${key}" cannot be named in a URL; use another key`);
  }
  let base: URL;
  try {
    base = new URL(values.gateway ?? DEFAULT_GATEWAY);
  } catch {
    throw new UsageError(
      `--gateway must be a URL like ${DEFAULT_GATEWAY}, got "${values.gateway}"`,
    );
  }
  const timeoutMs = int(values, "timeout-ms", 1, 600_000) ?? 10_000;
  const url = new URL(`kv/${encodeURIComponent(key)}`, base.href.endsWith("/") ? base : `${base}/`);
  url.searchParams.set("timeoutMs", String(timeoutMs));
  const headers = new Headers();
  if (values.token) headers.set("authorization", `Bearer ${values.token}`);
  const version = int(values, "if-version", 0, Number.MAX_SAFE_INTEGER);
  if (version !== undefined && values["if-absent"]) {
    throw new UsageError("--if-version and --if-absent cannot be combined");
  }
  if (version === 0 && command === "del") {
    throw new UsageError(
      "del --if-version must be at least 1 (an absent key has nothing to remove)",
    );
  }
  if (version === 0 || values["if-absent"]) headers.set("if-none-match", "*");
  else if (version !== undefined) headers.set("if-match", `"${version}"`);
  if (command === "get") return { url: url.href, init: { headers }, timeoutMs };
  if (command === "del") return { url: url.href, init: { method: "DELETE", headers }, timeoutMs };
  if (values.type !== undefined && values.file === undefined) {
    throw new UsageError("--type applies to put --file only (a VALUE is JSON)");
  }
  let body: Uint8Array<ArrayBuffer>;
  if (values.file !== undefined) {
    body = values.file === "-"
      ? new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer())
      : await Deno.readFile(values.file);
    headers.set("content-type", values.type ?? "application/octet-stream");
  } else {
    try {
      JSON.parse(value);
    } catch {
      throw new UsageError(
        `VALUE must be JSON (the gateway's JSON forms), e.g. '{"a":1}' or '"text"'; got ${value}`,
      );
    }
    body = new TextEncoder().encode(value);
    headers.set("content-type", "application/json");
  }
  return { url: url.href, init: { method: "PUT", headers, body }, timeoutMs };
}

/** `bytes` in base64 (the gateway's `$bytes` form). */
function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The version an answer's `ETag` carries. */
function versionOf(res: Response): number | undefined {
  const m = /^"(\d+)"$/.exec(res.headers.get("etag") ?? "");
  return m ? Number(m[1]) : undefined;
}

/**
 * Runs `put`, `get` or `del` against a gateway; resolves with what to print.
 *
 * @throws {UsageError} a mistake in the command line (nothing was sent).
 * @throws {GatewayError} the gateway answered with an error, or could not be reached.
 */
export async function runKv(
  command: "put" | "get" | "del",
  positionals: string[],
  values: Values,
): Promise<KvOutcome> {
  const { url, init, timeoutMs } = await kvRequest(command, positionals, values);
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs + 5_000) });
  } catch (e) {
    throw new GatewayError(
      `Cannot reach the gateway at ${new URL(url).origin}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const type = res.headers.get("content-type") ?? "";
  const bytes = new Uint8Array(await res.arrayBuffer());
  const json = () => JSON.parse(new TextDecoder().decode(bytes));
  if (!res.ok) {
    let problem = `HTTP ${res.status}`;
    try {
      const body = json();
      problem = `${body.type}: ${body.error}`;
      if (body.current !== undefined) problem += ` (current version: ${body.current})`;
    } catch {
      // Not one of the gateway's JSON errors: the status says it.
    }
    if (res.status === 404 && command === "get") {
      console.error(`error: ${problem}`);
      return { code: ABSENT };
    }
    throw new GatewayError(problem);
  }
  if (command !== "get") return { line: json(), code: 0 };
  if (values.raw) return { bytes, code: 0 };
  const line: Record<string, unknown> = { key: positionals[0], version: versionOf(res) };
  if (type.startsWith("application/json")) line.value = json();
  else {
    line.type = type;
    line.value = { $bytes: base64(bytes) };
  }
  return { line, code: 0 };
}
