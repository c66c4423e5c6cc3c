// The suite under load: busy loops on every core, and the whole suite N times in a row.
//
//   deno task stress        10 runs
//   deno task stress 3      3 runs
//
// Prints each run's result and "K of N runs passed"; the output of failed runs is kept in a
// temporary directory, named at the end. The busy loops stop when the script ends (or on Ctrl-C).
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

function stop(loops: Deno.ChildProcess[]): void {
  for (const l of loops) {
    try {
      l.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** One run of `deno task test`, in its own process group (killed whole at the limit). */
async function runSuite(): Promise<{ ok: boolean; output: string; seconds: number }> {
  const started = performance.now();
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "task", "test"],
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

async function main(): Promise<number> {
  const runs = Number(Deno.args[0] ?? 10);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`Usage: deno task stress [N] (N a positive integer, got "${Deno.args[0]}")`);
    return 2;
  }
  const cores = navigator.hardwareConcurrency;
  const loops = busyLoops(cores);
  const onSignal = () => {
    stop(loops);
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const logs = await Deno.makeTempDir({ prefix: "p2ps-stress-" });
  console.log(`${cores} busy loops started (one per core); ${runs} runs of the whole suite.`);
  let passed = 0;
  const failedTests = new Map<string, number>();
  try {
    for (let i = 1; i <= runs; i++) {
      const run = await runSuite();
      const summary = /^(ok|FAILED) \| (\d+) passed \| (\d+) failed.*$/m.exec(run.output)?.[0] ??
        "no summary line";
      if (run.ok) passed++;
      else {
        await Deno.writeTextFile(`${logs}/run-${i}.log`, run.output);
        for (const f of failures(run.output)) {
          const name = f.split(" — ")[0];
          failedTests.set(name, (failedTests.get(name) ?? 0) + 1);
        }
      }
      console.log(`run ${i}/${runs}: ${summary} in ${run.seconds.toFixed(0)} s`);
      if (!run.ok) {
        for (const f of failures(run.output)) console.log(`    ${f}`);
      }
    }
  } finally {
    stop(loops);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  console.log(`\n${passed} of ${runs} runs passed (with ${cores} busy loops)`);
  if (failedTests.size > 0) {
    console.log("Tests that failed:");
    for (const [name, n] of failedTests) console.log(`  ${n}× ${name}`);
    console.log(`Logs of the failed runs: ${logs}`);
  } else await Deno.remove(logs, { recursive: true });
  return passed === runs ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
