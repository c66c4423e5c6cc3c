// Helpers for tests that run the CLI as a real process: read its stdout line by line with
// deadlines, run curl, and stop the process with a signal (every wait has a deadline).
import { within } from "./_wait.ts";

/** A child process whose stdout is read line by line. */
export class Proc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  /** When each stdout line was read (`Date.now()`), to line up the logs of several processes. */
  readonly times: number[] = [];
  stderr = "";
  readonly #waiters = new Set<() => void>();
  readonly #pumps: Promise<void>[];
  #status: Promise<Deno.CommandStatus> | null = null;
  #ended = false;

  /** Runs `deno args` (or `options.command args`, e.g. `ip netns exec ...`). */
  constructor(
    args: string[],
    options: { cwd?: string; command?: string; env?: Record<string, string> } = {},
  ) {
    this.child = new Deno.Command(options.command ?? Deno.execPath(), {
      args,
      cwd: options.cwd ?? new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1", ...options.env },
    }).spawn();
    this.#pumps = [
      this.#read(this.child.stdout, (l) => {
        this.lines.push(l);
        this.times.push(Date.now());
      }),
      this.#read(this.child.stderr, (l) => (this.stderr += `${l}\n`)),
    ];
    Promise.all(this.#pumps).then(() => {
      this.#ended = true;
      for (const w of [...this.#waiters]) w();
    });
  }

  async #read(stream: ReadableStream<Uint8Array>, sink: (line: string) => void): Promise<void> {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        sink(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      for (const w of [...this.#waiters]) w();
    }
    if (buf) sink(buf);
    for (const w of [...this.#waiters]) w();
  }

  /** Waits for a stdout line matching `pred` (searching from line `from`); returns it. */
  async waitFor(
    pred: (line: string) => boolean,
    what: string,
    timeoutMs = 15_000,
    from = 0,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find(pred);
      if (found !== undefined) return found;
      const problem = this.#ended ? "exited" : Date.now() >= deadline ? "timed out" : null;
      if (problem) {
        throw new Error(
          `Process ${problem} while waiting for ${what}\nstdout:\n${
            this.lines.join("\n")
          }\nstderr:\n${this.stderr}`,
        );
      }
      await this.#changed(deadline - Date.now());
    }
  }

  /** Resolves on new output, the end of output, or after `ms`. */
  #changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  /** Waits for a JSON line whose fields include `fields`; returns the parsed object. */
  async waitForJson(
    fields: Record<string, unknown>,
    timeoutMs?: number,
    from = 0,
  ): Promise<Record<string, unknown>> {
    const match = (l: string) => {
      try {
        const o = JSON.parse(l);
        return Object.entries(fields).every(([k, v]) => JSON.stringify(o[k]) === JSON.stringify(v));
      } catch {
        return false;
      }
    };
    return JSON.parse(await this.waitFor(match, JSON.stringify(fields), timeoutMs, from));
  }

  /**
   * The exit status (the process's output is fully read first); fails after `timeoutMs` if the
   * process has not exited by then.
   */
  status(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    this.#status ??= this.child.status.then(async (s) => {
      await Promise.all(this.#pumps);
      return s;
    });
    return within(
      this.#status,
      `the process to exit\nstdout:\n${this.lines.join("\n")}\nstderr:\n${this.stderr}`,
      timeoutMs,
    );
  }

  /**
   * Sends `signal` and waits for the exit status; a process still running `timeoutMs` later is
   * killed and the wait fails.
   */
  async stop(signal: Deno.Signal = "SIGINT", timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
    try {
      return await this.status(timeoutMs);
    } catch (e) {
      if (signal !== "SIGKILL") await this.stop("SIGKILL");
      throw e;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}

/** Runs curl with `args`; returns the status code it printed and the body. */
export async function curl(args: string[]): Promise<{ code: number; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-S", "-w", "\n%{http_code}", "--max-time", "10", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const i = text.lastIndexOf("\n");
  if (!out.success) throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr)}`);
  return { code: Number(text.slice(i + 1)), body: text.slice(0, i) };
}
