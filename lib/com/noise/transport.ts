/**
 * Noise transport messages on a byte stream (spec §3, §5): after the handshake, every write is
 * sealed into as few transport messages as fit — each at most 65,535 bytes including its 16-byte
 * tag, and preceded by its length as 2 bytes, big-endian — and the receiving end reassembles and
 * opens them from whatever chunks the stream delivers. This file is the only one that knows that
 * byte layout.
 *
 * @module
 */

import { DecryptError, InvalidArgumentError, NoiseError } from "../../errors.ts";
import type { CipherState } from "./cipher_state.ts";
import { MAX_MESSAGE_LENGTH } from "./handshake_state.ts";

/**
 * Bytes of the length that precedes each transport message on the stream.
 *
 * @example
 * ```ts
 * import { CHACHAPOLY, CipherState, LENGTH_PREFIX_SIZE, TransportSealer } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const wire = new TransportSealer(new CipherState(CHACHAPOLY, new Uint8Array(32))).seal(new Uint8Array(5));
 * assert.equal(LENGTH_PREFIX_SIZE, 2);
 * assert.equal((wire[0] << 8) | wire[1], 5 + 16); // big-endian
 * ```
 */
export const LENGTH_PREFIX_SIZE = 2;
/**
 * Bytes of authentication tag in each transport message.
 *
 * @example
 * ```ts
 * import { CHACHAPOLY, CipherState, TAG_SIZE } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sealed = new CipherState(CHACHAPOLY, new Uint8Array(32)).encryptWithAd(new Uint8Array(0), new Uint8Array(3));
 * assert.equal(sealed.length, 3 + TAG_SIZE);
 * ```
 */
export const TAG_SIZE = 16;
/**
 * Most plaintext bytes one transport message carries: 65,535 − 16.
 *
 * @example
 * ```ts
 * import { MAX_TRANSPORT_PLAINTEXT, sealedLength } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(MAX_TRANSPORT_PLAINTEXT, 65519);
 * assert.equal(sealedLength(MAX_TRANSPORT_PLAINTEXT + 1), MAX_TRANSPORT_PLAINTEXT + 1 + 2 * 18);
 * ```
 */
export const MAX_TRANSPORT_PLAINTEXT = MAX_MESSAGE_LENGTH - TAG_SIZE;

const EMPTY = new Uint8Array(0);

/**
 * Bytes on the stream for a write of `plaintextLength` bytes: the plaintext, plus a length
 * prefix and a tag for each of its `ceil(plaintextLength / 65519)` messages.
 *
 * @example
 * ```ts
 * import { sealedLength } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(sealedLength(100), 2 + 100 + 16);
 * assert.equal(sealedLength(200 * 1024), 200 * 1024 + 4 * 18);
 * assert.equal(sealedLength(0), 0);
 * ```
 */
export function sealedLength(plaintextLength: number): number {
  const messages = Math.ceil(plaintextLength / MAX_TRANSPORT_PLAINTEXT);
  return plaintextLength + messages * (LENGTH_PREFIX_SIZE + TAG_SIZE);
}

function requireKey(cipher: CipherState, role: string): void {
  if (!cipher.hasKey()) {
    throw new InvalidArgumentError(`A transport ${role} needs a CipherState with a key`);
  }
}

/**
 * Seals writes with the sending `CipherState` of a completed handshake. The cost is per write,
 * not per frame: coalesce everything queued into one plaintext and seal it once.
 *
 * @example
 * ```ts
 * import { CHACHAPOLY, CipherState, TransportOpener, TransportSealer } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const sealer = new TransportSealer(new CipherState(CHACHAPOLY, key));
 * const opener = new TransportOpener(new CipherState(CHACHAPOLY, key));
 * const wire = sealer.seal(new TextEncoder().encode("hello"));
 * const got: string[] = [];
 * opener.push(wire, (p) => got.push(new TextDecoder().decode(p)));
 * assert.deepEqual(got, ["hello"]);
 * ```
 */
export class TransportSealer {
  readonly #cipher: CipherState;

  /**
   * Creates a sealer.
   *
   * @param cipher the sending `CipherState` (from `HandshakeState.split().send`). The sealer
   * advances its nonce; nothing else may use it.
   * @throws {InvalidArgumentError} if `cipher` has no key.
   */
  constructor(cipher: CipherState) {
    requireKey(cipher, "sealer");
    this.#cipher = cipher;
  }

  /**
   * Seals `plaintext` into `out` at `at`, as `ceil(plaintext.length / 65519)` length-prefixed
   * transport messages (none for an empty plaintext). Each message's ciphertext is written in
   * place next to its prefix: the output needs no further copy before the socket write. `out`
   * must not overlap `plaintext` (a message's output is longer than its input).
   *
   * @returns the number of bytes written, {@linkcode sealedLength}`(plaintext.length)`.
   * @throws {InvalidArgumentError} if `out` has less room than that after `at`.
   * @throws {NoiseError} if the nonce is exhausted (the session must end).
   *
   * @example A reusable output buffer
   * ```ts
   * import { CHACHAPOLY, CipherState, sealedLength, TransportSealer } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const sealer = new TransportSealer(new CipherState(CHACHAPOLY, new Uint8Array(32)));
   * const out = new Uint8Array(sealedLength(1000));
   * assert.equal(sealer.sealInto(new Uint8Array(1000), out, 0), out.length);
   * ```
   */
  sealInto(plaintext: Uint8Array, out: Uint8Array, at: number): number {
    const total = sealedLength(plaintext.length);
    if (out.length - at < total) {
      throw new InvalidArgumentError(
        `Sealing ${plaintext.length} bytes needs ${total} bytes of output, ` +
          `not ${Math.max(0, out.length - at)}`,
      );
    }
    let pos = at;
    for (let from = 0; from < plaintext.length; from += MAX_TRANSPORT_PLAINTEXT) {
      const part = plaintext.subarray(from, from + MAX_TRANSPORT_PLAINTEXT);
      const length = part.length + TAG_SIZE;
      out[pos] = length >>> 8;
      out[pos + 1] = length & 0xff;
      this.#cipher.encryptWithAdInto(EMPTY, part, out, pos + LENGTH_PREFIX_SIZE);
      pos += LENGTH_PREFIX_SIZE + length;
    }
    return pos - at;
  }

  /**
   * Seals `plaintext` into a new buffer (see {@linkcode TransportSealer.sealInto}).
   *
   * @throws {NoiseError} if the nonce is exhausted (the session must end).
   */
  seal(plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(sealedLength(plaintext.length));
    this.sealInto(plaintext, out, 0);
    return out;
  }
}

/**
 * Opens the transport messages of a stream with the receiving `CipherState` of a completed
 * handshake, from chunks split anywhere (inside a length prefix too). The nonce is implicit —
 * one per message, in order — so a replayed, reordered, dropped, truncated or altered message
 * fails authentication. After any error the opener is unusable: the stream cannot be trusted
 * again, so close it.
 *
 * @example Chunks split anywhere
 * ```ts
 * import { CHACHAPOLY, CipherState, TransportOpener, TransportSealer } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const key = new Uint8Array(32);
 * const wire = new TransportSealer(new CipherState(CHACHAPOLY, key)).seal(new Uint8Array([1, 2, 3]));
 * const opener = new TransportOpener(new CipherState(CHACHAPOLY, key));
 * const got: number[] = [];
 * for (const byte of wire) opener.push(new Uint8Array([byte]), (p) => got.push(...p));
 * assert.deepEqual(got, [1, 2, 3]);
 * opener.end();
 * ```
 */
export class TransportOpener {
  readonly #cipher: CipherState;
  /**
   * A message that spans chunks, prefix included. The buffer grows with the bytes that arrived
   * (doubling, up to the message's declared end), not with what its prefix declares, and is
   * reused: a peer that announces a 64 KiB message and sends little of it holds little.
   */
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;
  #broken = false;

  /**
   * Creates an opener.
   *
   * @param cipher the receiving `CipherState` (from `HandshakeState.split().receive`). The
   * opener advances its nonce; nothing else may use it.
   * @throws {InvalidArgumentError} if `cipher` has no key.
   */
  constructor(cipher: CipherState) {
    requireKey(cipher, "opener");
    this.#cipher = cipher;
  }

  /** Bytes of an incomplete message waiting for more input (0 at a message boundary). */
  get buffered(): number {
    return this.#pendingLength;
  }

  /**
   * Bytes of the buffer held for messages that span chunks: at most twice what arrived of the
   * largest one so far (and never more than a whole message with its prefix).
   *
   * @example A message announced at 64 KiB, 3 bytes of it sent
   * ```ts
   * import { CHACHAPOLY, CipherState, TransportOpener } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const opener = new TransportOpener(new CipherState(CHACHAPOLY, new Uint8Array(32)));
   * opener.push(new Uint8Array([0xff, 0xff, 1, 2, 3]), () => assert.fail("not complete"));
   * assert.equal(opener.buffered, 5);
   * assert.ok(opener.reserved < 16);
   * ```
   */
  get reserved(): number {
    return this.#pending.length;
  }

  /**
   * Feeds a chunk of the stream and calls `onPlaintext` with the plaintext of every message it
   * completes, in order. Plaintexts are new buffers, never views of `chunk`; the opener keeps no
   * reference to `chunk`.
   *
   * @throws {DecryptError} at the first message that fails authentication, or whose length
   * prefix is shorter than a tag; plaintexts before it have been delivered. An exception thrown
   * by `onPlaintext` propagates too, and also leaves the opener unusable (the rest of the chunk
   * is lost).
   * @throws {NoiseError} if the opener failed before, or the nonce is exhausted.
   */
  push(chunk: Uint8Array, onPlaintext: (plaintext: Uint8Array) => void): void {
    if (this.#broken) {
      throw new NoiseError("The transport opener failed earlier; the stream must be closed");
    }
    this.#broken = true; // until the chunk is consumed: a throw leaves it so
    let pos = 0;
    if (this.#pendingLength > 0) {
      pos = this.#fillPending(chunk);
      if (this.#pendingLength < LENGTH_PREFIX_SIZE || this.#pendingLength < this.#pendingEnd()) {
        this.#broken = false;
        return;
      }
      onPlaintext(this.#open(this.#pending.subarray(LENGTH_PREFIX_SIZE, this.#pendingLength)));
      this.#pendingLength = 0;
    }
    while (chunk.length - pos >= LENGTH_PREFIX_SIZE) {
      const length = this.#messageLength(chunk[pos], chunk[pos + 1]);
      const end = pos + LENGTH_PREFIX_SIZE + length;
      if (end > chunk.length) break;
      onPlaintext(this.#open(chunk.subarray(pos + LENGTH_PREFIX_SIZE, end)));
      pos = end;
    }
    if (pos < chunk.length) this.#fillPending(chunk.subarray(pos));
    this.#broken = false;
  }

  /**
   * Declares the end of the stream.
   *
   * @throws {DecryptError} if it ended inside a message (the stream was truncated).
   */
  end(): void {
    if (this.#pendingLength > 0) {
      throw new DecryptError(
        `The stream ended inside a transport message (${this.#pendingLength} bytes of it arrived)`,
      );
    }
  }

  #messageLength(high: number, low: number): number {
    const length = (high << 8) | low;
    if (length < TAG_SIZE) {
      throw new DecryptError(
        `A transport message declares ${length} bytes, less than its ${TAG_SIZE}-byte tag`,
      );
    }
    return length;
  }

  /** Where the pending message ends (its prefix must be complete). */
  #pendingEnd(): number {
    return LENGTH_PREFIX_SIZE + this.#messageLength(this.#pending[0], this.#pending[1]);
  }

  /** Copies the start of `bytes` into the pending message, up to its end; returns the count. */
  #fillPending(bytes: Uint8Array): number {
    let taken = 0;
    if (this.#pendingLength < LENGTH_PREFIX_SIZE) {
      taken = Math.min(LENGTH_PREFIX_SIZE - this.#pendingLength, bytes.length);
      this.#reserve(LENGTH_PREFIX_SIZE, LENGTH_PREFIX_SIZE);
      this.#pending.set(bytes.subarray(0, taken), this.#pendingLength);
      this.#pendingLength += taken;
      if (this.#pendingLength < LENGTH_PREFIX_SIZE) return taken;
    }
    const end = this.#pendingEnd();
    const more = Math.min(end - this.#pendingLength, bytes.length - taken);
    this.#reserve(this.#pendingLength + more, end);
    this.#pending.set(bytes.subarray(taken, taken + more), this.#pendingLength);
    this.#pendingLength += more;
    return taken + more;
  }

  /** Makes room for `size` bytes of the pending message, which ends at `end`. */
  #reserve(size: number, end: number): void {
    if (this.#pending.length >= size) return;
    const next = new Uint8Array(Math.min(end, Math.max(size, this.#pending.length * 2)));
    next.set(this.#pending.subarray(0, this.#pendingLength));
    this.#pending = next;
  }

  #open(ciphertext: Uint8Array): Uint8Array {
    return this.#cipher.decryptWithAd(EMPTY, ciphertext);
  }
}
