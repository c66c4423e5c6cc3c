// One-hop throughput of two checkouts of P2PS, in alternating rounds on the same machine, beside
// the raw baselines of this checkout: "before/after" figures that a drifting shared VM cannot
// fake, since every round runs all four paths within seconds of each other.
//
//   deno run --allow-run --allow-read bench/ab_one_hop.ts --before=/path/to/old/checkout
//     [--rounds=9] [--count=200000]
//
// Each checkout's bench/_peer.ts hosts its nodes (this one's with links in the clear, so that
// both sides do the same work when the old one predates encryption); the baselines are this
// checkout's bench/_raw.ts: with credits (the suite's) and tuned (no credits, reused buffers).
import { parseArgs } from "node:util";
import { cpuMicros, fmt, LineChannel, mdTable, quantile, readProc } from "./_lib.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    before: { type: "string" },
    rounds: { type: "string", default: "9" },
    count: { type: "string", default: "200000" },
  },
});
if (!args.values.before) {
  console.error("Usage: bench/ab_one_hop.ts --before=DIR [--rounds=N] [--count=N]");
  Deno.exit(2);
}
const ROUNDS = Number(args.values.rounds);
const COUNT = Number(args.values.count);
const SIZE = 100;
const WINDOW = 2048;
const AFTER = new URL("..", import.meta.url).pathname;
const BEFORE = new URL(`${args.values.before.replace(/\/$/, "")}/`, "file:///").pathname;

type Driven = LineChannel & { child: Deno.ChildProcess };

function driven(root: string, script: string, extra: string[] = []): Driven {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      `${root}deno.json`,
      "--allow-net=127.0.0.1",
      "--allow-read",
      script,
      ...extra,
    ],
    cwd: `${root}bench`,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ch = new LineChannel(child.stdin, child.stdout) as Driven;
  ch.child = child;
  return ch;
}

/** A one-hop pair of a checkout: node a streams to node b, each in a process of its own. */
async function pair(root: string, clear: boolean) {
  const [pa, pb] = [driven(root, "_peer.ts"), driven(root, "_peer.ts")];
  const create = clear ? { op: "create", encryption: "none" } : { op: "create" };
  const a = await pa.request(create) as { ap: unknown };
  const b = (await pb.request({ op: "join", aps: [a.ap] }) as { nodes: { id: number }[] }).nodes[0];
  return {
    procs: [pa, pb],
    stream: (count: number) =>
      pa.request({ op: "stream", from: 0, dst: b.id, count, size: SIZE, window: WINDOW }, 180_000),
  };
}

const server = new Deno.Command(Deno.execPath(), {
  args: ["run", "--config", `${AFTER}deno.json`, "--allow-net=127.0.0.1", "_raw.ts", "serve"],
  cwd: `${AFTER}bench`,
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
const port = JSON.parse((await reader.read()).value!.split("\n")[0]).port;
const raw = driven(AFTER, "_raw.ts", ["client", String(port)]);
const before = await pair(BEFORE, false);
const after = await pair(AFTER, true);

interface Path {
  label: string;
  pids: number[];
  run: (n: number) => Promise<Record<string, unknown>>;
  rates: number[];
  cpu: [number, number][];
}
const paths: Path[] = [
  {
    label: "raw CBOR frames, credits *(baseline)*",
    pids: [raw.child.pid, server.pid],
    run: (count: number) =>
      raw.request({ op: "stream", count, size: SIZE, window: WINDOW }, 180_000),
  },
  {
    label: "raw CBOR frames, tuned *(baseline)*",
    pids: [raw.child.pid, server.pid],
    run: (count: number) => raw.request({ op: "blast", count, size: SIZE }, 180_000),
  },
  {
    label: `before (${BEFORE})`,
    pids: before.procs.map((p) => p.child.pid),
    run: before.stream,
  },
  {
    label: "after (this checkout, links in the clear)",
    pids: after.procs.map((p) => p.child.pid),
    run: after.stream,
  },
].map((p) => ({ ...p, rates: [], cpu: [] }));

async function measure(p: Path): Promise<void> {
  const c0 = p.pids.map(cpuMicros);
  const r = await p.run(COUNT) as { perSec: number; count: number };
  const c1 = p.pids.map(cpuMicros);
  p.rates.push(r.perSec);
  p.cpu.push([(c1[0] - c0[0]) / r.count, (c1[1] - c0[1]) / r.count]);
}

const load0 = readProc("loadavg").split(" ").slice(0, 3).join(" ");
for (let i = 0; i < 2; i++) for (const p of paths) await measure(p); // warm-up
for (const p of paths) p.rates.length = p.cpu.length = 0;
for (let r = 0; r < ROUNDS; r++) {
  console.error(`round ${r + 1}/${ROUNDS}`);
  for (let i = 0; i < paths.length; i++) await measure(paths[(r + i) % paths.length]);
}
const load1 = readProc("loadavg").split(" ").slice(0, 3).join(" ");

for (const p of [raw, ...before.procs, ...after.procs]) {
  await p.request({ op: "quit" }, 5000).catch(() => {});
  await p.close();
}
server.kill("SIGKILL");
reader.releaseLock();
await server.status;

const med = (p: Path) => quantile(p.rates, 0.5);
const [credit, tuned, b, a] = paths;
const cpu = (p: Path, i: number) => quantile(p.cpu.map((c) => c[i]), 0.5).toFixed(2);
console.log(
  `${ROUNDS} rounds of ${fmt(COUNT, 0)} one-hop messages (${SIZE}-byte payload, at most ` +
    `${WINDOW} in flight) per path, rotating order; load average ${load0} → ${load1}.\n`,
);
console.log(mdTable(
  ["path", "msgs/s (median)", "of credit baseline", "of tuned baseline", "CPU/msg send / recv"],
  paths.map((p) => [
    p.label,
    fmt(med(p), 0),
    `${(100 * med(p) / med(credit)).toFixed(0)} %`,
    `${(100 * med(p) / med(tuned)).toFixed(0)} %`,
    `${cpu(p, 0)} / ${cpu(p, 1)} µs`,
  ]),
));
const per = (x: Path, y: Path) =>
  x.rates.map((v, i) => `${(100 * v / y.rates[i]).toFixed(0)} %`).join(", ");
console.log(`\nPer round, after / credit baseline: ${per(a, credit)}`);
console.log(`Per round, before / credit baseline: ${per(b, credit)}`);
console.log(`Per round, after / before: ${per(a, b)}`);
