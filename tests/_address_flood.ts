// Runs tests/_address_flood_peer.ts as a child process: a flood of connections to a node from
// many loopback source addresses, with net permission for exactly those addresses. `counts()`
// asks it how many of its sockets the node closed so far; `close()` ends it.
import type { AccessPoint } from "../lib/wire/types.ts";
import { within } from "./_wait.ts";

const PEER = new URL("./_address_flood_peer.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** What a flood's sockets are now. */
export interface FloodCounts {
  /** Not closed by the node. */
  open: number;
  /** Closed by the node. */
  closed: number;
}

/** Options of {@linkcode AddressFlood.start}. */
export interface AddressFloodOptions {
  /** Source addresses, from 127.0.0.2 up. */
  addresses: number;
  /** Connections from each. */
  perAddress: number;
  /** Each sends a preamble and the start of a first handshake message (else nothing). */
  partial?: boolean;
}

/** A flooding child process. */
export class AddressFlood {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: ReadableStreamDefaultReader<string>;
  readonly #stderr: Promise<string>;
  #buffered = "";

  private constructor(target: AccessPoint, options: AddressFloodOptions) {
    const hosts = ["127.0.0.1"];
    for (let i = 0; i < options.addresses; i++) hosts.push(`127.0.0.${2 + i}`);
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        CONFIG,
        `--allow-net=${hosts.join(",")}`,
        PEER,
        `--port=${target.port}`,
        `--addresses=${options.addresses}`,
        `--per-address=${options.perAddress}`,
        ...(options.partial ? ["--partial"] : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /** Starts the flood; resolves once every socket got the node's preamble or was closed. */
  static async start(target: AccessPoint, options: AddressFloodOptions): Promise<AddressFlood> {
    const flood = new AddressFlood(target, options);
    try {
      const first = await within(flood.#line(), "the flood to be accepted", 20_000);
      if (first !== "ready") throw new Error(`The flood said ${first}`);
    } catch (e) {
      const why = await flood.close();
      throw new Error(`${(e as Error).message}\n${why}`);
    }
    return flood;
  }

  async #line(): Promise<string> {
    while (!this.#buffered.includes("\n")) {
      const r = await this.#lines.read();
      if (r.done) throw new Error("The flooding process ended early");
      this.#buffered += r.value;
    }
    const at = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return line;
  }

  /** How many of its sockets are open, and how many the node closed, now. */
  async counts(): Promise<FloodCounts> {
    await this.#writer.write(new TextEncoder().encode("\n"));
    return JSON.parse(await within(this.#line(), "the flood's counts")) as FloodCounts;
  }

  /** Closes the flood's sockets and ends the process; returns what it printed on stderr. */
  async close(): Promise<string> {
    await this.#writer.close().catch(() => {});
    await this.#lines.cancel().catch(() => {});
    const status = await within(this.#child.status, "the flooding process to end", 20_000);
    const stderr = await this.#stderr;
    if (!status.success) return `The flooding process failed (${status.code}): ${stderr}`;
    return stderr;
  }
}
