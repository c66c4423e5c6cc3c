// What the frame decoder and the Noise transport opener hold for a frame or message cut across
// chunks: it grows with the bytes that arrived, never with what a length prefix declares, and a
// large frame's buffer is not kept once the frame is read. Plus the decoding itself under every
// way of cutting a stream with large frames in it (pieces kept by reference or copied).
import assert from "node:assert/strict";
import { Codec } from "../lib/wire/codec.ts";
import { FrameDecoder } from "../lib/wire/frame_decoder.ts";
import { FrameWriter } from "../lib/wire/frame_writer.ts";
import { type Frame, type FrameOf, T } from "../lib/wire/schema.ts";
import type { NodeRef } from "../lib/wire/types.ts";
import {
  CHACHAPOLY,
  CipherState,
  LENGTH_PREFIX_SIZE,
  MAX_TRANSPORT_PLAINTEXT,
  TransportOpener,
  TransportSealer,
} from "../lib/com/noise/mod.ts";
import { dataFrame } from "./_frames.ts";
import { message } from "./_rogue.ts";
import { test } from "./_test.ts";

const codec = new Codec();
const peer: NodeRef = { id: 42, ap: { hostname: "127.0.0.1", port: 4000 } };
const MIB = 1024 * 1024;

function decoder(): FrameDecoder {
  return new FrameDecoder(codec.reader(), { maxKey: 2 ** 52, peer }, MIB);
}

/** A data frame whose message is `size` bytes of `fill`. */
function data(id: number, size: number, fill: number): FrameOf<"Data"> {
  return dataFrame(peer, id, [message(new Uint8Array(size).fill(fill))]);
}

/** The bytes of `frames` on the wire, one after another. */
function wire(frames: Frame[]): Uint8Array {
  const w = new FrameWriter(codec);
  for (const f of frames) w.append(f, MIB);
  return w.bytes().slice();
}

/** A 4-byte length prefix declaring `length`. */
function prefix(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

test("a declared 1 MiB frame trickled in small pieces holds at most twice what arrived", () => {
  for (const piece of [1, 7, 100, 1000, 4095]) {
    const d = decoder();
    d.push(prefix(MIB - 64), () => assert.fail("no frame yet"));
    let sent = 4;
    while (sent < 300_000) {
      d.push(new Uint8Array(piece).fill(0xab), () => assert.fail("no frame yet"));
      sent += piece;
      assert.equal(d.buffered, sent);
      assert.ok(
        d.reserved <= Math.max(2 * sent, 64),
        `${d.reserved} bytes reserved for ${sent} arrived in ${piece}-byte pieces`,
      );
    }
  }
});

test("a declared 1 MiB frame whose start came at the end of a read holds that read, not 1 MiB", () => {
  const d = decoder();
  const small = wire([{ t: T.Ping, ts: 1 }]);
  // A 64 KiB read: small frames, then the first bytes of a large one.
  const read = new Uint8Array(65536);
  let at = 0;
  while (at + small.length + 8 < read.length - 5000) {
    read.set(small, at);
    at += small.length;
  }
  read.set(prefix(MIB), at);
  const got: Frame[] = [];
  d.push(read, (f) => got.push(f));
  assert.ok(got.length > 1000);
  assert.equal(d.buffered, read.length - at);
  assert.ok(d.reserved <= read.length, `${d.reserved} bytes reserved`);
});

test("a large frame's buffer goes with the frame: the decoder keeps little after it, and the frame's bytes are not overwritten by later ones", () => {
  for (const chunkSize of [1000, 5000, 65536, 300_000]) {
    const d = decoder();
    const frames = [data(1, 700_000, 1), data(2, 200_000, 2), data(3, 10, 3), data(4, 30_000, 4)];
    const bytes = wire(frames);
    const got: Frame[] = [];
    for (let at = 0; at < bytes.length; at += chunkSize) {
      d.push(bytes.slice(at, at + chunkSize), (f) => got.push(f));
    }
    assert.equal(d.buffered, 0);
    assert.ok(d.reserved <= 16 * 1024, `${d.reserved} bytes kept after the frames`);
    // Compared after every frame arrived: what later frames went through did not touch them.
    assert.deepEqual(got, frames, `${chunkSize}-byte chunks`);
  }
});

test("streams with large and small frames decode whole under random cuts, in chunks that own their buffer or are views of a larger one", ({ int }) => {
  const frames: Frame[] = [];
  for (let i = 0; i < 40; i++) {
    const size = [0, 10, 300, 5000, 20_000, 100_000][int(6)];
    frames.push(i % 7 === 3 ? { t: T.Ping, ts: i } : data(i + 1, size, i));
  }
  const bytes = wire(frames);
  for (let round = 0; round < 20; round++) {
    const d = decoder();
    const got: Frame[] = [];
    for (let at = 0; at < bytes.length;) {
      const size = 1 + int([3, 100, 5000, 70_000][int(4)]);
      // Half the chunks are views into a larger buffer: those are always copied.
      const chunk = int(2) === 0
        ? bytes.slice(at, at + size)
        : new Uint8Array([9, ...bytes.subarray(at, at + size), 9]).subarray(1, -1);
      d.push(chunk, (f) => got.push(f));
      at += size;
      if (d.buffered > 0) {
        assert.ok(d.reserved <= 2 * d.buffered + 70_002 + 16 * 1024, `${d.reserved} reserved`);
      }
    }
    assert.equal(d.buffered, 0);
    d.end();
    assert.deepEqual(got, frames, `round ${round}`);
  }
});

test("a stream that ends inside a carried frame still reports the truncated frame's size", () => {
  const bytes = wire([data(1, 50_000, 1)]);
  const d = decoder();
  d.push(bytes.slice(0, 8000), () => {});
  d.push(bytes.slice(8000, 20_000), () => {});
  d.push(bytes.slice(20_000, 20_010), () => {});
  assert.equal(d.buffered, 20_010);
  assert.throws(
    () => d.end(),
    new RegExp(`ended 20010 bytes into a ${bytes.length}-byte frame`),
  );
  assert.equal(d.buffered, 0);
});

function opener(key: Uint8Array): TransportOpener {
  return new TransportOpener(new CipherState(CHACHAPOLY, key));
}

test("a transport message announced at 64 KiB and trickled holds at most twice what arrived", () => {
  const key = new Uint8Array(32).fill(5);
  const o = opener(key);
  o.push(new Uint8Array([0xff, 0xff]), () => assert.fail("no message yet"));
  let sent = LENGTH_PREFIX_SIZE;
  for (const piece of [1, 3, 50, 700, 5000]) {
    o.push(new Uint8Array(piece), () => assert.fail("no message yet"));
    sent += piece;
    assert.equal(o.buffered, sent);
    assert.ok(o.reserved <= 2 * sent, `${o.reserved} bytes reserved for ${sent} arrived`);
  }
});

test("sealed writes cut anywhere open whole, and the opener's buffer never outgrows a message", ({ int }) => {
  const key = new Uint8Array(32).fill(6);
  const sealer = new TransportSealer(new CipherState(CHACHAPOLY, key));
  const writes = Array.from(
    { length: 30 },
    (_, i) => new Uint8Array([1, 40, 3000, 65_000, 140_000][int(5)]).fill(i),
  );
  const sealed = writes.map((w) => sealer.seal(w));
  const stream = new Uint8Array(sealed.reduce((n, s) => n + s.length, 0));
  sealed.reduce((at, s) => (stream.set(s, at), at + s.length), 0);
  const o = opener(key);
  const got: Uint8Array[] = [];
  for (let at = 0; at < stream.length;) {
    const size = 1 + int([2, 30, 4000, 70_000][int(4)]);
    o.push(stream.slice(at, at + size), (p) => got.push(p));
    at += size;
    assert.ok(o.reserved <= LENGTH_PREFIX_SIZE + MAX_TRANSPORT_PLAINTEXT + 16);
  }
  o.end();
  const joined = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  };
  assert.deepEqual(joined(got), joined(writes));
});
