// Connections that never finish their handshake, against live nodes over real TCP: a flood of
// raw sockets from one address (loopback) that send nothing, or dribble the start of a first
// handshake message a byte at a time. The node caps them (lib/com/tcp/admission.ts), reads them
// with a small buffer (lib/com/tcp/channel.ts, HANDSHAKE_READ_SIZE), counts the ones it sheds,
// and stays open to honest peers — also to one whose handshake arrives in single bytes.
import assert from "node:assert/strict";
import {
  HANDSHAKE_INPUT_LIMIT,
  HANDSHAKE_READ_SIZE,
  preamble,
  PREAMBLE_SIZE,
} from "../lib/com/tcp/channel.ts";
import { DEFAULT_MAX_PENDING_PER_ADDRESS } from "../lib/com/tcp/admission.ts";
import type { AccessPoint } from "../lib/com/transport.ts";
import type { NodeOptions } from "../lib/node/options.ts";
import { createNet, joinNet } from "../mod.ts";
import { test } from "./_test.ts";
import { nextWithin, until, within } from "./_wait.ts";

/** One raw socket of a flood, watched until the node closes it (or the test does). */
interface FloodSocket {
  conn: Deno.TcpConn;
  /** The node's preamble arrived: it accepted the connection and started its handshake. */
  accepted: boolean;
  /** The node closed it (before the test did). */
  closedByNode: boolean;
  /** The test closes it. */
  closing: boolean;
  /** Reads it until it ends. */
  watcher: Promise<void>;
}

async function watch(s: FloodSocket): Promise<void> {
  const buf = new Uint8Array(64);
  let got = 0;
  try {
    while (true) {
      const n = await s.conn.read(buf);
      if (n === null) break;
      got += n;
      if (got >= PREAMBLE_SIZE) s.accepted = true;
    }
  } catch {
    // Reset by the node, or closed by the test.
  }
  if (!s.closing) s.closedByNode = true;
}

/** Connects `count` raw sockets to `ap`, each watched. */
async function flood(ap: AccessPoint, count: number): Promise<FloodSocket[]> {
  const sockets: FloodSocket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const conn = await Deno.connect({ hostname: ap.hostname, port: ap.port });
      const s: FloodSocket = {
        conn,
        accepted: false,
        closedByNode: false,
        closing: false,
        watcher: Promise.resolve(),
      };
      s.watcher = watch(s);
      sockets.push(s);
    }
  } catch (e) {
    await closeFlood(sockets);
    throw e;
  }
  return sockets;
}

/** Writes `bytes` to every socket one byte at a time, round robin; a closed socket is skipped. */
async function dribble(sockets: FloodSocket[], bytes: Uint8Array): Promise<void> {
  const live = new Set(sockets);
  for (let i = 0; i < bytes.length; i++) {
    for (const s of live) {
      try {
        await s.conn.write(bytes.subarray(i, i + 1));
      } catch {
        live.delete(s); // shed by the node
      }
    }
  }
}

async function closeFlood(sockets: FloodSocket[]): Promise<void> {
  for (const s of sockets) {
    s.closing = true;
    try {
      s.conn.close();
    } catch {
      // Closed already.
    }
  }
  await within(Promise.all(sockets.map((s) => s.watcher)), "the flood's readers to end");
}

const count = (sockets: FloodSocket[], p: (s: FloodSocket) => boolean) => sockets.filter(p).length;

test("a flood of stalled handshakes from one address is capped and counted; an honest node still joins and sends, and memory stays bounded", async () => {
  const FLOOD = 240;
  const CAP = DEFAULT_MAX_PENDING_PER_ADDRESS;
  await using a = await createNet({ node: { id: 1 } });
  const before = Deno.memoryUsage().external;
  const sockets = await flood(a.ap, FLOOD);
  try {
    // Half stay silent; half send a preamble and the start of a first handshake message (a
    // 32-byte ephemeral key announced, 10 bytes of it sent) one byte at a time.
    const partial = new Uint8Array([...preamble("noise"), 0, 32, ...new Uint8Array(10).fill(7)]);
    await dribble(sockets.filter((_, i) => i % 2 === 1), partial);
    await until(
      () => sockets.every((s) => s.accepted || s.closedByNode),
      "the node to accept (or shed) every flooding socket",
    );
    // Shedding happens as each is accepted: at most the cap is left open, whatever the timing.
    await until(
      () => count(sockets, (s) => !s.closedByNode) <= CAP,
      `at most ${CAP} flooding sockets to stay open`,
    );
    const grown = Deno.memoryUsage().external - before;
    assert.ok(
      grown < 1024 * 1024,
      `${CAP} pending handshakes hold ${grown} bytes of buffers (64 KiB each would be 4 MiB)`,
    );

    await using b = await within(joinNet(a.ap, { node: { id: 2 } }), "b to join");
    const inbox = a.messages({ signal: AbortSignal.timeout(10_000) });
    await b.send(1, "through the flood");
    assert.equal((await nextWithin(inbox, "the message from b")).msg, "through the flood");
    await inbox.return?.();

    // Every flooding socket the node closed was shed for a newer connection or, had the test
    // taken longer than the handshake timeout, timed out (a bad link); b's never were.
    await until(
      () => {
        const s = a.statistics();
        return count(sockets, (x) => x.closedByNode) === s.shedLinks + s.badLinks;
      },
      "every closed flooding socket to be counted",
    );
    assert.ok(count(sockets, (s) => s.closedByNode) >= FLOOD - CAP);
    assert.ok(a.statistics().shedLinks > 0);
    assert.equal(b.statistics().shedLinks + b.statistics().badLinks, 0);
  } finally {
    await closeFlood(sockets);
  }
});

test("a handshake message declared longer than any legal one closes the connection at once and is counted", async () => {
  await using a = await createNet({ node: { id: 1 } });
  const [s] = await flood(a.ap, 1);
  try {
    await s.conn.write(new Uint8Array([...preamble("noise"), 0xff, 0xff, 1, 2, 3]));
    await until(() => s.closedByNode, "the node to close the connection");
    await until(() => a.statistics().badLinks === 1, "the violation to be counted");
    assert.equal(a.statistics().shedLinks, 0);
  } finally {
    await closeFlood([s]);
  }
});

test("a peer that sends more than a whole handshake's worth of bytes without completing it is closed and counted", async () => {
  // In the clear the hello is a frame, and its length could announce up to the frame limit.
  await using a = await createNet({ node: { id: 1 }, net: { encryption: "none" } });
  const [s] = await flood(a.ap, 1);
  try {
    const header = new Uint8Array([...preamble("none"), 0x00, 0x10, 0x00, 0x00]);
    await s.conn.write(header);
    for (let sent = 0; sent < 4 * HANDSHAKE_INPUT_LIMIT && !s.closedByNode; sent += 512) {
      try {
        await s.conn.write(new Uint8Array(512).fill(0x41));
      } catch {
        break; // closed by the node
      }
    }
    await until(() => s.closedByNode, "the node to close the connection");
    await until(() => a.statistics().badLinks === 1, "the violation to be counted");
    // It stopped reading at the limit (a connection left to time out would have read it all):
    // the limit, the read that went past it, and the read that found it past.
    const read = a.statistics().bytes.in;
    assert.ok(read <= HANDSHAKE_INPUT_LIMIT + 2 * HANDSHAKE_READ_SIZE, `${read} bytes read`);
  } finally {
    await closeFlood([s]);
  }
});

/**
 * A proxy in front of `target` that writes what it forwards one byte per write, both ways, so
 * the other end reads a handshake in many small pieces.
 */
class DribblingProxy {
  readonly ap: AccessPoint;
  /** Bytes forwarded (each in a write of its own). */
  forwarded = 0;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();

  constructor(target: AccessPoint) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.ap = { hostname: "127.0.0.1", port: this.#listener.addr.port };
    this.#track(this.#accept(target));
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(target: AccessPoint): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      const server = await Deno.connect(target);
      for (const c of [client, server]) {
        c.setNoDelay(true);
        this.#conns.add(c);
      }
      this.#track(
        Promise.all([this.#pump(client, server), this.#pump(server, client)]).then(() => {
          for (const c of [client, server]) this.#closeConn(c);
        }),
      );
    }
  }

  async #pump(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        for (let i = 0; i < n; i++) {
          while ((await to.write(buf.subarray(i, i + 1))) === 0) { /* retry */ }
          this.forwarded++;
        }
      }
      await to.closeWrite();
    } catch {
      this.#closeConn(from);
      this.#closeConn(to);
    }
  }

  #closeConn(c: Deno.TcpConn): void {
    if (!this.#conns.delete(c)) return;
    try {
      c.close();
    } catch {
      // Closed already.
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of [...this.#conns]) this.#closeConn(c);
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }
}

for (
  const [what, net] of [
    ["an open network", {}],
    ["a private network", { secret: "dribbled secret" }],
    ["a network in the clear", { encryption: "none" }],
  ] as [string, NodeOptions["net"]][]
) {
  test(`in ${what}, a handshake whose every byte arrives alone still completes`, async () => {
    await using a = await createNet({ node: { id: 1 }, net });
    const proxy = new DribblingProxy(a.ap);
    try {
      // The joiner says what the network uses: one that has to learn it is refused once first.
      const joined = joinNet(proxy.ap, { node: { id: 2 }, net });
      await using b = await within(joined, "b to join through the proxy");
      const inbox = a.messages({ signal: AbortSignal.timeout(10_000) });
      await b.send(1, "one byte at a time");
      assert.equal((await nextWithin(inbox, "the message from b")).msg, "one byte at a time");
      await inbox.return?.();
      assert.ok(proxy.forwarded > 0, "the join went through the proxy");
      const s = a.statistics();
      assert.equal(s.badLinks + s.shedLinks, 0);
    } finally {
      await proxy.close();
    }
  });
}
