/**
 * Proof of the network secret in the handshake. A network may have a shared secret; it never
 * crosses the wire. Each side sends a fresh nonce in its hello and proves, in its acceptance,
 * that it holds the secret: HMAC-SHA256(secret, verifier's nonce | prover's id). A replayed
 * proof fails because nonces are fresh; a proof for another node id fails because the id is
 * bound into it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Hello } from "./transport.ts";

/** A fresh random challenge for a hello. */
export function newNonce(): string {
  return randomBytes(16).toString("base64");
}

/** The proof that the holder of `secret` answers to the challenge in `verifier`'s hello. */
export function proveSecret(secret: string, verifier: Hello, proverId: number): string {
  return createHmac("sha256", secret).update(`${verifier.nonce ?? ""}|${proverId}`).digest(
    "base64",
  );
}

/**
 * Checks a peer's proof against our hello: `null` to accept, or a message naming the problem.
 * Without a secret of our own, a peer that requires one is refused with a clear message.
 */
export function verifySecret(
  secret: string | null,
  mine: Hello,
  peer: Hello,
  proof: unknown,
): string | null {
  if (secret === null) {
    return peer.auth ? `Network "${peer.name}" requires a secret (net.secret)` : null;
  }
  if (typeof proof !== "string") {
    return `Peer ${peer.id} did not prove the network secret`;
  }
  const want = Buffer.from(proveSecret(secret, mine, peer.id));
  const got = Buffer.from(proof);
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    return `Peer ${peer.id} holds a different network secret`;
  }
  return null;
}
