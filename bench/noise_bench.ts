// Noise costs on one core: sealing and opening a coalesced write of 100 B, 16 KiB and 64 KiB
// (64 KiB is two transport messages), and whole handshakes, both parties in-process. Throughput
// is the write size divided by time/iter.
import { randomBytes } from "node:crypto";
import {
  CHACHAPOLY,
  CipherState,
  generateStaticKeyPair,
  HandshakeState,
  sealedLength,
  TransportOpener,
  TransportSealer,
  X25519,
} from "../lib/com/noise/mod.ts";

const key = new Uint8Array(randomBytes(32));
const sink = (_: Uint8Array) => {};

for (
  const [label, size] of [["100 B", 100], ["16 KiB", 16 * 1024], ["64 KiB", 64 * 1024]] as const
) {
  const plaintext = new Uint8Array(randomBytes(size));
  const sealer = new TransportSealer(new CipherState(CHACHAPOLY, key));
  const out = new Uint8Array(sealedLength(size));
  Deno.bench({
    name: `sealInto, ${label} write (reused output buffer)`,
    group: `seal ${label}`,
    baseline: true,
    fn() {
      sealer.sealInto(plaintext, out, 0);
    },
  });
  Deno.bench({
    name: `seal, ${label} write (new output buffer)`,
    group: `seal ${label}`,
    fn() {
      sealer.seal(plaintext);
    },
  });
  // The opener re-reads the same wire: its CipherState is rewound to the wire's nonce.
  const wire = new TransportSealer(new CipherState(CHACHAPOLY, key)).seal(plaintext);
  const receive = new CipherState(CHACHAPOLY, key);
  const opener = new TransportOpener(receive);
  Deno.bench({
    name: `open, ${label} write in one chunk`,
    group: `open ${label}`,
    fn() {
      receive.setNonce(0n);
      opener.push(wire, sink);
    },
  });
  // As a link reads it: in pieces of at most 16 KiB, so that messages span reads.
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += 16 * 1024) pieces.push(wire.slice(at, at + 16 * 1024));
  Deno.bench({
    name: `open, ${label} write in 16 KiB reads`,
    group: `open ${label}`,
    fn() {
      receive.setNonce(0n);
      for (const piece of pieces) opener.push(piece, sink);
    },
  });
}

const initiatorKey = generateStaticKeyPair();
const responderKey = generateStaticKeyPair();
const psks = [new Uint8Array(randomBytes(32))];
for (const pattern of ["XX", "XXpsk3"]) {
  const protocol = `Noise_${pattern}_25519_ChaChaPoly_SHA256`;
  Deno.bench({
    name: `${pattern}: both parties, 3 messages, split`,
    group: "handshake",
    baseline: pattern === "XX",
    fn() {
      const a = new HandshakeState({
        protocol,
        initiator: true,
        s: initiatorKey,
        psks: pattern === "XX" ? [] : psks,
      });
      const b = new HandshakeState({
        protocol,
        initiator: false,
        s: responderKey,
        psks: pattern === "XX" ? [] : psks,
      });
      b.readMessage(a.writeMessage());
      a.readMessage(b.writeMessage());
      b.readMessage(a.writeMessage());
      a.split();
      b.split();
    },
  });
}

// What a handshake is made of: each party generates one key pair and computes three DHs.
const peer = X25519.generateKeyPair();
Deno.bench({
  name: "X25519 generate key pair",
  group: "parts",
  fn: () => void X25519.generateKeyPair(),
});
Deno.bench({
  name: "X25519 DH",
  group: "parts",
  fn: () => void X25519.dh(initiatorKey, peer.publicKey),
});
