// The suite under load: busy loops on every core, and the whole suite (or some test files) N
// times in a row; then, optionally, the demo network under the same load, counting suspicions.
//
//   deno task stress                               10 runs of the whole suite
//   deno task stress 3                             3 runs
//   deno task stress 50 tests/processes_test.ts    50 runs of one file
//   deno task stress 0 --demo 60                   no runs; the demo for 60 s
//   deno task stress 10 --loops 1                  one busy loop instead of one per core
//
// Prints each run's result and "K of N runs passed"; the output of failed runs is kept in a
// temporary directory, named at the end. With --demo S, the demo runs for S seconds once its
// ring has formed; every node in it stays alive, so every `suspect` it prints is a false one:
// the script prints them and their count, and fails when there is any. The busy loops stop when
// the script ends (or on Ctrl-C).
import { failures } from "./_deno.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** A whole-suite run that takes longer than this is killed and counted as failed, seconds. */
const RUN_LIMIT_S = 20 * 60;

function busyLoops(count: number): Deno.ChildProcess[] {
  return Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "for (;;) {}"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
}

/** The 1-, 5- and 15-minute load averages, or "unknown" without the permission to read them. */
function loadAverage(): string {
  try {
    return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

function stop(loops: Deno.ChildProcess[]): void {
  for (const l of loops) {
    try {
      l.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** The permissions of `deno task test`, for runs of single files. */
const TEST_PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

/**
 * One run of `deno task test` (or of `deno test` on `files`), in its own process group (killed
 * whole at the limit).
 */
async function runSuite(
  files: string[],
): Promise<{ ok: boolean; output: string; seconds: number }> {
  const started = performance.now();
  const args = files.length === 0
    ? [Deno.execPath(), "task", "test"]
    : [Deno.execPath(), "test", ...TEST_PERMISSIONS, ...files];
  const child = new Deno.Command("setsid", {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, RUN_LIMIT_S * 1000);
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  clearTimeout(timer);
  const output = stdout + stderr + (timedOut ? `\nKilled after ${RUN_LIMIT_S} s\n` : "");
  return { ok: status.success && !timedOut, output, seconds: (performance.now() - started) / 1000 };
}

const USAGE = "Usage: deno task stress [N] [TEST_FILE...] [--demo SECONDS] [--loops K]";

/**
 * The arguments: runs, test files, demo seconds (0: no demo), busy loops (default one per core);
 * or why they are wrong.
 */
function parseArgs(
  args: string[],
): { runs: number; files: string[]; demoS: number; loops: number } | string {
  const rest = [...args];
  let loops = navigator.hardwareConcurrency;
  const l = rest.indexOf("--loops");
  if (l >= 0) {
    loops = Number(rest[l + 1]);
    if (!Number.isInteger(loops) || loops < 0) {
      return `--loops takes a number of busy loops (0 or more), got "${rest[l + 1]}"`;
    }
    rest.splice(l, 2);
  }
  let demoS = 0;
  const at = rest.indexOf("--demo");
  if (at >= 0) {
    demoS = Number(rest[at + 1]);
    if (!Number.isInteger(demoS) || demoS < 1) {
      return `--demo takes a positive number of seconds, got "${rest[at + 1]}"`;
    }
    rest.splice(at, 2);
  }
  const runs = rest.length > 0 && /^\d+$/.test(rest[0]) ? Number(rest.shift()) : 10;
  if (runs === 0 && demoS === 0) return "0 runs and no demo: nothing to do";
  const unknown = rest.find((f) => f.startsWith("-"));
  if (unknown !== undefined) return `unknown option "${unknown}"`;
  return { runs, files: rest, demoS, loops };
}

/**
 * The demo network (`cli.ts demo`, a routed message every second) for `seconds` after its ring
 * formed; returns the `suspect` lines it printed (all false: no node stops) and its successor
 * changes after the ring formed (flapping, when there are any).
 */
async function runDemo(seconds: number): Promise<{ suspects: string[]; succChanges: string[] }> {
  const child = new Deno.Command("setsid", {
    args: [
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      "cli.ts",
      "demo",
      "--http-port",
      "0",
      "--traffic-ms",
      "1000",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const suspects: string[] = [];
  const succChanges: string[] = [];
  let formed = false;
  let stopAt = Infinity;
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const giveUp = setTimeout(() => {
    if (!formed) Deno.kill(-child.pid, "SIGKILL");
  }, 120_000);
  const stopper = setInterval(() => {
    if (performance.now() >= stopAt) {
      clearInterval(stopper);
      Deno.kill(-child.pid, "SIGINT");
    }
  }, 200);
  for (;;) {
    const { done, value } = await lines.read();
    if (done) break;
    buffered += value;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    for (const line of parts) {
      if (!formed && line.startsWith("Ctrl-C to stop")) {
        formed = true;
        stopAt = performance.now() + seconds * 1000;
      } else if (/\] suspect /.test(line)) suspects.push(line);
      else if (formed && /\] new successor /.test(line)) succChanges.push(line);
    }
  }
  clearTimeout(giveUp);
  clearInterval(stopper);
  await child.status;
  if (!formed) throw new Error("the demo's ring did not form within 120 s");
  return { suspects, succChanges };
}

async function main(): Promise<number> {
  const parsed = parseArgs(Deno.args);
  if (typeof parsed === "string") {
    console.error(`${USAGE}\n${parsed}`);
    return 2;
  }
  const { runs, files, demoS } = parsed;
  const cores = navigator.hardwareConcurrency;
  const loops = busyLoops(parsed.loops);
  const onSignal = () => {
    stop(loops);
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const logs = await Deno.makeTempDir({ prefix: "p2ps-stress-" });
  const what = files.length === 0 ? "the whole suite" : files.join(" ");
  console.log(
    `${loops.length} busy loops started (${cores} cores); ${runs} runs of ${what}; ` +
      `load average ${loadAverage()}.`,
  );
  let passed = 0;
  let demo: { suspects: string[]; succChanges: string[] } | undefined;
  const failedTests = new Map<string, number>();
  try {
    for (let i = 1; i <= runs; i++) {
      const run = await runSuite(files);
      const summary = /^(ok|FAILED) \| \d+ passed.*\| \d+ failed.*$/m.exec(run.output)?.[0] ??
        "no summary line";
      if (run.ok) passed++;
      else {
        await Deno.writeTextFile(`${logs}/run-${i}.log`, run.output);
        for (const f of failures(run.output)) {
          const name = f.split(" — ")[0];
          failedTests.set(name, (failedTests.get(name) ?? 0) + 1);
        }
      }
      console.log(
        `run ${i}/${runs}: ${summary} in ${
          run.seconds.toFixed(0)
        } s (load average ${loadAverage()})`,
      );
      if (!run.ok) {
        for (const f of failures(run.output)) console.log(`    ${f}`);
      }
    }
    if (demoS > 0) {
      console.log(`The demo for ${demoS} s under the same load...`);
      demo = await runDemo(demoS);
    }
  } finally {
    stop(loops);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  if (demo) {
    for (const line of [...demo.suspects, ...demo.succChanges]) console.log(`    ${line}`);
    console.log(
      `demo: ${demo.suspects.length} false suspicions and ${demo.succChanges.length} successor ` +
        `changes in ${demoS} s of steady state (6 nodes, all alive, ${cores} busy loops)`,
    );
  }
  const demoOk = !demo || demo.suspects.length === 0;
  if (runs === 0) return demoOk ? 0 : 1;
  console.log(`\n${passed} of ${runs} runs passed (with ${loops.length} busy loops)`);
  if (failedTests.size > 0) {
    console.log("Tests that failed:");
    for (const [name, n] of failedTests) console.log(`  ${n}× ${name}`);
    console.log(`Logs of the failed runs: ${logs}`);
  } else await Deno.remove(logs, { recursive: true });
  return passed === runs && demoOk ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
