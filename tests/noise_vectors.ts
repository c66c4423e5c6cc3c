/**
 * Runs Noise test vectors in the cacophony format against `lib/com/noise`:
 * `{ "vectors": [{ protocol_name, init_prologue, init_psks?, init_static?, init_ephemeral,
 * init_remote_static?, resp_prologue, resp_psks?, resp_static?, resp_ephemeral?,
 * resp_remote_static?, handshake_hash?, messages: [{ payload, ciphertext }] }] }`, bytes in hex.
 *
 * Each vector drives an initiator and a responder together: for every handshake message the
 * writer's output must equal the vector's ciphertext byte for byte and the reader must recover
 * the payload from it; both must end with the vector's handshake hash (when given); the messages
 * after the handshake are transport messages, alternating directions (all from the initiator
 * after a one-way pattern), sealed and opened with the split `CipherState`s. Vectors whose
 * pattern, modifier or crypto functions the library does not support are skipped; a malformed
 * vector is a failure that says what is wrong.
 *
 * As a script: `deno run --allow-read tests/noise_vectors.ts FILE...` (or
 * `deno task noise-vectors FILE...`) prints a line per failure and ends with
 * `N passed, N failed, N skipped`; it exits with 1 if any vector failed.
 *
 * @module
 */

import {
  type CipherState,
  HandshakeState,
  type KeyPair,
  type NoiseProtocol,
  parseProtocolName,
} from "../lib/com/noise/mod.ts";

/**
 * A vector that did not pass, and why.
 *
 * @example
 * ```ts
 * import { runVectors, type VectorFailure } from "./noise_vectors.ts";
 * import assert from "node:assert/strict";
 *
 * const report = runVectors({ vectors: [{ protocol_name: "Noise_XX_25519" }] });
 * const failure: VectorFailure = report.failures[0];
 * assert.equal(failure.index, 0);
 * assert.match(failure.reason, /not a Noise protocol name/);
 * ```
 */
export interface VectorFailure {
  /** Position of the vector in the file's `vectors` array (-1: the file itself). */
  readonly index: number;
  /** The vector's `protocol_name`, or `"?"` when it has none. */
  readonly protocolName: string;
  /** What went wrong, naming the message and party where there is one. */
  readonly reason: string;
}

/**
 * The outcome of a vector file.
 *
 * @example
 * ```ts
 * import { runVectors, type VectorReport } from "./noise_vectors.ts";
 * import assert from "node:assert/strict";
 *
 * const report: VectorReport = runVectors({ vectors: [] });
 * assert.deepEqual([report.passed, report.failed, report.skipped], [0, 0, 0]);
 * ```
 */
export interface VectorReport {
  /** Vectors that passed. */
  readonly passed: number;
  /** Vectors that failed (including malformed ones). */
  readonly failed: number;
  /** Vectors skipped because the library does not support their protocol. */
  readonly skipped: number;
  /** One entry per failed vector. */
  readonly failures: readonly VectorFailure[];
}

const EMPTY = new Uint8Array(0);

/** A vector's fault, reported as a failure with this message. */
class VectorProblem extends Error {}

type Fields = Record<string, unknown>;

function bytes(fields: Fields, key: string): Uint8Array;
function bytes(fields: Fields, key: string, optional: true): Uint8Array | undefined;
function bytes(fields: Fields, key: string, optional = false): Uint8Array | undefined {
  const value = fields[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string") throw new VectorProblem(`field ${key} is not a hex string`);
  try {
    return Uint8Array.fromHex(value);
  } catch {
    throw new VectorProblem(`field ${key} is not valid hex`);
  }
}

function byteList(fields: Fields, key: string): Uint8Array[] {
  const value = fields[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new VectorProblem(`field ${key} is not an array`);
  return value.map((_, i) => bytes(value as unknown as Fields, String(i)));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Runs `step`, prefixing any error with where it happened. */
function at<T>(where: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    const error = e as Error;
    throw new VectorProblem(
      `${where}: ${e instanceof VectorProblem ? "" : `${error.name}: `}${error.message}`,
    );
  }
}

function party(protocol: NoiseProtocol, fields: Fields, initiator: boolean): HandshakeState {
  const prefix = initiator ? "init" : "resp";
  const pair = (key: string): KeyPair | undefined => {
    const privateKey = bytes(fields, `${prefix}_${key}`, true);
    return privateKey && at(`${prefix}_${key}`, () => protocol.dh.keyPairFromPrivate(privateKey));
  };
  return at(`${initiator ? "initiator" : "responder"} Initialize`, () =>
    new HandshakeState({
      protocol,
      initiator,
      prologue: bytes(fields, `${prefix}_prologue`),
      psks: byteList(fields, `${prefix}_psks`),
      s: pair("static"),
      e: pair("ephemeral"),
      rs: bytes(fields, `${prefix}_remote_static`, true),
    }));
}

/** Runs one vector: `"passed"`, or `"skipped"`; throws a VectorProblem when it fails. */
function runVector(fields: Fields): "passed" | "skipped" {
  const name = fields.protocol_name;
  if (typeof name !== "string") throw new VectorProblem("field protocol_name is not a string");
  const lookup = parseProtocolName(name);
  if (lookup.status === "unsupported") return "skipped";
  if (lookup.status === "invalid") throw new VectorProblem(lookup.reason);
  const { protocol } = lookup;
  const initiator = party(protocol, fields, true);
  const responder = party(protocol, fields, false);
  if (!Array.isArray(fields.messages)) throw new VectorProblem("field messages is not an array");
  const messages = (fields.messages as Fields[]).map((m, i) => {
    if (typeof m !== "object" || m === null) {
      throw new VectorProblem(`message ${i} is not an object`);
    }
    return at(`message ${i}`, () => ({
      payload: bytes(m, "payload"),
      ciphertext: bytes(m, "ciphertext"),
    }));
  });
  const handshakeLength = protocol.pattern.messages.length;
  if (messages.length < handshakeLength) {
    throw new VectorProblem(
      `${messages.length} messages, but the ${protocol.pattern.name} handshake has ${handshakeLength}`,
    );
  }
  const check = (where: string, got: Uint8Array, want: Uint8Array) => {
    if (!same(got, want)) {
      throw new VectorProblem(`${where}: got ${got.toHex()}, expected ${want.toHex()}`);
    }
  };
  for (const [i, { payload, ciphertext }] of messages.slice(0, handshakeLength).entries()) {
    const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
    const [w, r] = i % 2 === 0 ? ["initiator", "responder"] : ["responder", "initiator"];
    check(
      `handshake message ${i} written by the ${w}`,
      at(`handshake message ${i}, ${w} writes`, () => writer.writeMessage(payload)),
      ciphertext,
    );
    check(
      `handshake message ${i} payload read by the ${r}`,
      at(`handshake message ${i}, ${r} reads`, () => reader.readMessage(ciphertext)),
      payload,
    );
  }
  const hash = bytes(fields, "handshake_hash", true);
  check("responder's handshake hash", responder.getHandshakeHash(), initiator.getHandshakeHash());
  if (hash !== undefined) check("initiator's handshake hash", initiator.getHandshakeHash(), hash);
  const [toResponder, fromInitiator] = [initiator.split().send, responder.split().receive];
  const [toInitiator, fromResponder] = [responder.split().send, initiator.split().receive];
  for (const [j, { payload, ciphertext }] of messages.slice(handshakeLength).entries()) {
    const i = handshakeLength + j;
    // After a one-way pattern (its single message) only the initiator sends.
    const byInitiator = handshakeLength === 1 || i % 2 === 0;
    const [send, receive]: CipherState[] = byInitiator
      ? [toResponder, fromInitiator]
      : [toInitiator, fromResponder];
    const [w, r] = byInitiator ? ["initiator", "responder"] : ["responder", "initiator"];
    check(
      `transport message ${i} sealed by the ${w}`,
      at(`transport message ${i}, ${w} seals`, () => send.encryptWithAd(EMPTY, payload)),
      ciphertext,
    );
    check(
      `transport message ${i} opened by the ${r}`,
      at(`transport message ${i}, ${r} opens`, () => receive.decryptWithAd(EMPTY, ciphertext)),
      payload,
    );
  }
  return "passed";
}

/**
 * Runs every vector of a parsed vector document.
 *
 * @example A document with one vector of an unsupported suite
 * ```ts
 * import { runVectors } from "./noise_vectors.ts";
 * import assert from "node:assert/strict";
 *
 * const report = runVectors({ vectors: [{ protocol_name: "Noise_NN_448_AESGCM_BLAKE2b" }] });
 * assert.deepEqual([report.passed, report.failed, report.skipped], [0, 0, 1]);
 * ```
 */
export function runVectors(document: unknown): VectorReport {
  const vectors = (document as { vectors?: unknown } | null)?.vectors;
  if (!Array.isArray(vectors)) {
    const reason = 'the document is not { "vectors": [...] }';
    return {
      passed: 0,
      failed: 1,
      skipped: 0,
      failures: [{ index: -1, protocolName: "?", reason }],
    };
  }
  let passed = 0;
  let skipped = 0;
  const failures: VectorFailure[] = [];
  for (const [index, vector] of vectors.entries()) {
    const fields: Fields = typeof vector === "object" && vector !== null ? vector : {};
    const protocolName = typeof fields.protocol_name === "string" ? fields.protocol_name : "?";
    try {
      if (runVector(fields) === "passed") passed++;
      else skipped++;
    } catch (e) {
      const reason = e instanceof VectorProblem
        ? e.message
        : `${(e as Error).name}: ${(e as Error).message}`;
      failures.push({ index, protocolName, reason });
    }
  }
  return { passed, failed: failures.length, skipped, failures };
}

/**
 * Reads a vector file (JSON) and runs it; a file that cannot be read or parsed is one failure.
 *
 * @example
 * ```ts
 * import { runVectorFile } from "./noise_vectors.ts";
 * import assert from "node:assert/strict";
 *
 * const file = new URL("./vectors/noise/cacophony-25519-chachapoly-sha256.json", import.meta.url);
 * assert.equal((await runVectorFile(file)).failed, 0);
 * ```
 */
export async function runVectorFile(path: string | URL): Promise<VectorReport> {
  let document: unknown;
  try {
    document = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    const reason = `cannot read ${path}: ${(e as Error).message}`;
    return {
      passed: 0,
      failed: 1,
      skipped: 0,
      failures: [{ index: -1, protocolName: "?", reason }],
    };
  }
  return runVectors(document);
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("Usage: deno run --allow-read tests/noise_vectors.ts FILE...");
    Deno.exit(2);
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const file of Deno.args) {
    const report = await runVectorFile(file);
    for (const f of report.failures) {
      console.log(`FAIL ${file} #${f.index} ${f.protocolName}: ${f.reason}`);
    }
    passed += report.passed;
    failed += report.failed;
    skipped += report.skipped;
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  Deno.exit(failed > 0 ? 1 : 0);
}
