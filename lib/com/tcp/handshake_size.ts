/**
 * How many bytes the link frames a peer may send before its link is up can take at most, read
 * off the wire schema: the largest hello (what a Noise handshake payload carries) and the largest
 * link frame of any kind (a refusal's text is the longest). The transport sizes what it reads
 * and buffers for a connection still in its handshake by these, so that a connection that has
 * not proved anything holds a few hundred bytes, not a full-size read buffer.
 *
 * The decoder accepts any head width CBOR allows (a small number may come as a 9-byte head), so
 * each item is counted at its widest: `MAX_NUMBER_BYTES` for a number or a head, plus the bytes
 * of a text.
 *
 * @module
 */

import { MAX_NUMBER_BYTES } from "../../wire/cbor.ts";
import { type FieldSpec, type FrameName, type FrameSpec, SCHEMA } from "../../wire/schema.ts";

/** The most bytes one field of a link frame takes on the wire. */
function fieldBound(frame: string, name: string, field: FieldSpec): number {
  switch (field.kind) {
    case "count":
    case "int":
    case "key":
    case "seq":
    case "hops":
    case "phase":
    case "finger":
    case "time":
    case "choice":
    case "bool":
      return MAX_NUMBER_BYTES;
    case "text":
      return MAX_NUMBER_BYTES + field.max!;
    default:
      // A link frame with an unbounded field would let a handshake buffer without bound.
      throw new Error(`${frame}.${name}: a link frame field of kind ${field.kind} has no bound`);
  }
}

/**
 * The most bytes the body of a frame of `spec` takes (its array head, its type, its fields), or
 * an error for a frame with a field of unbounded size.
 *
 * @example The largest accept (no fields) and hello
 * ```ts
 * import { frameBodyBound } from "./handshake_size.ts";
 * import { SCHEMA } from "../../wire/schema.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(frameBodyBound("Accept", SCHEMA.Accept), 18);
 * assert.ok(frameBodyBound("Hello", SCHEMA.Hello) > 64 + 64 + 255);
 * ```
 */
export function frameBodyBound(name: string, spec: FrameSpec): number {
  let n = 2 * MAX_NUMBER_BYTES;
  for (const [field, s] of Object.entries(spec.fields)) n += fieldBound(name, field, s);
  return n;
}

/**
 * The largest hello frame body the decoder accepts (what a handshake payload may carry).
 *
 * @example
 * ```ts
 * import { LARGEST_HELLO_BODY, LARGEST_LINK_FRAME_BODY } from "./handshake_size.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(LARGEST_HELLO_BODY <= LARGEST_LINK_FRAME_BODY); // a refusal's text is longer
 * ```
 */
export const LARGEST_HELLO_BODY: number = frameBodyBound("Hello", SCHEMA.Hello);

/**
 * The largest body of any link frame (hello, accept, refuse, bye) the decoder accepts.
 *
 * @example
 * ```ts
 * import { LARGEST_LINK_FRAME_BODY } from "./handshake_size.ts";
 * import { Codec } from "../../wire/codec.ts";
 * import { T } from "../../wire/schema.ts";
 * import assert from "node:assert/strict";
 *
 * const refusal = new Codec().encode({ t: T.Refuse, why: "x".repeat(512) });
 * assert.ok(refusal.length <= LARGEST_LINK_FRAME_BODY);
 * ```
 */
export const LARGEST_LINK_FRAME_BODY: number = Math.max(
  ...(Object.entries(SCHEMA) as [FrameName, FrameSpec][])
    .filter(([, spec]) => spec.link)
    .map(([name, spec]) => frameBodyBound(name, spec)),
);
