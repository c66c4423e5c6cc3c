// A recording, tampering TCP proxy for the secure-link tests, and real nodes that sit behind one:
// every connection to such a node goes through its proxy (the node announces the proxy's access
// point as its own), so the proxies see every byte the nodes exchange, and can flip one of them.
import { TcpTransport, type TcpTransportOptions } from "../lib/com/tcp/transport.ts";
import type { AccessPoint, Transport } from "../lib/com/transport.ts";
import { type NodeOptions, P2PNode } from "../lib/node/node.ts";

/** Which way bytes go through the proxy: from the dialer to the node, or back. */
export type Direction = "up" | "down";

/** One connection through the proxy, as recorded. */
export interface Recorded {
  /** Bytes from the dialer, as forwarded (after any tampering), one unit per entry. */
  up: Uint8Array[];
  /** Bytes from the node, as forwarded. */
  down: Uint8Array[];
  /** Whether both sockets are closed. */
  closed: boolean;
}

/**
 * One unit of a link's byte stream, as the proxy forwards it: the preamble, a Noise handshake
 * message or transport message (with its 2-byte length), or, on a link in the clear, whatever
 * was read.
 */
export interface Unit {
  /** Which connection through the proxy (from 0, in order of arrival). */
  conn: number;
  dir: Direction;
  /** Its place in its direction's stream (0 is the preamble). */
  index: number;
  kind: "preamble" | "handshake" | "transport" | "clear";
  /** Its bytes: a tamperer may change them before they go on. */
  bytes: Uint8Array;
}

/** Changes units before they are forwarded; a promise holds the unit (and those after it) back. */
export type Tamperer = (unit: Unit) => void | Promise<void>;

/** All bytes of one direction of a recorded connection, joined. */
export function joined(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Whether `needle` occurs in `hay`. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Cuts one direction of a link's stream into units (see {@linkcode Unit}). */
class Units {
  #buf = new Uint8Array(0);
  #count = 0;
  #clear = false;
  /** Noise handshake messages this direction sends: two from the dialer, one back. */
  #handshakes: number;

  constructor(dir: Direction) {
    this.#handshakes = dir === "up" ? 2 : 1;
  }

  /** Takes bytes read; returns the units they complete. */
  push(chunk: Uint8Array): [Unit["kind"], Uint8Array][] {
    if (this.#clear) return [["clear", chunk]];
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf);
    buf.set(chunk, this.#buf.length);
    const out: [Unit["kind"], Uint8Array][] = [];
    let at = 0;
    while (!this.#clear) {
      let size: number;
      let kind: Unit["kind"];
      if (this.#count === 0) {
        size = 6;
        kind = "preamble";
      } else {
        if (buf.length - at < 2) break;
        size = 2 + ((buf[at] << 8) | buf[at + 1]);
        kind = this.#count <= this.#handshakes ? "handshake" : "transport";
      }
      if (buf.length - at < size) break;
      const unit = buf.slice(at, at + size);
      at += size;
      this.#count++;
      out.push([kind, unit]);
      if (kind === "preamble" && unit[5] === 0) {
        this.#clear = true;
        if (at < buf.length) out.push(["clear", buf.slice(at)]);
        at = buf.length;
      }
    }
    this.#buf = buf.slice(at);
    return out;
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`. It forwards whole units (see {@linkcode Unit}),
 * records them, and lets a test change them on the way.
 */
export class RecordingProxy {
  readonly ap: AccessPoint;
  readonly connections: Recorded[] = [];
  /** Changes units before they go on (set and cleared by the test). */
  tamper: Tamperer | null = null;
  readonly #listener: Deno.TcpListener;
  readonly #target: AccessPoint;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  #closed = false;

  constructor(target: AccessPoint) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.ap = { hostname: "127.0.0.1", port: this.#listener.addr.port };
    this.#track(this.#accept());
  }

  /** Every byte that went through, both ways, all connections. */
  bytes(): Uint8Array {
    return joined(this.connections.flatMap((c) => [...c.up, ...c.down]));
  }

  /** Bytes forwarded so far, both ways. */
  get total(): number {
    return this.connections.reduce(
      (n, c) => n + [...c.up, ...c.down].reduce((m, x) => m + x.length, 0),
      0,
    );
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      let server: Deno.TcpConn;
      try {
        server = await Deno.connect(this.#target);
      } catch {
        client.close();
        continue;
      }
      if (this.#closed) {
        client.close();
        server.close();
        return;
      }
      const index = this.connections.length;
      const rec: Recorded = { up: [], down: [], closed: false };
      this.connections.push(rec);
      this.#conns.add(client);
      this.#conns.add(server);
      const up = this.#pump(client, server, rec.up, index, "up");
      const down = this.#pump(server, client, rec.down, index, "down");
      this.#track(
        Promise.all([up, down]).then(() => {
          for (const c of [client, server]) {
            this.#conns.delete(c);
            try {
              c.close();
            } catch {
              // Closed already.
            }
          }
          rec.closed = true;
        }),
      );
    }
  }

  /** Copies `from` to `to` unit by unit until either ends; half-closes `to` when `from` ends. */
  async #pump(
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    record: Uint8Array[],
    conn: number,
    dir: Direction,
  ): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    const units = new Units(dir);
    let index = 0;
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        for (const [kind, bytes] of units.push(buf.slice(0, n))) {
          const unit: Unit = { conn, dir, index: index++, kind, bytes };
          await this.tamper?.(unit);
          record.push(unit.bytes);
          await writeAll(to, unit.bytes);
        }
      }
      await to.closeWrite();
    } catch {
      // One side reset or closed: close both, which ends the other pump too.
      for (const c of [from, to]) {
        try {
          c.close();
        } catch {
          // Closed already.
        }
      }
    }
  }

  /** Stops accepting, closes every connection, and waits for every copy loop. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // Closed already.
      }
    }
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }
}

/** A transport that announces another access point than the one it listens on. */
class Announced implements Transport {
  constructor(readonly inner: TcpTransport, readonly ap: AccessPoint) {}
  get stats() {
    return this.inner.stats;
  }
  bind: Transport["bind"] = (events) => this.inner.bind(events);
  send: Transport["send"] = (to, frame) => this.inner.send(to, frame);
  dial: Transport["dial"] = (ap, done) => this.inner.dial(ap, done);
  disconnect: Transport["disconnect"] = (id) => this.inner.disconnect(id);
  ready: Transport["ready"] = () => this.inner.ready();
  idle: Transport["idle"] = (ms) => this.inner.idle(ms);
  quiet: Transport["quiet"] = (ms) => this.inner.quiet(ms);
  isLinked: Transport["isLinked"] = (id) => this.inner.isLinked(id);
  close: Transport["close"] = () => this.inner.close();
  abort: Transport["abort"] = () => this.inner.abort();
}

/** A real TCP node whose every inbound connection goes through its recording proxy. */
export interface ProxiedNode extends AsyncDisposable {
  node: P2PNode;
  proxy: RecordingProxy;
  /** Its transport (where it really listens, and its counters). */
  tcp: TcpTransport;
}

/** A node behind a proxy, not started yet: call `node.startNet` or `node.startJoin`. */
export async function nodeBehindProxy(
  options: NodeOptions,
  transport: TcpTransportOptions = {},
): Promise<ProxiedNode> {
  const tcp = await TcpTransport.listen({ hostname: "127.0.0.1", port: 0, ...transport });
  const proxy = new RecordingProxy(tcp.ap);
  let node: P2PNode;
  try {
    node = new P2PNode({ transport: new Announced(tcp, proxy.ap), keys: true }, options);
  } catch (e) {
    await tcp.close();
    await proxy.close();
    throw e;
  }
  return {
    node,
    proxy,
    tcp,
    async [Symbol.asyncDispose]() {
      await node.leave();
      await proxy.close();
    },
  };
}

/**
 * A node behind a proxy that created a network, or joined the one at `join` (give it a proxied
 * node's `node.ap` to pass that proxy too).
 */
export async function proxiedNode(
  options: NodeOptions,
  join?: AccessPoint,
  transport: TcpTransportOptions = {},
): Promise<ProxiedNode> {
  const p = await nodeBehindProxy(options, transport);
  try {
    if (join) await p.node.startJoin(join);
    else p.node.startNet(options.net);
  } catch (e) {
    await p[Symbol.asyncDispose]();
    throw e;
  }
  return p;
}
