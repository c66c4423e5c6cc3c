// The mutations tests/mutations.ts applies, one at a time: each breaks one rule of the code by
// replacing an exact text, and names the test files that must fail because of it, within a time
// limit. When the code is refactored, a `find` text that no longer matches is reported as an
// ERROR: update the entry with the code.

/** One deliberate bug. */
export interface Mutation {
  /** What is broken, as a reader would say it. */
  name: string;
  /** The file changed, from the repository root. */
  file: string;
  /** Exact text replaced; it must occur exactly once in the file. */
  find: string;
  /** What it becomes. */
  replace: string;
  /** Test files to run; at least one test must fail. */
  tests: string[];
  /** Only the tests whose name contains this (`deno test --filter`). */
  filter?: string;
  /** Hard time limit of the run, seconds. */
  limitS: number;
}

const GROUP = "tests/group_sim_test.ts";
const RELIABLE = "tests/reliable_test.ts";
const RING = "tests/ring_sim_test.ts";
const JOIN = "tests/join_sim_test.ts";
const SECRET = "tests/secret_test.ts";
const STREAMS = "tests/streams_test.ts";
const TCP = "tests/tcp_transport_test.ts";
const ROUTING = "tests/routing_sim_test.ts";

/** Every mutation, grouped by the layer it breaks. */
export const MUTATIONS: Mutation[] = [
  // ---- acknowledged delivery ----
  {
    name: "ack retransmission: a missing acknowledgement is never followed by a resend",
    file: "lib/services/group.ts",
    find: "      p.resend(missing);\n",
    replace: "",
    tests: [GROUP, RELIABLE],
    limitS: 180,
  },
  {
    name: "duplicate suppression: a copy of a delivered message is delivered again",
    file: "lib/services/reliable.ts",
    find: '    if (q < s.next) return "duplicate";',
    replace: '    if (q < s.next) {\n      deliver();\n      return "delivered";\n    }',
    tests: [RELIABLE, GROUP],
    limitS: 180,
  },
  {
    name: "duplicates not acknowledged again: a lost acknowledgement is never replaced",
    file: "lib/services/group.ts",
    find: '    if (r === "delivered" || r === "duplicate") this.#ack(src, id, keys, hops);',
    replace: '    if (r === "delivered") this.#ack(src, id, keys, hops);',
    tests: [RELIABLE],
    limitS: 120,
  },
  {
    name: "in-order overflow: early arrivals are held without bound",
    file: "lib/services/reliable.ts",
    find: '    if (s.held.size >= this.#maxHeld) return "overflow";\n',
    replace: "",
    tests: [RELIABLE],
    limitS: 120,
  },
  {
    name: "in-order eviction: streams are kept without bound",
    file: "lib/services/reliable.ts",
    find: "      if (this.#streams.size >= this.#maxStreams) this.#evict();\n",
    replace: "",
    tests: [RELIABLE],
    limitS: 120,
  },
  {
    name: "abort signal: aborting an acknowledged send is ignored",
    file: "lib/services/group.ts",
    find: '    } else signal?.addEventListener("abort", onAbort, { once: true });',
    replace: "    }",
    tests: [RELIABLE],
    limitS: 120,
  },
  {
    name: "node stop: pending acknowledged deliveries are left waiting",
    file: "lib/services/group.ts",
    find: "    for (const p of [...this.#pending.values()]) p.finish(reason);",
    replace: "    void reason;",
    tests: [RELIABLE],
    limitS: 120,
  },
  {
    name: "multicast retransmission: missing destinations are never sent again",
    file: "lib/services/group.ts",
    find: "        this.#mcastStep(null, frameFor(missing));\n",
    replace: "",
    tests: [RELIABLE],
    limitS: 120,
  },
  {
    name: "sendToSucc retransmission: a missing acknowledgement is never followed by a resend",
    file: "lib/services/group.ts",
    find: "        this.counters.succ.retransmitted++;\n        this.#succStep(frameFor(), null);",
    replace: "        this.counters.succ.retransmitted++;",
    tests: [RELIABLE],
    limitS: 120,
  },
  // ---- group communication ----
  {
    name: "broadcast interval splitting: every child is handed the whole interval",
    file: "lib/services/group.ts",
    find: "        lim: i + 1 < inside.length ? inside[i + 1].id : lim,",
    replace: "        lim,",
    tests: [GROUP],
    // The 1,000-node broadcast floods for minutes without splitting: the 50-node one tells.
    filter: "50-node ring",
    limitS: 120,
  },
  // ---- the ring ----
  {
    name: "hop limit: a message at the limit is still forwarded",
    file: "lib/core/ring.ts",
    find: "    if (f.h >= MAX_HOPS) {",
    replace: "    if (f.h > MAX_HOPS) {",
    tests: [RING],
    limitS: 120,
  },
  {
    name: "correction on use: a node used as a wrong finger says nothing",
    file: "lib/core/ring.ts",
    find: "    if (from && f.f >= 0) this.#correctOnUse(from, f.f);\n",
    replace: "",
    tests: [RING],
    limitS: 120,
  },
  {
    name: "successor-list propagation: a new list is not passed to the predecessor",
    file: "lib/core/ring.ts",
    find: "      this.sendControl(tb.pred, { t: T.Stab, p: tb.pred, s: tb.succList });",
    replace: "      void tb;",
    tests: [JOIN],
    limitS: 120,
  },
  {
    name: "failure detector: a silent peer is never suspected",
    file: "lib/core/failure_detector.ts",
    find: '    if (silent > this.timeout(id, scale)) return "suspect";\n',
    replace: "",
    tests: [RING],
    limitS: 180,
  },
  {
    name: "undeliverable reporting: a message for a missing id is dropped silently",
    file: "lib/core/ring.ts",
    find: "          return this.#undeliverable(d, `no node has id ${d.k}`);",
    replace: "          return;",
    tests: [GROUP],
    limitS: 180,
  },
  {
    name: "join: an id already in use is accepted",
    file: "lib/core/ring.ts",
    find: "        if (n.id === id) {",
    replace: "        if (false) {",
    tests: [JOIN],
    limitS: 180,
  },
  {
    name: "join timeout: a join that gets no answer waits a thousand times too long",
    file: "lib/core/ring.ts",
    find: "    const timeout = this.timer(this.timing.joinTimeoutMs, () => {",
    replace: "    const timeout = this.timer(this.timing.joinTimeoutMs * 1000, () => {",
    tests: [JOIN],
    limitS: 180,
  },
  // ---- routing ----
  {
    name: "routing: the settle phase measures clockwise from the node instead of from the key",
    file: "lib/core/routing_table.ts",
    find: "    let bd = cw(key, me, M);\n    for (let i = 0; i < known.length; i++) {\n" +
      "      const d = cw(key, known[i].id, M);",
    replace: "    let bd = cw(key, me, M);\n    for (let i = 0; i < known.length; i++) {\n" +
      "      const d = cw(known[i].id, key, M);",
    tests: [ROUTING],
    filter: "next hop",
    limitS: 120,
  },
  {
    name: "routing: approach takes equally distant nodes, either side",
    file: "lib/core/routing_table.ts",
    find: "        if (d < bd || (d === bd && !bAfter && cw(key, id, M) <= cw(id, key, M))) {",
    replace: "        if (d <= bd) {",
    tests: [ROUTING],
    filter: "next hop",
    limitS: 120,
  },
  {
    name: "routing: the jump to the first node past the key does not settle",
    file: "lib/core/routing_table.ts",
    find:
      "      if (best >= 0) return { node: known[best], phase: Phase.Settle, finger: slots[best] };",
    replace:
      "      if (best >= 0) return { node: known[best], phase: Phase.Approach, finger: slots[best] };",
    tests: [ROUTING],
    filter: "next hop",
    limitS: 120,
  },
  // ---- the network secret ----
  {
    name: "secret, verifier: a peer that sends no proof is accepted",
    file: "lib/com/secret.ts",
    find: '  if (typeof proof !== "string") {\n' +
      "    return `Peer ${peer.id} did not prove the network secret`;\n  }",
    replace: '  if (typeof proof !== "string") return null;',
    tests: [SECRET],
    limitS: 120,
  },
  {
    name: "secret, verifier: a proof of the right length is accepted whatever it says",
    file: "lib/com/secret.ts",
    find: "  if (want.length !== got.length || !timingSafeEqual(want, got)) {",
    replace: "  if (want.length !== got.length) {",
    tests: [SECRET],
    limitS: 120,
  },
  {
    name: "secret, verifier without one: a peer that requires a secret is accepted",
    file: "lib/com/secret.ts",
    find: '    return peer.auth ? `Network "${peer.name}" requires a secret (net.secret)` : null;',
    replace: "    return null;",
    tests: [SECRET],
    limitS: 120,
  },
  {
    name: "secret, prover: a member sends no proof",
    file: "lib/core/ring.ts",
    find:
      "      prove: (peer) => (secret === null ? undefined : proveSecret(secret, peer, this.id)),",
    replace: "      prove: () => undefined,",
    tests: [SECRET],
    limitS: 120,
  },
  {
    name: "secret, prover: the proof does not bind the prover's id",
    file: "lib/com/secret.ts",
    find: 'update(`${verifier.nonce ?? ""}|${proverId}`)',
    replace: 'update(`${verifier.nonce ?? ""}|`)',
    tests: [SECRET],
    limitS: 120,
  },
  // ---- frames and handshakes ----
  {
    name: "frame-size limit, sender: an oversize message is sent anyway",
    file: "lib/node/node.ts",
    find: "    if (p.length > this.#maxFrame - 512) {",
    replace: "    if (false) {",
    tests: [GROUP],
    limitS: 180,
  },
  {
    name: "frame-size limit, receiver: an oversize declared length is accepted",
    file: "lib/com/framing.ts",
    find: "    if (length > this.#max) {",
    replace: "    if (false) {",
    tests: [TCP],
    limitS: 120,
  },
  {
    name: "handshake: a peer of another protocol version is accepted",
    file: "lib/com/transport.ts",
    find: "  if (h.v !== PROTOCOL_VERSION) {",
    replace: "  if (false) {",
    tests: [TCP],
    limitS: 120,
  },
  {
    name: "handshake: a peer with our own id is accepted",
    file: "lib/com/transport.ts",
    find: "  if (h.id === localId) return `Duplicate node id ${h.id}`;\n",
    replace: "",
    tests: [TCP],
    limitS: 120,
  },
  // ---- streams and the gateway ----
  {
    name: "stream reader limit: a slow reader's queue grows without bound",
    file: "lib/node/fanout.ts",
    find: "    if (this.#queue.length - this.#head > this.#limit) {",
    replace: "    if (false) {",
    tests: [STREAMS],
    limitS: 120,
  },
  {
    name: "Last-Event-ID replay: the gateway ignores the id a client reconnects with",
    file: "gateway/gateway.ts",
    find: "    const last = log.parseId(raw);",
    replace: "    const last = log.parseId(null);",
    tests: ["tests/gateway_sse_test.ts"],
    limitS: 120,
  },
  {
    name: "gateway token: a wrong bearer token is let through",
    file: "gateway/_security.ts",
    find: "    if (!sameBytes(given, this.#token)) {",
    replace: "    if (false) {",
    tests: ["tests/gateway_auth_test.ts"],
    limitS: 120,
  },
];
