// The network secret in the handshake, one side at a time. Each side of a link checks the other's
// proof; an honest pair refuses together, so a side whose own check were broken would hide behind
// the other's refusal. Here the other side is a rogue that skips its checks: in the simulator a
// transport bound by the test, over TCP a raw socket speaking the handshake by hand. Proofs are
// computed by hand too (HMAC-SHA256 over the verifier's nonce and the prover's id), so that the
// prover is checked against the definition, not against itself.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Simulator } from "../lib/node/simulator.ts";
import { createNet } from "../lib/node/net.ts";
import { type P2PNode, ringOf } from "../lib/node/node.ts";
import { encodeFrame, FrameDecoder } from "../lib/com/framing.ts";
import { type Frame, type Hello, PROTOCOL_VERSION } from "../lib/com/transport.ts";
import { T } from "../lib/core/messages.ts";
import { HandshakeError } from "../lib/errors.ts";
import { simRogue } from "./_rogue.ts";
import { test } from "./_test.ts";
import { until, within } from "./_wait.ts";

const SECRET = "s3cret";
const ROGUE = 666;

/** The proof of `secret` by node `proverId` over a verifier's `nonce`, by the definition. */
function proof(secret: string, nonce: unknown, proverId: number): string {
  return createHmac("sha256", secret).update(`${nonce}|${proverId}`).digest("base64");
}

// ---- the simulator ---------------------------------------------------------------------------

function privateNode(sim: Simulator): P2PNode {
  return sim.createNet({ node: { id: 1 }, net: { maxKey: 1000, secret: SECRET } });
}

/** Pings `node` from the rogue and runs the simulation: the ping opens the link or fails. */
function ping(sim: Simulator, rogue: ReturnType<typeof simRogue>, node: P2PNode): void {
  rogue.send(node, { t: T.Ping, ts: 7 });
  sim.run(100);
}

test("simulator: a member refuses a peer that sends no proof, naming it, and counts one bad link", () => {
  const sim = new Simulator({ seed: 1 });
  const member = privateNode(sim);
  const rogue = simRogue(sim, ROGUE, { hello: { auth: true, nonce: "n" } });
  ping(sim, rogue, member);
  assert.deepEqual(rogue.downs.map((d) => d.reason), [
    `Handshake with sim:${member.ap.port} refused: Peer ${ROGUE} did not prove the network secret`,
  ]);
  assert.equal(member.statistics().badLinks, 1);
  assert.equal(member.statistics().control.received, 0, "the ping never arrived");
  assert.deepEqual(rogue.frames, []);
  member.crash();
});

test("simulator: a member refuses a peer whose proof is wrong, naming it, and counts one bad link", () => {
  const sim = new Simulator({ seed: 1 });
  const member = privateNode(sim);
  const rogue = simRogue(sim, ROGUE, {
    hello: { auth: true, nonce: "n" },
    prove: (peer) => proof("guess", peer.nonce, ROGUE),
  });
  ping(sim, rogue, member);
  assert.deepEqual(rogue.downs.map((d) => d.reason), [
    `Handshake with sim:${member.ap.port} refused: Peer ${ROGUE} holds a different network secret`,
  ]);
  assert.equal(member.statistics().badLinks, 1);
  member.crash();
});

test("simulator: a member accepts a proof made by the definition and proves itself the same way", () => {
  const sim = new Simulator({ seed: 1 });
  const member = privateNode(sim);
  const seen: unknown[] = [];
  const rogue = simRogue(sim, ROGUE, {
    hello: { auth: true, nonce: "rogue-nonce" },
    prove: (peer) => proof(SECRET, peer.nonce, ROGUE),
    sawProof: (_peer, p) => seen.push(p),
  });
  ping(sim, rogue, member);
  assert.deepEqual(rogue.downs, []);
  assert.deepEqual(rogue.frames, [{ from: 1, frame: { t: T.Pong, ts: 7 } }]);
  assert.equal(member.statistics().badLinks, 0);
  assert.deepEqual(seen, [proof(SECRET, "rogue-nonce", 1)], "the member's own proof");
  assert.equal(typeof rogue.hellos[0].nonce, "string");
  assert.equal(rogue.hellos[0].auth, true);
  member.crash();
});

test("simulator: a node without the secret refuses a peer that requires one", () => {
  const sim = new Simulator({ seed: 1 });
  const open = sim.createNet({ node: { id: 1 }, net: { maxKey: 1000 } });
  const rogue = simRogue(sim, ROGUE, { hello: { auth: true, nonce: "n" } });
  ping(sim, rogue, open);
  assert.deepEqual(rogue.downs.map((d) => d.reason), [
    `Handshake with sim:${open.ap.port} refused: Network "p2ps" requires a secret (net.secret)`,
  ]);
  assert.equal(open.statistics().badLinks, 1);
  open.crash();
});

test("simulator: a joiner refuses an access point that proves no secret, alone", async () => {
  const sim = new Simulator({ seed: 1 });
  const rogue = simRogue(sim, ROGUE, { hello: { auth: true, nonce: "n" } });
  const join = sim.joinNet(rogue.ref.ap, { net: { secret: SECRET } });
  await assert.rejects(sim.settle(join), (e) => {
    assert.ok(e instanceof HandshakeError, String(e));
    assert.equal(
      e.message,
      `Handshake with sim:${rogue.ref.ap.port} refused: Peer ${ROGUE} did not prove the network secret`,
    );
    return true;
  });
  assert.equal(sim.nodes[0].statistics().badLinks, 1);
  assert.equal(rogue.transport.stats.badLinks, 0, "the rogue checked nothing");
});

// ---- TCP, with a peer speaking the handshake by hand -------------------------------------------

const MAX = 1024 * 1024;

/** A raw TCP peer: writes frames, reads them with deadlines. */
class RawPeer {
  readonly conn: Deno.Conn;
  readonly #decoder = new FrameDecoder(MAX);
  readonly #frames: Frame[] = [];
  #ended = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  async send(frame: Frame): Promise<void> {
    const bytes = encodeFrame(frame, MAX);
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  /** The next frame the node sends, or `null` once it closed the connection. */
  async next(what: string): Promise<Frame | null> {
    const buf = new Uint8Array(4096);
    while (this.#frames.length === 0 && !this.#ended) {
      const n = await within(this.conn.read(buf).catch(() => null), what);
      if (n === null) this.#ended = true;
      else this.#decoder.push(buf.slice(0, n), (f) => this.#frames.push(f));
    }
    return this.#frames.shift() ?? null;
  }

  close(): void {
    this.conn.close();
  }
}

function rawHello(nonce: string): Frame {
  return {
    t: 0,
    hello: {
      magic: "p2ps",
      v: PROTOCOL_VERSION,
      name: "p2ps",
      net: null,
      id: ROGUE,
      ap: { hostname: "127.0.0.1", port: 1 },
      nonce,
      auth: true,
    },
  };
}

/**
 * Dials `node` by hand and says hello; returns the raw peer, the node's hello and the node's
 * acceptance (with its proof).
 */
async function dialByHand(node: P2PNode): Promise<{ raw: RawPeer; hello: Hello; ok: Frame }> {
  const raw = new RawPeer(await Deno.connect(node.ap));
  await raw.send(rawHello("rogue-nonce"));
  const hello = (await raw.next("the node's hello"))?.hello as Hello;
  const ok = await raw.next("the node's acceptance of our hello");
  assert.equal(ok?.ok, true, JSON.stringify(ok));
  return { raw, hello, ok: ok! };
}

/** Reads the node's refusal and the end of the connection. */
async function refusal(raw: RawPeer): Promise<Frame | null> {
  const f = await raw.next("the node's refusal");
  assert.equal(await raw.next("the node to close the connection"), null);
  raw.close();
  return f;
}

test("over TCP: a member proves itself by the definition and refuses a raw peer that sends no proof", async () => {
  await using member = await createNet({ node: { id: 1 }, net: { secret: SECRET } });
  const { raw, hello, ok } = await dialByHand(member);
  assert.equal(hello.id, 1);
  assert.equal(hello.auth, true);
  assert.equal(ok.proof, proof(SECRET, "rogue-nonce", 1));
  await raw.send({ t: 0, ok: true });
  assert.deepEqual(await refusal(raw), {
    t: 1,
    error: `Peer ${ROGUE} did not prove the network secret`,
  });
  await until(() => member.statistics().badLinks === 1, "the member to count a bad link");
});

test("over TCP: a member refuses a raw peer whose proof is wrong", async () => {
  await using member = await createNet({ node: { id: 1 }, net: { secret: SECRET } });
  const { raw, hello } = await dialByHand(member);
  await raw.send({ t: 0, ok: true, proof: proof("guess", hello.nonce, ROGUE) });
  assert.deepEqual(await refusal(raw), {
    t: 1,
    error: `Peer ${ROGUE} holds a different network secret`,
  });
  await until(() => member.statistics().badLinks === 1, "the member to count a bad link");
});

test("over TCP: a member accepts a raw peer proving the secret by the definition", async () => {
  await using member = await createNet({ node: { id: 1 }, net: { secret: SECRET } });
  const { raw, hello } = await dialByHand(member);
  await raw.send({ t: 0, ok: true, proof: proof(SECRET, hello.nonce, ROGUE) });
  await raw.send({ t: T.Ping, ts: 7 });
  assert.deepEqual(await raw.next("the member's pong"), { t: T.Pong, ts: 7 });
  assert.equal(member.statistics().badLinks, 0);
  raw.close();
});

test("over TCP: a node without the secret refuses a raw peer that requires one", async () => {
  await using open = await createNet({ node: { id: 1 } });
  const { raw } = await dialByHand(open);
  await raw.send({ t: 0, ok: true, proof: "anything" });
  assert.deepEqual(await refusal(raw), {
    t: 1,
    error: 'Network "p2ps" requires a secret (net.secret)',
  });
  await until(() => open.statistics().badLinks === 1, "the node to count a bad link");
});

test("over TCP: a member that dials a raw peer proving no secret refuses it alone", async () => {
  await using member = await createNet({ node: { id: 1 }, net: { secret: SECRET } });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  // Any frame for a node the member has no link to makes it dial.
  ringOf(member).sendControl(
    { id: ROGUE, ap: { hostname: "127.0.0.1", port: listener.addr.port } },
    { t: T.Ping, ts: 7 },
  );
  const raw = new RawPeer(await within(accepted, "the member to dial"));
  listener.close();
  const hello = (await raw.next("the member's hello"))?.hello as Hello;
  await raw.send(rawHello("rogue-nonce"));
  const ok = await raw.next("the member's acceptance");
  assert.deepEqual(ok, { t: 0, ok: true, proof: proof(SECRET, "rogue-nonce", 1) });
  assert.equal(hello.auth, true);
  await raw.send({ t: 0, ok: true });
  assert.deepEqual(await refusal(raw), {
    t: 1,
    error: `Peer ${ROGUE} did not prove the network secret`,
  });
  await until(() => member.statistics().badLinks === 1, "the member to count a bad link");
});
