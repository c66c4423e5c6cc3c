/**
 * Length-prefixed CBOR frames: a 4-byte big-endian body length, then the CBOR body.
 *
 * {@linkcode encodeFrame} builds one frame; {@linkcode FrameDecoder} turns a byte stream cut at
 * arbitrary places back into frames. Both enforce a maximum body size so that a peer cannot make
 * us buffer or allocate more than that, whatever it declares.
 *
 * @module
 */

import { Decoder, Encoder } from "../vendor/cbor_x/index.js";
import { FrameError, MessageTooLargeError } from "../errors.ts";
import { HEAD_SLACK, headEnd, MAX_HEAD, readHead, readWith, writeHeadInto } from "./cbor_head.ts";
import type { Frame } from "./transport.ts";

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_SIZE = 4;

/** Default largest frame body accepted or sent, in bytes (4 MiB). */
export const DEFAULT_MAX_FRAME_SIZE: number = 4 * 1024 * 1024;

// Same wire format as cbor-x's default `decode` (no records, maps as objects). Values decoded on
// their own (decodeValue) get copies of their byte strings; frames get views into the chunk they
// arrived in (see FrameDecoder.push), which saves a copy and an ArrayBuffer per byte string.
const cbor = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });
const frameCbor = new Decoder({ useRecords: false, mapsAsObjects: true });

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

/**
 * Encodes an application value as CBOR, as the library does for every message it sends. The
 * result may be a view into cbor-x's shared output buffer: it stays valid and is never
 * rewritten, but it is not a buffer of its own.
 *
 * @example
 * ```ts
 * import { decodeValue, encodeValue } from "./framing.ts";
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
 * Decodes one CBOR value made by {@linkcode encodeValue} (or any CBOR encoder); byte strings in
 * it are copies, never views of `bytes`.
 *
 * @example
 * ```ts
 * import { decodeValue, encodeValue } from "./framing.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeValue(encodeValue("hi")), "hi");
 * ```
 */
export function decodeValue(bytes: Uint8Array): unknown {
  return cbor.decode(bytes);
}

const EMPTY = new Uint8Array(0);

/**
 * A value carried in a frame as an embedded CBOR item. A frame field declared as embedded (see
 * {@linkcode defineCompactFrame}) holds either the value's CBOR encoding (a `Uint8Array`, spliced
 * into the frame as it is, without a second encoding) or this wrapper: around a value (a frame
 * decoded by cbor-x), or around the bytes it arrived as (a frame read by the hand-written head
 * reader; decoded on first use, and passed on unchanged when the frame is forwarded).
 *
 * @example
 * ```ts
 * import { defineCompactFrame, Embedded, encodeFrame, FrameDecoder } from "./framing.ts";
 * import { encode } from "cbor-x/encode";
 * import assert from "node:assert/strict";
 *
 * defineCompactFrame(240, ["n"], "p");
 * const frames: Record<string, unknown>[] = [];
 * new FrameDecoder().push(encodeFrame({ t: 240, n: 1, p: encode({ hi: 1 }) }, 1024), (f) =>
 *   frames.push(f)
 * );
 * assert.ok(frames[0].p instanceof Embedded);
 * assert.deepEqual(frames[0].p.value, { hi: 1 });
 * ```
 */
export class Embedded {
  #value: unknown;
  #bytes: Uint8Array | null = null;
  #decoded: boolean;

  /** Wraps a decoded value. */
  constructor(value: unknown) {
    this.#value = value;
    this.#decoded = true;
  }

  /**
   * A value still in its CBOR form, as it arrived: decoded on first use of {@linkcode value},
   * and passed on as these same bytes when forwarded (a node that only relays a message never
   * decodes it).
   */
  static encoded(bytes: Uint8Array): Embedded {
    const e = new Embedded(undefined);
    e.#bytes = bytes;
    e.#decoded = false;
    return e;
  }

  /**
   * The value.
   *
   * @throws {Error} when its bytes are not valid CBOR (an encoded one, on first use).
   */
  get value(): unknown {
    if (!this.#decoded) {
      this.#value = frameCbor.decode(this.#bytes!);
      this.#decoded = true;
    }
    return this.#value;
  }

  /** Its CBOR bytes when it arrived encoded (`null` for a value wrapped by the constructor). */
  get bytes(): Uint8Array | null {
    return this.#bytes;
  }
}

/**
 * Compact layouts: a frame type registered here travels as a CBOR array `[t, ...values]` in the
 * registered field order instead of a map with string keys. Arrays encode and decode several
 * times faster, which matters for the frames every application message is carried in. The layer
 * above registers its hot frame types; the framing stays ignorant of what they mean.
 */
interface Layout {
  fields: readonly string[];
  embed: string | null;
  codec: CompactCodec | null;
}
const layouts = new Map<number, Layout>();
/** The same, by frame type, for the types a compact frame's second byte can name (0–23). */
const smallLayouts: (Layout | undefined)[] = [];
/** Hand-written readers of frame types without a compact layout (see defineFrameReader). */
const readers: ((src: Uint8Array, start: number, end: number) => Frame)[] = [];

/**
 * Makes frames of type `t` (below 24) read by `read`, a reader written with the `read*At`
 * functions of `cbor_head.ts`, when a body is an array with a two-byte count (`0x99`) whose first
 * item is `t`; its writer is the codec of another layout (see {@linkcode CompactCodec.merge}).
 * A body it does not take is decoded by cbor-x and refused, having no layout.
 */
export function defineFrameReader(
  t: number,
  read: (src: Uint8Array, start: number, end: number) => Frame,
): void {
  if (!(t >= 0 && t < 24)) throw new RangeError(`Frame type ${t} is not below 24`);
  readers[t] = read;
}

/**
 * Hand-written conversions for the hottest compact frame types (several times faster than the
 * generic field-by-field ones). Both must agree with the registered field list.
 */
export interface CompactCodec {
  /** The frame from a checked array `[t, ...fields, embedded]`, every listed field set. */
  build(v: unknown[]): Frame;
  /** `[t, ...fields]` of a frame (without the embedded field), absent fields `undefined`. */
  values(f: Frame): unknown[];
  /** The embedded field of a frame (a plain property read, for speed). */
  embedded?(f: Frame): unknown;
  /**
   * Writes the same head (declaring the embedded item too) into `buf` at `at` with the `*At`
   * functions of `cbor_head.ts`, and returns where it ends: at most `MAX_HEAD` bytes, with room
   * for them guaranteed. Returns `-1` for a frame it does not take (the generic path then runs).
   */
  write?(f: Frame, buf: Uint8Array, view: DataView, at: number, tailLength: number): number;
  /**
   * Appends the message of `f` to the frame written last, `buf[body..end)` (whose frame object
   * was `last`), when the two can share a frame: writes `tail` (the message's bytes) at `end`,
   * updates the frame's own header and returns its new end, at most `body + maxBody`. Returns
   * `-1` when they cannot share one (nothing is written then). Room for `tail` and 8 bytes more
   * is guaranteed.
   */
  merge?(
    f: Frame,
    last: Frame,
    buf: Uint8Array,
    view: DataView,
    body: number,
    end: number,
    tail: Uint8Array,
    maxBody: number,
  ): number;
  /**
   * Reads the whole frame from `src[start..end)` with the `read*At` functions of `cbor_head.ts`
   * (run by `readWith`, which turns bytes they do not take into `null`: the generic path then
   * runs), the embedded item as `Embedded.encoded(bytes)`. It is called only for bodies whose
   * second byte is this layout's type; like the generic reader, it leaves the embedded item to
   * be checked where it is decoded.
   */
  read?(src: Uint8Array, start: number, end: number): Frame;
}

/**
 * Makes frames of type `t` travel in the compact positional form, with `fields` in this order
 * (absent trailing fields are left out). With `embed`, that field carries an embedded CBOR value
 * (see {@linkcode Embedded}) and travels last, after every other field (absent ones as
 * `undefined`): its encoded bytes are spliced into the frame rather than wrapped in a byte
 * string, and the receiver decodes the value with the frame. `codec` (embedded layouts only)
 * replaces the generic conversions with hand-written ones. Both ends must register the same
 * layout: it is part of the wire protocol.
 */
export function defineCompactFrame(
  t: number,
  fields: readonly string[],
  embed?: string,
  codec?: CompactCodec,
): void {
  if (embed !== undefined && (fields.includes(embed) || fields.length + 2 > 23)) {
    throw new RangeError(`Bad compact layout for frame type ${t}`);
  }
  if (codec && embed === undefined) throw new RangeError(`A codec needs an embedded field`);
  const layout = { fields, embed: embed ?? null, codec: codec ?? null };
  layouts.set(t, layout);
  if (t >= 0 && t < 24) smallLayouts[t] = layout;
}

/** The embedded field of `frame`, a frame of an embedded layout. */
function embeddedOf(frame: Frame, layout: Layout): unknown {
  return layout.codec?.embedded ? layout.codec.embedded(frame) : frame[layout.embed!];
}

function toWire(frame: Frame, layout: Layout): unknown[] {
  if (layout.codec) return layout.codec.values(frame);
  const fields = layout.fields;
  const out: unknown[] = [frame.t];
  let last = 0;
  for (let i = 0; i < fields.length; i++) {
    const v = frame[fields[i]];
    out.push(v);
    if (v !== undefined) last = i + 1;
  }
  if (layout.embed === null) out.length = last + 1;
  return out;
}

function fromWire(v: unknown[]): Frame {
  const t = v[0];
  const layout = typeof t === "number" ? layouts.get(t) : undefined;
  const fields = layout?.fields;
  const n = v.length - 1;
  if (
    !fields ||
    (layout.embed === null ? n > fields.length : n !== fields.length + 1)
  ) {
    throw new FrameError(`Frame body is an array that matches no compact frame layout`);
  }
  if (layout.codec) return layout.codec.build(v);
  const frame: Frame = { t: t as number };
  const m = Math.min(n, fields.length);
  for (let i = 0; i < m; i++) if (v[i + 1] !== undefined) frame[fields[i]] = v[i + 1];
  if (layout.embed !== null) {
    const p = v[n];
    frame[layout.embed] = p instanceof Embedded ? p : new Embedded(p);
  }
  return frame;
}

/**
 * Frames encoded one after another into one growing buffer, each with its length prefix: what a
 * connection's writer hands to the socket in one write. Compact frames are written in place
 * (head by hand, embedded bytes copied once), without an intermediate buffer per frame.
 *
 * @example
 * ```ts
 * import { FrameDecoder, FrameWriter } from "./framing.ts";
 * import assert from "node:assert/strict";
 *
 * const w = new FrameWriter();
 * w.append({ t: 3, hi: 1 }, 1024);
 * w.append({ t: 3, hi: 2 }, 1024);
 * const got: unknown[] = [];
 * new FrameDecoder().push(w.bytes().slice(), (f) => got.push(f.hi));
 * assert.deepEqual(got, [1, 2]);
 * ```
 */
export class FrameWriter {
  #buf: Uint8Array;
  #view: DataView;
  /** Bytes written so far. */
  length = 0;
  /** Whether the last frame appended went into the frame before it (see `CompactCodec.merge`). */
  merged = false;
  /** Frames in the buffer (a run of messages counts once). */
  count = 0;
  /** The frame appended last, and where its length prefix is; `null` after a reset. */
  #last: Frame | null = null;
  #lastStart = 0;

  /** Starts with room for `size` bytes (it grows as needed, by at least 16 KiB). */
  constructor(size = 64 * 1024) {
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Room for `n` more bytes after `from` (bytes before `from` are kept when it grows). */
  #reserve(n: number, from = this.length): void {
    const need = from + n + HEAD_SLACK;
    if (need <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(need, 2 * this.#buf.length, 16 * 1024));
    next.set(this.#buf.subarray(0, from));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /**
   * Appends `frame` with its length prefix, or, with a `runLimit`, into the frame appended last
   * when the codec of its type can join them (see {@linkcode CompactCodec.merge}) within
   * `runLimit` bytes of body.
   *
   * @throws {MessageTooLargeError} when its body is over `maxFrameSize` or cannot be encoded;
   * nothing is appended then.
   */
  append(frame: Frame, maxFrameSize: number, runLimit = 0): void {
    const start = this.length;
    const t = frame.t;
    const layout = typeof t === "number" && t >= 0 && t < 24 ? smallLayouts[t] : layouts.get(t);
    const last = this.#last;
    if (
      last !== null && runLimit > 0 && layout?.codec?.merge &&
      this.#mergeInto(frame, layout, last, Math.min(maxFrameSize, runLimit))
    ) {
      this.merged = true;
      this.#last = frame;
      return;
    }
    let end: number;
    try {
      end = layout ? this.#compact(frame, layout, start) : this.#whole(encodeValue(frame), start);
    } catch (e) {
      throw new MessageTooLargeError(
        `Frame of type ${frame.t} cannot be encoded: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const size = end - start - FRAME_HEADER_SIZE;
    if (size > maxFrameSize) {
      throw new MessageTooLargeError(
        `Frame of type ${frame.t} is ${size} bytes, over the ${maxFrameSize}-byte limit`,
      );
    }
    writeFrameHeader(this.#buf, start, size);
    this.length = end;
    this.merged = false;
    this.count++;
    this.#last = frame;
    this.#lastStart = start;
  }

  /** Appends `frame`'s message to the frame before it, if the codec can; `false` if not. */
  #mergeInto(frame: Frame, layout: Layout, last: Frame, maxFrameSize: number): boolean {
    const p = embeddedOf(frame, layout);
    const tail = p instanceof Uint8Array ? p : p instanceof Embedded ? p.bytes : null;
    if (tail === null) return false;
    this.#reserve(tail.length + 8);
    const body = this.#lastStart + FRAME_HEADER_SIZE;
    const end = layout.codec!.merge!(
      frame,
      last,
      this.#buf,
      this.#view,
      body,
      this.length,
      tail,
      maxFrameSize,
    );
    if (end < 0) return false;
    writeFrameHeader(this.#buf, this.#lastStart, end - body);
    this.length = end;
    return true;
  }

  /** Copies an encoded body in after a length prefix; returns the end. */
  #whole(body: Uint8Array, start: number): number {
    this.#reserve(FRAME_HEADER_SIZE + body.length);
    this.#buf.set(body, start + FRAME_HEADER_SIZE);
    return start + FRAME_HEADER_SIZE + body.length;
  }

  #compact(frame: Frame, layout: Layout, start: number): number {
    let tail: Uint8Array | null = null;
    if (layout.embed !== null) {
      const p = embeddedOf(frame, layout);
      if (p instanceof Uint8Array) tail = p;
      else if (p instanceof Embedded) tail = p.bytes ?? encodeValue(p.value);
      else {
        throw new TypeError(
          `field "${layout.embed}" holds neither CBOR bytes nor an Embedded value`,
        );
      }
    }
    const extra = tail ? 1 : 0;
    this.#reserve(FRAME_HEADER_SIZE + MAX_HEAD + (tail ? tail.length : 0));
    const at = start + FRAME_HEADER_SIZE;
    const write = layout.codec?.write;
    let end = write ? write(frame, this.#buf, this.#view, at, tail ? tail.length : -1) : -1;
    const items = end < 0 ? toWire(frame, layout) : null;
    if (items) end = writeHeadInto(this.#buf, this.#view, at, at + MAX_HEAD, items, extra);
    if (items && end < 0) {
      // Not a head the hand-written encoder takes: cbor-x writes it (declaring the extra item).
      const bytes = encodeValue(items);
      if (extra) bytes[0] = 0x80 | (items.length + 1);
      end = this.#whole(bytes, start);
    }
    if (tail) {
      this.#reserve(tail.length, end);
      this.#buf.set(tail, end);
      end += tail.length;
    }
    return end;
  }

  /** The frames appended so far, as one byte range (valid until the next append or reset). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /** Bytes the buffer holds before it has to grow. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Forgets what was appended; the buffer is reused. */
  reset(): void {
    this.length = 0;
    this.merged = false;
    this.count = 0;
    this.#last = null;
  }
}

/** Writes the big-endian length prefix of a `length`-byte body at `buf[at..at+4)`. */
export function writeFrameHeader(buf: Uint8Array, at: number, length: number): void {
  buf[at] = length >>> 24;
  buf[at + 1] = (length >>> 16) & 0xff;
  buf[at + 2] = (length >>> 8) & 0xff;
  buf[at + 3] = length & 0xff;
}

/**
 * Encodes `frame` as one complete wire frame: length prefix and CBOR body (the bytes a
 * {@linkcode FrameWriter} appends for it).
 *
 * @throws {MessageTooLargeError} when the body is larger than `maxFrameSize` or cannot be encoded.
 */
export function encodeFrame(frame: Frame, maxFrameSize: number): Uint8Array {
  const w = new FrameWriter(0);
  w.append(frame, maxFrameSize);
  return w.bytes();
}

function readLength(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return "a byte string";
  if (typeof v === "object") return `a ${v.constructor?.name ?? "prototype-less"} object`;
  return `a ${typeof v}`;
}

function undecodable(body: Uint8Array, e: unknown): FrameError {
  return new FrameError(
    `Undecodable frame body (${body.length} bytes): ${(e as Error).message}`,
    { cause: e },
  );
}

/**
 * The frames every message travels in, read from `src[start..end)`: the head read by hand (see
 * `readHead`), the embedded value left encoded (see {@linkcode Embedded.encoded}). `null` when
 * the body is not such a frame with a simple head.
 */
function decodeCompact(src: Uint8Array, start: number, end: number): Frame | null {
  if (src[start] === 0x99 && end - start > 4 && src[start + 3] < 24) {
    const read = readers[src[start + 3]];
    return read ? readWith(src, start, end, read) : null;
  }
  const t = end - start > 2 && src[start] >> 5 === 4 ? src[start + 1] : 24;
  const layout = t < 24 ? smallLayouts[t] : undefined;
  if (!layout || layout.embed === null) return null;
  const read = layout.codec?.read;
  if (read) {
    const frame = readWith(src, start, end, read);
    if (frame) return frame;
  }
  const n = layout.fields.length + 1;
  const items = readHead(src, n + 1, n, start, end, 1);
  if (!items || headEnd.at >= end) return null;
  // The message stays encoded until someone reads it: a node that relays it never decodes it.
  items[n] = Embedded.encoded(src.subarray(headEnd.at, end));
  return fromWire(items);
}

/** Decodes the frame body `src[start..end)`. */
function decodeBody(src: Uint8Array, start: number, end: number): Frame {
  const compact = decodeCompact(src, start, end);
  if (compact) return compact;
  const body = src.subarray(start, end);
  let v: unknown;
  try {
    v = frameCbor.decode(body);
  } catch (e) {
    throw undecodable(body, e);
  }
  if (Array.isArray(v)) return fromWire(v);
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) {
    throw new FrameError(`Frame body is ${describe(v)}, not an object with a numeric "t" field`);
  }
  const t = (v as { t?: unknown }).t;
  if (typeof t !== "number") {
    throw new FrameError(`Frame has no numeric "t" field (found ${describe(t)})`);
  }
  return v as Frame;
}

/**
 * Reassembles frames from a byte stream that arrives in chunks of any size.
 *
 * Whole frames inside a chunk are decoded straight from it; only the incomplete frame at the end
 * of a chunk is copied, into one buffer that is reused (and grows up to the frame limit).
 */
export class FrameDecoder {
  readonly #max: number;
  /** Bytes of the incomplete frame carried over from earlier chunks. */
  #buf: Uint8Array = EMPTY;
  #len = 0;
  /** The carried-over bytes may hold whole frames (left there by a throwing `onFrame`). */
  #several = false;

  /** Creates a decoder that rejects bodies longer than `maxFrameSize` bytes. */
  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.#max = maxFrameSize;
  }

  /** Bytes of an incomplete frame waiting for more input (0 at a frame boundary). */
  get buffered(): number {
    return this.#len;
  }

  #checkLength(length: number): void {
    if (length > this.#max) {
      this.#len = 0;
      throw new FrameError(
        `Frame declares a ${length}-byte body, over the ${this.#max}-byte limit`,
      );
    }
  }

  #reserve(size: number): void {
    if (this.#buf.length >= size) return;
    const next = new Uint8Array(Math.max(size, Math.min(this.#buf.length * 2, this.#max + 4)));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /**
   * Feeds `chunk` and calls `onFrame` for every frame it completes, in order. Byte strings in
   * frames that lie whole inside `chunk` are views of it, not copies: the caller must not write
   * into `chunk` afterwards (the TCP transport hands each read its own buffer). Frames that span
   * chunks are decoded from a copy of their own; the decoder keeps no reference to `chunk`.
   *
   * @throws {FrameError} at the first oversize declared length, undecodable body or body that is
   * not an object with a numeric `t`; frames before it have been delivered. The stream cannot be
   * resynchronised after that: discard the decoder.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.#several) {
      // Rare: reprocess the carried-over frames as if they had arrived with this chunk.
      const joined = new Uint8Array(this.#len + chunk.length);
      joined.set(this.#buf.subarray(0, this.#len));
      joined.set(chunk, this.#len);
      chunk = joined;
      this.#len = 0;
      this.#several = false;
    }
    const n = chunk.length;
    let pos = 0;
    let broken = false;
    let threw = true;
    try {
      if (this.#len > 0) {
        if (this.#len < FRAME_HEADER_SIZE) {
          const take = Math.min(FRAME_HEADER_SIZE - this.#len, n);
          this.#buf.set(chunk.subarray(0, take), this.#len);
          this.#len += take;
          pos = take;
          if (this.#len < FRAME_HEADER_SIZE) return;
        }
        const length = readLength(this.#buf, 0);
        broken = true;
        // Only now, with the length checked, may the buffer grow towards it.
        this.#checkLength(length);
        const total = FRAME_HEADER_SIZE + length;
        this.#reserve(total);
        const take = Math.min(total - this.#len, n - pos);
        this.#buf.set(chunk.subarray(pos, pos + take), this.#len);
        this.#len += take;
        pos += take;
        if (this.#len < total) {
          broken = false;
          return;
        }
        this.#len = 0;
        // A copy: the carry-over buffer is reused, and the frame may keep views of its bytes.
        const body = this.#buf.slice(FRAME_HEADER_SIZE, total);
        const frame = decodeBody(body, 0, body.length);
        broken = false;
        onFrame(frame);
      }
      while (n - pos >= FRAME_HEADER_SIZE) {
        const length = readLength(chunk, pos);
        broken = true;
        this.#checkLength(length);
        const start = pos + FRAME_HEADER_SIZE;
        if (n - start < length) {
          broken = false;
          break;
        }
        pos = start + length;
        const frame = decodeBody(chunk, start, pos);
        broken = false;
        onFrame(frame);
      }
      threw = false;
    } finally {
      // Also when `onFrame` throws, so that the bytes after the frame it saw are kept. The tail
      // is at most one chunk: growing to its declared length waits until the length is checked.
      const rest = n - pos;
      if (!broken && rest > 0 && this.#len === 0) {
        this.#reserve(Math.max(rest, FRAME_HEADER_SIZE));
        this.#buf.set(chunk.subarray(pos), 0);
        this.#len = rest;
        this.#several = threw;
      }
    }
  }

  /**
   * Declares the end of the stream.
   *
   * @throws {FrameError} when it ends inside a frame (a truncated frame).
   */
  end(): void {
    const got = this.#len;
    if (got === 0) return;
    this.#len = 0;
    if (got < FRAME_HEADER_SIZE) {
      throw new FrameError(`Truncated frame: the stream ended ${got} bytes into a length prefix`);
    }
    const total = FRAME_HEADER_SIZE + readLength(this.#buf, 0);
    throw new FrameError(
      `Truncated frame: the stream ended ${got} bytes into a ${total}-byte frame`,
    );
  }
}
