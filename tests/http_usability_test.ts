// The gateway as a new user meets it: string keys wherever a key goes, an error body that always
// says what kind of error it is, and streams a freshly loaded page can fill from the replay
// buffer.
import assert from "node:assert/strict";
import { hashKey } from "../mod.ts";
import { gatewayRing, SseReader } from "./_gateway_fixture.ts";
import { flush } from "./_ring.ts";
import { test } from "./_test.ts";

const BOB = hashKey("bob", 1024);

test("POST /send with a string dst reaches the node whose id is that key's hash, and says where it went", async () => {
  await using r = await gatewayRing([1, 16, BOB, 700]);
  const res = await r.sim.settle(r.post("/send", { dst: "bob", msg: "hi bob", ack: true }));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.dst, BOB);
  assert.equal(body.receipt.node, BOB);
  // Without ack the answer still names the id the key became; with a number it stays { ok }.
  assert.deepEqual(await (await r.post("/send", { dst: "bob", msg: 1 })).json(), {
    ok: true,
    dst: BOB,
  });
  assert.deepEqual(await (await r.post("/send", { dst: 16, msg: 1 })).json(), { ok: true });
});

test("POST /send with a string dst and toResp reaches the node responsible for the hashed key", async () => {
  await using r = await gatewayRing([1, 16, 100, 400, 700]);
  const key = hashKey("alice", 1024);
  const ids = [1, 16, 100, 400, 700];
  const res = await r.sim.settle(
    r.post("/send", { dst: "alice", msg: "x", toResp: true, ack: true }),
  );
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.dst, key);
  assert.equal(body.receipt.node, ids.find((id) => id >= key) ?? ids[0]);
});

test("POST /multicast takes string keys and ids together", async () => {
  await using r = await gatewayRing([1, 16, BOB, 700]);
  const res = await r.sim.settle(
    r.post("/multicast", { dst: ["bob", 16], msg: "both", ack: true }),
  );
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body.dst, [BOB, 16]);
  assert.deepEqual([...body.report.reached].sort((a, b) => a - b), [16, BOB].sort((a, b) => a - b));
});

test("an empty string key is refused as an invalid argument", async () => {
  await using r = await gatewayRing([1, 16]);
  const res = await r.post("/send", { dst: "", msg: 1 });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.type, "InvalidArgumentError");
  assert.match(body.error, /"dst" must be an integer in \[0, 1024\) .* or a non-empty string key/);
});

test("every error body carries a type as well as a message", async () => {
  await using r = await gatewayRing([1, 16], { token: "t", maxBodyBytes: 64 });
  const auth = { authorization: "Bearer t" };
  const cases: [string, Promise<Response>, number, string][] = [
    ["a missing field", r.post("/send", { msg: 1 }, auth), 400, "InvalidArgumentError"],
    [
      "a misspelt field",
      r.post("/send", { dst: 1, msg: 1, x: 1 }, auth),
      400,
      "InvalidArgumentError",
    ],
    ["a bad nrSucc", r.post("/succ", { msg: 1, nrSucc: 0 }, auth), 400, "InvalidArgumentError"],
    ["malformed JSON", r.post("/send", "{", auth), 400, "BadRequest"],
    ["a bad $ form", r.post("/send", { dst: 1, msg: { $x: 1 } }, auth), 400, "JsonFormError"],
    ["no token", r.post("/send", { dst: 1, msg: 1 }), 401, "Unauthorized"],
    ["an unknown route", r.request("/nope", { headers: auth }), 404, "NotFound"],
    ["a wrong method", r.request("/send", { headers: auth }), 405, "MethodNotAllowed"],
    [
      "a large body",
      r.post("/send", { dst: 1, msg: "x".repeat(100) }, auth),
      413,
      "PayloadTooLarge",
    ],
  ];
  for (const [what, pending, status, type] of cases) {
    const res = await pending;
    assert.equal(res.status, status, what);
    const body = await res.json();
    assert.equal(body.type, type, what);
    assert.equal(typeof body.error, "string", what);
  }
});

test("GET /messages?replay=all starts with the messages still in the replay buffer, then marks the present", async () => {
  await using r = await gatewayRing([1, 16]);
  await r.node(16).send(1, "before the page loaded");
  await r.node(16).send(1, "this one too");
  r.sim.run(100);
  await flush();
  const res = await r.request("/messages?replay=all");
  assert.equal(res.status, 200);
  const sse = new SseReader(res.body!);
  const [a, b, mark] = await sse.take(3);
  assert.equal(a.event, "message");
  assert.equal(JSON.parse(a.data!).msg, "before the page loaded");
  assert.equal(JSON.parse(b.data!).msg, "this one too");
  // A mark without an id says where the past ends.
  assert.deepEqual(mark, { event: "replayed", data: "{}" });
  // Without it, a new client gets only what follows.
  const live = await r.request("/messages");
  const liveSse = new SseReader(live.body!);
  await r.node(16).send(1, "after");
  r.sim.run(100);
  await flush();
  assert.equal(JSON.parse((await liveSse.nextEvent())!.data!).msg, "after");
  await sse.cancel();
  await liveSse.cancel();
});
