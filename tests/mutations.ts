// The mutation check: breaks core lines one at a time and shows that a test fails for each,
// within a time limit.
//
//   deno run -A tests/mutations.ts              every mutation (deno task mutations)
//   deno run -A tests/mutations.ts --list       the table of mutations
//   deno run -A tests/mutations.ts NAME ...     only those whose name contains a NAME
//
// The repository is copied to a temporary directory (the working tree is never touched: others
// may run tests meanwhile); each mutation replaces its exact `find` text in one file, runs the
// named test files with a hard time limit (the whole process tree is killed when it passes),
// and puts the file back. A `find` text that no longer exists, or exists twice, is an ERROR: the
// table breaks loudly when the code is refactored, and must be updated with it.
import { parseArgs } from "node:util";
import { type Mutation, MUTATIONS } from "./_mutation_table.ts";
import { failures } from "./_deno.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

/** What became of one mutation. */
interface Outcome {
  mutation: Mutation;
  verdict: "caught" | "SURVIVED" | "ERROR";
  /** Which test failed and how, why it survived, or what the error was. */
  by: string;
  seconds: number;
}

/** Copies the files git knows of (tracked, and untracked but not ignored) to a fresh directory. */
async function copyRepository(): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error("git ls-files failed");
  const dir = await Deno.makeTempDir({ prefix: "p2ps-mutations-" });
  for (const path of new TextDecoder().decode(out.stdout).split("\0").filter(Boolean)) {
    const to = `${dir}/${path}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    try {
      await Deno.copyFile(`${ROOT}${path}`, to);
    } catch (e) {
      // A file deleted in the working tree but not yet in the index.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return dir;
}

/**
 * Runs `deno test` on `files` in `dir`, killing the whole process group (tests start processes
 * of their own) once `limitS` seconds pass.
 */
async function runTests(
  dir: string,
  files: string[],
  limitS: number,
  filter?: string,
): Promise<{ code: number; output: string; timedOut: boolean; seconds: number }> {
  const started = performance.now();
  const child = new Deno.Command("setsid", {
    args: [
      Deno.execPath(),
      "test",
      "--no-check",
      // The first failure is the answer: the rest of the run would only take time.
      "--fail-fast",
      ...PERMISSIONS,
      ...(filter ? ["--filter", filter] : []),
      ...files,
    ],
    cwd: dir,
    env: {
      NO_COLOR: "1",
      // A hang inside a test fails that test, naming it, well before the hard limit.
      P2PS_TEST_LIMIT_MS: String(Math.max(5_000, Math.floor(limitS * 1000 * 0.6))),
    },
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
  }, limitS * 1000);
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  clearTimeout(timer);
  // Test processes may have started processes of their own: none may outlive the run.
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is empty.
  }
  const seconds = (performance.now() - started) / 1000;
  return { code: status.code, output: stdout + stderr, timedOut, seconds };
}

async function runMutation(dir: string, m: Mutation): Promise<Outcome> {
  const path = `${dir}/${m.file}`;
  let original: string;
  try {
    original = await Deno.readTextFile(path);
  } catch {
    return { mutation: m, verdict: "ERROR", by: `no file ${m.file}`, seconds: 0 };
  }
  const count = original.split(m.find).length - 1;
  if (count !== 1) {
    const why = count === 0
      ? `the find text is no longer in ${m.file}: update the table`
      : `the find text occurs ${count} times in ${m.file}: make it unique`;
    return { mutation: m, verdict: "ERROR", by: why, seconds: 0 };
  }
  await Deno.writeTextFile(path, original.replace(m.find, m.replace));
  try {
    const run = await runTests(dir, m.tests, m.limitS, m.filter);
    const failed = failures(run.output);
    if (run.timedOut) {
      return {
        mutation: m,
        verdict: "caught",
        by: `timeout: the tests ran past ${m.limitS} s${failed.length ? `; ${failed[0]}` : ""}`,
        seconds: run.seconds,
      };
    }
    if (run.code === 0) {
      return { mutation: m, verdict: "SURVIVED", by: "every test passed", seconds: run.seconds };
    }
    if (failed.length === 0) {
      const first = run.output.split("\n").find((l) => l.startsWith("error")) ?? "";
      return {
        mutation: m,
        verdict: "ERROR",
        by: `the run failed without a failing test: ${first}`,
        seconds: run.seconds,
      };
    }
    return { mutation: m, verdict: "caught", by: failed[0], seconds: run.seconds };
  } finally {
    await Deno.writeTextFile(path, original);
  }
}

function table(outcomes: Outcome[]): string {
  const rows = outcomes.map((o) => [
    o.mutation.name,
    o.verdict === "caught" ? "yes" : o.verdict === "SURVIVED" ? "NO" : "ERROR",
    o.by.length > 150 ? `${o.by.slice(0, 147)}...` : o.by,
    o.seconds.toFixed(1),
  ]);
  const head = ["mutation", "caught", "by", "seconds"];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(width[i])).join("  ").trimEnd();
  return [line(head), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { list: { type: "boolean" }, "keep-copy": { type: "boolean" } },
    allowPositionals: true,
  });
  const chosen = positionals.length === 0
    ? MUTATIONS
    : MUTATIONS.filter((m) => positionals.some((p) => m.name.includes(p)));
  if (values.list) {
    for (const m of chosen) {
      const only = m.filter ? ` --filter "${m.filter}"` : "";
      console.log(`${m.name}\n  ${m.file} (${m.limitS} s): ${m.tests.join(" ")}${only}`);
    }
    return 0;
  }
  if (chosen.length === 0) {
    console.error(`No mutation matches ${positionals.join(", ")}`);
    return 2;
  }
  const dir = await copyRepository();
  console.log(`Copied the repository to ${dir}`);
  try {
    // The tests must pass before anything is broken, or a failure would prove nothing.
    const files = [...new Set(chosen.flatMap((m) => m.tests))].sort();
    console.log(`Baseline: ${files.length} test files, unmutated...`);
    const base = await runTests(dir, files, 900);
    if (base.code !== 0 || base.timedOut) {
      console.error(base.output);
      console.error("The baseline run failed: fix the suite before checking mutations.");
      return 1;
    }
    console.log(`Baseline passed in ${base.seconds.toFixed(1)} s.\n`);
    const outcomes: Outcome[] = [];
    for (const [i, m] of chosen.entries()) {
      const o = await runMutation(dir, m);
      outcomes.push(o);
      const mark = o.verdict === "caught" ? "caught" : o.verdict;
      console.log(`[${i + 1}/${chosen.length}] ${m.name}: ${mark} (${o.seconds.toFixed(1)} s)`);
    }
    console.log(`\n${table(outcomes)}\n`);
    const caught = outcomes.filter((o) => o.verdict === "caught").length;
    const timeouts = outcomes.filter((o) => o.by.startsWith("timeout")).length;
    console.log(
      `${caught} of ${outcomes.length} mutations caught` +
        (timeouts ? ` (${timeouts} only by the time limit)` : "") +
        (caught < outcomes.length ? `; ${outcomes.length - caught} NOT caught or in ERROR` : ""),
    );
    return caught === outcomes.length ? 0 : 1;
  } finally {
    if (values["keep-copy"]) console.log(`Kept ${dir}`);
    else await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
