// A hand-driven TCP peer for attack tests: it completes the handshake with a live node the way a
// real peer would, then writes whatever bytes a test gives it, frame by frame, with none of the
// library's own checks on its side.
import { encode as cborEncode, Encoder } from "cbor-x/encode";
import { PROTOCOL_VERSION } from "../lib/com/transport.ts";
import { Codec } from "../lib/wire/codec.ts";
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { encodeFrame } from "../lib/wire/frame_writer.ts";
import { type Frame, T } from "../lib/wire/schema.ts";
import type { AccessPoint, NodeRef } from "../lib/wire/types.ts";

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
  /** Frames the node sent the rogue after the handshake. */
  received: Frame[];
  /** Writes one frame body (its length prefix is added). */
  sendBody(body: Uint8Array): Promise<void>;
  /** Writes one frame made by the library's codec. */
  send(frame: Frame): Promise<void>;
  /** Closes the connection and waits for its reader to end. */
  close(): Promise<void>;
}

/**
 * Opens a link to the node at `ap` as node `id`, a member of network `net` (the node's network
 * name and instance id), and completes the handshake.
 */
export async function rogue(
  ap: AccessPoint,
  id: number,
  net: { name: string; netId: string },
): Promise<Rogue> {
  const conn = await Deno.connect({ hostname: ap.hostname, port: ap.port });
  conn.setNoDelay(true);
  const write = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  };
  const ref: NodeRef = { id, ap: { hostname: "127.0.0.1", port: 1 } };
  await write(encodeFrame(codec, {
    t: T.Hello,
    v: PROTOCOL_VERSION,
    name: net.name,
    net: net.netId,
    id,
    host: ref.ap.hostname,
    port: ref.ap.port,
    mf: 1 << 20,
    nonce: undefined,
    auth: false,
  }, 1 << 20));
  const received: Frame[] = [];
  const decoder = new FrameDecoder(codec.reader(), { maxKey: 2 ** 52, peer: null });
  let accepted = false;
  const reading = (async () => {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) return;
        decoder.push(buf.slice(0, n), (f) => {
          if (f.t === T.Accept) accepted = true;
          else if (f.t !== T.Hello) received.push(f);
        });
      }
    } catch {
      // Closed.
    }
  })();
  const deadline = Date.now() + 10_000;
  while (!accepted) {
    if (Date.now() > deadline) throw new Error("The node did not accept the rogue's hello");
    await new Promise((r) => setTimeout(r, 5));
  }
  await write(encodeFrame(codec, { t: T.Accept, proof: undefined }, 1 << 20));
  let closed = false;
  return {
    ref,
    received,
    async sendBody(body) {
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length);
      out.set(body, 4);
      await write(out);
    },
    async send(frame) {
      await write(encodeFrame(codec, frame, 1 << 20));
    },
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
    },
  };
}
