// The raw baseline: two processes exchanging length-prefixed CBOR frames over one TCP connection
// on 127.0.0.1, with the same coalescing writer design as the library (everything queued in one
// synchronous burst goes out in one write) and the same application protocol as bench/_peer.ts
// (credits every 256 stream messages; ping/pong). No overlay, no handshake, no routing.
//
//   deno run --allow-net=127.0.0.1 bench/_raw.ts serve            (prints {"port": n})
//   deno run --allow-net=127.0.0.1 bench/_raw.ts client <port>    (then JSON lines on stdin:
//     {"op":"stream","count":n,"size":b,"window":w,"rid":i}, {"op":"blast","count":n,"size":b}
//     and {"op":"ping","count":n,"rid":i})
//
// `blast` is the tuned baseline, as fast as plain Deno TCP with cbor-x goes here: no credits and
// no window — the sender encodes each message straight into two reused 256 KiB buffers, filling one
// while the other is written, and awaits each write (the socket's own backpressure); the receiver
// decodes every message and answers once it has them all.
//
// It is given every trick the library uses, so that the comparison is about the overlay alone:
// the same cbor-x settings (plain byte strings), bodies written straight into one reused batch
// buffer, each read copied once into a buffer of its own and decoded with views into it.
import { Decoder } from "cbor-x/encode";
import { encodeValue as encode } from "../lib/wire/values.ts";
import { serveLines } from "./_lib.ts";

const CREDIT = 256;
const cbor = new Decoder({ useRecords: false, mapsAsObjects: true });

/** One connection: a coalescing writer and a frame reader. */
class Wire {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #batch = new Uint8Array(256 * 1024);
  constructor(readonly conn: Deno.TcpConn) {
    conn.setNoDelay(true);
  }

  send(v: unknown): void {
    // A view into cbor-x's output buffer, which it never writes over.
    const body = encode(v);
    this.#queue.push(body);
    this.#queued += 4 + body.length;
    if (!this.#writing) {
      this.#writing = true;
      this.#flush();
    }
  }

  async #flush(): Promise<void> {
    await null;
    while (this.#queue.length) {
      if (this.#batch.length < this.#queued) this.#batch = new Uint8Array(this.#queued);
      const buf = this.#batch;
      let at = 0;
      for (const b of this.#queue) {
        const n = b.length;
        buf[at] = n >>> 24;
        buf[at + 1] = (n >>> 16) & 0xff;
        buf[at + 2] = (n >>> 8) & 0xff;
        buf[at + 3] = n & 0xff;
        buf.set(b, at + 4);
        at += 4 + n;
      }
      this.#queue = [];
      this.#queued = 0;
      for (let w = 0; w < at;) w += await this.conn.write(buf.subarray(w, at));
    }
    this.#writing = false;
  }

  async read(onFrame: (v: Record<string, unknown>) => void): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = new Uint8Array(0);
    for (;;) {
      const n = await this.conn.read(buf);
      if (n === null) return;
      let data: Uint8Array;
      if (pending.length) {
        data = new Uint8Array(pending.length + n);
        data.set(pending);
        data.set(buf.subarray(0, n), pending.length);
      } else data = buf.slice(0, n);
      let pos = 0;
      while (data.length - pos >= 4) {
        const len = ((data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) |
          data[pos + 3]) >>> 0;
        if (data.length - pos - 4 < len) break;
        onFrame(cbor.decode(data.subarray(pos + 4, pos + 4 + len)) as Record<string, unknown>);
        pos += 4 + len;
      }
      pending = data.slice(pos);
    }
  }
}

/** Bytes of each of the tuned sender's two buffers (one write each). */
const BLAST_BUFFER = 256 * 1024;

/**
 * Writes `count` messages `{d, p}`, encoded into two reused buffers in turn: one is filled
 * while the other is being written, and every write is awaited before its buffer is reused.
 */
async function blast(conn: Deno.TcpConn, count: number, p: Uint8Array): Promise<void> {
  const bufs = [new Uint8Array(BLAST_BUFFER), new Uint8Array(BLAST_BUFFER)];
  const writeAll = async (b: Uint8Array) => {
    for (let w = 0; w < b.length;) w += await conn.write(b.subarray(w));
  };
  let inFlight: Promise<void> = Promise.resolve();
  let which = 0;
  let buf = bufs[0];
  let at = 0;
  for (let d = 0; d < count; d++) {
    const body = encode({ d, p });
    if (at + 4 + body.length > buf.length) {
      await inFlight;
      inFlight = writeAll(buf.subarray(0, at));
      which ^= 1;
      buf = bufs[which];
      at = 0;
    }
    const n = body.length;
    buf[at] = n >>> 24;
    buf[at + 1] = (n >>> 16) & 0xff;
    buf[at + 2] = (n >>> 8) & 0xff;
    buf[at + 3] = n & 0xff;
    buf.set(body, at + 4);
    at += 4 + n;
  }
  await inFlight;
  await writeAll(buf.subarray(0, at));
}

const [mode, port] = Deno.args;
if (mode === "serve") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port }));
  for await (const conn of listener) {
    const w = new Wire(conn);
    let got = 0;
    let blasted = 0, blastEnd = 0;
    w.read((v) => {
      if (typeof v.d === "number") {
        if (blastEnd > 0) {
          if (++blasted === blastEnd) {
            w.send({ bd: blasted });
            blasted = blastEnd = 0;
          }
        } else if (++got % CREDIT === 0) w.send({ c: CREDIT });
      } else if (typeof v.b === "number") blastEnd = v.b;
      else if (typeof v.pi === "number") w.send({ po: v.pi });
    }).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch { /* closed */ }
    });
  }
} else {
  // A client driven like bench/_peer.ts: one connection, then `stream` and `ping` commands.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const w = new Wire(conn);
  let onFrame: (v: Record<string, unknown>) => void = () => {};
  const reading = w.read((v) => onFrame(v));
  await serveLines(async (cmd) => {
    if (cmd.op === "stream") {
      // Credits come back per 256 delivered messages: stream whole credits.
      const count = Math.ceil(Number(cmd.count) / CREDIT) * CREDIT;
      const p = new Uint8Array(Number(cmd.size)).fill(1);
      const window = Number(cmd.window ?? 8 * CREDIT);
      let acked = 0, sent = 0;
      let wake: (() => void) | null = null;
      onFrame = (v) => {
        if (typeof v.c === "number") {
          acked += v.c;
          wake?.();
        }
      };
      const t0 = performance.now();
      while (acked < count) {
        while (sent < count && sent - acked < window) w.send({ d: sent++, p });
        await new Promise<void>((r) => (wake = r));
      }
      const ms = performance.now() - t0;
      return { ms, count, perSec: count / (ms / 1000) };
    }
    if (cmd.op === "blast") {
      const count = Number(cmd.count);
      const p = new Uint8Array(Number(cmd.size)).fill(1);
      const { promise, resolve } = Promise.withResolvers<void>();
      onFrame = (v) => v.bd === count && resolve();
      w.send({ b: count });
      await new Promise((r) => setTimeout(r, 0)); // the announcement goes first
      const t0 = performance.now();
      await blast(conn, count, p);
      await promise;
      const ms = performance.now() - t0;
      return { ms, count, perSec: count / (ms / 1000) };
    }
    if (cmd.op === "ping") {
      const rtts: number[] = [];
      for (let i = 0; i < Number(cmd.count); i++) {
        const { promise, resolve } = Promise.withResolvers<void>();
        onFrame = (v) => v.po === i && resolve();
        const t0 = performance.now();
        w.send({ pi: i });
        await promise;
        rtts.push((performance.now() - t0) * 1000);
      }
      return { rtts };
    }
    if (cmd.op === "quit") {
      conn.close();
      await reading.catch(() => {});
      return { ok: true };
    }
    throw new Error(`unknown op ${cmd.op}`);
  });
}
