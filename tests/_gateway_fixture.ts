// Shared fixtures for gateway tests: a simulated ring with a gateway on its first node, and a
// raw Server-Sent-Events reader (no EventSource) for response bodies.
import { Simulator } from "../lib/node/simulator.ts";
import type { NodeOptions, P2PNode } from "../lib/node/node.ts";
import { createGateway, type Gateway, type GatewayOptions } from "../gateway/mod.ts";
import { within } from "./_wait.ts";

/** A ring of simulated nodes with ids `ids` (maxKey 1024) and a gateway on the first. */
export interface GatewayRing extends AsyncDisposable {
  sim: Simulator;
  nodes: P2PNode[];
  gw: Gateway;
  /** Sends a request to the gateway in-process. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POSTs a JSON body (a string is sent as is). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** The node with id `id`. */
  node(id: number): P2PNode;
}

/** Builds the ring and the gateway; dispose it to close both. */
export async function gatewayRing(
  ids: number[] = [1, 16, 100, 400, 700],
  options: GatewayOptions & { node?: NodeOptions } = {},
): Promise<GatewayRing> {
  const sim = new Simulator({ seed: 11 });
  const first = sim.createNet({
    ...options.node,
    node: { id: ids[0] },
    net: { maxKey: 1024 },
  });
  const joins: Promise<P2PNode>[] = [];
  for (const id of ids.slice(1)) {
    joins.push(sim.joinNet(first, { ...options.node, node: { id } }));
    sim.run(500);
  }
  sim.run(20_000);
  await Promise.all(joins);
  const gw = createGateway(first, options);
  const request = (path: string, init?: RequestInit) =>
    gw.fetch(new Request(`http://127.0.0.1:8080${path}`, init));
  return {
    sim,
    nodes: sim.nodes,
    gw,
    request,
    post: (path, body, headers = {}) =>
      request(path, {
        method: "POST",
        headers,
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    node: (id) => sim.nodes.find((n) => n.id === id)!,
    [Symbol.asyncDispose]() {
      gw.close();
      for (const n of sim.nodes) n.crash();
      return Promise.resolve();
    },
  };
}

/** One parsed SSE event (or comment, with `comment` set). */
export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comment?: string;
}

/** How long a reader waits for the next event before failing, ms. */
export const SSE_WAIT_MS = 5_000;

/**
 * Reads SSE events from a response body by hand, the way a raw client would. Every read has a
 * deadline: a stream that stops short fails the test, naming what it waited for, instead of
 * hanging it.
 */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";
  #done = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next event block, or `null` when the stream ended; fails after `timeoutMs`. */
  async next(what = "the next SSE block", timeoutMs = SSE_WAIT_MS): Promise<SseEvent | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#buffer.indexOf("\n\n");
      if (at >= 0) {
        const block = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + 2);
        return parseBlock(block);
      }
      if (this.#done) return null;
      const { done, value } = await within(
        this.#reader.read(),
        `${what} (received so far: ${JSON.stringify(this.#buffer)})`,
        Math.max(1, end - Date.now()),
      );
      if (done) this.#done = true;
      else this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  /** The next event that is neither a comment nor a bare `retry:`, or `null` at the end. */
  async nextEvent(what = "the next SSE event", timeoutMs = SSE_WAIT_MS): Promise<SseEvent | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const e = await this.next(what, Math.max(1, end - Date.now()));
      if (e === null || e.event !== undefined || e.data !== undefined) return e;
    }
  }

  /** Reads exactly `n` events (skipping comments); fails if the stream ends or stalls first. */
  async take(n: number, timeoutMs = SSE_WAIT_MS): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    const end = Date.now() + timeoutMs;
    while (out.length < n) {
      const what = `SSE event ${out.length + 1} of ${n} (got ${JSON.stringify(out)})`;
      const e = await this.nextEvent(what, Math.max(1, end - Date.now()));
      if (e === null) {
        throw new Error(
          `The SSE stream ended after ${out.length} of ${n} events: ${JSON.stringify(out)}`,
        );
      }
      out.push(e);
    }
    return out;
  }

  /** Cancels the body, as a client that goes away. */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

function parseBlock(block: string): SseEvent {
  const e: SseEvent = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      e.comment = line.slice(1).trim();
      continue;
    }
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "id") e.id = value;
    else if (field === "event") e.event = value;
    else if (field === "data") e.data = e.data === undefined ? value : `${e.data}\n${value}`;
    else if (field === "retry") e.retry = Number(value);
  }
  return e;
}
