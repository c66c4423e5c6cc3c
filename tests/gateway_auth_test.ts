// Security of the gateway, in-process: bearer token on every route, CORS for configured
// origins only, loopback Host without a token, and the binding rule of serveGateway.
import assert from "node:assert/strict";
import { serveGateway } from "../gateway/mod.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { gatewayRing } from "./_gateway_fixture.ts";
import { within } from "./_wait.ts";
import { exactly } from "./_assert.ts";
import { test } from "./_test.ts";

const ROUTES: [string, string][] = [
  ["POST", "/send"],
  ["POST", "/multicast"],
  ["POST", "/broadcast"],
  ["POST", "/succ"],
  ["GET", "/messages"],
  ["GET", "/events"],
  ["GET", "/stats"],
  ["GET", "/metrics"],
  ["GET", "/node"],
  ["GET", "/"],
  ["GET", "/unknown"],
];

test("with a token set, every route answers 401 without it or with a wrong one", async () => {
  await using r = await gatewayRing([1, 16], { token: "s3cret" });
  for (const [method, path] of ROUTES) {
    const variants: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Basic x" },
    ];
    for (const headers of variants) {
      const res = await r.request(path, { method, headers, body: method === "POST" ? "{}" : null });
      assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.match(res.headers.get("www-authenticate")!, /^Bearer/);
      assert.match((await res.json()).error, /token/);
    }
    const wrongQuery = await r.request(`${path}?token=nope`, { method });
    assert.equal(wrongQuery.status, 401);
    await wrongQuery.body?.cancel();
  }
});

test("with a token set, the header or the query parameter lets a request through", async () => {
  await using r = await gatewayRing([1, 16], { token: "s3cret" });
  const byHeader = await r.request("/stats", { headers: { authorization: "Bearer s3cret" } });
  assert.equal(byHeader.status, 200);
  await byHeader.body?.cancel();
  const send = await r.post("/send", { dst: 16, msg: 1 }, { authorization: "bearer s3cret" });
  assert.equal(send.status, 200);
  await send.body?.cancel();
  // EventSource cannot set headers: the query parameter is for it.
  const stream = await r.request("/events?token=s3cret");
  assert.equal(stream.status, 200);
  await stream.body?.cancel();
  const page = await r.request("/?token=s3cret");
  assert.equal(page.status, 200);
  await page.body?.cancel();
});

test("without a token, a request whose Host is not loopback answers 403", async () => {
  await using r = await gatewayRing([1, 16]);
  for (const host of ["evil.example", "evil.example:8080", "10.0.0.1:8080", "0.0.0.0:8080"]) {
    const res = await r.gw.fetch(new Request(`http://${host}/stats`));
    assert.equal(res.status, 403, host);
    assert.match((await res.json()).error, /not allowed without a token/);
  }
  for (const host of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "app.localhost"]) {
    const res = await r.gw.fetch(new Request(`http://${host}/stats`));
    assert.equal(res.status, 200, host);
    await res.body?.cancel();
  }
});

test("with a token, any Host is accepted (the token is the protection)", async () => {
  await using r = await gatewayRing([1, 16], { token: "t" });
  const res = await r.gw.fetch(
    new Request("http://node.example/stats", { headers: { authorization: "Bearer t" } }),
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

test("a page of a foreign origin is refused unless its origin is configured", async () => {
  await using r = await gatewayRing([1, 16], { origins: ["https://app.example"] });
  const foreign = await r.post("/send", { dst: 16, msg: "csrf" }, {
    origin: "https://evil.example",
  });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  assert.match((await foreign.json()).error, /Origin https:\/\/evil\.example is not allowed/);
  const allowed = await r.post("/send", { dst: 16, msg: "ok" }, { origin: "https://app.example" });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(allowed.headers.get("vary"), "Origin");
  await allowed.body?.cancel();
  // The dashboard's own requests are same-origin: allowed, without CORS headers.
  const same = await r.post("/send", { dst: 16, msg: "ok" }, { origin: "http://127.0.0.1:8080" });
  assert.equal(same.status, 200);
  assert.equal(same.headers.get("access-control-allow-origin"), null);
  await same.body?.cancel();
});

test("a CORS preflight is answered for configured origins only, without a token", async () => {
  await using r = await gatewayRing([1, 16], { origins: ["https://app.example"], token: "t" });
  const preflight = (origin: string) =>
    r.request("/send", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
  const ok = await preflight("https://app.example");
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
  assert.match(ok.headers.get("access-control-allow-headers")!, /authorization/);
  assert.match(ok.headers.get("access-control-allow-methods")!, /POST/);
  const bad = await preflight("https://evil.example");
  assert.equal(bad.status, 403);
  assert.equal(bad.headers.get("access-control-allow-origin"), null);
  await bad.body?.cancel();
  // Errors seen by an allowed origin carry CORS headers, so its page can read them.
  const denied = await r.request("/stats", { headers: { origin: "https://app.example" } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("access-control-allow-origin"), "https://app.example");
  await denied.body?.cancel();
});

test('origins ["*"] allows any origin', async () => {
  await using r = await gatewayRing([1, 16], { origins: ["*"], token: "t" });
  const res = await r.request("/stats", {
    headers: { origin: "https://any.example", authorization: "Bearer t" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://any.example");
  await res.body?.cancel();
});

test("serveGateway refuses a non-loopback address without a token", async () => {
  await using r = await gatewayRing([1]);
  for (const hostname of ["0.0.0.0", "192.168.1.10", "::"]) {
    assert.throws(
      () => serveGateway(r.node(1), { hostname, port: 0 }),
      exactly(
        InvalidArgumentError,
        `Serving the gateway on ${hostname} (not loopback) requires a token`,
      ),
    );
  }
  assert.throws(
    () => serveGateway(r.node(1), { port: 70000 }),
    exactly(InvalidArgumentError, "HTTP port must be an integer in [0, 65535], got 70000"),
  );
});

test("an empty token is refused rather than silently disabling authentication", async () => {
  await assert.rejects(
    () => gatewayRing([1], { token: "" }),
    exactly(TypeError, "The token must not be empty"),
  );
});

test("serveGateway serves on loopback and shuts down cleanly with open streams", async () => {
  await using r = await gatewayRing([1, 16]);
  const server = serveGateway(r.node(1), { port: 0 });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const stats = await within(fetch(`${server.url}/stats`), "GET /stats over a real socket");
  assert.equal(stats.status, 200);
  await stats.body?.cancel();
  const stream = await within(fetch(`${server.url}/events`), "GET /events over a real socket");
  assert.equal(stream.status, 200);
  const reader = stream.body!.getReader();
  await within(reader.read(), "the stream's first bytes");
  await within(server.shutdown(), "the server to shut down with a stream open");
  // The stream ended with the server.
  await within(
    (async () => {
      while (!(await reader.read()).done) { /* read to the end */ }
    })(),
    "the stream to end with the server",
  );
  await server.shutdown();
});
