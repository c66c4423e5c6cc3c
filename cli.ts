/**
 * The `p2ps` command line: run one node (`create`, `join`), or a demo network of several nodes
 * with an HTTP gateway and dashboard for each (`demo`, what `deno task start` runs).
 *
 * ```sh
 * deno run -A cli.ts create --port 3001 --id 1 --http 8080
 * deno run -A cli.ts join 127.0.0.1:3001 --port 3002 --id 16
 * deno run --allow-net=127.0.0.1 cli.ts demo
 * ```
 *
 * `create` and `join` print one JSON line per received message (`"stream": "message"`) and per
 * event (`"stream": "event"`) on stdout, after a `"stream": "ready"` line, and leave the network
 * gracefully on SIGINT or SIGTERM. Values JSON cannot express use the gateway's JSON forms.
 * `put`, `get` and `del` use the DHT through a running node's gateway (`lib/cli/kv.ts`).
 *
 * @module
 */

import {
  createNet,
  JoinError,
  joinNet,
  MAX_KEY_LIMIT,
  type NodeEvent,
  type NodeOptions,
  type NodeRef,
  type P2PNode,
} from "./mod.ts";
import { type GatewayServer, serveGateway, toJsonValue } from "./gateway/mod.ts";
import { isLoopback } from "./gateway/_security.ts";
import denoJson from "./deno.json" with { type: "json" };
import {
  checkHttpPorts,
  int,
  nodeId,
  only,
  parse,
  StartError,
  USAGE,
  UsageError,
  type Values,
} from "./lib/cli/options.ts";
import { securityChoice } from "./lib/cli/security.ts";
import { ringOf } from "./lib/node/node.ts";
import { GatewayError, runKv } from "./lib/cli/kv.ts";

/** This release, as published (`deno.json`). */
const VERSION: string = denoJson.version;

/** Prints one JSON line on stdout. */
function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(toJsonValue(obj)));
}

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
function onStopSignal(): { stopped: Promise<string>; dispose(): void } {
  const { promise, resolve } = Promise.withResolvers<string>();
  let count = 0;
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => {
      if (++count > 1) Deno.exit(130);
      resolve(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return {
    stopped: promise,
    dispose: () => handlers.forEach(([sig, h]) => Deno.removeSignalListener(sig, h)),
  };
}

/** Leaves gracefully, or crashes the node if the goodbye takes longer than `ms`. */
async function leaveWithin(node: P2PNode, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
  const outcome = await Promise.race([node.leave().then(() => "left" as const), late]);
  clearTimeout(timer);
  if (outcome === "late") node.crash();
}

function gatewayOptions(values: Values) {
  const hostname = values["http-hostname"];
  if (hostname !== undefined && !isLoopback(hostname) && !values.token) {
    throw new UsageError(`--http-hostname ${hostname} is not loopback: it requires --token`);
  }
  return {
    hostname: values["http-hostname"],
    token: values.token,
    origins: values.origin,
  };
}

async function runNode(command: "create" | "join", positionals: string[], values: Values) {
  const common = [
    "id",
    "port",
    "hostname",
    "name",
    "http",
    "http-hostname",
    "token",
    "origin",
    "secret-file",
    "key",
    "encryption",
  ];
  const named = values.id !== undefined && !/^\d+$/.test(values.id);
  if (command === "create") {
    only(values, command, [
      ...common,
      "max-key",
      "fingers",
      "succ-list",
      "quiet",
      "id-from-key",
    ]);
    if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  } else {
    only(values, command, [...common, "quiet", ...(named ? ["max-key"] : [])]);
    if (positionals.length !== 1) {
      throw new UsageError('"join" needs exactly one access point, e.g. 127.0.0.1:3001');
    }
  }
  const httpPort = int(values, "http", 0, 65535);
  if (httpPort === undefined && (values["http-hostname"] || values.token || values.origin)) {
    throw new UsageError("--http-hostname, --token and --origin need --http PORT");
  }
  const maxKey = int(values, "max-key", 2, MAX_KEY_LIMIT);
  const security = securityChoice(command, values);
  const options: NodeOptions = {
    node: { id: nodeId(values, maxKey ?? MAX_KEY_LIMIT) },
    ap: { hostname: values.hostname ?? "127.0.0.1", port: int(values, "port", 0, 65535) ?? 0 },
    identity: security.identity,
    net: {
      name: values.name,
      maxKey: command === "create" ? maxKey : undefined,
      fingers: values.fingers as NonNullable<NodeOptions["net"]>["fingers"],
      succListSize: int(values, "succ-list", 1, 64),
      secret: security.secret,
      encryption: security.encryption,
      idFromKey: security.idFromKey,
    },
  };
  const served = httpPort === undefined ? null : { ...gatewayOptions(values), port: httpPort };
  if (served) {
    checkHttpPorts(served.hostname ?? "127.0.0.1", [served.port], "choose another with --http");
  }
  // A name is hashed into the space --max-key gives; a joiner must give the network's.
  const wrongSpace = (netMaxKey: number) =>
    new UsageError(
      `--id ${values.id} was hashed into [0, ${maxKey ?? MAX_KEY_LIMIT}) but the network's ` +
        `space is [0, ${netMaxKey}): add --max-key ${netMaxKey}`,
    );
  const signals = onStopSignal();
  let node: P2PNode;
  try {
    node = command === "create" ? await createNet(options) : await joinNet(positionals[0], options);
  } catch (e) {
    signals.dispose();
    const space = /identifier space \[0, (\d+)\)/.exec((e as Error).message);
    if (named && e instanceof JoinError && space) throw wrongSpace(Number(space[1]));
    if (security.secret !== undefined && /another network secret/.test((e as Error).message)) {
      // The key is the secret's and the network name's: a forgotten --name looks the same.
      (e as Error).message += `; the key comes from the secret and the network name ` +
        `("${options.net!.name ?? "p2ps"}"): check both`;
    }
    throw e;
  }
  let server: GatewayServer | undefined;
  try {
    if (command === "join" && named && node.maxKey !== (maxKey ?? MAX_KEY_LIMIT)) {
      throw wrongSpace(node.maxKey);
    }
    if (served) server = serve(node, served);
  } catch (e) {
    signals.dispose();
    await leaveWithin(node, 3000);
    throw e;
  }
  const printing: Promise<void>[] = [];
  if (!values.quiet) {
    const messages = node.messages();
    const events = node.events();
    printing.push((async () => {
      for await (const m of messages) emit({ stream: "message", ...m });
    })());
    printing.push((async () => {
      for await (const e of events) emit({ stream: "event", ...e });
    })());
  }
  const net = node.info().net!;
  emit({
    stream: "ready",
    id: node.id,
    ap: node.ap,
    status: node.status,
    maxKey: node.maxKey,
    gateway: server?.url ?? null,
    publicKey: ringOf(node).security.keyPair?.publicKey.toHex() ?? null,
    encryption: net.encryption,
    private: security.secret !== undefined,
    idFromKey: net.idFromKey,
  });
  const left = printing.length ? Promise.all(printing) : new Promise<never>(() => {});
  const why = await Promise.race([signals.stopped, left.then(() => "left")]);
  signals.dispose();
  await server?.shutdown();
  if (why !== "left") await leaveWithin(node, 5000);
  await Promise.all(printing);
}

/** {@linkcode serveGateway}, with a port lost to a race named in the error. */
function serve(node: P2PNode, options: Parameters<typeof serveGateway>[1] & { port: number }) {
  try {
    return serveGateway(node, options);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new StartError(`HTTP port ${options.port} is in use; choose another`);
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// demo

function short(v: unknown): string {
  const s = JSON.stringify(toJsonValue(v));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One line about an event, with its details; `null` for events too frequent to print. */
function describeEvent(e: NodeEvent): string | null {
  const id = (n: NodeRef | null | undefined) => n?.id ?? "none";
  switch (e.type) {
    case "newpred":
      return `new predecessor ${id(e.pred)}${e.old ? ` (was ${id(e.old)})` : ""}`;
    case "newsucc":
      return `new successor ${id(e.succ)}${e.old ? ` (was ${id(e.old)})` : ""}`;
    case "fingers":
      return null;
    case "suspect":
      return `suspect ${e.peer.id} (silent ${Math.round(e.silentMs)} ms)`;
    case "alive":
      return `alive ${e.peer.id} again${e.wasCrashed ? " (was taken for crashed)" : ""}`;
    case "crash":
      return `crash of ${e.peer.id}: ${e.reason}`;
    case "alone":
      return e.last ? `alone (lost ${e.last.id})` : "alone";
    case "undeliverable":
      return `${e.count} ${e.kind} message(s) from id ${e.id} to ${e.dst} undeliverable: ${e.reason}`;
    case "connected":
    case "left":
      return e.type;
  }
}

async function runDemo(positionals: string[], values: Values): Promise<void> {
  only(values, "demo", [
    "nodes",
    "http-port",
    "max-key",
    "traffic-ms",
    "http-hostname",
    "token",
    "origin",
  ]);
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const count = int(values, "nodes", 1, 64) ?? 6;
  const basePort = int(values, "http-port", 0, 65535) ?? 8080;
  if (basePort > 0 && basePort + count - 1 > 65535) {
    throw new UsageError(`--http-port ${basePort} leaves no room for ${count} gateways`);
  }
  const maxKey = int(values, "max-key", 2, 2 ** 52) ?? 1024;
  if (maxKey < count) throw new UsageError(`--max-key ${maxKey} has no room for ${count} nodes`);
  const trafficMs = int(values, "traffic-ms", 0, 3_600_000) ?? 4000;
  const served = gatewayOptions(values);
  const log = (line: string) => console.log(line);
  checkHttpPorts(
    served.hostname ?? "127.0.0.1",
    Array.from({ length: count }, (_, i) => (basePort === 0 ? 0 : basePort + i)),
    "choose other ports with --http-port (0: any free ports)",
  );

  // Distinct random ids, so each run draws a different ring.
  const ids = new Set<number>();
  while (ids.size < count) ids.add(Math.floor(Math.random() * maxKey));
  const [firstId, ...otherIds] = ids;

  const nodes: P2PNode[] = [];
  const servers: GatewayServer[] = [];
  const readers: Promise<void>[] = [];
  const signals = onStopSignal();
  let timer: ReturnType<typeof setInterval> | undefined;
  const watch = (node: P2PNode) => {
    const tag = `[node ${String(node.id).padStart(String(maxKey - 1).length)}]`;
    const events = node.events();
    const messages = node.messages();
    readers.push((async () => {
      for await (const e of events) {
        const text = describeEvent(e);
        if (text) log(`${tag} ${text}`);
      }
    })());
    readers.push((async () => {
      for await (const m of messages) {
        log(`${tag} got ${m.kind} from ${m.src} in ${m.hops} hop(s): ${short(m.msg)}`);
      }
    })());
  };
  try {
    log(`P2PS demo: ${count} nodes on a ring of ${maxKey} ids, Tango fingers, loopback only`);
    const first = await createNet({ node: { id: firstId }, net: { maxKey } });
    nodes.push(first);
    watch(first);
    log(`${"".padEnd(4)}created the network at node ${first.id}`);
    for (const id of otherIds) {
      // Join through a node picked at random: any member is an access point.
      const via = nodes[Math.floor(Math.random() * nodes.length)];
      const node = await joinNet(via.ap, { node: { id } });
      nodes.push(node);
      watch(node);
      log(`${"".padEnd(4)}node ${id} joined through node ${via.id}`);
    }
    for (const [i, node] of nodes.entries()) {
      servers.push(serve(node, { ...served, port: basePort === 0 ? 0 : basePort + i }));
    }
    const q = values.token ? `?token=${encodeURIComponent(values.token)}` : "";
    log("");
    log("Gateways and dashboards (open one in a browser):");
    for (const [i, node] of nodes.entries()) {
      const ring = node.info();
      log(
        `  node ${String(node.id).padStart(4)}  ${servers[i].url}/${q}` +
          `   pred ${
            ring.pred?.id ?? "-"
          }, succ ${ring.succ.id}, tcp ${node.ap.hostname}:${node.ap.port}`,
      );
    }
    const url = servers[0].url;
    const auth = values.token ? ` -H 'Authorization: Bearer ${values.token}'` : "";
    log("");
    log("Try:");
    log(`  curl${auth} -d '{"dst": 42, "msg": "hello", "toResp": true, "ack": true}' ${url}/send`);
    log(`  curl${auth} -d '{"dst": "alice", "msg": "a string key", "toResp": true}' ${url}/send`);
    log(`  curl${auth} -d '{"msg": "hi all", "ack": true}' ${url}/broadcast`);
    log(`  curl${auth} -N ${servers[1 % servers.length].url}/messages`);
    log("Ctrl-C to stop.");
    log("");

    // A short tour: one of each primitive, acknowledged so the outcome can be printed.
    const [a, b] = [nodes[0], nodes[nodes.length - 1]];
    const key = Math.floor(Math.random() * maxKey);
    const r1 = await a.send(key, `hello key ${key}`, { toResp: true, ack: true });
    log(
      `[demo] ${a.id} → key ${key}: delivered to ${r1.node} in ${r1.hops} hop(s), ${
        r1.rtt.toFixed(1)
      } ms`,
    );
    const group = nodes.slice(1, 4).map((n) => n.id);
    const r2 = await b.multicast(group, "multicast hello", { ack: true });
    log(
      `[demo] ${b.id} multicast to [${group}]: reached [${r2.reached.sort((x, y) => x - y)}] in ${
        r2.rtt.toFixed(1)
      } ms`,
    );
    const r3 = await a.broadcast("broadcast hello", { ack: true });
    log(
      `[demo] ${a.id} broadcast: reached ${r3.reached.length} node(s) in ${r3.rtt.toFixed(1)} ms`,
    );
    let n = 0;
    if (trafficMs > 0) {
      timer = setInterval(() => {
        const src = nodes[Math.floor(Math.random() * nodes.length)];
        const k = Math.floor(Math.random() * maxKey);
        src.send(k, { tick: ++n, key: k }, { toResp: true, ack: true }).then(
          (r) => log(`[demo] ${src.id} → key ${k}: node ${r.node}, ${r.hops} hop(s)`),
          (e) => log(`[demo] ${src.id} → key ${k}: ${(e as Error).message}`),
        );
      }, trafficMs);
    }
    await signals.stopped;
    log("");
    log("Leaving the network...");
  } finally {
    signals.dispose();
    clearInterval(timer);
    await Promise.all(servers.map((s) => s.shutdown()));
    for (const node of nodes.reverse()) await leaveWithin(node, 3000);
    await Promise.all(readers);
  }
  log("All nodes left. Bye.");
}

/**
 * Runs the command line with `args`; resolves with the exit status.
 *
 * @param args The arguments, as in `Deno.args`.
 * @returns 0 on success, 1 on a runtime failure, 2 on a usage mistake, 3 for `get` of an absent
 * key.
 *
 * @example Help
 * ```ts ignore
 * import { main } from "./cli.ts";
 * Deno.exit(await main(["--help"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(args);
    const [command, ...rest] = positionals;
    if (values.help || command === "help") {
      console.log(USAGE);
      return 0;
    }
    if (values.version) {
      console.log(`p2ps ${VERSION}`);
      return 0;
    }
    switch (command) {
      case "create":
      case "join":
        await runNode(command, rest, values);
        return 0;
      case "demo":
        await runDemo(rest, values);
        return 0;
      case "put":
      case "get":
      case "del": {
        const out = await runKv(command, rest, values);
        if (out.line) console.log(JSON.stringify(out.line));
        if (out.bytes) await Deno.stdout.write(out.bytes);
        return out.code;
      }
      case undefined:
        throw new UsageError("A command is required: create, join, demo, put, get or del");
      default:
        throw new UsageError(
          `Unknown command "${command}"; expected create, join, demo, put, get or del`,
        );
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}`);
      console.error(e.showUsage ? `\n${USAGE}` : "Run with --help for usage.");
      return 2;
    }
    if (e instanceof StartError || e instanceof GatewayError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    const err = e as Error;
    console.error(`error: ${err.name}: ${err.message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
