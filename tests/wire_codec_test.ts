// The frame codec derived from the schema: every frame type round-trips, agrees with an
// independent CBOR decoder, and meets hostile bytes with a WireError naming the problem.
import assert from "node:assert/strict";
import { decode } from "cbor-x/encode";
import { WireError } from "../lib/wire/cbor.ts";
import { Codec, type DecodeContext } from "../lib/wire/codec.ts";
import { type FieldSpec, type Frame, type FrameOf, SCHEMA, T } from "../lib/wire/schema.ts";
import type { NodeRef } from "../lib/wire/types.ts";
import { dataFrame, FRAME_NAMES, randomFrame } from "./_frames.ts";
import { cbor, message } from "./_rogue.ts";
import { seeded } from "./_values.ts";
import { test } from "./_test.ts";

const codec = new Codec();
const peer: NodeRef = { id: 42, ap: { hostname: "127.0.0.1", port: 4000 } };

function ctx(maxKey = 2 ** 52): DecodeContext {
  return { maxKey, peer };
}

function read(body: Uint8Array, c = ctx()): Frame {
  return codec.reader().read(body, 0, body.length, c);
}

/** The frame as an independent decoder reads our bytes: `[t, field…, payload…]`. */
function asArray(f: Frame): unknown[] {
  const spec = SCHEMA[codec.nameOf(f.t)!];
  const out: unknown[] = [f.t];
  for (const [k, s] of Object.entries(spec.fields) as [string, FieldSpec][]) {
    const v = (f as Record<string, unknown>)[k];
    const plain = (x: unknown): unknown =>
      x !== null && typeof x === "object" && "ap" in (x as object)
        ? [(x as NodeRef).id, (x as NodeRef).ap.hostname, (x as NodeRef).ap.port]
        : x;
    const row = (r: Record<string, unknown>) =>
      Object.entries(s.of!).map(([name, rs]) => {
        const x = r[name];
        return x === undefined ? null : rs.kind === "choice" ? rs.values!.indexOf(x as string) : x;
      });
    if (s.kind === "payloads") out.push(...(v as Uint8Array[]));
    else if (s.kind === "rows") out.push((v as Record<string, unknown>[]).map(row));
    else if (s.kind === "choice") out.push(s.values!.indexOf(v as string));
    else if (Array.isArray(v)) out.push(v.map(plain));
    else out.push(v === undefined ? null : plain(v));
  }
  return out;
}

/** cbor-x reads 8-byte integers as bigints and byte strings as Buffers: plain values here. */
function normal(x: unknown): unknown {
  if (typeof x === "bigint") return Number(x);
  if (x instanceof Uint8Array) return new Uint8Array(x);
  if (Array.isArray(x)) return x.map(normal);
  return x;
}

test("every frame type round-trips through the codec and reads the same in cbor-x", () => {
  const rng = seeded(11);
  for (const name of FRAME_NAMES) {
    for (let i = 0; i < 300; i++) {
      const frame = randomFrame(name, rng, 2 ** 52, peer);
      const body = codec.encode(frame);
      assert.ok(body.length <= codec.bound(frame), `${name}: within its bound`);
      assert.deepEqual(read(body), frame, `${name} #${i}`);
      const independent = decode(body) as unknown[];
      assert.deepEqual(
        normal(independent),
        asArray(frame),
        `${name} #${i} in cbor-x`,
      );
    }
  }
});

test("every truncation of every frame type is a WireError", () => {
  const rng = seeded(12);
  for (const name of FRAME_NAMES) {
    for (let i = 0; i < 20; i++) {
      const body = codec.encode(randomFrame(name, rng, 2 ** 52, peer));
      for (let n = 0; n < body.length; n++) {
        assert.throws(() => read(body.subarray(0, n)), WireError, `${name} cut at ${n}`);
      }
    }
  }
});

test("any byte substituted anywhere yields a valid frame or a WireError, nothing else", () => {
  const rng = seeded(13);
  let refused = 0;
  let cases = 0;
  for (const name of FRAME_NAMES) {
    for (let i = 0; i < 6; i++) {
      const body = codec.encode(randomFrame(name, rng, 2 ** 52, peer));
      for (let at = 0; at < body.length; at++) {
        for (const b of [0x00, 0x17, 0x18, 0x1b, 0x3f, 0x5f, 0x7f, 0x9f, 0xf6, 0xfb, 0xff]) {
          const bad = body.slice();
          bad[at] = b;
          cases++;
          try {
            read(bad);
          } catch (e) {
            assert.ok(e instanceof WireError, `${name} byte ${at} = ${b}: ${e}`);
            refused++;
          }
        }
      }
    }
  }
  // Many substitutions land in payloads or text and make another valid frame; the rest are
  // refused, each with a WireError.
  assert.ok(refused > cases / 4, `${refused} of ${cases} refused`);
});

test("each reason is named: unknown type, malformed, out of range, broken rule, spoofed sender", () => {
  const reason = (body: Uint8Array, c = ctx()) => {
    try {
      read(body, c);
    } catch (e) {
      assert.ok(e instanceof WireError);
      return [e.reason, e.message];
    }
    return null;
  };
  // A valid frame of a type that does not exist: refused for its type alone.
  assert.deepEqual(reason(cbor([200, 1, 2])), ["type", "Frame type 200 does not exist"]);
  assert.deepEqual(reason(cbor([T.Ping])), ["malformed", "Ping has 0 fields, not 1"]);
  assert.deepEqual(reason(cbor([T.Ping, "1"])), ["malformed", "Expected a number at byte 2"]);
  assert.deepEqual(
    reason(cbor([T.Fix, 3, [10, "h", 1]]), ctx(10)),
    ["range", "Fix.n is 10, outside [0, 10)"],
  );
  assert.deepEqual(reason(cbor([T.Fix, 256, [1, "h", 1]])), [
    "range",
    "Fix.i is 256, outside [-1, 255]",
  ]);
  const other = [7, "127.0.0.1", 4000];
  assert.deepEqual(
    reason(cbor([T.Data, 5, 1, 0, -1, other, true, 1, null, null, message(1)])),
    ["spoofed", "Data.s does not name the peer that sent this first hop"],
  );
  assert.deepEqual(
    reason(cbor([T.Data, 5, 1, 0, -1, null, true, 1, 2, null, message(1)])),
    ["rule", "Data: q and lo go together"],
  );
  assert.deepEqual(reason(cbor([T.Notify, 1])), ["malformed", "Notify has 1 fields, not 0"]);
  assert.deepEqual(reason(cbor([T.Notify])), null, "a valid frame has no reason");
});

test("integers at every CBOR width and text in every script travel exactly", () => {
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 52 - 1]) {
    const f: FrameOf<"Found"> = {
      t: T.Found,
      q: n,
      n: { id: n, ap: { hostname: "h", port: 1 } },
      p: undefined,
    };
    assert.deepEqual(read(codec.encode(f)), f, `${n}`);
  }
  for (const why of ["", "ascii", "é".repeat(100), "日本語", "🌍 and more", "x".repeat(512)]) {
    const f: FrameOf<"Refuse"> = { t: T.Refuse, why };
    assert.deepEqual(read(codec.encode(f)), f, why.slice(0, 10));
  }
  assert.throws(() => read(cbor([T.Refuse, "x".repeat(513)])), /text string of at most 512 bytes/);
  const badUtf8 = new Uint8Array([0x82, T.Refuse, 0x62, 0xc3, 0x28]);
  assert.throws(() => read(badUtf8), /valid UTF-8/);
});

test("consecutive messages merge into one frame only when the schema allows", () => {
  const base = dataFrame(peer, 100, [message("a")]);
  const buf = new Uint8Array(4096);
  const view = new DataView(buf.buffer);
  const end = codec.write(base, buf, view, 0);
  const next = { ...base, id: 101, ps: [message("b"), message("c")] };
  const merged = codec.merge(base, next, buf, view, 0, end, 4096);
  assert.ok(merged > end);
  assert.deepEqual(read(buf.subarray(0, merged)), { ...base, ps: [...base.ps, ...next.ps] });
  // Not the next id, another field, an acknowledged one, or too large: no merge.
  for (
    const other of [{ ...next, id: 102 }, { ...next, k: 8 }, { ...next, s: undefined }, {
      ...next,
      q: 1,
      lo: 1,
    }]
  ) {
    assert.equal(codec.merge(base, other, buf, view, 0, end, 4096), -1);
  }
  assert.equal(codec.merge(base, next, buf, view, 0, end, end + 2), -1, "over maxBody");
  assert.equal(codec.merge(base, { t: T.Ping, ts: 1 }, buf, view, 0, end, 4096), -1);
});

test("records of a rows field are read whole: each field checked, a short or long record, too many records refused", () => {
  const row = {
    key: 7,
    i: 1,
    pc: 2,
    pt: 3,
    ac: 2,
    at: 3,
    ver: 1,
    ws: [9],
    val: new Uint8Array([0x61]),
  };
  const items = (its: unknown[]): FrameOf<"DhtItems"> =>
    ({
      t: T.DhtItems,
      q: 1,
      n: 0,
      m: "leave",
      ix: 0,
      a: 0,
      b: 5,
      last: false,
      rec: false,
      its,
    }) as FrameOf<"DhtItems">;
  const absent = { ...row, val: undefined };
  assert.deepEqual(read(codec.encode(items([row, absent]))), items([row, absent]));
  const wire = (r: unknown[]) => cbor([T.DhtItems, 1, 0, 1, 0, 0, 5, false, false, [r]]);
  const fields = [7, 1, 2, 3, 2, 3, 1, [9], null];
  assert.deepEqual(read(wire(fields)), items([absent]));
  const reason = (body: Uint8Array, c = ctx()) => {
    try {
      read(body, c);
      return null;
    } catch (e) {
      assert.ok(e instanceof WireError);
      return [e.reason, e.message];
    }
  };
  assert.deepEqual(reason(wire(fields.slice(0, 8))), [
    "malformed",
    "DhtItems.its has a row of 8 fields, not 9",
  ]);
  assert.deepEqual(reason(wire([...fields, 1])), [
    "malformed",
    "DhtItems.its has a row of 10 fields, not 9",
  ]);
  assert.deepEqual(reason(wire(fields), ctx(7)), [
    "range",
    "DhtItems.its.key is 7, outside [0, 7)",
  ]);
  assert.deepEqual(reason(wire([7, 16, ...fields.slice(2)])), [
    "range",
    "DhtItems.its.i is 16, outside [0, 15]",
  ]);
  assert.deepEqual(reason(wire([...fields.slice(0, 7), new Array(33).fill(1), null])), [
    "range",
    "DhtItems.its.ws is 33 items, outside [0, 32] items",
  ]);
  assert.deepEqual(reason(wire([...fields.slice(0, 8), "not bytes"])), [
    "malformed",
    "Expected a byte string at byte 22",
  ]);
  const many = cbor([T.DhtItems, 1, 0, 1, 0, 0, 5, false, false, new Array(129).fill(fields)]);
  assert.deepEqual(reason(many), ["range", "DhtItems.its is 129 rows, outside [0, 128] rows"]);
  assert.deepEqual(reason(cbor([T.DhtItems, 1, 0, 3, 0, 0, 5, false, false, []])), [
    "range",
    "DhtItems.m is 3, outside a choice",
  ]);
});

test("DHT prefixes must fit their level: a sync request or a pull naming another is a broken rule", () => {
  const s = [42, "127.0.0.1", 4000];
  const req = (lv: number, x: number) => cbor([T.DhtSyncReq, 5, 1, 0, -1, s, 0, 1, 0, 9, lv, x, 1]);
  assert.equal(read(req(1, 31)).t, T.DhtSyncReq);
  assert.throws(() => read(req(1, 32)), /DhtSyncReq: x is not a prefix of level lv/);
  assert.throws(() => read(req(0, 1)), /DhtSyncReq: x is not a prefix of level lv/);
  const pull = (lv: number, xs: number[]) => cbor([T.DhtPull, 1, 0, 1, 0, 9, lv, xs]);
  assert.equal(read(pull(2, [1023])).t, T.DhtPull);
  assert.throws(() => read(pull(2, [1, 1024])), /not a prefix of level lv/);
  assert.throws(() => read(pull(1, [])), /DhtPull.xs is 0 items, outside \[1, 32\] items/);
});
