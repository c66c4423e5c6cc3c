// Length-prefixed CBOR messages over a byte stream: how the sharded scale benchmark's coordinator
// and its shard processes talk (bench/scale.ts --shards, bench/_scale_shard.ts).
import { decode, encode } from "cbor-x/encode";

/** Writes `value` as one message (4-byte little-endian length, then CBOR). */
export async function writeMessage(
  w: WritableStreamDefaultWriter<Uint8Array>,
  value: unknown,
): Promise<void> {
  const body = encode(value);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  await w.write(out);
}

/** Reads messages from a byte stream, one at a time. */
export class MessageReader {
  readonly #r: ReadableStreamDefaultReader<Uint8Array>;
  #buf = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;

  constructor(r: ReadableStreamDefaultReader<Uint8Array>) {
    this.#r = r;
  }

  /** The next message, or `undefined` at the end of the stream. */
  async next(): Promise<unknown> {
    for (;;) {
      const have = this.#end - this.#start;
      if (have >= 4) {
        const len = new DataView(this.#buf.buffer, this.#start, 4).getUint32(0, true);
        if (have >= 4 + len) {
          const body = this.#buf.subarray(this.#start + 4, this.#start + 4 + len);
          this.#start += 4 + len;
          // A copy: decoded byte strings may share the buffer, which is reused.
          return decode(body.slice());
        }
        this.#reserve(4 + len);
      }
      const { value, done } = await this.#r.read();
      if (done) return undefined;
      this.#reserve(this.#end - this.#start + value.length);
      this.#buf.set(value, this.#end);
      this.#end += value.length;
    }
  }

  /** Makes room for `n` bytes from `#start`, compacting or growing the buffer. */
  #reserve(n: number): void {
    if (this.#start + n <= this.#buf.length) return;
    const have = this.#end - this.#start;
    if (n <= this.#buf.length) this.#buf.copyWithin(0, this.#start, this.#end);
    else {
      const buf = new Uint8Array(Math.max(n, 2 * this.#buf.length));
      buf.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = buf;
    }
    this.#start = 0;
    this.#end = have;
  }
}
