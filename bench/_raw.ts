// The raw baseline: two processes exchanging length-prefixed CBOR frames over one TCP connection
// on 127.0.0.1, with the same coalescing writer design as the library (everything queued in one
// synchronous burst goes out in one write) and the same application protocol as bench/_peer.ts
// (credits every 256 stream messages; ping/pong). No overlay, no handshake, no routing.
//
//   deno run --allow-net=127.0.0.1 bench/_raw.ts serve
//   deno run --allow-net=127.0.0.1 bench/_raw.ts stream <port> <count> <size>
//   deno run --allow-net=127.0.0.1 bench/_raw.ts ping   <port> <count>
import { decode, encode } from "cbor-x/encode";

const CREDIT = 256;

/** One connection: a coalescing writer and a frame reader. */
class Wire {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  constructor(readonly conn: Deno.TcpConn) {
    conn.setNoDelay(true);
  }

  send(v: unknown): void {
    const body = encode(v);
    const f = new Uint8Array(4 + body.length);
    new DataView(f.buffer).setUint32(0, body.length);
    f.set(body, 4);
    this.#queue.push(f);
    this.#queued += f.length;
    if (!this.#writing) {
      this.#writing = true;
      this.#flush();
    }
  }

  async #flush(): Promise<void> {
    await null;
    while (this.#queue.length) {
      const buf = new Uint8Array(this.#queued);
      let at = 0;
      for (const f of this.#queue) {
        buf.set(f, at);
        at += f.length;
      }
      this.#queue = [];
      this.#queued = 0;
      for (let w = 0; w < buf.length;) w += await this.conn.write(buf.subarray(w));
    }
    this.#writing = false;
  }

  async read(onFrame: (v: Record<string, unknown>) => void): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = new Uint8Array(0);
    for (;;) {
      const n = await this.conn.read(buf);
      if (n === null) return;
      let data: Uint8Array = buf.subarray(0, n);
      if (pending.length) {
        const j = new Uint8Array(pending.length + n);
        j.set(pending);
        j.set(data, pending.length);
        data = j;
      }
      let pos = 0;
      while (data.length - pos >= 4) {
        const len = ((data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) |
          data[pos + 3]) >>> 0;
        if (data.length - pos - 4 < len) break;
        onFrame(decode(data.subarray(pos + 4, pos + 4 + len)));
        pos += 4 + len;
      }
      pending = data.slice(pos);
    }
  }
}

const [mode, port, countS, sizeS] = Deno.args;
if (mode === "serve") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port }));
  for await (const conn of listener) {
    const w = new Wire(conn);
    let got = 0;
    w.read((v) => {
      if (typeof v.d === "number") {
        if (++got % CREDIT === 0) w.send({ c: CREDIT });
      } else if (typeof v.pi === "number") w.send({ po: v.pi });
    }).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch { /* closed */ }
    });
  }
} else {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const w = new Wire(conn);
  // Credits come back per 256 delivered messages: stream whole credits.
  const count = mode === "stream" ? Math.ceil(Number(countS) / CREDIT) * CREDIT : Number(countS);
  let onFrame: (v: Record<string, unknown>) => void = () => {};
  const reading = w.read((v) => onFrame(v));
  if (mode === "stream") {
    const p = new Uint8Array(Number(sizeS)).fill(1);
    const window = 8 * CREDIT;
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
    console.log(JSON.stringify({ ms, count, perSec: count / (ms / 1000) }));
  } else {
    const rtts: number[] = [];
    for (let i = 0; i < count; i++) {
      const { promise, resolve } = Promise.withResolvers<void>();
      onFrame = (v) => v.po === i && resolve();
      const t0 = performance.now();
      w.send({ pi: i });
      await promise;
      rtts.push((performance.now() - t0) * 1000);
    }
    console.log(JSON.stringify({ rtts }));
  }
  conn.close();
  await reading.catch(() => {});
}
