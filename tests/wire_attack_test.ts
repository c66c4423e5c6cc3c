// Frames that break the wire schema or a protocol rule, sent over a live TCP link by a peer that
// passed the handshake: every one is dropped and counted, and nothing else about the node moves.
import assert from "node:assert/strict";
import { createNet, joinNet } from "../lib/node/net.ts";
import type { Statistics } from "../lib/node/node.ts";
import type { NodeEvent } from "../lib/core/events.ts";
import { WireError } from "../lib/wire/cbor.ts";
import { Codec } from "../lib/wire/codec.ts";
import { type FieldSpec, type FrameName, HOP_LIMIT, SCHEMA, T } from "../lib/wire/schema.ts";
import type { NodeRef } from "../lib/wire/types.ts";
import { cbor, handled, message, rogue } from "./_rogue.ts";
import { until } from "./_wait.ts";
import { ringOk } from "./_ring.ts";
import { test } from "./_test.ts";

const MAX_KEY = 1000;
const codec = new Codec();

/** A node on the wire. */
function wireNode(n: NodeRef): unknown[] {
  return [n.id, n.ap.hostname, n.ap.port];
}

/** A value of kind `s` that the schema accepts. */
function valid(s: FieldSpec, name: string, peer: NodeRef): unknown {
  switch (s.kind) {
    case "key":
      return 5;
    case "hops":
      return 2;
    case "phase":
      return 0;
    case "finger":
      return -1;
    case "seq":
      return 1;
    case "count":
      return s.min;
    case "int":
      return 3;
    case "time":
      return 1.5;
    case "bool":
      return false;
    case "text":
      return "x";
    case "choice":
      return 0;
    case "node":
      return s.peer === "always" || name === "j" ? wireNode(peer) : [9, "127.0.0.1", 9];
    case "nodes":
      return Array.from({ length: s.min ?? 0 }, () => [9, "127.0.0.1", 9]);
    case "keys":
    case "seqs":
      return Array.from({ length: Math.max(1, s.min ?? 0) }, () => 5);
    case "payload":
      return message("hello");
    case "payloads":
      return [message("hello")];
  }
}

/** A value of the wrong CBOR type for kind `s`. */
function wrongType(s: FieldSpec): unknown {
  return s.kind === "text" || s.kind === "payload" || s.kind === "bool" || s.kind === "node" ||
      s.kind === "nodes" || s.kind === "keys" || s.kind === "seqs"
    ? 7
    : "seven";
}

/** Values of kind `s` outside its range (none for kinds without one). */
function outOfRange(s: FieldSpec): unknown[] {
  switch (s.kind) {
    case "key":
      return [MAX_KEY, -5, 2 ** 53 - 1];
    case "hops":
      return [HOP_LIMIT + 1, -1];
    case "phase":
      return [2];
    case "finger":
      return [-2, 256];
    case "seq":
      return [-1];
    case "count":
      return [s.max! + 1, ...(s.min! > 0 ? [s.min! - 1] : [])];
    case "time":
      return [NaN, Infinity];
    case "text":
      return ["x".repeat(s.max! + 1)];
    case "choice":
      return [s.values!.length];
    case "node":
      return [[MAX_KEY, "127.0.0.1", 9], [-5, "h", 9], [9, "h", 70000], [9, "h"]];
    case "nodes":
      return [
        [[MAX_KEY, "h", 9]],
        Array.from({ length: s.max! + 1 }, () => [9, "h", 9]),
        ...(s.min! > 0 ? [[]] : []),
      ];
    case "keys":
      return [[MAX_KEY], ...(s.min! > 0 ? [[]] : [])];
    case "seqs":
      return [[-1]];
    default:
      return [];
  }
}

interface Case {
  what: string;
  body: Uint8Array;
  /** Well-formed as far as the codec goes: the transport refuses it (after the handshake). */
  link?: boolean;
}

/** The frame `name` as wire values, built from `fields` (absent ones `null`). */
function build(name: FrameName, values: Record<string, unknown>): unknown[] {
  const spec = SCHEMA[name];
  const out: unknown[] = [spec.t];
  for (const [f, s] of Object.entries(spec.fields) as [string, FieldSpec][]) {
    const v = values[f];
    if (s.kind === "payloads") out.push(...(v as unknown[]));
    else out.push(v === undefined ? null : v);
  }
  return out;
}

/** Every field of every frame type out of range, of the wrong type, and missing. */
function fieldCases(peer: NodeRef): Case[] {
  const cases: Case[] = [];
  for (const [name, spec] of Object.entries(SCHEMA) as [FrameName, (typeof SCHEMA)[FrameName]][]) {
    if ("link" in spec && spec.link) continue;
    const fields = Object.entries(spec.fields) as [string, FieldSpec][];
    const base: Record<string, unknown> = {};
    for (const [f, s] of fields) base[f] = s.optional ? undefined : valid(s, f, peer);
    if (name === "Join") base.k = (base.j as unknown[])[0];
    const ok = cbor(build(name, base));
    cases.push({ what: `${name} (valid, checked below)`, body: ok });
    for (const [i, [f, s]] of fields.entries()) {
      const with_ = (v: unknown) => cbor(build(name, { ...base, [f]: v }));
      if (s.kind !== "payloads") {
        cases.push({ what: `${name}.${f} of the wrong type`, body: with_(wrongType(s)) });
      } else {
        cases.push({ what: `${name}.${f} of the wrong type`, body: with_([7]) });
        cases.push({ what: `${name}.${f} empty`, body: with_([]) });
      }
      for (const v of outOfRange(s)) {
        cases.push({ what: `${name}.${f} = ${JSON.stringify(v)?.slice(0, 30)}`, body: with_(v) });
      }
      if (!s.optional) {
        const items = build(name, base);
        items.splice(1 + i, 1);
        cases.push({ what: `${name}.${f} missing`, body: cbor(items) });
      }
    }
  }
  return cases.filter((c) => !c.what.endsWith("(valid, checked below)"));
}

/** Frames each field of which is fine, but that break a rule of the protocol. */
function ruleCases(peer: NodeRef, other: NodeRef): Case[] {
  const o = wireNode(other);
  const p = message("x");
  return [
    {
      what: "Data first hop naming another sender",
      body: cbor([T.Data, 5, 1, 0, -1, o, true, 1, null, null, p]),
    },
    { what: "Data with q but no lo", body: cbor([T.Data, 5, 2, 0, -1, o, true, 1, 3, null, p]) },
    {
      what: "acknowledged Data with two messages",
      body: cbor([T.Data, 5, 2, 0, -1, o, true, 1, 3, 1, p, p]),
    },
    {
      what: "Data that took no hop",
      body: cbor([T.Data, 5, 0, 0, -1, wireNode(peer), true, 1, null, null, p]),
    },
    {
      what: "Data ids past 2^53",
      body: cbor([T.Data, 5, 2, 0, -1, o, true, 2 ** 53 - 1, null, null, p]),
    },
    { what: "Join routed to another key", body: cbor([T.Join, 6, 2, 0, -1, wireNode(peer)]) },
    { what: "Join first hop for another node", body: cbor([T.Join, 9, 1, 0, -1, o]) },
    { what: "Lookup first hop answered elsewhere", body: cbor([T.Lookup, 5, 1, 0, -1, o, 1]) },
    { what: "LookupOk from another node", body: cbor([T.LookupOk, 1, o, null, 2]) },
    { what: "Ack by another node", body: cbor([T.Ack, 1, [5], other.id, 2]) },
    {
      what: "Bcast first hop from another node",
      body: cbor([T.Bcast, o, 1, 1, 5, false, null, null, p]),
    },
    {
      what: "acknowledged Bcast without q",
      body: cbor([T.Bcast, o, 1, 2, 5, true, null, null, p]),
    },
    {
      what: "Mcast a without qs",
      body: cbor([T.Mcast, o, 1, [5], true, 2, 0, true, null, null, p]),
    },
    {
      what: "Mcast qs of the wrong length",
      body: cbor([T.Mcast, o, 1, [5], true, 2, 0, true, [1, 2], [1], p]),
    },
    { what: "Succ q without a", body: cbor([T.Succ, o, 1, 1, 2, false, 4, 1, p]) },
    {
      what: "Hello after the handshake",
      body: cbor([T.Hello, 4, "p2ps", null, 777, "h", 1, 1024]),
      link: true,
    },
    { what: "Accept after the handshake", body: cbor([T.Accept]), link: true },
    { what: "an unknown frame type", body: cbor([200]) },
    { what: "an empty array", body: cbor([]) },
    { what: "not an array", body: cbor({ t: T.Ping, ts: 1 }) },
    { what: "bytes that are not CBOR", body: new Uint8Array([0xff, 0xfe]) },
    { what: "trailing bytes", body: new Uint8Array([...cbor([T.Ping, 1]), 0]) },
  ];
}

/** Statistics that must not move when frames are dropped (links, bytes and frames may). */
function steady(s: Statistics) {
  return {
    data: s.data,
    control: s.control,
    badLinks: s.badLinks,
    undeliverable: s.undeliverable,
    hops: s.hops,
    kinds: s.kinds,
  };
}

test("every field of every frame type out of range, of the wrong type or missing, and every broken rule, is dropped and counted over a live link", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: MAX_KEY } });
  await using b = await joinNet(a.ap, { node: { id: 500 } });
  await until(() => ringOk([a, b]), "a two-node ring");
  const net = a.info().net!;
  const r = await rogue(a.ap, 777, { net });
  try {
    const other: NodeRef = b.info().succ.id === 1 ? { id: 500, ap: b.ap } : b.info().succ;
    const cases = [...fieldCases(r.ref), ...ruleCases(r.ref, other)];
    // Each case must be refused by the codec itself, for the peer the node sees.
    const reader = codec.reader();
    for (const c of cases.filter((c) => !c.link)) {
      assert.throws(
        () => reader.read(c.body, 0, c.body.length, { maxKey: MAX_KEY, peer: r.ref }),
        WireError,
        c.what,
      );
    }
    const events: NodeEvent[] = [];
    const stream = a.events();
    const collecting = (async () => {
      for await (const e of stream) events.push(e);
    })();
    const routing = JSON.stringify(a.info());
    const before = steady(a.statistics());
    const badBefore = a.statistics().badFrames;
    for (const c of cases) await r.sendBody(c.body);
    await until(
      () => a.statistics().badFrames - badBefore === cases.length,
      `${cases.length} bad frames counted (got ${a.statistics().badFrames - badBefore})`,
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(events, [], "no event");
    assert.equal(JSON.stringify(a.info()), routing, "the routing state did not change");
    assert.deepEqual(steady(a.statistics()), before, "no other statistic moved");
    await stream.return?.();
    await collecting;
    // The link and the node still work.
    assert.equal((await b.send(1, "still routing", { ack: true })).node, 1);
  } finally {
    await r.close();
  }
});

test("a forged Undeliverable report and out-of-range joins raise no event and change no routing state", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: MAX_KEY } });
  await using b = await joinNet(a.ap, { node: { id: 500 } });
  await until(() => ringOk([a, b]), "a two-node ring");
  const r = await rogue(a.ap, 777, { net: a.info().net! });
  try {
    const events: NodeEvent[] = [];
    const stream = a.events();
    const collecting = (async () => {
      for await (const e of stream) events.push(e);
    })();
    // a sent two messages (ids 1 and 2); a report about 65,535 of them is a lie.
    await a.send(500, "one");
    await a.send(500, "two");
    const routing = JSON.stringify(a.info());
    const before = a.statistics();
    await r.send({ t: T.Undeliverable, id: 1, n: 65535, d: 5, why: "x", kd: "send" });
    await r.send({ t: T.Undeliverable, id: 3, n: 1, d: 5, why: "never sent", kd: "send" });
    for (const id of [5_000_000, -5, 2 ** 53 - 1]) {
      await r.sendBody(cbor([T.Join, id, 2, 0, -1, [id, "127.0.0.1", 9]]));
    }
    await handled(r, 1);
    assert.equal(a.statistics().badFrames - before.badFrames, 5, "five bad frames");
    await new Promise((resolve) => setTimeout(resolve, 0));
    // 2^53 − 1 is no CBOR integer cbor-x writes (it writes a float): malformed, not out of range.
    assert.deepEqual(a.statistics().badFrameReasons, { report: 2, range: 2, malformed: 1 });
    assert.equal(a.statistics().undeliverable, 0);
    assert.deepEqual(events.filter((e) => e.type !== "fingers"), []);
    assert.equal(JSON.stringify(a.info()), routing);
    // A true report is believed once: message 2 reported twice raises one event.
    await r.send({ t: T.Undeliverable, id: 2, n: 1, d: 500, why: "gone", kd: "send" });
    await r.send({ t: T.Undeliverable, id: 2, n: 1, d: 500, why: "gone", kd: "send" });
    await handled(r, 2);
    assert.equal(a.statistics().badFrameReasons.report, 3, "the repeat refused");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(
      events.filter((e) => e.type === "undeliverable").map((e) => [e.type, "id" in e && e.id]),
      [["undeliverable", 2]],
    );
    assert.equal(a.statistics().undeliverable, 1);
    await stream.return?.();
    await collecting;
  } finally {
    await r.close();
  }
});
