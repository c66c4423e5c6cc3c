import assert from "node:assert/strict";
import { runVectorFile, runVectors } from "./noise_vectors.ts";
import { test } from "./_test.ts";

const FILE = new URL("./vectors/noise/cacophony-25519-chachapoly-sha256.json", import.meta.url);

interface Vector {
  protocol_name: string;
  handshake_hash?: string;
  init_static?: string;
  messages: { payload: string; ciphertext: string }[];
  [field: string]: unknown;
}

async function vectors(): Promise<Vector[]> {
  return JSON.parse(await Deno.readTextFile(FILE)).vectors;
}

/** The hex string with its byte at `index` (negative: from the end) flipped. */
function flip(hex: string, index: number): string {
  const bytes = Uint8Array.fromHex(hex);
  bytes[(index + bytes.length) % bytes.length] ^= 1;
  return bytes.toHex();
}

test("every cacophony vector passes, run as initiator and as responder", async () => {
  const report = await runVectorFile(FILE);
  assert.deepEqual(report.failures, []);
  assert.deepEqual([report.passed, report.failed, report.skipped], [59, 0, 0]);
});

test("the vectors cover every pattern of the spec and psk modifiers", async () => {
  const names = (await vectors()).map((v) => v.protocol_name.split("_")[1]);
  const bases = new Set(names.map((n) => n.replace(/psk\d.*$/, "")));
  assert.equal(bases.size, 3 + 12 + 23);
  assert.ok(names.filter((n) => n.includes("psk")).length >= 20);
});

test("a wrong byte in a handshake message, a transport message or the hash fails the vector", async () => {
  const cases: [string, (v: Vector) => void, RegExp][] = [
    [
      "ciphertext",
      (v) => (v.messages[1].ciphertext = flip(v.messages[1].ciphertext, -1)),
      /handshake message 1/,
    ],
    [
      "payload",
      (v) => (v.messages[0].payload = flip(v.messages[0].payload, 0)),
      /handshake message 0/,
    ],
    [
      "transport",
      (v) => (v.messages[4].ciphertext = flip(v.messages[4].ciphertext, 3)),
      /transport message 4/,
    ],
    ["hash", (v) => (v.handshake_hash = flip(v.handshake_hash!, 0)), /handshake hash/],
  ];
  for (const [what, spoil, reason] of cases) {
    for (const index of [10, 22, 40]) { // XX, XXpsk3, XK1
      const all = await vectors();
      spoil(all[index]);
      const report = runVectors({ vectors: all });
      assert.deepEqual([report.passed, report.failed], [58, 1], `${what} in vector ${index}`);
      assert.equal(report.failures[0].index, index);
      assert.match(report.failures[0].reason, reason);
    }
  }
});

test("unsupported suites are skipped; malformed vectors fail with a message", async () => {
  const [xx] = (await vectors()).filter((v) => v.protocol_name.startsWith("Noise_XX_"));
  const report = runVectors({
    vectors: [
      { ...xx, protocol_name: "Noise_XX_448_ChaChaPoly_SHA256" },
      { ...xx, protocol_name: "Noise_XXfallback_25519_AESGCM_SHA256" },
      { ...xx, protocol_name: "Noise_XX_25519" },
      { ...xx, init_static: "not hex" },
      { ...xx, init_static: undefined },
      { ...xx, messages: xx.messages.slice(0, 2) },
      { ...xx, messages: "none" },
      null,
      xx,
    ],
  });
  assert.deepEqual([report.passed, report.failed, report.skipped], [1, 6, 2]);
  const reasons = report.failures.map((f) => f.reason);
  assert.match(reasons[0], /not a Noise protocol name/);
  assert.match(reasons[1], /init_static is not valid hex/);
  assert.match(reasons[2], /InvalidArgumentError: .*static key pair \(s\) is needed/);
  assert.match(reasons[3], /2 messages, but the XX handshake has 3/);
  assert.match(reasons[4], /messages is not an array/);
  assert.match(reasons[5], /protocol_name is not a string/);
  assert.match(runVectors({ tests: [] }).failures[0].reason, /not \{ "vectors"/);
  assert.equal((await runVectorFile(new URL("./no-such-file.json", import.meta.url))).failed, 1);
});
