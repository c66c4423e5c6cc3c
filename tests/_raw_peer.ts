// Raw TCP connections for attacks on the pre-link path: a socket whose every byte a test writes
// by hand, watched until the node closes it; and one that completes a Noise handshake with a node
// of an open network, as an initiator that presents no hello, so that what it sends next is read
// by the node's transport opener and frame decoder while its link is not up. And what attack
// tests do around them: wait until the node read what was sent, check an honest node still gets
// through.
import assert from "node:assert/strict";
import { HandshakeState, TransportSealer } from "../lib/com/noise/mod.ts";
import { generateStaticKeyPair } from "../lib/com/noise/keys.ts";
import { preamble, PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";
import { PROTOCOL_VERSION } from "../lib/com/transport.ts";
import type { AccessPoint } from "../lib/wire/types.ts";
import type { P2PNode } from "../lib/node/node.ts";
import type { NodeOptions } from "../lib/node/options.ts";
import { joinNet } from "../mod.ts";
import { nextWithin, until, within } from "./_wait.ts";

/** Bytes a raw peer reads at a time (its read buffer, in the test's own memory). */
export const RAW_READ_SIZE = 4096;

/** A connection to a node, written by hand and read until it ends. */
export class RawPeer {
  readonly conn: Deno.TcpConn;
  /** The node closed (or reset) the connection, before the test did. */
  closedByNode = false;
  /** Bytes the node sent, in order. */
  #inbox = new Uint8Array(0);
  #closing = false;
  readonly #watcher: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#watcher = this.#watch();
  }

  /** Connects to `ap`. */
  static async connect(ap: AccessPoint): Promise<RawPeer> {
    const conn = await Deno.connect({ hostname: ap.hostname, port: ap.port });
    conn.setNoDelay(true);
    return new RawPeer(conn);
  }

  async #watch(): Promise<void> {
    const buf = new Uint8Array(RAW_READ_SIZE);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        const next = new Uint8Array(this.#inbox.length + n);
        next.set(this.#inbox);
        next.set(buf.subarray(0, n), this.#inbox.length);
        this.#inbox = next;
      }
    } catch {
      // Reset by the node, or closed by the test.
    }
    if (!this.#closing) this.closedByNode = true;
  }

  /** The node's first `n` bytes not taken yet, once they arrived. */
  async take(n: number, what: string): Promise<Uint8Array> {
    await until(() => this.#inbox.length >= n || this.closedByNode, what, 10_000, 5);
    if (this.#inbox.length < n) throw new Error(`The node closed the connection before ${what}`);
    const out = this.#inbox.slice(0, n);
    this.#inbox = this.#inbox.slice(n);
    return out;
  }

  /** Writes all of `bytes`; false when the node had closed the connection. */
  async write(bytes: Uint8Array): Promise<boolean> {
    try {
      for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the connection (if the node did not) and waits for its reader to end. */
  async close(): Promise<void> {
    this.#closing = true;
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
    await within(this.#watcher, "a raw connection's reader to end");
  }
}

/** Whether the node closed every peer in `peers`. */
export function allClosed(peers: RawPeer[]): boolean {
  return peers.every((p) => p.closedByNode);
}

/** Closes every peer in `peers`. */
export async function closeAll(peers: RawPeer[]): Promise<void> {
  for (const p of peers) await p.close();
}

/** Connects `count` raw peers to `ap` and writes `first` on each (a preamble, say). */
export async function rawPeers(
  ap: AccessPoint,
  count: number,
  first: Uint8Array,
): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const p = await RawPeer.connect(ap);
      peers.push(p);
      await p.write(first);
    }
  } catch (e) {
    await closeAll(peers);
    throw e;
  }
  return peers;
}

/** A 4-byte frame length prefix declaring `length` bytes. */
export function framePrefix(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

function withLength(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >>> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

/** A raw peer past the Noise handshake with a node of an open network, and its sealer. */
export interface NoisePeer {
  peer: RawPeer;
  sealer: TransportSealer;
  /** Bytes it wrote (its preamble and handshake messages). */
  sent: number;
}

/**
 * Connects to `ap` and runs `Noise_XX` as the initiator with an empty payload in message 3: the
 * node's channel is open, and it waits for a hello frame that never comes.
 */
export async function noiseWithoutHello(ap: AccessPoint): Promise<NoisePeer> {
  const peer = await RawPeer.connect(ap);
  try {
    const hs = new HandshakeState({
      protocol: "Noise_XX_25519_ChaChaPoly_SHA256",
      initiator: true,
      prologue: new TextEncoder().encode(`p2ps/${PROTOCOL_VERSION}`),
      s: generateStaticKeyPair(),
    });
    const first = new Uint8Array([...preamble("noise"), ...withLength(hs.writeMessage())]);
    await peer.write(first);
    await peer.take(PREAMBLE_SIZE, "the node's preamble");
    const length = await peer.take(2, "the length of handshake message 2");
    hs.readMessage(await peer.take((length[0] << 8) | length[1], "handshake message 2"));
    const third = withLength(hs.writeMessage());
    await peer.write(third);
    return {
      peer,
      sealer: new TransportSealer(hs.split().send),
      sent: first.length + third.length,
    };
  } catch (e) {
    await peer.close();
    throw e;
  }
}

/**
 * Waits until `node` read `bytes` more than `from` in all, or `over()` (every attacker was
 * closed, say): the way to make a test's next write land in a read of its own.
 */
export async function nodeRead(
  node: P2PNode,
  from: number,
  bytes: number,
  over: () => boolean = () => false,
): Promise<void> {
  await until(
    () => node.statistics().bytes.in >= from + bytes || over(),
    `the node to read ${bytes} bytes`,
  );
}

/** An honest node joins `node` (with `net`) and sends it a message, which arrives. */
export async function honestJoinAndSend(node: P2PNode, net: NodeOptions["net"]): Promise<void> {
  await using b = await within(joinNet(node.ap, { node: { id: 2 }, net }), "b to join");
  const inbox = node.messages({ signal: AbortSignal.timeout(10_000) });
  await b.send(node.id, "through the attack");
  assert.equal((await nextWithin(inbox, "the message from b")).msg, "through the attack");
  await inbox.return?.();
  assert.equal(b.statistics().badLinks + b.statistics().shedLinks, 0);
}
