import assert from "node:assert/strict";
import { createCipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import {
  CHACHAPOLY,
  CipherState,
  DecryptError,
  findPattern,
  generateStaticKeyPair,
  HANDSHAKE_PATTERNS,
  type HandshakeOptions,
  HandshakeState,
  InvalidArgumentError,
  keyPairFromPrivate,
  MAX_TRANSPORT_PLAINTEXT,
  MessageTooLargeError,
  NoiseError,
  parseProtocolName,
  PSK_SALT,
  pskFromSecret,
  resolveProtocol,
  sealedLength,
  SHA256,
  TransportOpener,
  TransportSealer,
  withPsk,
  X25519,
} from "../lib/com/noise/mod.ts";
import { test } from "./_test.ts";

const EMPTY = new Uint8Array(0);
const SUITE = "25519_ChaChaPoly_SHA256";
const text = (s: string) => new TextEncoder().encode(s);
const random = (n: number) => new Uint8Array(randomBytes(n));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface Party {
  s?: ReturnType<typeof generateStaticKeyPair>;
  psks?: Uint8Array[];
  prologue?: Uint8Array;
}

/** An initiator and a responder for `pattern` (with modifiers), with every key it needs. */
function parties(
  pattern: string,
  init: Party = {},
  resp: Party = {},
): [HandshakeState, HandshakeState] {
  const protocol = resolveProtocol(`Noise_${pattern}_${SUITE}`);
  const psks = protocol.pattern.messages.flat().filter((t) => t === "psk").map(() => random(32));
  const si = init.s ?? generateStaticKeyPair();
  const sr = resp.s ?? generateStaticKeyPair();
  const pre = protocol.pattern;
  return [
    new HandshakeState({
      protocol,
      initiator: true,
      s: si,
      rs: pre.responderPreMessage.includes("s") ? sr.publicKey : undefined,
      psks: init.psks ?? psks,
      prologue: init.prologue,
    }),
    new HandshakeState({
      protocol,
      initiator: false,
      s: sr,
      rs: pre.initiatorPreMessage.includes("s") ? si.publicKey : undefined,
      psks: resp.psks ?? psks,
      prologue: resp.prologue,
    }),
  ];
}

/**
 * Runs a handshake to the end and checks that every payload arrives; `tamper` may alter each
 * message on its way (then payloads are not checked: a clear payload arrives altered, and only a
 * later message reveals it). Returns the messages as sent (before tampering).
 */
function handshake(
  a: HandshakeState,
  b: HandshakeState,
  tamper?: (index: number, message: Uint8Array) => void,
): Uint8Array[] {
  const sent: Uint8Array[] = [];
  for (let i = 0; a.turn !== "done"; i++) {
    const [writer, reader] = a.turn === "write" ? [a, b] : [b, a];
    const message = writer.writeMessage(text(`payload ${i}`));
    sent.push(message.slice());
    tamper?.(i, message);
    const payload = reader.readMessage(message);
    if (tamper === undefined) assert.deepEqual(payload, text(`payload ${i}`));
  }
  assert.equal(b.turn, "done");
  return sent;
}

function roundTrip(send: CipherState, receive: CipherState, plaintext: Uint8Array): void {
  assert.deepEqual(receive.decryptWithAd(EMPTY, send.encryptWithAd(EMPTY, plaintext)), plaintext);
}

// --- crypto functions --------------------------------------------------------------------------

test("HKDF from hkdfSync equals the spec's HMAC-HASH definition, with 2 and 3 outputs", () => {
  const hmac = (key: Uint8Array, data: Uint8Array) =>
    new Uint8Array(createHmac("sha256", key).update(data).digest());
  for (const ikm of [EMPTY, random(32), random(7)]) {
    const ck = random(32);
    const tempKey = hmac(ck, ikm);
    const o1 = hmac(tempKey, new Uint8Array([1]));
    const o2 = hmac(tempKey, concat([o1, new Uint8Array([2])]));
    const o3 = hmac(tempKey, concat([o2, new Uint8Array([3])]));
    assert.deepEqual(SHA256.hkdf(ck, ikm, 2), [o1, o2]);
    assert.deepEqual(SHA256.hkdf(ck, ikm, 3), [o1, o2, o3]);
  }
});

test("X25519 gives RFC 7748's public keys and shared secret (§6.1)", () => {
  const alice = keyPairFromPrivate(
    Uint8Array.fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  const bob = keyPairFromPrivate(
    Uint8Array.fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
  );
  assert.equal(
    bob.publicKey.toHex(),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(X25519.dh(alice, bob.publicKey).toHex(), shared);
  // A plain object (no cached KeyObject) computes the same.
  const plain = { publicKey: bob.publicKey, privateKey: bob.privateKey };
  assert.equal(X25519.dh(plain, alice.publicKey).toHex(), shared);
});

test("X25519 reports a low-order public key as a NoiseError, and wrong key sizes", () => {
  const pair = generateStaticKeyPair();
  assert.throws(() => X25519.dh(pair, new Uint8Array(32)), NoiseError);
  assert.throws(() => X25519.dh(pair, new Uint8Array(31)), InvalidArgumentError);
  assert.throws(() => keyPairFromPrivate(new Uint8Array(33)), InvalidArgumentError);
});

test("a generated key pair exports its private key, which gives back its public key", () => {
  const pair = generateStaticKeyPair();
  assert.deepEqual(keyPairFromPrivate(pair.privateKey).publicKey, pair.publicKey);
  assert.ok(!Object.keys(pair).includes("privateKey"), "the private key is not an own property");
});

// --- CipherState --------------------------------------------------------------------------------

test("the ChaChaPoly nonce is 4 zero bytes and n little-endian, exact beyond 2^53", () => {
  const key = random(32);
  for (const n of [0n, 1n, 2n ** 32n + 5n, 2n ** 53n + 1n, 2n ** 64n - 2n]) {
    const cs = new CipherState(CHACHAPOLY, key);
    cs.setNonce(n);
    const sealed = cs.encryptWithAd(text("ad"), text("plaintext"));
    const nonce = new Uint8Array(12);
    for (let i = 0; i < 8; i++) nonce[4 + i] = Number((n >> BigInt(8 * i)) & 0xffn);
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    c.setAAD(text("ad"), { plaintextLength: 9 });
    const want = concat([c.update(text("plaintext")), c.final(), c.getAuthTag()]);
    assert.deepEqual(sealed, want, `n = ${n}`);
    assert.equal(cs.nonce, n + 1n);
  }
});

test("nonces one apart beyond 2^53 are told apart", () => {
  const key = random(32);
  const sender = new CipherState(CHACHAPOLY, key);
  const receiver = new CipherState(CHACHAPOLY, key);
  sender.setNonce(2n ** 53n + 1n);
  receiver.setNonce(2n ** 53n);
  const sealed = sender.encryptWithAd(EMPTY, text("x"));
  assert.throws(() => receiver.decryptWithAd(EMPTY, sealed), DecryptError);
  receiver.setNonce(2n ** 53n + 1n);
  assert.deepEqual(receiver.decryptWithAd(EMPTY, sealed), text("x"));
});

test("a CipherState refuses to encrypt or decrypt once n reaches 2^64 - 1", () => {
  const key = random(32);
  const sender = new CipherState(CHACHAPOLY, key);
  const receiver = new CipherState(CHACHAPOLY, key);
  sender.setNonce(2n ** 64n - 2n);
  receiver.setNonce(2n ** 64n - 2n);
  roundTrip(sender, receiver, text("last"));
  assert.equal(sender.nonce, 2n ** 64n - 1n);
  assert.throws(() => sender.encryptWithAd(EMPTY, text("more")), NoiseError);
  assert.throws(() => receiver.decryptWithAd(EMPTY, new Uint8Array(16)), NoiseError);
  assert.throws(() => sender.setNonce(2n ** 64n), InvalidArgumentError);
  assert.throws(() => sender.setNonce(-1n), InvalidArgumentError);
});

test("a failed decryption does not advance the nonce; the genuine message still opens", () => {
  const key = random(32);
  const sender = new CipherState(CHACHAPOLY, key);
  const receiver = new CipherState(CHACHAPOLY, key);
  const sealed = sender.encryptWithAd(text("ad"), text("hello"));
  const forged = sealed.slice();
  forged[0] ^= 0x80;
  assert.throws(() => receiver.decryptWithAd(text("ad"), forged), DecryptError);
  assert.throws(() => receiver.decryptWithAd(text("other ad"), sealed), DecryptError);
  assert.throws(() => receiver.decryptWithAd(text("ad"), sealed.subarray(0, 15)), DecryptError);
  assert.equal(receiver.nonce, 0n);
  assert.deepEqual(receiver.decryptWithAd(text("ad"), sealed), text("hello"));
});

test("without a key a CipherState passes data through, as copies, and keeps n", () => {
  const cs = new CipherState(CHACHAPOLY);
  const data = text("clear");
  const out = cs.encryptWithAd(EMPTY, data);
  assert.deepEqual(out, data);
  assert.notEqual(out.buffer, data.buffer);
  assert.deepEqual(cs.decryptWithAd(EMPTY, data), data);
  assert.equal(cs.nonce, 0n);
  assert.equal(cs.hasKey(), false);
  assert.throws(() => new CipherState(CHACHAPOLY, new Uint8Array(16)), InvalidArgumentError);
});

test("Rekey() changes k but not n: both ends must rekey together", () => {
  const key = random(32);
  const [a, b, c] = [0, 1, 2].map(() => new CipherState(CHACHAPOLY, key));
  roundTrip(a, b, text("before"));
  a.rekey();
  b.rekey();
  assert.equal(a.nonce, 1n);
  roundTrip(a, b, text("after"));
  c.setNonce(2n); // same n as a, but the old key
  assert.throws(() => c.decryptWithAd(EMPTY, a.encryptWithAd(EMPTY, text("x"))), DecryptError);
});

// --- patterns and protocol names ----------------------------------------------------------------

test("the pattern table has the spec's 3 one-way, 12 fundamental and 23 deferred patterns", () => {
  const names = Object.keys(HANDSHAKE_PATTERNS);
  assert.equal(names.filter((n) => n.length === 1).length, 3);
  assert.equal(names.filter((n) => /^[NKXI][NKX]$/.test(n)).length, 12);
  assert.equal(names.filter((n) => n.includes("1")).length, 23);
  assert.deepEqual(HANDSHAKE_PATTERNS.X1K.messages, [["e", "es"], ["e", "ee"], ["s"], ["se"]]);
  assert.deepEqual(HANDSHAKE_PATTERNS.K1K.initiatorPreMessage, ["s"]);
  assert.deepEqual(HANDSHAKE_PATTERNS.K1K.responderPreMessage, ["s"]);
  assert.equal(findPattern("constructor"), undefined);
});

test("psk0 starts the first message, pskN ends message N, in combination too", () => {
  assert.deepEqual(withPsk(HANDSHAKE_PATTERNS.N, [0]).messages, [["psk", "e", "es"]]);
  assert.deepEqual(withPsk(HANDSHAKE_PATTERNS.XX, [3]).messages.at(-1), ["s", "se", "psk"]);
  const both = withPsk(HANDSHAKE_PATTERNS.XX, [0, 3]);
  assert.equal(both.name, "XXpsk0+psk3");
  assert.deepEqual(both.messages, [["psk", "e"], ["e", "ee", "s", "es"], ["s", "se", "psk"]]);
  assert.equal(withPsk(both, [2]).name, "XXpsk0+psk3+psk2");
  assert.throws(() => withPsk(HANDSHAKE_PATTERNS.NN, [3]), InvalidArgumentError);
  assert.throws(() => withPsk(HANDSHAKE_PATTERNS.NN, [1, 1]), InvalidArgumentError);
  assert.deepEqual(HANDSHAKE_PATTERNS.XX.messages[0], ["e"], "the table is not modified");
});

test("protocol names: supported, unsupported (reported, not thrown) and invalid", () => {
  const status = (name: string) => parseProtocolName(name).status;
  for (const p of ["XX", "Npsk0", "NNpsk0+psk2", "I1X1psk3", "IKpsk0+psk1+psk2"]) {
    assert.equal(status(`Noise_${p}_${SUITE}`), "supported", p);
  }
  for (
    const name of [
      "Noise_XX_448_ChaChaPoly_SHA256",
      "Noise_XX_25519_AESGCM_SHA256",
      "Noise_XX_25519_ChaChaPoly_BLAKE2b",
      "Noise_XXfallback_25519_ChaChaPoly_SHA256",
      "Noise_XXfallback+psk0_25519_ChaChaPoly_SHA256",
      "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_SHA256",
      "Noise_NE_25519_ChaChaPoly_SHA256",
      "Noise_CONSTRUCTOR_25519_ChaChaPoly_SHA256",
      "Noise_XXpsk01_25519_ChaChaPoly_SHA256", // a well-formed modifier, but not the spec's
    ]
  ) assert.equal(status(name), "unsupported", name);
  for (
    const name of [
      "Noise_XX_25519_ChaChaPoly",
      "Noise_XX_25519_ChaChaPoly_SHA256_extra",
      "noise_XX_25519_ChaChaPoly_SHA256",
      "Noise_xx_25519_ChaChaPoly_SHA256",
      "Noise_XXpsk4_25519_ChaChaPoly_SHA256",
      "Noise_NNpsk0+psk0_25519_ChaChaPoly_SHA256",
      "Noise_XX__ChaChaPoly_SHA256",
      "Noise_XX_25519_Cha-Cha_SHA256",
      `Noise_XX_${SUITE}${"+SHA256".repeat(40)}`,
    ]
  ) assert.equal(status(name), "invalid", name);
  assert.throws(() => resolveProtocol("Noise_XX_448_ChaChaPoly_SHA256"), InvalidArgumentError);
});

// --- HandshakeState -----------------------------------------------------------------------------

test("every pattern completes, bare and with psk0 and a psk on its last message", () => {
  for (const [name, pattern] of Object.entries(HANDSHAKE_PATTERNS)) {
    for (const modifier of ["", "psk0", `psk${pattern.messages.length}`]) {
      const [a, b] = parties(name + modifier);
      handshake(a, b);
      assert.deepEqual(a.getHandshakeHash(), b.getHandshakeHash(), name + modifier);
      roundTrip(a.split().send, b.split().receive, text("to responder"));
      if (pattern.messages.length > 1) {
        roundTrip(b.split().send, a.split().receive, text("to initiator"));
      }
    }
  }
});

test("the static keys a pattern transmits arrive as remoteStaticKey", () => {
  const si = generateStaticKeyPair();
  const sr = generateStaticKeyPair();
  const [a, b] = parties("XX", { s: si }, { s: sr });
  assert.equal(a.remoteStaticKey, undefined);
  handshake(a, b);
  assert.deepEqual(a.remoteStaticKey, sr.publicKey);
  assert.deepEqual(b.remoteStaticKey, si.publicKey);
});

for (const pattern of ["XX", "XXpsk3"]) {
  test(`${pattern}: a flipped byte anywhere in any handshake message fails the handshake`, () => {
    const [a, b] = parties(pattern);
    const sizes = handshake(a, b).map((m) => m.length);
    let checked = 0;
    for (const [index, size] of sizes.entries()) {
      for (let byte = 0; byte < size; byte++) {
        const [x, y] = parties(pattern);
        let reading = -1;
        assert.throws(
          () =>
            handshake(x, y, (i, message) => {
              reading = i;
              if (i === index) message[byte] ^= 0xff;
            }),
          NoiseError,
          `message ${index}, byte ${byte}`,
        );
        // Caught by the reader of this message, or (a clear part of it) of the next one.
        assert.ok(reading === index || reading === index + 1, `caught at message ${reading}`);
        assert.ok(x.turn === "failed" || y.turn === "failed");
        checked++;
      }
    }
    assert.equal(checked, sizes.reduce((n, s) => n + s, 0));
  });
}

test("a wrong pre-shared key fails at the message that carries the psk token", () => {
  // XXpsk3: the psk is mixed at the end of message 3, so messages 1 and 2 still go through.
  const [a, b] = parties("XXpsk3", { psks: [random(32)] }, { psks: [random(32)] });
  b.readMessage(a.writeMessage());
  a.readMessage(b.writeMessage());
  assert.throws(() => b.readMessage(a.writeMessage()), DecryptError);
  assert.equal(b.turn, "failed");
  // NNpsk0 and XXpsk0: at the first message, before the responder has computed any DH.
  for (const pattern of ["NNpsk0", "XXpsk0"]) {
    const [c, d] = parties(pattern, { psks: [random(32)] }, { psks: [random(32)] });
    assert.throws(() => d.readMessage(c.writeMessage(text("hi"))), DecryptError, pattern);
  }
});

test("different prologues fail the first encrypted message", () => {
  const [a, b] = parties("NN", { prologue: text("v1") }, { prologue: text("v2") });
  b.readMessage(a.writeMessage());
  assert.throws(() => a.readMessage(b.writeMessage()), DecryptError);
});

test("messages out of turn, after a failure or of the wrong size are refused", () => {
  const [a, b] = parties("XX");
  assert.throws(() => b.writeMessage(), NoiseError);
  assert.throws(() => a.readMessage(new Uint8Array(32)), NoiseError);
  assert.throws(() => a.split(), NoiseError);
  // XX's first message is e (32 bytes) and a clear payload.
  assert.throws(() => a.writeMessage(new Uint8Array(65535 - 31)), MessageTooLargeError);
  const first = a.writeMessage(new Uint8Array(65535 - 32)); // the refusal changed nothing
  assert.equal(first.length, 65535);
  assert.throws(() => b.readMessage(first.subarray(0, 31)), NoiseError);
  assert.throws(() => b.readMessage(new Uint8Array(65536)), NoiseError);
  b.readMessage(first);
  const reply = b.writeMessage();
  reply[reply.length - 1] ^= 1;
  assert.throws(() => a.readMessage(reply), DecryptError);
  assert.equal(a.turn, "failed");
  assert.throws(() => a.readMessage(reply), /failed earlier/);
});

test("Initialize refuses missing, misplaced or wrong-sized keys and PSKs", () => {
  const protocol = (p: string) => `Noise_${p}_${SUITE}`;
  const s = generateStaticKeyPair();
  const bad: HandshakeOptions[] = [
    { protocol: protocol("XX"), initiator: true },
    { protocol: protocol("NK"), initiator: true },
    { protocol: protocol("KN"), initiator: false },
    { protocol: protocol("XX"), initiator: true, s, rs: s.publicKey },
    { protocol: protocol("NK"), initiator: true, rs: new Uint8Array(31) },
    { protocol: protocol("NNpsk0"), initiator: true },
    { protocol: protocol("NNpsk0"), initiator: true, psks: [new Uint8Array(16)] },
    { protocol: protocol("NN"), initiator: true, psks: [new Uint8Array(32)] },
    {
      protocol: protocol("NN"),
      initiator: true,
      prologue: EMPTY,
      e: { publicKey: EMPTY, privateKey: new Uint8Array(32) },
    },
    { protocol: "Noise_NN_448_ChaChaPoly_SHA256", initiator: true },
  ];
  for (const options of bad) {
    assert.throws(() => new HandshakeState(options), InvalidArgumentError, JSON.stringify(options));
  }
  // Keys a pattern does not use are ignored: a node may keep its static key for every link.
  handshake(...parties("NN"));
});

// --- keys ---------------------------------------------------------------------------------------

test("pskFromSecret is HKDF-SHA256(secret, salt 'p2ps/v1 psk', info network name)", () => {
  const want = new Uint8Array(
    hkdfSync("sha256", text("s3cret"), text("p2ps/v1 psk"), text("net"), 32),
  );
  assert.equal(PSK_SALT, "p2ps/v1 psk");
  assert.deepEqual(pskFromSecret("s3cret", "net"), want);
  assert.notDeepEqual(pskFromSecret("s3cret", "net2"), want);
  assert.notDeepEqual(pskFromSecret("s3cret2", "net"), want);
  assert.throws(() => pskFromSecret("", "net"), InvalidArgumentError);
});

// --- transport messages -------------------------------------------------------------------------

/** A sealer and a way to make fresh openers for it (each starts at nonce 0). */
function keyedTransport(): [TransportSealer, () => TransportOpener] {
  const key = random(32);
  return [
    new TransportSealer(new CipherState(CHACHAPOLY, key)),
    () => new TransportOpener(new CipherState(CHACHAPOLY, key)),
  ];
}

function openAll(opener: TransportOpener, ...chunks: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const chunk of chunks) opener.push(chunk, (p) => out.push(p));
  opener.end();
  return concat(out);
}

test("a 200 KiB write is sealed into ceil(200 KiB / 65519) messages and opens whole", () => {
  const [sealer, opener] = keyedTransport();
  const plaintext = random(200 * 1024);
  const wire = sealer.seal(plaintext);
  assert.equal(wire.length, sealedLength(plaintext.length));
  const lengths: number[] = [];
  for (let at = 0; at < wire.length; at += 2 + lengths.at(-1)!) {
    lengths.push((wire[at] << 8) | wire[at + 1]);
  }
  assert.equal(lengths.length, Math.ceil(plaintext.length / MAX_TRANSPORT_PLAINTEXT));
  assert.equal(lengths.length, 4);
  assert.ok(lengths.every((n) => n <= 65535));
  assert.deepEqual(openAll(opener(), wire), plaintext);
});

test("sealInto writes at an offset; an empty write seals to nothing", () => {
  const [sealer, opener] = keyedTransport();
  const out = new Uint8Array(3 + sealedLength(10));
  assert.equal(sealer.sealInto(text("0123456789"), out, 3), out.length - 3);
  assert.deepEqual(openAll(opener(), out.subarray(3)), text("0123456789"));
  assert.equal(sealer.seal(EMPTY).length, 0);
  assert.throws(() => sealer.sealInto(text("x"), new Uint8Array(18), 1), InvalidArgumentError);
  assert.throws(() => new TransportSealer(new CipherState(CHACHAPOLY)), InvalidArgumentError);
});

test("the opener handles a stream split at every position, or fed byte by byte", () => {
  const [sealer, opener] = keyedTransport();
  const plaintexts = [text("a"), random(100), random(1000)];
  const wire = concat(plaintexts.map((p) => sealer.seal(p)));
  const all = concat(plaintexts);
  for (let cut = 0; cut <= wire.length; cut++) {
    assert.deepEqual(
      openAll(opener(), wire.subarray(0, cut), wire.subarray(cut)),
      all,
      `cut ${cut}`,
    );
  }
  const bytes = [...wire].map((b) => new Uint8Array([b]));
  assert.deepEqual(openAll(opener(), ...bytes), all);
});

test("a write larger than one message opens from chunks cut around its boundaries", () => {
  const [sealer, opener] = keyedTransport();
  const plaintext = random(MAX_TRANSPORT_PLAINTEXT + 1000);
  const wire = sealer.seal(plaintext);
  const boundary = 2 + 65535; // where the second message's prefix starts
  for (
    const cut of [1, 2, 3, boundary - 1, boundary, boundary + 1, boundary + 2, wire.length - 1]
  ) {
    assert.deepEqual(openAll(opener(), wire.subarray(0, cut), wire.subarray(cut)), plaintext);
  }
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += 4093) chunks.push(wire.slice(at, at + 4093));
  assert.deepEqual(openAll(opener(), ...chunks), plaintext);
});

test("a flipped byte anywhere in a transport stream is a DecryptError", () => {
  const [sealer, opener] = keyedTransport();
  const wire = concat([sealer.seal(random(10)), sealer.seal(random(20))]);
  for (let byte = 0; byte < wire.length; byte++) {
    const tampered = wire.slice();
    tampered[byte] ^= 0xff;
    // A longer declared length waits for bytes that never come: end() reports the truncation.
    assert.throws(() => openAll(opener(), tampered), DecryptError, `byte ${byte}`);
  }
});

test("replayed, reordered, dropped and truncated transport messages fail", () => {
  const [sealer, opener] = keyedTransport();
  const [m1, m2, m3] = [1, 2, 3].map((i) => sealer.seal(text(`message ${i}`)));
  assert.throws(() => openAll(opener(), m1, m1), DecryptError, "replayed");
  assert.throws(() => openAll(opener(), m2, m1), DecryptError, "reordered");
  assert.throws(() => openAll(opener(), m1, m3), DecryptError, "dropped");
  assert.throws(() => openAll(opener(), m1.subarray(0, m1.length - 1)), DecryptError, "cut");
  const shortened = m1.slice(0, m1.length - 1);
  shortened[1] -= 1; // a consistent prefix for the shorter message
  assert.throws(() => openAll(opener(), shortened), DecryptError, "truncated");
  assert.equal(
    new TextDecoder().decode(openAll(opener(), m1, m2, m3)),
    "message 1message 2message 3",
  );
});

test("a length below the tag size fails at once, and a failed opener stays failed", () => {
  const [sealer, opener] = keyedTransport();
  const o = opener();
  assert.throws(() => o.push(new Uint8Array([0, 15]), () => {}), DecryptError);
  assert.throws(() => o.push(sealer.seal(text("x")), () => {}), /failed earlier/);
  const split = opener();
  split.push(new Uint8Array([0]), () => {});
  assert.throws(() => split.push(new Uint8Array([3]), () => {}), DecryptError);
});

test("plaintexts are not views of the chunks fed to the opener", () => {
  const [sealer, opener] = keyedTransport();
  const wire = sealer.seal(text("keep"));
  const got: Uint8Array[] = [];
  opener().push(wire, (p) => got.push(p));
  wire.fill(0);
  assert.deepEqual(got, [text("keep")]);
});

test("transport over a real handshake: both directions, sealer and opener", () => {
  const [a, b] = parties("XXpsk3");
  handshake(a, b);
  for (const [from, to] of [[a, b], [b, a]]) {
    const sealer = new TransportSealer(from.split().send);
    const opener = new TransportOpener(to.split().receive);
    const plaintext = random(70_000);
    assert.deepEqual(
      openAll(opener, sealer.seal(plaintext), sealer.seal(plaintext)),
      concat([plaintext, plaintext]),
    );
  }
});
