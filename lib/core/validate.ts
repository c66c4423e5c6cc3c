/**
 * Shape checks for frames from peers. A peer that passed the handshake can still send frames
 * whose fields have the wrong types (a bug, another implementation, malice); the ring drops
 * those and counts them rather than letting a `TypeError` half-apply a state change.
 *
 * @module
 */

import type { Frame } from "../com/transport.ts";
import { isPayload, T } from "./messages.ts";

function int(v: unknown): boolean {
  return Number.isSafeInteger(v);
}

function ref(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const n = v as { id?: unknown; ap?: { hostname?: unknown; port?: unknown } };
  return int(n.id) && typeof n.ap === "object" && n.ap !== null &&
    typeof n.ap.hostname === "string" && int(n.ap.port);
}

function refs(v: unknown): boolean {
  return Array.isArray(v) && v.every(ref);
}

function wireRef(v: unknown): boolean {
  return Array.isArray(v) && v.length === 3 && int(v[0]) && typeof v[1] === "string" &&
    int(v[2]);
}

function ints(v: unknown): boolean {
  return Array.isArray(v) && v.every(int);
}

function routed(f: Frame): boolean {
  return int(f.k) && int(f.h) && (f.ph === 0 || f.ph === 1) && int(f.f);
}

function acked(f: Frame): boolean {
  return f.q === undefined || (int(f.q) && int(f.lo));
}

/** The name of the first ill-typed field of `f`, or `null` when its shape is right. */
export function frameProblem(f: Frame): string | null {
  return wellFormed(f) ? null : `Malformed frame of type ${f.t}`;
}

function wellFormed(f: Frame): boolean {
  switch (f.t) {
    case T.InfoReq:
    case T.Notify:
      return true;
    case T.Info: {
      const n = f.net as Record<string, unknown> | null;
      return typeof n === "object" && n !== null && typeof n.name === "string" &&
        typeof n.netId === "string" && int(n.maxKey) && typeof n.fingers === "string" &&
        int(n.succListSize);
    }
    case T.Join:
      return routed(f) && ref(f.j);
    case T.Lookup:
      return routed(f) && ref(f.r) && int(f.q);
    case T.LookupOk:
      return int(f.q) && ref(f.n) && (f.p === null || ref(f.p)) && int(f.h);
    case T.JoinOk:
      return ref(f.p) && refs(f.s) && (f.s as unknown[]).length > 0 && refs(f.fg);
    case T.Stab:
      return (f.p === null || ref(f.p)) && refs(f.s);
    case T.Leave:
      return ref(f.p) && refs(f.s);
    case T.Fix:
      return int(f.i) && ref(f.n);
    case T.Data:
      return routed(f) && (f.s === null || wireRef(f.s)) && typeof f.r === "boolean" &&
        int(f.id) &&
        isPayload(f.p) &&
        acked(f);
    case T.DataRun:
      return routed(f) && (f.s === null || wireRef(f.s)) && typeof f.r === "boolean" &&
        int(f.id) && Array.isArray(f.ps) && f.ps.length > 0 &&
        int((f.id as number) + f.ps.length - 1) && f.ps.every(isPayload);
    case T.Undeliverable:
      return int(f.id) && int(f.d) && typeof f.why === "string" &&
        (f.n === undefined || (int(f.n) && (f.n as number) >= 1 && (f.n as number) <= 0xffff &&
          int((f.id as number) + (f.n as number) - 1)));
    case T.Bcast:
      return wireRef(f.s) && int(f.id) && isPayload(f.p) && int(f.h) && int(f.lim) && acked(f);
    case T.Mcast:
      return wireRef(f.s) && int(f.id) && ints(f.ks) && typeof f.r === "boolean" &&
        isPayload(f.p) && int(f.h) && (f.ph === 0 || f.ph === 1) &&
        (f.a !== 1 || (ints(f.qs) && ints(f.los)));
    case T.Succ:
      return wireRef(f.s) && int(f.id) && int(f.n) && isPayload(f.p) && int(f.h) && acked(f);
    case T.Ack:
      return int(f.id) && ints(f.ks) && int(f.n) && int(f.h);
    case T.BcastDone:
      return int(f.s) && int(f.id) && (f.w === 1 || ints(f.r));
    case T.Ping:
    case T.Pong:
      return typeof f.ts === "number";
    default:
      return false;
  }
}
