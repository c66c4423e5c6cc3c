// A node that reads slowly, for flow-control tests: a port forward that passes bytes on to the
// node at a fixed rate (as a slow process or a thin link would take them), and the node's
// transport presenting the forward's address as its own, so that every link another node opens
// to it goes through the forward. The node runs the real TCP transport; only its address differs,
// as behind a port forward.
import { setTimeout as delay } from "node:timers/promises";
import type { TcpTransport } from "../lib/com/tcp/transport.ts";
import type { AccessPoint, Transport } from "../lib/com/transport.ts";

/** A running forward. */
export interface SlowForward {
  /** Where other nodes connect. */
  readonly ap: AccessPoint;
  /** Bytes passed on to the node so far. */
  readonly forwarded: number;
  /** Closes the listener and every connection, and waits for their loops to end. */
  close(): Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // Already closed.
  }
}

/**
 * Forwards connections made to a fresh port on 127.0.0.1 to `target`, passing bytes towards
 * `target` at about `bytesPerSecond` (the other way at full speed). What waits is left unread,
 * so TCP's window pushes back on the sender as a slow reader's would.
 */
export function slowForward(target: AccessPoint, bytesPerSecond: number): SlowForward {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const loops = new Set<Promise<void>>();
  let forwarded = 0;
  let closed = false;
  const track = (p: Promise<void>) => {
    const done = p.catch(() => {}).finally(() => loops.delete(done));
    loops.add(done);
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, slow: boolean) => {
    // Reads of 10 ms worth of bytes, each followed by the pause its size costs at the rate.
    const size = slow ? Math.min(65536, Math.max(4096, Math.floor(bytesPerSecond / 100))) : 65536;
    const buf = new Uint8Array(size);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        await writeAll(to, buf.subarray(0, n));
        if (slow) {
          forwarded += n;
          await delay((n / bytesPerSecond) * 1000);
        }
      }
      await to.closeWrite();
    } catch {
      // Either side went away: the other goes too.
      closeQuietly(from);
      closeQuietly(to);
    }
  };
  track((async () => {
    for await (const client of listener) {
      if (closed) {
        closeQuietly(client);
        break;
      }
      conns.add(client);
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: target.hostname, port: target.port });
      } catch {
        // The node is gone: so is this connection.
        closeQuietly(client);
        continue;
      }
      conns.add(server);
      if (closed) {
        // Closed while connecting: close() did not see this one.
        closeQuietly(client);
        closeQuietly(server);
        break;
      }
      track(pump(client, server, true));
      track(pump(server, client, false));
    }
  })());
  return {
    ap: { hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    get forwarded() {
      return forwarded;
    },
    async close() {
      closed = true;
      closeQuietly(listener);
      for (const c of conns) closeQuietly(c);
      while (loops.size > 0) await Promise.all(loops);
    },
  };
}

/** `transport` presenting `ap` as its access point (the address of a forward to it). */
export function behind(transport: TcpTransport, ap: AccessPoint): Transport {
  return {
    ap,
    stats: transport.stats,
    bind: (events) => transport.bind(events),
    send: (to, frame) => transport.send(to, frame),
    dial: (to, done) => transport.dial(to, done),
    disconnect: (id) => transport.disconnect(id),
    ready: () => transport.ready(),
    idle: (ms) => transport.idle(ms),
    isLinked: (id) => transport.isLinked(id),
    quiet: (ms) => transport.quiet(ms),
    close: () => transport.close(),
    abort: () => transport.abort(),
  };
}
