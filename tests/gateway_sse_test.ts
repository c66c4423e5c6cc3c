// Server-Sent-Events behaviour of the gateway, in-process: ids, replay after Last-Event-ID, gap
// signalling, heartbeats, slow clients, and release on client abort.
import assert from "node:assert/strict";
import { gatewayRing, SseReader } from "./_gateway_fixture.ts";
import { test } from "./_test.ts";

type Ring = Awaited<ReturnType<typeof gatewayRing>>;

async function openStream(
  r: Ring,
  path: string,
  headers: Record<string, string> = {},
): Promise<SseReader> {
  const res = await r.request(path, { headers });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  return new SseReader(res.body!);
}

/** Sends `n` messages from node 1 to itself, numbered from `from`. */
async function sendToSelf(r: Ring, n: number, from = 1): Promise<void> {
  for (let i = from; i < from + n; i++) {
    assert.equal((await r.post("/send", { dst: 1, msg: i })).status, 200);
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
}

const msgOf = (e: { data?: string }) => JSON.parse(e.data!).msg;

test("GET /messages streams each delivered message with an id and its JSON", async () => {
  await using r = await gatewayRing();
  const sse = await openStream(r, "/messages");
  const first = await sse.next();
  assert.deepEqual(first, { retry: 2000 });
  await r.post("/send", { dst: 1, msg: { b: { $bytes: "AQI=" }, n: { $bigint: "7" } } });
  await r.post("/send", { dst: 16, msg: "elsewhere" });
  await r.post("/send", { dst: 1, msg: "second" });
  const [a, b] = await sse.take(2);
  assert.equal(a.event, "message");
  assert.match(a.id!, /^[a-z0-9]+-1$/);
  assert.deepEqual(JSON.parse(a.data!), {
    src: 1,
    srcAp: r.node(1).ap,
    dst: 1,
    kind: "send",
    hops: 0,
    id: JSON.parse(a.data!).id,
    msg: { b: { $bytes: "AQI=" }, n: { $bigint: "7" } },
  });
  assert.match(b.id!, /-2$/);
  assert.equal(msgOf(b), "second");
  await sse.cancel();
});

test("GET /events streams node events named by their type", async () => {
  await using r = await gatewayRing([1, 16]);
  const sse = await openStream(r, "/events");
  const join = r.sim.joinNet(r.node(1), { node: { id: 8 } });
  await r.sim.settle(join);
  const events = await sse.take(2);
  assert.deepEqual(events.map((e) => [e.id!.split("-")[1], e.event, JSON.parse(e.data!).type]), [
    ["1", "fingers", "fingers"],
    ["2", "newsucc", "newsucc"],
  ]);
  // Node 8 is node 1's new successor (after 16) and its finger for targets 2 and 5.
  const [fingers, newsucc] = events.map((e) => JSON.parse(e.data!));
  assert.deepEqual(
    fingers.changed.map((c: { index: number; target: number; node: { id: number } }) => [
      c.index,
      c.target,
      c.node.id,
    ]),
    [[0, 2, 8], [2, 5, 8]],
  );
  assert.deepEqual([newsucc.succ.id, newsucc.old.id], [8, 16]);
  await sse.cancel();
});

test("a client reconnecting with Last-Event-ID gets exactly what it missed", async () => {
  await using r = await gatewayRing([1, 16]);
  const first = await openStream(r, "/messages");
  await sendToSelf(r, 2);
  const seen = await first.take(2);
  await first.cancel();
  await sendToSelf(r, 3, 3);
  const again = await openStream(r, "/messages", { "last-event-id": seen[1].id! });
  const replay = await again.take(3);
  assert.deepEqual(replay.map(msgOf), [3, 4, 5]);
  assert.ok(replay.every((e) => e.event === "message"));
  // After the replay it follows the live stream.
  await sendToSelf(r, 1, 6);
  assert.deepEqual((await again.take(1)).map(msgOf), [6]);
  await again.cancel();
});

test("the lastEventId query parameter works like the header, for browsers", async () => {
  await using r = await gatewayRing([1, 16]);
  const first = await openStream(r, "/messages");
  await sendToSelf(r, 3);
  const [one] = await first.take(1);
  await first.cancel();
  const again = await openStream(r, `/messages?lastEventId=${one.id}`);
  assert.deepEqual((await again.take(2)).map(msgOf), [2, 3]);
  await again.cancel();
});

test("a reconnect past the replay buffer is told how many events it missed", async () => {
  await using r = await gatewayRing([1, 16], { replay: 3 });
  const first = await openStream(r, "/messages");
  await sendToSelf(r, 1);
  const [one] = await first.take(1);
  await first.cancel();
  await sendToSelf(r, 6, 2); // messages 2..7; the buffer keeps 5, 6, 7
  const again = await openStream(r, "/messages", { "last-event-id": one.id! });
  const [gap, ...rest] = await again.take(4);
  assert.equal(gap.event, "gap");
  assert.deepEqual(JSON.parse(gap.data!), { lastEventId: one.id, missed: 3, reason: "evicted" });
  assert.match(gap.id!, /-4$/);
  assert.deepEqual(rest.map(msgOf), [5, 6, 7]);
  await again.cancel();
});

test("an id from another gateway instance is reported as unknown, then replayed", async () => {
  await using r = await gatewayRing([1, 16]);
  await sendToSelf(r, 2);
  const sse = await openStream(r, "/messages", { "last-event-id": "zzzz-5" });
  const [gap, ...rest] = await sse.take(3);
  assert.equal(gap.event, "gap");
  assert.deepEqual(JSON.parse(gap.data!), {
    lastEventId: "zzzz-5",
    missed: null,
    reason: "unknown-id",
  });
  assert.deepEqual(rest.map(msgOf), [1, 2]);
  await sse.cancel();
});

test("an idle connection gets heartbeat comments", async () => {
  await using r = await gatewayRing([1, 16], { heartbeatMs: 20 });
  const sse = await openStream(r, "/messages");
  assert.deepEqual(await sse.next(), { retry: 2000 });
  assert.deepEqual(await sse.next(), { comment: "ping" });
  assert.deepEqual(await sse.next(), { comment: "ping" });
  await sse.cancel();
});

test("a client that goes away is released at once", async () => {
  await using r = await gatewayRing([1, 16], { heartbeatMs: 60_000 });
  const a = await openStream(r, "/messages");
  const b = await openStream(r, "/events");
  const c = await openStream(r, "/messages");
  assert.deepEqual(r.gw.connections, { messages: 2, events: 1 });
  await a.next(); // the client is now waiting in a pull with a heartbeat timer armed
  await a.cancel();
  assert.deepEqual(r.gw.connections, { messages: 1, events: 1 });
  await b.cancel();
  await c.cancel();
  assert.deepEqual(r.gw.connections, { messages: 0, events: 0 });
  const metrics = await (await r.request("/metrics")).text();
  assert.match(metrics, /^p2ps_gateway_sse_clients\{stream="messages"\} 0$/m);
});

test("a slow client costs no memory: it skips ahead with a gap event", async () => {
  await using r = await gatewayRing([1, 16], { replay: 4 });
  const sse = await openStream(r, "/messages");
  assert.deepEqual(await sse.next(), { retry: 2000 });
  // The client reads nothing while 10 messages arrive; only 4 are kept for it.
  await sendToSelf(r, 10);
  const [gap, ...rest] = await sse.take(5);
  assert.equal(gap.event, "gap");
  assert.equal(JSON.parse(gap.data!).reason, "slow");
  assert.equal(JSON.parse(gap.data!).missed, 6);
  assert.deepEqual(rest.map(msgOf), [7, 8, 9, 10]);
  assert.match(
    await (await r.request("/metrics")).text(),
    /^p2ps_gateway_sse_slow_gaps_total\{stream="messages"\} 1$/m,
  );
  await sse.cancel();
});

test("the replay buffer is bounded in bytes as well as in events", async () => {
  await using r = await gatewayRing([1, 16], { replay: 1000, replayBytes: 2000 });
  const first = await openStream(r, "/messages");
  await sendToSelf(r, 1);
  const [one] = await first.take(1);
  await first.cancel();
  for (let i = 0; i < 10; i++) await r.post("/send", { dst: 1, msg: "x".repeat(500) });
  await new Promise((resolve) => setTimeout(resolve, 0));
  const again = await openStream(r, "/messages", { "last-event-id": one.id! });
  // Each of the ten events is about 630 bytes: 2000 bytes keep the last three (9, 10, 11).
  const [gap, ...kept] = await again.take(4);
  assert.equal(gap.event, "gap");
  assert.deepEqual(JSON.parse(gap.data!), { lastEventId: one.id, missed: 7, reason: "evicted" });
  assert.deepEqual(kept.map((e) => e.id!.split("-")[1]), ["9", "10", "11"]);
  assert.deepEqual(kept.map(msgOf), ["x".repeat(500), "x".repeat(500), "x".repeat(500)]);
  await again.cancel();
});

test("streams end when the node leaves, and a caught-up reconnect gets 204", async () => {
  await using r = await gatewayRing([1, 16]);
  const sse = await openStream(r, "/messages");
  await sendToSelf(r, 1);
  const [last] = await sse.take(1);
  r.node(1).crash();
  assert.equal(await sse.nextEvent(), null);
  assert.deepEqual(r.gw.connections, { messages: 0, events: 0 });
  const again = await r.request("/messages", { headers: { "last-event-id": last.id! } });
  assert.equal(again.status, 204);
  const fresh = await r.request("/messages");
  assert.equal(fresh.status, 204);
});

test("closing the gateway ends open streams", async () => {
  await using r = await gatewayRing([1, 16]);
  const sse = await openStream(r, "/events");
  r.gw.close();
  assert.equal(await sse.nextEvent(), null);
  assert.deepEqual(r.gw.connections, { messages: 0, events: 0 });
});

test("HEAD on a stream answers its headers without opening a connection", async () => {
  await using r = await gatewayRing([1, 16]);
  const res = await r.request("/messages", { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(res.body, null);
  assert.deepEqual(r.gw.connections, { messages: 0, events: 0 });
});
