/**
 * The command line's options: the usage text, the option table, strict parsing with mistakes
 * named in one line, and the checks made before anything starts (see `cli.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { hashKey } from "../core/id_space.ts";

/**
 * The usage text `--help` prints.
 *
 * @example
 * ```ts
 * import { USAGE } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(USAGE, /--version/);
 * ```
 */
export const USAGE: string = `p2ps — a peer-to-peer overlay node

Usage:
  deno run -A cli.ts create [options]             start a new network
  deno run -A cli.ts join HOST:PORT [options]     join the network of the node at HOST:PORT
  deno run -A cli.ts demo [demo options]          a local demo network with a dashboard per node
  deno run -A cli.ts put KEY VALUE [dht options]  store VALUE (JSON) under KEY in the DHT
  deno run -A cli.ts put KEY --file PATH [--type MEDIA] [dht options]   store a file's bytes
  deno run -A cli.ts get KEY [dht options]        read KEY
  deno run -A cli.ts del KEY [dht options]        remove KEY
  deno run -A cli.ts --help | --version

Node options (create, join):
  --id N|NAME            node id, or a name hashed into the space with hashKey, as the gateway
                         hashes a string "dst" (default: random in the identifier space)
  --port N               TCP port of this node's access point (default: any free port)
  --hostname H           address to listen on and announce (default: 127.0.0.1)
  --max-key N            identifier-space size, create only (default: 2^52); with join, the
                         space a NAME id is hashed into, which must be the network's
  --fingers P            finger policy, create only: tango | chord | dks:K | fullmesh
  --succ-list N          successor-list length, create only (default: 4)
  --name NAME            network name (create: sets it; join: insists on it)
  --http PORT            serve the HTTP gateway and dashboard on PORT (0: any free port)
  --http-hostname H      address of the gateway (default: 127.0.0.1; others need --token)
  --token T              bearer token required by the gateway
  --origin URL           allow browser pages of this origin (CORS); repeatable
  --quiet                print only the ready line, no messages or events

Security options (create, join):
  --secret-file FILE     the network secret, from a file only its owner may read (a private
                         network: members must all hold it); or set P2PS_SECRET. Never on the
                         command line: every user of the machine can read command lines
  --key FILE             this node's static key (32 bytes): read, or made with mode 0600 if
                         FILE does not exist; keeps the node's identity across restarts
  --encryption E         noise (default) | none: create sets it for the network; join refuses
                         a network that differs (without it, a joiner adopts the network's)
  --id-from-key          create only: every node's id is derived from its key

Demo options:
  --nodes N              number of nodes (default: 6)
  --http-port N          gateway of the first node; the others follow (default: 8080; 0: free)
  --max-key N            identifier-space size (default: 1024, small ids are easy to read)
  --traffic-ms N         a routed message every N ms (default: 4000; 0: none after the tour)
  --http-hostname H, --token T, --origin URL   as above

DHT options (put, get, del talk to a running node's gateway, e.g. one of the demo's):
  --gateway URL          the gateway (default: http://127.0.0.1:8080, the demo's first node)
  --token T              its bearer token
  --if-version N         put, del: only if KEY is at version N (compare-and-set; put: 0 = absent)
  --if-absent            put: only if KEY is absent
  --file PATH            put: the value is this file's bytes (- for standard input; needs
                         --allow-read), sent with --type MEDIA (default: application/octet-stream)
  --raw                  get: print the value alone (JSON text, or the stored bytes)
  --timeout-ms N         give up after N ms without a majority of replicas (default: 10000)
  A KEY is a string, hashed into the network's space as the gateway and the library hash it; a
  VALUE is JSON in the gateway's JSON forms ('{"a":1}', '"text"', '{"$bytes":"AAEC"}').
  Output: one JSON line — put, del: {"ok":true,"key":..,"id":..,"version":..,"replicas":..};
  get: {"key":..,"version":..,"value":..} (raw bytes: "type" and value {"$bytes":..}).
  Exit status: 0 done, 1 failed (a version conflict names the current version), 2 usage,
  3 get of an absent key.

Output of create/join: one JSON object per line on stdout — first
  {"stream":"ready","id":..,"ap":{..},"status":..,"gateway":"http://.."}
then {"stream":"message",..} and {"stream":"event","type":..,..} as they happen. The ready
line also gives the node's public key and the network's encryption, "private" and "idFromKey".
SIGINT or SIGTERM leaves the network gracefully.
`;

/**
 * A command-line mistake: reported with a hint and exit status 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new UsageError("Unknown option --prot", true).showUsage, true);
 * ```
 */
export class UsageError extends Error {
  /** Creates the error; `showUsage` asks for the whole usage after the message. */
  constructor(message: string, readonly showUsage = false) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A failure to start that the message explains in full (a port in use): exit status 1.
 *
 * @example
 * ```ts
 * import { StartError } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new StartError("HTTP port 8080 is in use").name, "StartError");
 * ```
 */
export class StartError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  id: { type: "string" },
  port: { type: "string" },
  hostname: { type: "string" },
  "max-key": { type: "string" },
  fingers: { type: "string" },
  "succ-list": { type: "string" },
  name: { type: "string" },
  http: { type: "string" },
  "http-hostname": { type: "string" },
  "http-port": { type: "string" },
  token: { type: "string" },
  origin: { type: "string", multiple: true },
  quiet: { type: "boolean" },
  "secret-file": { type: "string" },
  key: { type: "string" },
  encryption: { type: "string" },
  "id-from-key": { type: "boolean" },
  nodes: { type: "string" },
  "traffic-ms": { type: "string" },
  gateway: { type: "string" },
  "if-version": { type: "string" },
  "if-absent": { type: "boolean" },
  file: { type: "string" },
  type: { type: "string" },
  raw: { type: "boolean" },
  "timeout-ms": { type: "string" },
} as const;

/** The options as parsed. */
export type Values = ReturnType<typeof parse>["values"];

/**
 * Parses the command line strictly: an unknown option, or one missing its value, is a
 * {@linkcode UsageError} that names it.
 *
 * @example
 * ```ts
 * import { parse, UsageError } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parse(["join", "127.0.0.1:1", "--id", "7"]).positionals, ["join", "127.0.0.1:1"]);
 * assert.throws(() => parse(["create", "--prot", "1"]), UsageError, "did you mean --port?");
 * ```
 */
export function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw parseError(e as Error & { code?: string });
  }
}

/** Node's parseArgs errors, said in one line that names the option. */
function parseError(e: Error & { code?: string }): UsageError {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1] ?? "";
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    if (/^--secret(=|$)/.test(option)) {
      return new UsageError(
        "--secret is not an option: a secret on the command line is visible to every user " +
          "of the machine; use --secret-file FILE or the P2PS_SECRET environment variable",
      );
    }
    const guess = closestOption(option.replace(/^-+/, ""));
    return new UsageError(
      `Unknown option ${option}${guess ? `; did you mean --${guess}?` : ""}`,
      true,
    );
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return new UsageError(
      OPTIONS[option.replace(/^-+/, "") as keyof typeof OPTIONS]?.type === "boolean"
        ? `Option ${option} takes no value`
        : `Option ${option} needs a value`,
    );
  }
  return new UsageError(e.message);
}

/** The option nearest to a mistyped name (at most two edits away), if any. */
function closestOption(name: string): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of Object.keys(OPTIONS)) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/**
 * Fails with a {@linkcode StartError} naming the ports of `ports` that are in use, before
 * anything starts (port 0 is always free). The later bind can still lose a race; that error
 * names the port too.
 *
 * @example
 * ```ts
 * import { checkHttpPorts, StartError } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * assert.throws(
 *   () => checkHttpPorts("127.0.0.1", [0, held.addr.port], "choose another"),
 *   StartError,
 *   `HTTP port ${held.addr.port} is in use`,
 * );
 * ```
 */
export function checkHttpPorts(hostname: string, ports: number[], hint: string): void {
  const busy = ports.filter((port) => {
    if (port === 0) return false;
    try {
      Deno.listen({ hostname, port }).close();
      return false;
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) return true;
      throw new StartError(`Cannot listen on ${hostname}:${port}: ${(e as Error).message}`);
    }
  });
  if (busy.length > 0) {
    const which = busy.length === 1
      ? `HTTP port ${busy[0]} is`
      : `HTTP ports ${busy.join(", ")} are`;
    throw new StartError(`${which} in use on ${hostname}; ${hint}`);
  }
}

/**
 * The node id of `--id`: a number, or a name hashed into `[0, maxKey)` with `hashKey`.
 *
 * @example
 * ```ts
 * import { nodeId, parse } from "./options.ts";
 * import { hashKey } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(nodeId(parse(["--id", "16"]).values, 1024), 16);
 * assert.equal(nodeId(parse(["--id", "alice"]).values, 1024), hashKey("alice", 1024));
 * ```
 */
export function nodeId(values: Values, maxKey: number): number | undefined {
  const raw = values.id;
  if (raw === undefined) return undefined;
  if (/^\d+$/.test(raw)) return int(values, "id", 0, maxKey - 1);
  if (raw.startsWith("-") || raw.trim() === "") {
    throw new UsageError(`--id must be an integer in [0, ${maxKey - 1}] or a name, got "${raw}"`);
  }
  return hashKey(raw, maxKey);
}

/**
 * The integer value of option `name`, checked against `[min, max]`; `undefined` when absent.
 *
 * @example
 * ```ts
 * import { int, parse } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(int(parse(["--port", "3001"]).values, "port", 0, 65535), 3001);
 * assert.throws(() => int(parse(["--port", "x"]).values, "port", 0, 65535), /--port must be/);
 * ```
 */
export function int(
  values: Values,
  name: keyof Values,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

/**
 * Refuses any option given that `command` does not take.
 *
 * @example
 * ```ts
 * import { only, parse } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => only(parse(["--nodes", "3"]).values, "join", ["id"]), /does not apply/);
 * ```
 */
export function only(values: Values, command: string, allowed: string[]): void {
  for (const k of Object.keys(values)) {
    if (!allowed.includes(k)) throw new UsageError(`--${k} does not apply to "${command}"`);
  }
}
