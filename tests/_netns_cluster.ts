// CLI nodes running inside the namespaces of a NetnsLab: start them, read what each prints (its
// messages and events, stamped with the time each line was read), talk to their gateways from
// inside their namespaces, stop them, and, when a test failed, write every log and print one
// timeline of the events that matter.
import { setTimeout as delay } from "node:timers/promises";
import { Proc } from "./_gateway_process.ts";
import type { NetnsLab } from "./_netns.ts";

/** The `ready` line of a CLI node. */
export interface Ready {
  id: number;
  ap: { hostname: string; port: number };
  gateway: string;
}

/** Events worth a line in a failure's timeline (`fingers`, the bulk, is left out). */
const NOTABLE = new Set([
  "suspect",
  "crash",
  "alive",
  "newpred",
  "newsucc",
  "alone",
  "undeliverable",
]);

/**
 * A process that only runs a 100 ms timer and prints when it fired late: evidence of a starved
 * machine, to tell a detector fooled by scheduling from one fooled by the network.
 */
const STARVATION_PROBE = `
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = Math.round(now - last - 100);
  if (late >= 250) console.log(JSON.stringify({ late }));
  last = now;
}, 100);`;

/** A one-line description of an event: type, peer, timeout. */
export function eventSummary(e: Record<string, unknown>): string {
  const peer = (e.peer ?? e.pred ?? e.succ) as { id?: number } | null | undefined;
  const extra = e.silentMs !== undefined ? ` silentMs=${e.silentMs}` : "";
  return `${e.type}${peer?.id !== undefined ? ` ${peer.id}` : ""}${extra}`;
}

/** One CLI node and what its stdout said so far. */
export class CliNode {
  /** Deliveries of the test's messages (`{ tag, n }`) seen on stdout: `n` → count. */
  readonly got = new Map<number, number>();
  /** Events seen on stdout, with the index of their line. */
  readonly events: { line: number; event: Record<string, unknown> }[] = [];
  #parsed = 0;

  constructor(
    readonly proc: Proc,
    readonly ns: number,
    readonly ready: Ready,
    readonly tag: number,
  ) {}

  /** The node's id. */
  get id(): number {
    return this.ready.id;
  }

  /** Reads the stdout lines that arrived since the last call; returns how many were read. */
  refresh(): number {
    const lines = this.proc.lines;
    for (; this.#parsed < lines.length; this.#parsed++) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(lines[this.#parsed]);
      } catch {
        continue;
      }
      const msg = o.msg as { tag?: number; n?: number } | undefined;
      if (o.stream === "message" && msg?.tag === this.tag && typeof msg.n === "number") {
        this.got.set(msg.n, (this.got.get(msg.n) ?? 0) + 1);
      } else if (o.stream === "event") {
        this.events.push({ line: this.#parsed, event: o });
      }
    }
    return this.#parsed;
  }

  /** Events of `types` among stdout lines `[from, to)`. */
  eventsBetween(from: number, to: number, types: string[]): Record<string, unknown>[] {
    this.refresh();
    return this.events
      .filter(({ line, event }) =>
        line >= from && line < to && types.includes(event.type as string)
      )
      .map(({ event }) => event);
  }
}

/** CLI nodes in a lab; dispose of it to stop them all. */
export class Cluster implements AsyncDisposable {
  /** The nodes that started, in order. */
  readonly nodes: CliNode[] = [];
  /** When the cluster was made (`Date.now()`); logs are stamped relative to it. */
  readonly t0: number = Date.now();
  readonly #lab: NetnsLab;
  readonly #tag: number;
  readonly #allowNet: string;
  readonly #probe: Proc;
  readonly #procs: Proc[] = [];
  #stopped: Promise<void> | null = null;

  /** `tag` marks the test's messages (`{ tag, n }`) among whatever the nodes print. */
  constructor(lab: NetnsLab, tag: number) {
    this.#lab = lab;
    this.#tag = tag;
    // A node listens on its namespace's address, dials the others, and serves its gateway on
    // loopback: nothing else.
    this.#allowNet = `--allow-net=127.0.0.1,${lab.addresses.join(",")}`;
    this.#probe = new Proc(lab.execArgs(0, Deno.execPath(), ["eval", STARVATION_PROBE]), {
      command: "ip",
    });
    this.#procs.push(this.#probe);
  }

  /** Seconds since `t0`, for progress lines. */
  elapsed(): string {
    return `${((Date.now() - this.t0) / 1000).toFixed(1)} s`;
  }

  /**
   * Starts a CLI node with `id` in namespace `ns`: it creates the network (with `maxKey`) when
   * `via` is null, or joins through `via`. Resolves once it printed its `ready` line.
   */
  async start(id: number, ns: number, via: CliNode | null, maxKey: number): Promise<CliNode> {
    const command = via
      ? ["join", `${via.ready.ap.hostname}:${via.ready.ap.port}`]
      : ["create", "--max-key", String(maxKey)];
    const args = [
      "run",
      this.#allowNet,
      "cli.ts",
      ...command,
      "--hostname",
      this.#lab.addresses[ns],
      "--id",
      String(id),
      "--http",
      "0",
    ];
    const proc = new Proc(this.#lab.execArgs(ns, Deno.execPath(), args), { command: "ip" });
    this.#procs.push(proc);
    const ready = await proc.waitForJson({ stream: "ready" }, 60_000) as unknown as Ready;
    const node = new CliNode(proc, ns, ready, this.#tag);
    this.nodes.push(node);
    return node;
  }

  /** An HTTP request to `node`'s gateway, from inside its namespace. */
  request(
    node: CliNode,
    path: string,
    body?: unknown,
    maxSeconds?: number,
  ): Promise<{ status: number; body: unknown }> {
    return this.#lab.curlJson(node.ns, `${node.ready.gateway}${path}`, body, maxSeconds);
  }

  /** Nodes whose successor or predecessor is not their neighbour on the ring of all ids. */
  async wrongNeighbours(): Promise<string[]> {
    const sorted = this.nodes.map((n) => n.id).sort((a, b) => a - b);
    const out: string[] = [];
    await Promise.all(this.nodes.map(async (node) => {
      const { status, body } = await this.request(node, "/node");
      const info = body as { succ?: { id: number }; pred?: { id: number } | null };
      const i = sorted.indexOf(node.id);
      const succ = sorted[(i + 1) % sorted.length];
      const pred = sorted[(i - 1 + sorted.length) % sorted.length];
      if (status !== 200) out.push(`${node.id}: /node answered ${status}`);
      else if (info.succ?.id !== succ || info.pred?.id !== pred) {
        out.push(
          `${node.id}: succ ${info.succ?.id} (not ${succ}), pred ${info.pred?.id} (not ${pred})`,
        );
      }
    }));
    return out;
  }

  /** Stops every process: SIGTERM (a graceful leave, bounded by the CLI), SIGKILL if it lingers. */
  stop(): Promise<void> {
    this.#stopped ??= Promise.all(this.#procs.map(async (proc) => {
      const ac = new AbortController();
      const late = delay(20_000, true, { signal: ac.signal }).catch(() => false);
      const slow = await Promise.race([proc.stop("SIGTERM").then(() => false), late]);
      ac.abort();
      if (slow) await proc.stop("SIGKILL");
    })).then(() => {});
    return this.#stopped;
  }

  /**
   * After a failure: writes every node's stdout (each line stamped with the time it was read),
   * stderr and `extra[i]` (e.g. its statistics) to a fresh directory, and prints one timeline of
   * notable events and starvation-probe reports. Returns the directory.
   */
  async report(extra: unknown[] = []): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: `p2ps-netns-${this.#tag}-` });
    const since = (t: number) => `+${((t - this.t0) / 1000).toFixed(3)}`;
    const timeline: [number, string][] = [];
    for (const [i, nd] of this.nodes.entries()) {
      const { lines, times, stderr } = nd.proc;
      const stamped = lines.map((l, j) => `${since(times[j])} ${l}`);
      await Deno.writeTextFile(`${dir}/node-${nd.id}.stdout`, stamped.join("\n"));
      await Deno.writeTextFile(`${dir}/node-${nd.id}.stderr`, stderr);
      if (extra[i] !== undefined) {
        await Deno.writeTextFile(`${dir}/node-${nd.id}.json`, JSON.stringify(extra[i]));
      }
      nd.refresh();
      for (const { line, event } of nd.events) {
        if (!NOTABLE.has(event.type as string)) continue;
        timeline.push([times[line], `node ${nd.id} (ns ${nd.ns + 1}) ${eventSummary(event)}`]);
      }
    }
    for (const [j, line] of this.#probe.lines.entries()) {
      const late = JSON.parse(line).late;
      timeline.push([this.#probe.times[j], `probe: a 100 ms timer fired ${late} ms late`]);
    }
    timeline.sort((a, b) => a[0] - b[0]);
    console.log(`  timeline (seconds since t0 = ${this.t0} ms since the epoch):`);
    for (const [t, what] of timeline) console.log(`    ${since(t)} ${what}`);
    console.log(`  logs of every node: ${dir}`);
    return dir;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
