// Runs `deno` as a child process in tests, with a deadline: a child that does not exit in time is
// killed and the test fails saying what it ran.

/** The outcome of a finished `deno` run. */
export interface DenoRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for matching messages wherever Deno printed them. */
  text: string;
}

/** The repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/** Runs `deno ...args` in the repository root; kills it and fails after `timeoutMs`. */
export async function runDeno(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<DenoRun> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: options.cwd ?? ROOT,
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const d = new TextDecoder();
    const stdout = d.decode(out.stdout);
    const stderr = d.decode(out.stderr);
    if (ac.signal.aborted) {
      throw new Error(
        `deno ${args.join(" ")} did not exit within ${timeoutMs} ms (killed)\n${stdout}${stderr}`,
      );
    }
    return { code: out.code, stdout, stderr, text: stdout + stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** The failed tests of a `deno test` run: `file: name — first line of its error`. */
export function failures(output: string): string[] {
  const files = new Map<string, string>();
  let file = "";
  for (const line of output.split("\n")) {
    const running = /^running \d+ tests? from \.\/(.+)$/.exec(line);
    if (running) file = running[1];
    const failed = /^(.+) \.\.\. FAILED( \(|$)/.exec(line);
    if (failed && !files.has(failed[1])) files.set(failed[1], file);
    const uncaught = /^Uncaught error from \.\/(\S+) FAILED/.exec(line);
    if (uncaught) files.set(`(uncaught error in ${uncaught[1]})`, uncaught[1]);
  }
  // In the ERRORS section each failure is `name => location` then `error: ...`.
  const errors = new Map<string, string>();
  const lines = output.split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    const head = /^(.+) => \S+:\d+:\d+$/.exec(lines[i]);
    if (head && lines[i + 1].startsWith("error: ")) {
      errors.set(head[1], lines[i + 1].slice(7).trim());
    }
  }
  return [...files].map(([name, f]) => {
    const why = errors.get(name) ?? "";
    return `${f.replace(/^tests\//, "")}: ${name}${why ? ` — ${why}` : ""}`;
  });
}
