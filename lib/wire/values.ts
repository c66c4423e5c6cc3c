/**
 * Application values as CBOR, the encoding every message travels in. Values are encoded once by
 * their sender and decoded only where they are delivered; relays pass the bytes on untouched.
 *
 * @module
 */

import { Decoder, Encoder } from "../vendor/cbor_x/index.js";

// Byte strings go out as plain CBOR byte strings: cbor-x's default tags a Uint8Array (tag 64)
// when Node's Buffer exists, and the receiver then copies it twice and hands back a Buffer.
// Untagged, a Uint8Array comes back as a Uint8Array and decodes about twice as fast.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false });
// cbor-x's REUSE_BUFFER_MODE (exported by its JavaScript, absent from its type declarations).
const REUSE_BUFFER_MODE = 512;
const encodeInPlace = encoder.encode as unknown as (
  value: unknown,
  mode: number,
) => Uint8Array & { start: number; end: number };
// cbor-x writes into an 8 KiB buffer and replaces a full one with a new one of the same size: at
// ~150 bytes a message that is an allocation every ~50 messages. One larger value at start-up
// grows it to 64 KiB for good (each later replacement keeps the size).
encodeInPlace(new Uint8Array(15 * 1024), REUSE_BUFFER_MODE);

// Same wire format as cbor-x's default `decode` (no records, maps as objects). Values decoded on
// their own get copies of their byte strings; delivered messages get views into the bytes they
// arrived in (see decodeMessage), which saves a copy and an ArrayBuffer per byte string.
const copying = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });
const viewing = new Decoder({ useRecords: false, mapsAsObjects: true });

/**
 * Encodes an application value as CBOR, as the library does for every message it sends. The
 * result may be a view into cbor-x's shared output buffer: it stays valid and is never
 * rewritten, but it is not a buffer of its own.
 *
 * @example
 * ```ts
 * import { decodeValue, encodeValue } from "./values.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([1, 2, 3]);
 * assert.deepEqual(decodeValue(encodeValue({ bytes })), { bytes });
 * ```
 */
export function encodeValue(value: unknown): Uint8Array {
  // In this mode cbor-x returns its whole output buffer with the result's bounds instead of a
  // Buffer view of it (a Node Buffer costs several times a Uint8Array to create in Deno). It
  // never writes over earlier results: a full buffer is replaced, not reused.
  const out = encodeInPlace(value, REUSE_BUFFER_MODE);
  return new Uint8Array(out.buffer, out.byteOffset + out.start, out.end - out.start);
}

/**
 * Decodes one CBOR value; byte strings in it are copies, never views of `bytes`.
 *
 * @example
 * ```ts
 * import { decodeValue, encodeValue } from "./values.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeValue(encodeValue("hi")), "hi");
 * ```
 */
export function decodeValue(bytes: Uint8Array): unknown {
  return copying.decode(bytes);
}

/**
 * Decodes a delivered message: byte strings in it are views of `bytes` (read-only, and keeping
 * one keeps the buffer `bytes` lives in).
 *
 * @throws {Error} when `bytes` is not one well-formed CBOR value.
 */
export function decodeMessage(bytes: Uint8Array): unknown {
  return viewing.decode(bytes);
}
