/**
 * The library's error types. Each names the offending value in its message and carries the
 * underlying error as `cause` when there is one.
 *
 * @module
 */

/**
 * Base class of every error this library throws.
 *
 * @example Telling errors apart
 * ```ts
 * import { InvalidArgumentError, P2PSError, Simulator } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator();
 * const node = sim.createNet({ net: { maxKey: 100 } });
 * await assert.rejects(node.send(500, "x"), (e) => e instanceof InvalidArgumentError && e instanceof P2PSError);
 * node.crash();
 * ```
 */
export class P2PSError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "P2PSError";
  }
}

/** An argument is invalid (id outside the identifier space, empty list, bad option...). */
export class InvalidArgumentError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidArgumentError";
  }
}

/** A message is larger than the frame limit, or cannot be encoded. */
export class MessageTooLargeError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MessageTooLargeError";
  }
}

/** An access point could not be reached or refused the connection. */
export class ConnectError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
  }
}

/** A peer's handshake was refused (protocol, version, network, duplicate id, secret). */
export class HandshakeError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
  }
}

/** An established link broke: the connection was reset, closed unexpectedly, or a write failed. */
export class LinkLostError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LinkLostError";
  }
}

/** A peer stopped reading: more was queued for it than a link may hold, and the link was dropped. */
export class SendQueueFullError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SendQueueFullError";
  }
}

/** A join was refused by the network (for example, the id is already in use). */
export class JoinError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JoinError";
  }
}

/** An operation did not complete in time. */
export class TimeoutError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * A DHT operation could not gather a majority of its key's replicas before its deadline. It is a
 * {@linkcode TimeoutError}; `answered` says how many replicas replied in the last round (so
 * `answered < needed` tells a network problem from contention, where replicas replied but kept
 * refusing in favour of concurrent writers).
 *
 * @example
 * ```ts
 * import { QuorumError, TimeoutError } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const e = new QuorumError("No quorum for key 7", { answered: 1, needed: 3, replicas: 4 });
 * assert.ok(e instanceof TimeoutError);
 * assert.equal(e.answered, 1);
 * ```
 */
export class QuorumError extends TimeoutError {
  /** Replicas that replied in the last round. */
  readonly answered: number;
  /** Replies needed (a majority of `replicas`). */
  readonly needed: number;
  /** The replication factor. */
  readonly replicas: number;
  /** Creates the error. */
  constructor(
    message: string,
    counts: { answered: number; needed: number; replicas: number },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "QuorumError";
    this.answered = counts.answered;
    this.needed = counts.needed;
    this.replicas = counts.replicas;
  }
}

/**
 * A compare-and-set write (`ifVersion`) found another version: `current` is the key's version
 * when the write was refused (`0` when the key is absent), the one to pass as `ifVersion` to try
 * again.
 *
 * @example
 * ```ts
 * import { Simulator, VersionConflictError } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * const sim = new Simulator();
 * const node = sim.createNet({ net: { maxKey: 1000 } });
 * await sim.settle(node.insert("k", "one"));
 * await assert.rejects(
 *   sim.settle(node.insert("k", "two", { ifVersion: 0 })),
 *   (e) => e instanceof VersionConflictError && e.current === 1,
 * );
 * node.crash();
 * ```
 */
export class VersionConflictError extends P2PSError {
  /** The key (in the identifier space). */
  readonly key: number;
  /** The key's current version (`0`: absent). */
  readonly current: number;
  /** Creates the error. */
  constructor(message: string, key: number, current: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "VersionConflictError";
    this.key = key;
    this.current = current;
  }
}

/** The destination node does not exist (no node has that id). */
export class NodeAbsentError extends P2PSError {
  /** Ids or keys that were not reached. */
  readonly missing: number[];
  /** Creates the error. */
  constructor(message: string, missing: number[], options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeAbsentError";
    this.missing = missing;
  }
}

/** The node has left or crashed; it can no longer send. */
export class NodeClosedError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeClosedError";
  }
}

/** A frame on a link broke the wire protocol (garbage, truncated, oversize). */
export class FrameError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FrameError";
  }
}

/**
 * A Noise protocol rule was broken: a handshake message out of turn or of the wrong size, a key
 * the pattern needs is missing, a Diffie-Hellman result is invalid, or a nonce is exhausted. The
 * session cannot continue.
 *
 * @example
 * ```ts
 * import { CipherState } from "./com/noise/cipher_state.ts";
 * import { CHACHAPOLY } from "./com/noise/crypto.ts";
 * import { NoiseError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const cs = new CipherState(CHACHAPOLY, new Uint8Array(32));
 * cs.setNonce(2n ** 64n - 1n); // reserved by the spec: the nonce is exhausted
 * assert.throws(() => cs.encryptWithAd(new Uint8Array(0), new Uint8Array(1)), NoiseError);
 * ```
 */
export class NoiseError extends P2PSError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NoiseError";
  }
}

/**
 * A Noise message failed authentication: it was tampered with, replayed, reordered, truncated,
 * or sealed under another key (a different pre-shared key, a different prologue). The message
 * is discarded and the nonce does not advance.
 *
 * @example
 * ```ts
 * import { CipherState } from "./com/noise/cipher_state.ts";
 * import { CHACHAPOLY } from "./com/noise/crypto.ts";
 * import { DecryptError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = new Uint8Array(0);
 * const sealed = new CipherState(CHACHAPOLY, new Uint8Array(32)).encryptWithAd(ad, new Uint8Array([1]));
 * sealed[0] ^= 1;
 * const receiver = new CipherState(CHACHAPOLY, new Uint8Array(32));
 * assert.throws(() => receiver.decryptWithAd(ad, sealed), DecryptError);
 * assert.equal(receiver.nonce, 0n);
 * ```
 */
export class DecryptError extends NoiseError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DecryptError";
  }
}
