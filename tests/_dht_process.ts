// Runs tests/_dht_peer.ts as a child process (P2PS nodes over real TCP) and talks to it by JSON
// lines: `request(cmd)` sends one command and waits, with a deadline, for its answer.

const PEER = new URL("./_dht_peer.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** A child process hosting P2PS nodes. */
export class DhtProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiting = new Map<number, (v: Record<string, unknown>) => void>();
  readonly #done: Promise<void>;
  readonly #stderr: Promise<string>;
  #next = 1;
  #status: Promise<Deno.CommandStatus> | null = null;

  constructor(v8Flags: string[] = []) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        CONFIG,
        "--allow-net=127.0.0.1",
        ...(v8Flags.length ? [`--v8-flags=${v8Flags.join(",")}`] : []),
        PEER,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#stderr = new Response(this.child.stderr).text();
    const stdout = this.child.stdout;
    this.#done = (async () => {
      let buf = "";
      for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let at: number;
        while ((at = buf.indexOf("\n")) >= 0) {
          const v = JSON.parse(buf.slice(0, at));
          buf = buf.slice(at + 1);
          this.#waiting.get(v.rid)?.(v);
          this.#waiting.delete(v.rid);
        }
      }
      for (const w of this.#waiting.values()) w({ fatal: "the process ended" });
      this.#waiting.clear();
    })();
  }

  /** Sends `cmd` and resolves with its answer; throws on a failure or after `timeoutMs`. */
  async request(
    cmd: Record<string, unknown>,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    const rid = this.#next++;
    const { promise, resolve } = Promise.withResolvers<Record<string, unknown>>();
    this.#waiting.set(rid, resolve);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<Record<string, unknown>>((r) => {
      timer = setTimeout(
        () => r({ fatal: `no answer to ${cmd.op} within ${timeoutMs} ms` }),
        timeoutMs,
      );
    });
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ ...cmd, rid }) + "\n"));
      const v = await Promise.race([promise, deadline]);
      if (v.fatal) throw new Error(`${cmd.op}: ${v.fatal}`);
      return v;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(rid);
    }
  }

  /** kill -9: the nodes vanish without a word (their links reset). */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.status();
  }

  /** The exit status, once the output is read. */
  status(): Promise<Deno.CommandStatus> {
    this.#status ??= (async () => {
      const s = await this.child.status;
      await this.#done;
      await this.#stderr;
      return s;
    })();
    return this.#status;
  }

  /** Closes stdin (the nodes leave and the process exits), killing it after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* already closed or the process is gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((r) => {
      timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
        r();
      }, graceMs);
    });
    await Promise.race([this.status(), grace]);
    clearTimeout(timer);
    await this.status();
  }

  /** What the process wrote on stderr (after it ended). */
  stderr(): Promise<string> {
    return this.#stderr;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
