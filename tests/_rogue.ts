// A hand-driven TCP peer for attack tests: it speaks the link protocol by hand (preamble, Noise
// handshake or plain hello, sealed frames) the way a real peer would, then writes whatever bytes
// a test gives it, frame by frame, with none of the library's own checks on its side.
import { encode as cborEncode, Encoder } from "cbor-x/encode";
import { PROTOCOL_VERSION } from "../lib/com/transport.ts";
import {
  generateStaticKeyPair,
  HandshakeState,
  type KeyPair,
  TransportOpener,
  TransportSealer,
} from "../lib/com/noise/mod.ts";
import { preamble, PREAMBLE_SIZE } from "../lib/com/tcp/channel.ts";
import { Codec } from "../lib/wire/codec.ts";
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { encodeFrame } from "../lib/wire/frame_writer.ts";
import { type Frame, T } from "../lib/wire/schema.ts";
import type { AccessPoint, NodeRef } from "../lib/wire/types.ts";
import { until } from "./_wait.ts";

const codec = new Codec();
// Byte strings as plain CBOR byte strings, as the library writes them.
const plain = new Encoder({ useRecords: false, tagUint8Array: false });

/** CBOR of any value (for building frames that break the schema on purpose). */
export function cbor(value: unknown): Uint8Array {
  return new Uint8Array(plain.encode(value));
}

/** The CBOR of an application message (what payload fields hold). */
export function message(value: unknown): Uint8Array {
  return new Uint8Array(cborEncode(value));
}

/** A connected rogue peer. */
export interface Rogue {
  /** The rogue as the node knows it. */
  ref: NodeRef;
  /** Its static key pair (encrypted links). */
  keyPair: KeyPair;
  /** Frames the node sent the rogue after the handshake. */
  received: Frame[];
  /** Writes one frame body (its length prefix is added; sealed on an encrypted link). */
  sendBody(body: Uint8Array): Promise<void>;
  /** Writes one frame made by the library's codec. */
  send(frame: Frame): Promise<void>;
  /** Writes bytes as they are, below the frames (to tamper with sealed messages). */
  sendRaw(bytes: Uint8Array): Promise<void>;
  /** Seals `plaintext` as the next transport message would be, without writing it. */
  seal(plaintext: Uint8Array): Uint8Array;
  /** Whether the node closed the connection. */
  closed(): boolean;
  /** Closes the connection and waits for its reader to end. */
  close(): Promise<void>;
}

/** How a rogue presents itself. */
export interface RogueOptions {
  /** Its network (as the node's `info().net` gives it). */
  net: { name: string; netId: string; encryption?: "noise" | "none" };
  /** Its static key pair. @default a fresh one */
  keyPair?: KeyPair;
  /** The network's pre-shared key, for a private network. */
  psk?: Uint8Array;
  /** Fields of its hello to present instead of the honest ones. */
  hello?: Record<string, unknown>;
}

/** Waits `ms`, or less when woken; leaves no timer behind either way. */
function nap(waiter: { wake: (() => void) | null }, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      waiter.wake = null;
      resolve();
    }, ms);
    waiter.wake = () => {
      clearTimeout(t);
      waiter.wake = null;
      resolve();
    };
  });
}

function lengthPrefixed(bytes: Uint8Array, size: 2 | 4): Uint8Array {
  const out = new Uint8Array(size + bytes.length);
  if (size === 2) {
    out[0] = bytes.length >>> 8;
    out[1] = bytes.length & 0xff;
  } else new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, size);
  return out;
}

/**
 * Opens a link to the node at `ap` as node `id` and completes the handshake as an honest peer
 * would, over Noise (or in the clear in a network of encryption "none").
 */
export async function rogue(ap: AccessPoint, id: number, options: RogueOptions): Promise<Rogue> {
  const conn = await Deno.connect({ hostname: ap.hostname, port: ap.port });
  const loops: Promise<void>[] = [];
  try {
    return await handshake(conn, id, options, loops);
  } catch (e) {
    // Refused or failed: leave nothing open behind.
    try {
      conn.close();
    } catch {
      // Closed by the node.
    }
    await Promise.allSettled(loops);
    throw e;
  }
}

async function handshake(
  conn: Deno.TcpConn,
  id: number,
  options: RogueOptions,
  loops: Promise<void>[],
): Promise<Rogue> {
  const encryption = options.net.encryption ?? "noise";
  const keyPair = options.keyPair ?? generateStaticKeyPair();
  conn.setNoDelay(true);
  const write = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  };
  const ref: NodeRef = { id, ap: { hostname: "127.0.0.1", port: 1 } };
  const helloBody = codec.encode({
    t: T.Hello,
    v: PROTOCOL_VERSION,
    name: options.net.name,
    net: options.net.netId,
    id,
    host: ref.ap.hostname,
    port: ref.ap.port,
    mf: 1 << 20,
    ...options.hello,
  } as Frame);
  // Bytes arrive by a queue the handshake below reads from.
  let inbox = new Uint8Array(0);
  let ended = false;
  const waiter: { wake: (() => void) | null } = { wake: null };
  const reading = (async () => {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        const next = new Uint8Array(inbox.length + n);
        next.set(inbox);
        next.set(buf.subarray(0, n), inbox.length);
        inbox = next;
        waiter.wake?.();
      }
    } catch {
      // Closed.
    }
    ended = true;
    waiter.wake?.();
  })();
  loops.push(reading);
  const deadline = Date.now() + 10_000;
  const take = async (n: number): Promise<Uint8Array> => {
    while (inbox.length < n) {
      if (ended) throw new Error("The node closed the connection during the handshake");
      if (Date.now() > deadline) throw new Error("The node did not answer the handshake");
      await nap(waiter, 50);
    }
    const out = inbox.slice(0, n);
    inbox = inbox.slice(n);
    return out;
  };
  await write(preamble(encryption, options.psk !== undefined));
  const theirs = await take(PREAMBLE_SIZE);
  if (theirs[5] !== (encryption === "none" ? 0 : options.psk ? 2 : 1)) {
    throw new Error(`The node's preamble announces security ${theirs[5]}`);
  }
  let sealer: TransportSealer | null = null;
  let opener: TransportOpener | null = null;
  if (encryption === "noise") {
    const psk = options.psk;
    const hs = new HandshakeState({
      protocol: psk ? "Noise_XXpsk3_25519_ChaChaPoly_SHA256" : "Noise_XX_25519_ChaChaPoly_SHA256",
      initiator: true,
      prologue: new TextEncoder().encode(`p2ps/${PROTOCOL_VERSION}`),
      s: keyPair,
      psks: psk ? [psk] : [],
    });
    await write(lengthPrefixed(hs.writeMessage(), 2));
    const len = await take(2);
    hs.readMessage(await take((len[0] << 8) | len[1]));
    await write(lengthPrefixed(hs.writeMessage(helloBody), 2));
    const { send, receive } = hs.split();
    sealer = new TransportSealer(send);
    opener = new TransportOpener(receive);
  } else {
    await write(lengthPrefixed(helloBody, 4));
  }
  const received: Frame[] = [];
  const decoder = new FrameDecoder(codec.reader(), { maxKey: 2 ** 52, peer: null });
  let accepted = false;
  const writeFrame = (body: Uint8Array) => {
    const framed = lengthPrefixed(body, 4);
    return write(sealer ? sealer.seal(framed) : framed);
  };
  const onBytes = (bytes: Uint8Array) =>
    decoder.push(bytes, (f) => {
      if (f.t === T.Accept) accepted = true;
      else if (f.t === T.Hello) void writeFrame(codec.encode({ t: T.Accept }));
      else received.push(f);
    });
  // In an open network the node's hello came in message 2: accept it at once.
  if (encryption === "none" || !options.psk) await writeFrame(codec.encode({ t: T.Accept }));
  let pumped = 0;
  const pump = () => {
    const chunk = inbox.subarray(pumped);
    pumped = inbox.length;
    if (chunk.length === 0) return;
    if (opener) opener.push(chunk.slice(), onBytes);
    else onBytes(chunk.slice());
  };
  // From now on the queue only grows: read it as it does.
  inbox = inbox.slice();
  const pumping = (async () => {
    while (!ended) {
      pump();
      await nap(waiter, 20);
    }
    pump();
  })();
  loops.push(pumping);
  while (!accepted) {
    if (ended) {
      // The connection may have ended after the pump's last turn: read what came before it.
      pump();
      const refusal = received.find((f) => f.t === T.Refuse);
      throw new Error(
        `The node refused the rogue${refusal?.t === T.Refuse ? `: ${refusal.why}` : ""}`,
      );
    }
    if (Date.now() > deadline) throw new Error("The node did not accept the rogue's hello");
    await new Promise((r) => setTimeout(r, 5));
  }
  let closed = false;
  return {
    ref,
    keyPair,
    received,
    sendBody: writeFrame,
    send: (frame) => writeFrame(codec.encode(frame)),
    sendRaw: write,
    seal: (plaintext) => sealer ? sealer.seal(plaintext) : plaintext,
    closed: () => ended,
    async close() {
      if (!closed) {
        closed = true;
        try {
          conn.close();
        } catch {
          // Already closed by the node.
        }
      }
      await reading;
      await pumping;
    },
  };
}

export { encodeFrame };

/**
 * Waits until the node has handled every frame the rogue sent before this call: frames on one
 * link are handled in order, so its answer to a ping comes after them.
 */
export async function handled(r: Rogue, ts: number): Promise<void> {
  await r.send({ t: T.Ping, ts });
  await until(
    () => r.received.some((f) => f.t === T.Pong && f.ts === ts),
    `the node's answer to ping ${ts}`,
  );
}

/** A listening rogue that answers the first connection as a Noise responder, by hand. */
export interface RogueResponder {
  ap: AccessPoint;
  /** Resolves once the dialer closed the connection, with every byte it sent after message 1. */
  done: Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 and answers the first connection as a responder would: preamble, then a
 * Noise message 2 carrying `payload` (e.g. a hello body), in a network with `psk` or without.
 */
export function rogueResponder(options: {
  keyPair?: KeyPair;
  psk?: Uint8Array;
  payload: Uint8Array;
}): RogueResponder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let conn: Deno.TcpConn | null = null;
  const done = (async () => {
    conn = await listener.accept();
    const c = conn;
    const write = async (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length;) at += await c.write(bytes.subarray(at));
    };
    const psk = options.psk;
    const hs = new HandshakeState({
      protocol: psk ? "Noise_XXpsk3_25519_ChaChaPoly_SHA256" : "Noise_XX_25519_ChaChaPoly_SHA256",
      initiator: false,
      prologue: new TextEncoder().encode(`p2ps/${PROTOCOL_VERSION}`),
      s: options.keyPair ?? generateStaticKeyPair(),
      psks: psk ? [psk] : [],
    });
    let inbox = new Uint8Array(0);
    const buf = new Uint8Array(65536);
    const fill = async (n: number) => {
      while (inbox.length < n) {
        const got = await c.read(buf);
        if (got === null) return false;
        const next = new Uint8Array(inbox.length + got);
        next.set(inbox);
        next.set(buf.subarray(0, got), inbox.length);
        inbox = next;
      }
      return true;
    };
    await write(preamble("noise", psk !== undefined));
    if (!await fill(PREAMBLE_SIZE + 2)) return inbox;
    const n = (inbox[PREAMBLE_SIZE] << 8) | inbox[PREAMBLE_SIZE + 1];
    if (!await fill(PREAMBLE_SIZE + 2 + n)) return inbox;
    hs.readMessage(inbox.subarray(PREAMBLE_SIZE + 2, PREAMBLE_SIZE + 2 + n));
    inbox = inbox.slice(PREAMBLE_SIZE + 2 + n);
    await write(lengthPrefixed(hs.writeMessage(options.payload), 2));
    try {
      while (await fill(inbox.length + 1));
    } catch {
      // Reset by the dialer.
    }
    return inbox;
  })();
  return {
    ap: { hostname: "127.0.0.1", port: listener.addr.port },
    done,
    async close() {
      listener.close();
      try {
        (conn as Deno.TcpConn | null)?.close();
      } catch {
        // Closed already.
      }
      await done.catch(() => {});
    },
  };
}

/** The body of a hello frame as a node of network `net` with id `id` would send it. */
export function helloBody(net: { name: string; netId: string }, id: number): Uint8Array {
  return codec.encode({
    t: T.Hello,
    v: PROTOCOL_VERSION,
    name: net.name,
    net: net.netId,
    id,
    host: "127.0.0.1",
    port: 1,
    mf: 1 << 20,
  } as Frame);
}
