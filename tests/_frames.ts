// Random frames that the schema accepts, built from the schema itself, for the codec tests.
import { encode } from "cbor-x/encode";
import {
  type FieldSpec,
  type Frame,
  type FrameName,
  type FrameOf,
  HOP_LIMIT,
  SCHEMA,
  T,
} from "../lib/wire/schema.ts";
import type { NodeRef } from "../lib/wire/types.ts";
import { EDGE_NUMBERS } from "./_values.ts";

type Rng = () => number;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)];
}

function int(rng: Rng, lo: number, hi: number): number {
  // Edge values of CBOR's argument widths half of the time, uniform values otherwise.
  if (rng() < 0.5) {
    const edges = EDGE_NUMBERS.filter((n) => n >= lo && n <= hi);
    if (edges.length) return pick(rng, edges);
  }
  return lo + Math.floor(rng() * (hi - lo + 1));
}

function text(rng: Rng, max: number): string {
  const alphabet = ["a", "Z", "0", "-", ".", "é", "日", "🌍"];
  let s = "";
  const n = Math.floor(rng() * Math.min(max, 20));
  for (let i = 0; i < n; i++) {
    const c = pick(rng, alphabet);
    if (new TextEncoder().encode(s + c).length > max) break;
    s += c;
  }
  return s;
}

function node(rng: Rng, maxKey: number): NodeRef {
  return {
    id: int(rng, 0, maxKey - 1),
    ap: {
      hostname: pick(rng, ["127.0.0.1", "sim", "node.example", "::1"]),
      port: int(rng, 0, 65535),
    },
  };
}

/** A short array's length within the field's bounds. */
function length(rng: Rng, s: FieldSpec): number {
  const min = s.min ?? 0;
  return int(rng, min, Math.min(s.max!, Math.max(min, 5)));
}

function value(s: FieldSpec, rng: Rng, maxKey: number): unknown {
  switch (s.kind) {
    case "key":
      return int(rng, 0, maxKey - 1);
    case "hops":
      return int(rng, 0, HOP_LIMIT);
    case "phase":
      return int(rng, 0, 1);
    case "finger":
      return int(rng, -1, 255);
    case "seq":
      return int(rng, 0, 2 ** 40);
    case "count":
      return int(rng, s.min!, Math.min(s.max!, 2 ** 40));
    case "int":
      return rng() < 0.5 ? int(rng, 0, 2 ** 40) : -1 - int(rng, 0, 2 ** 40);
    case "time":
      return rng() * 1e9;
    case "bool":
      return rng() < 0.5;
    case "text":
      return text(rng, s.max!);
    case "choice":
      return pick(rng, s.values!);
    case "node":
      return node(rng, maxKey);
    case "nodes":
      return Array.from(
        { length: int(rng, s.min ?? 0, Math.min(s.max!, 5)) },
        () => node(rng, maxKey),
      );
    case "keys":
      return Array.from({ length: length(rng, s) }, () => int(rng, 0, maxKey - 1));
    case "seqs":
      return Array.from({ length: length(rng, s) }, () => int(rng, 0, 2 ** 40));
    case "payload":
      return new Uint8Array(
        encode(pick(rng, [null, 1, "msg", { a: [1, 2] }, new Uint8Array(300)])),
      );
    case "payloads":
      return Array.from(
        { length: 1 + Math.floor(rng() * 3) },
        () => new Uint8Array(encode(int(rng, 0, 1000))),
      );
    case "rows":
      return Array.from({ length: int(rng, s.min ?? 0, Math.min(s.max!, 4)) }, () => {
        const row: Record<string, unknown> = {};
        for (const [k, r] of Object.entries(s.of!)) {
          row[k] = r.optional && rng() < 0.3 ? undefined : value(r, rng, maxKey);
        }
        return row;
      });
  }
}

/** A random frame of type `name` that the schema accepts from `peer` in a space of `maxKey`. */
export function randomFrame(name: FrameName, rng: Rng, maxKey: number, peer: NodeRef): Frame {
  const spec = SCHEMA[name];
  const f: Record<string, unknown> = { t: spec.t };
  for (const [k, s] of Object.entries(spec.fields) as [string, FieldSpec][]) {
    f[k] = s.optional && rng() < 0.3 ? undefined : value(s, rng, maxKey);
    if (s.peer === "always") f[k] = s.kind === "key" ? peer.id : peer;
  }
  // The rules that tie fields together.
  if (typeof f.h === "number" && f.h <= 1) {
    for (const [k, s] of Object.entries(spec.fields) as [string, FieldSpec][]) {
      if (s.peer === "firstHop" && f[k] !== undefined) f[k] = peer;
    }
  }
  if (name === "Join") f.k = (f.j as NodeRef).id;
  if (name === "Data") {
    if (f.h === 0) f.h = 1;
    if (f.q === undefined || f.lo === undefined) f.q = f.lo = undefined;
    else f.ps = (f.ps as Uint8Array[]).slice(0, 1);
  }
  if (name === "Bcast" || name === "Succ") {
    if (f.a) {
      f.q ??= 1;
      f.lo ??= 1;
    } else f.q = f.lo = undefined;
  }
  if (name === "Mcast") {
    const n = (f.ks as number[]).length;
    if (f.a) {
      f.qs = Array.from({ length: n }, (_, i) => i + 1);
      f.los = Array.from({ length: n }, () => 1);
    } else f.qs = f.los = undefined;
  }
  if (name === "DhtSyncReq") f.x = (f.x as number) % 2 ** (5 * (f.lv as number));
  if (name === "DhtPull") f.xs = (f.xs as number[]).map((x) => x % 2 ** (5 * (f.lv as number)));
  return f as Frame;
}

/** Every frame type's name. */
export const FRAME_NAMES: readonly FrameName[] = Object.keys(SCHEMA) as FrameName[];

/**
 * An acknowledged data frame from `from` to key 9 on its second hop, carrying the messages `ps`
 * (each CBOR bytes), with `extra` fields replaced: the codec and stream tests' usual frame.
 */
export function dataFrame(
  from: NodeRef,
  id: number,
  ps: Uint8Array[],
  extra: Partial<FrameOf<"Data">> = {},
): FrameOf<"Data"> {
  return {
    t: T.Data,
    k: 9,
    h: 2,
    ph: 0,
    f: -1,
    s: from,
    r: true,
    id,
    q: undefined,
    lo: undefined,
    ps,
    ...extra,
  };
}
