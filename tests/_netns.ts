// A lab of Linux network namespaces for tests on real kernel networking: N namespaces, each with
// one address (10.77.0.i/24) on a veth whose other end sits on a bridge in a namespace of its own,
// so no packet ever touches the host's interfaces. Every namespace drops a given share of its
// incoming packets at random (nftables `numgen random`; this kernel has no netem) and may be
// limited in bandwidth (tbf). Needs root, iproute2, nftables and curl.
//
// Names carry the creating process's pid (`p2psnet<pid>-<random>-...`): runs of other users of
// this machine never collide, and namespaces left by a crashed run (their pid is gone) are
// removed by the next one.

const PREFIX = "p2psnet";
const SUBNET = "10.77.0";

/**
 * A fresh prefix for this process's namespaces: `p2psnet<pid>-<random>`. The pid tells a later
 * run whether the owner is gone; the random part keeps two labs of one process apart.
 */
function ownPrefix(): string {
  return `${PREFIX}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** What a command printed and how it ended. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args`; never throws for a non-zero exit (throws `NotFound` when `cmd` is missing). */
async function run(cmd: string, args: string[], stdin?: string): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Runs `cmd args` and throws with its stderr when it fails. */
async function must(cmd: string, args: string[], stdin?: string): Promise<string> {
  const r = await run(cmd, args, stdin);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Why network-namespace tests cannot run here (a missing tool, no permission), or `null` when
 * they can. Creates and removes one probe namespace.
 */
export async function netnsUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "network namespaces are Linux only";
  for (const [tool, flag] of [["ip", "-V"], ["nft", "--version"], ["curl", "--version"]]) {
    try {
      await run(tool, [flag]);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return `"${tool}" is not installed`;
      throw e;
    }
  }
  const probe = `${ownPrefix()}-probe`;
  const made = await run("ip", ["netns", "add", probe]);
  if (made.code !== 0) {
    await run("ip", ["netns", "del", probe]);
    return `cannot create network namespaces (${made.stderr.trim()}); run as root`;
  }
  try {
    const nft = await run("ip", ["netns", "exec", probe, "nft", "list", "ruleset"]);
    if (nft.code !== 0) return `nft cannot run in a namespace: ${nft.stderr.trim()}`;
    return null;
  } finally {
    await run("ip", ["netns", "del", probe]);
  }
}

/** Kills what still runs in namespace `ns` (only processes a lab run started) and deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = await run("ip", ["netns", "pids", ns]);
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await run("ip", ["netns", "del", ns]);
}

/** Deletes the namespaces of earlier runs whose process no longer exists. */
async function removeStale(): Promise<string[]> {
  const listed = await must("ip", ["netns", "list"]);
  const stale: string[] = [];
  for (const line of listed.split("\n")) {
    const name = line.split(" ")[0];
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === Deno.pid) continue;
    try {
      await Deno.stat(`/proc/${m[1]}`);
    } catch {
      stale.push(name);
    }
  }
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}

/** Settings of a {@linkcode NetnsLab}. */
export interface LabOptions {
  /** Node namespaces, at most 250. */
  namespaces: number;
  /** Share of incoming packets each namespace drops at random, percent (0 to 100). */
  lossPercent: number;
  /** Bandwidth towards each namespace, as tc writes it (e.g. `"20mbit"`); unlimited if absent. */
  rate?: string;
}

/** Packets seen and dropped on a namespace's link, and its kernel's TCP retransmissions. */
export interface LinkCounters {
  /** Packets that arrived on the namespace's link. */
  arrived: number;
  /** Of those, dropped by the loss rule. */
  dropped: number;
  /** TCP segments the namespace's kernel sent again (`RetransSegs` of /proc/net/snmp). */
  retransmitted: number;
}

/** Namespaces on one bridge; dispose of it to delete them all. */
export class NetnsLab implements AsyncDisposable {
  /** Node namespace names, in order. */
  readonly names: string[];
  /** The address of each node namespace, in the same order. */
  readonly addresses: string[];
  /** Namespaces of earlier crashed runs that creating this lab removed. */
  stale: string[] = [];
  readonly #bridge: string;

  private constructor(count: number) {
    const base = ownPrefix();
    this.#bridge = `${base}-br`;
    this.names = Array.from({ length: count }, (_, i) => `${base}-n${i + 1}`);
    this.addresses = this.names.map((_, i) => `${SUBNET}.${i + 1}`);
  }

  /** Builds the lab; on any failure deletes what it made and throws. */
  static async create(options: LabOptions): Promise<NetnsLab> {
    const { namespaces: n, lossPercent } = options;
    if (!Number.isInteger(n) || n < 1 || n > 250) {
      throw new RangeError(`namespaces must be an integer in [1, 250], got ${n}`);
    }
    if (!Number.isInteger(lossPercent) || lossPercent < 0 || lossPercent > 100) {
      throw new RangeError(`lossPercent must be an integer in [0, 100], got ${lossPercent}`);
    }
    const stale = await removeStale();
    const lab = new NetnsLab(n);
    lab.stale = stale;
    try {
      await lab.#build(options);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  async #build({ lossPercent, rate }: LabOptions): Promise<void> {
    const br = this.#bridge;
    await must("ip", ["netns", "add", br]);
    await must("ip", ["-n", br, "link", "add", "br0", "type", "bridge"]);
    await must("ip", ["-n", br, "link", "set", "br0", "up"]);
    for (const [i, ns] of this.names.entries()) {
      const port = `v${i + 1}`;
      await must("ip", ["netns", "add", ns]);
      // Both ends are born inside namespaces: the host's own namespace never sees them.
      await must("ip", [
        "-n",
        br,
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "eth0",
        "netns",
        ns,
      ]);
      await must("ip", ["-n", br, "link", "set", port, "master", "br0", "up"]);
      await must("ip", ["-n", ns, "addr", "add", `${this.addresses[i]}/24`, "dev", "eth0"]);
      await must("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
      // Input, not output: an output drop returns EPERM to the sender instead of looking lost.
      // Loopback (the gateway the test talks to) is never dropped.
      await must(
        "ip",
        ["netns", "exec", ns, "nft", "-f", "-"],
        [
          "table inet p2ps_loss {",
          "  chain input {",
          "    type filter hook input priority 0;",
          '    iifname "eth0" counter',
          `    iifname "eth0" numgen random mod 100 < ${lossPercent} counter drop`,
          "  }",
          "}",
        ].join("\n"),
      );
      if (rate) {
        await must("tc", [
          "-n",
          br,
          "qdisc",
          "add",
          "dev",
          port,
          "root",
          "tbf",
          "rate",
          rate,
          "burst",
          "64kb",
          "latency",
          "200ms",
        ]);
      }
    }
  }

  /** The command prefix that runs a program inside namespace `i` (`ip netns exec ...`). */
  execArgs(i: number, program: string, args: string[]): string[] {
    return ["netns", "exec", this.names[i], program, ...args];
  }

  /**
   * An HTTP request from inside namespace `i` (with curl): GET without a body, POST with one.
   * Resolves with the status and the parsed JSON body; status 0 when curl itself failed.
   */
  async curlJson(
    i: number,
    url: string,
    body?: unknown,
    maxSeconds = 30,
  ): Promise<{ status: number; body: unknown }> {
    const args = ["-s", "-S", "--max-time", String(maxSeconds), "-w", "\n%{http_code}"];
    if (body !== undefined) args.push("--data-binary", JSON.stringify(body));
    const r = await run("ip", this.execArgs(i, "curl", [...args, url]));
    if (r.code !== 0) return { status: 0, body: `curl exited ${r.code}: ${r.stderr.trim()}` };
    const cut = r.stdout.lastIndexOf("\n");
    const text = r.stdout.slice(0, cut);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: keep the text for the report.
    }
    return { status: Number(r.stdout.slice(cut + 1)), body: parsed };
  }

  /** Packet, drop and retransmission counters of every namespace, in order. */
  async counters(): Promise<LinkCounters[]> {
    return await Promise.all(this.names.map(async (_, i) => {
      const rules = await must(
        "ip",
        this.execArgs(i, "nft", ["list", "table", "inet", "p2ps_loss"]),
      );
      const packets = [...rules.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      const snmp = await must("ip", this.execArgs(i, "cat", ["/proc/net/snmp"]));
      const [head, values] = snmp.split("\n").filter((l) => l.startsWith("Tcp:"));
      const col = head.split(/\s+/).indexOf("RetransSegs");
      return {
        arrived: packets[0] ?? 0,
        dropped: packets[1] ?? 0,
        retransmitted: Number(values.split(/\s+/)[col]),
      };
    }));
  }

  /** Deletes every namespace of the lab (killing what still runs in them). Idempotent. */
  async destroy(): Promise<void> {
    for (const ns of [...this.names, this.#bridge]) await removeNamespace(ns);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
