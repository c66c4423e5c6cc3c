// In-process tests of every gateway route (the fetch handler, no sockets) over a simulated ring.
import assert from "node:assert/strict";
import type { P2PNode } from "../lib/node/node.ts";
import { gatewayRing } from "./_gateway_fixture.ts";
import { test } from "./_test.ts";

/** Starts reading `node`'s messages; `got()` runs the simulation and returns what arrived. */
function inbox(node: P2PNode) {
  const it = node.messages();
  const seen: { src: number; msg: unknown; kind: string }[] = [];
  const done = (async () => {
    for await (const m of it) seen.push({ src: m.src, msg: m.msg, kind: m.kind });
  })();
  return {
    seen,
    async stop() {
      await it.return?.();
      await done;
    },
  };
}

async function settleFetch(
  r: Awaited<ReturnType<typeof gatewayRing>>,
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await r.sim.settle(r.post(path, body));
  return { status: res.status, json: await res.json() };
}

test("POST /send delivers a message to the node whose id is dst", async () => {
  await using r = await gatewayRing();
  const box = inbox(r.node(400));
  const res = await r.post("/send", { dst: 400, msg: { text: "hello", n: [1, 2] } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.deepEqual(await res.json(), { ok: true });
  r.sim.run(1000);
  await box.stop();
  assert.deepEqual(box.seen, [{ src: 1, msg: { text: "hello", n: [1, 2] }, kind: "send" }]);
});

test("POST /send with toResp delivers to the node responsible for the key", async () => {
  await using r = await gatewayRing();
  const box = inbox(r.node(100));
  const res = await r.post("/send", { dst: 42, msg: "key 42", toResp: true });
  assert.equal(res.status, 200);
  r.sim.run(1000);
  await box.stop();
  assert.deepEqual(box.seen.map((m) => m.msg), ["key 42"]);
});

test("POST /send turns the JSON forms into CBOR values on the wire", async () => {
  await using r = await gatewayRing();
  const box = inbox(r.node(16));
  const msg = {
    bytes: { $bytes: "AAEC" },
    big: { $bigint: "123456789012345678901234567890" },
    map: { $map: [[1, "one"]] },
    nothing: { $undefined: true },
  };
  assert.equal((await r.post("/send", { dst: 16, msg })).status, 200);
  r.sim.run(1000);
  await box.stop();
  assert.deepEqual(box.seen[0].msg, {
    bytes: new Uint8Array([0, 1, 2]),
    big: 123456789012345678901234567890n,
    map: new Map([[1, "one"]]),
    nothing: undefined,
  });
});

test("POST /send with ack answers with the delivery receipt", async () => {
  await using r = await gatewayRing();
  const { status, json } = await settleFetch(r, "/send", { dst: 700, msg: "x", ack: true });
  assert.equal(status, 200);
  assert.equal(json.ok, true);
  const receipt = json.receipt as Record<string, number>;
  assert.equal(receipt.dst, 700);
  assert.equal(receipt.node, 700);
  assert.equal(receipt.hops, 1, "node 700 is node 1's predecessor");
  assert.equal(typeof receipt.rtt, "number");
});

test("POST /send with ack to an absent node answers 404 naming what was missing", async () => {
  await using r = await gatewayRing();
  const { status, json } = await settleFetch(r, "/send", { dst: 5, msg: "x", ack: true });
  assert.equal(status, 404);
  assert.deepEqual(json, {
    error: "No node has id 5: message 1 was not delivered there",
    type: "NodeAbsentError",
    missing: [5],
  });
});

test("POST /send with ack answers 504 when no acknowledgement comes in time", async () => {
  await using r = await gatewayRing();
  // Every data frame is lost in transit from now on.
  r.sim.network.options.loss = 1;
  const { status, json } = await settleFetch(r, "/send", {
    dst: 400,
    msg: "x",
    ack: true,
    timeoutMs: 50,
  });
  assert.equal(status, 504);
  assert.deepEqual(json, {
    error: "Delivery of message 1 was not acknowledged within 50 ms by 400",
    type: "TimeoutError",
  });
});

test("POST /multicast delivers once to each destination", async () => {
  await using r = await gatewayRing();
  const boxes = [16, 100, 700].map((id) => inbox(r.node(id)));
  const res = await r.post("/multicast", { dst: [16, 700, 100, 16], msg: "to three" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  r.sim.run(1000);
  for (const b of boxes) await b.stop();
  assert.deepEqual(boxes.map((b) => b.seen.map((m) => [m.msg, m.kind])), [
    [["to three", "multicast"]],
    [["to three", "multicast"]],
    [["to three", "multicast"]],
  ]);
});

test("POST /multicast with ack reports the nodes reached", async () => {
  await using r = await gatewayRing();
  const { status, json } = await settleFetch(r, "/multicast", {
    dst: [16, 400],
    msg: "m",
    ack: true,
  });
  assert.equal(status, 200);
  const report = json.report as { reached: number[]; missing: number[] };
  assert.deepEqual([...report.reached].sort((a, b) => a - b), [16, 400]);
  assert.deepEqual(report.missing, []);
});

test("POST /multicast with ack answers 404 listing the absent destinations", async () => {
  await using r = await gatewayRing();
  const { status, json } = await settleFetch(r, "/multicast", {
    dst: [16, 999],
    msg: "m",
    ack: true,
  });
  assert.equal(status, 404);
  assert.deepEqual(json, {
    error: "No node has id 999: message 1 was not delivered there",
    type: "NodeAbsentError",
    missing: [999],
  });
});

test("POST /broadcast reaches every other node, and this one with toMyself", async () => {
  await using r = await gatewayRing();
  const boxes = r.nodes.map((n) => inbox(n));
  assert.equal((await r.post("/broadcast", { msg: "all" })).status, 200);
  r.sim.run(1000);
  assert.equal((await r.post("/broadcast", { msg: "all+me", toMyself: true })).status, 200);
  r.sim.run(1000);
  for (const b of boxes) await b.stop();
  assert.deepEqual(boxes[0].seen.map((m) => m.msg), ["all+me"]);
  for (const b of boxes.slice(1)) assert.deepEqual(b.seen.map((m) => m.msg), ["all", "all+me"]);
});

test("POST /broadcast with ack reports every node reached", async () => {
  await using r = await gatewayRing();
  const { status, json } = await settleFetch(r, "/broadcast", { msg: "b", ack: true });
  assert.equal(status, 200);
  const report = json.report as { reached: number[] };
  assert.deepEqual([...report.reached].sort((a, b) => a - b), [16, 100, 400, 700]);
});

test("POST /succ reaches the next nrSucc nodes clockwise", async () => {
  await using r = await gatewayRing();
  const boxes = r.nodes.map((n) => inbox(n));
  assert.equal((await r.post("/succ", { msg: "replica", nrSucc: 2 })).status, 200);
  r.sim.run(1000);
  for (const b of boxes) await b.stop();
  assert.deepEqual(boxes.map((b) => b.seen.length), [0, 1, 1, 0, 0]);
  const { status, json } = await settleFetch(r, "/succ", { msg: "r", nrSucc: 3, ack: true });
  assert.equal(status, 200);
  assert.deepEqual((json.report as { reached: number[] }).reached, [16, 100, 400]);
});

test("GET /stats answers the node's statistics as JSON", async () => {
  await using r = await gatewayRing();
  await r.post("/send", { dst: 16, msg: 1 });
  const res = await r.request("/stats");
  assert.equal(res.status, 200);
  const stats = await res.json();
  assert.deepEqual(stats, JSON.parse(JSON.stringify(r.node(1).statistics())));
  assert.equal(stats.data.sent, 1);
});

test("GET /metrics answers the same counters in Prometheus text format", async () => {
  await using r = await gatewayRing();
  await r.post("/send", { dst: 16, msg: 1 });
  const res = await r.request("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const s = r.node(1).statistics();
  assert.match(text, /^# TYPE p2ps_data_messages_total counter$/m);
  assert.ok(text.includes(`p2ps_data_messages_total{event="sent"} ${s.data.sent}\n`));
  assert.ok(text.includes(`p2ps_control_messages_total{event="received"} ${s.control.received}`));
  assert.ok(text.includes(`p2ps_links{direction="in"} ${s.links.in}\n`));
  assert.match(text, /^p2ps_node_info\{id="1",status="connected"\} 1$/m);
  assert.match(text, /^p2ps_gateway_sse_clients\{stream="messages"\} 0$/m);
  // Every sample line is `name{labels} number`.
  for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    assert.match(line, /^[a-z0-9_]+(\{[^}]*\})? -?\d+(\.\d+)?(e[+-]?\d+)?$/, line);
  }
});

test("GET /node answers info() as JSON", async () => {
  await using r = await gatewayRing();
  const res = await r.request("/node");
  assert.equal(res.status, 200);
  const info = await res.json();
  assert.equal(info.id, 1);
  assert.equal(info.status, "connected");
  assert.equal(info.pred.id, 700);
  assert.deepEqual(info.succList.map((n: { id: number }) => n.id), [16, 100, 400, 700]);
  assert.equal(info.net.maxKey, 1024);
  assert.ok(Array.isArray(info.fingers));
});

test("GET / serves the dashboard page under a strict content policy", async () => {
  await using r = await gatewayRing();
  const res = await r.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/html/);
  assert.match(res.headers.get("content-security-policy")!, /connect-src 'self'/);
  const html = await res.text();
  assert.match(html, /<svg id="ring"/);
  assert.match(html, /new EventSource/);
});

test("a sending route answers 503 once the node has left", async () => {
  await using r = await gatewayRing();
  r.node(1).crash();
  const res = await r.post("/send", { dst: 16, msg: "late" });
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), {
    error: "Node 1 cannot send: it is crashed",
    type: "NodeClosedError",
  });
});

test("a message over the node's frame limit answers 413", async () => {
  await using r = await gatewayRing([1, 16], { node: { maxFrameSize: 4096 } });
  const res = await r.post("/send", { dst: 16, msg: "x".repeat(8000) });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).type, "MessageTooLargeError");
});

test("a closed gateway answers 503 and leaves the node running", async () => {
  await using r = await gatewayRing([1, 16]);
  r.gw.close();
  r.gw.close();
  const res = await r.request("/stats");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { error: "The gateway is closed", type: "Unavailable" });
  assert.equal(r.node(1).status, "connected");
});

// ---- bad input: every case answers JSON { error } with the right status, never 500 ----

const BAD: [string, string, string | unknown, number, RegExp][] = [
  ["malformed JSON", "/send", '{"dst": 1, "msg":', 400, /not valid JSON/],
  ["an empty body", "/send", "", 400, /empty/],
  ["a JSON array body", "/send", "[1, 2]", 400, /must be a JSON object, got an array/],
  ["a JSON null body", "/broadcast", "null", 400, /got null/],
  ["a missing dst", "/send", { msg: 1 }, 400, /"dst" is required/],
  ["a boolean dst", "/send", { dst: true, msg: 1 }, 400, /"dst" must be an integer.*true/],
  ["a negative dst", "/send", { dst: -1, msg: 1 }, 400, /\[0, 1024\).*-1/],
  ["a dst outside the id space", "/send", { dst: 1024, msg: 1 }, 400, /\[0, 1024\).*1024/],
  ["a fractional dst", "/send", { dst: 1.5, msg: 1 }, 400, /1\.5/],
  ["a missing msg", "/send", { dst: 16 }, 400, /"msg" is required/],
  ["a non-boolean toResp", "/send", { dst: 16, msg: 1, toResp: "yes" }, 400, /"toResp"/],
  ["a non-boolean ack", "/send", { dst: 16, msg: 1, ack: 1 }, 400, /"ack" must be true/],
  ["a zero timeoutMs", "/send", { dst: 16, msg: 1, timeoutMs: 0 }, 400, /"timeoutMs"/],
  ["a misspelt field", "/send", { dst: 16, msg: 1, toresp: true }, 400, /Unknown field "toresp"/],
  ["an unknown $ form", "/send", { dst: 16, msg: { $foo: 1 } }, 400, /unknown form "\$foo"/],
  ["bad base64 bytes", "/send", { dst: 16, msg: { $bytes: "%%" } }, 400, /base64/],
  ["a bad bigint", "/send", { dst: 16, msg: { $bigint: "1e3" } }, 400, /decimal integer/],
  ["an empty multicast list", "/multicast", { dst: [], msg: 1 }, 400, /non-empty array/],
  ["a multicast dst that is no array", "/multicast", { dst: 16, msg: 1 }, 400, /non-empty/],
  [
    "a multicast id outside the space",
    "/multicast",
    { dst: [16, 5000], msg: 1 },
    400,
    /"dst\[1\]".*5000/,
  ],
  ["toMyself on multicast", "/multicast", { dst: [16], msg: 1, toMyself: true }, 400, /Unknown/],
  ["toResp on broadcast", "/broadcast", { msg: 1, toResp: true }, 400, /Unknown field "toResp"/],
  ["a missing nrSucc", "/succ", { msg: 1 }, 400, /"nrSucc" is required/],
  ["a zero nrSucc", "/succ", { msg: 1, nrSucc: 0 }, 400, /"nrSucc" must be an integer/],
  ["a huge nrSucc", "/succ", { msg: 1, nrSucc: 1e9 }, 400, /\[1, 1024\]/],
];

for (const [what, path, body, status, error] of BAD) {
  test(`POST ${path} with ${what} answers ${status} naming the problem`, async () => {
    await using r = await gatewayRing([1, 16]);
    const res = await r.post(path, body);
    assert.equal(res.status, status);
    const json = await res.json();
    assert.equal(typeof json.error, "string");
    assert.match(json.error, error);
    // The node is unharmed: a good request still works.
    assert.equal((await r.post("/send", { dst: 16, msg: "still fine" })).status, 200);
  });
}

test("a body over the limit answers 413, with or without Content-Length", async () => {
  await using r = await gatewayRing([1, 16], { maxBodyBytes: 1000 });
  const big = JSON.stringify({ dst: 16, msg: "x".repeat(2000) });
  const declared = await r.post("/send", big);
  assert.equal(declared.status, 413);
  assert.match((await declared.json()).error, /limit of 1000 bytes/);
  // A streamed body has no Content-Length: the limit is enforced while reading.
  const bytes = new TextEncoder().encode(big);
  const streamed = await r.request("/send", {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += 100) c.enqueue(bytes.slice(i, i + 100));
        c.close();
      },
    }),
  });
  assert.equal(streamed.status, 413);
  assert.equal((await r.post("/send", { dst: 16, msg: "small" })).status, 200);
});

test("a body that is not UTF-8 answers 400", async () => {
  await using r = await gatewayRing([1, 16]);
  const res = await r.request("/send", { method: "POST", body: new Uint8Array([0xff, 0xfe]) });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /UTF-8/);
});

test("deeply nested JSON answers 400 instead of overflowing the stack", async () => {
  await using r = await gatewayRing([1, 16]);
  const msg = "[".repeat(100_000) + "]".repeat(100_000);
  const res = await r.post("/send", `{"dst": 16, "msg": ${msg}}`);
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /nested deeper/);
});

test("an unknown route answers 404 and a wrong method 405, both as JSON", async () => {
  await using r = await gatewayRing([1, 16]);
  const missing = await r.request("/nope");
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "No route GET /nope", type: "NotFound" });
  const wrong = await r.request("/send");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST");
  assert.match((await wrong.json()).error, /\/send does not accept GET/);
  const post = await r.post("/stats", {});
  assert.equal(post.status, 405);
});
