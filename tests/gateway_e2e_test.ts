// End to end: the `deno task start` command (the demo network, with the task's own permissions)
// as a real process, driven with curl and a raw SSE reader over real sockets.
import assert from "node:assert/strict";
import { SseReader } from "./_gateway_fixture.ts";
import { curl, Proc } from "./_gateway_process.ts";
import { until, within } from "./_wait.ts";
import { test } from "./_test.ts";

const root = new URL("..", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
// `deno run --allow-net=127.0.0.1 cli.ts demo`, plus free ports and no background traffic.
const START = (config.tasks.start as string).split(/\s+/).slice(1);

function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no ${series} in metrics`);
  return Number(line.split(" ")[1]);
}

test("deno task start serves a gateway per node that curl and SSE clients can use", async () => {
  assert.deepEqual(START.slice(0, 3), ["run", "--allow-net=127.0.0.1", "cli.ts"]);
  await using demo = new Proc([
    ...START,
    "--nodes",
    "4",
    "--http-port",
    "0",
    "--traffic-ms",
    "0",
  ]);
  await demo.waitFor((l) => l.includes("Ctrl-C to stop"), "the demo banner");
  const rows = demo.lines.map((l) => /^ {2}node +(\d+) +(http:\/\/127\.0\.0\.1:\d+)\//.exec(l))
    .filter((m) => m !== null);
  assert.equal(rows.length, 4, demo.lines.join("\n"));
  const [[, id0, url0], [, id1, url1]] = rows;
  await demo.waitFor((l) => l.includes("broadcast: reached 3 node(s)"), "the tour's broadcast");

  // A raw SSE reader on node 1's gateway, then a message sent with curl through node 0's.
  const stream = await within(
    fetch(`${url1}/messages`, { headers: { accept: "text/event-stream" } }),
    "the SSE response",
  );
  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const sse = new SseReader(stream.body!);
  assert.deepEqual(await sse.next(), { retry: 2000 });
  const sent = await curl([
    "-H",
    "content-type: application/json",
    "-d",
    JSON.stringify({ dst: Number(id1), msg: { hello: "from curl" }, ack: true }),
    `${url0}/send`,
  ]);
  assert.equal(sent.code, 200, sent.body);
  const receipt = JSON.parse(sent.body).receipt;
  assert.equal(receipt.node, Number(id1));
  const [event] = await sse.take(1);
  assert.equal(event.event, "message");
  assert.deepEqual(JSON.parse(event.data!).msg, { hello: "from curl" });
  assert.equal(JSON.parse(event.data!).src, Number(id0));
  await demo.waitFor((l) => l.includes(`got send from ${id0}`), "the demo's summary line");

  // Reconnect with Last-Event-ID over HTTP: what was missed meanwhile is replayed.
  await sse.cancel();
  await until(
    async () =>
      metric(
        (await curl([`${url1}/metrics`])).body,
        'p2ps_gateway_sse_clients{stream="messages"}',
      ) === 0,
    "the aborted SSE client is released",
  );
  for (const n of [1, 2]) {
    const r = await curl([
      "-d",
      JSON.stringify({ dst: Number(id1), msg: n, ack: true }),
      `${url0}/send`,
    ]);
    assert.equal(r.code, 200, r.body);
  }
  const again = await within(
    fetch(`${url1}/messages`, { headers: { "last-event-id": event.id! } }),
    "the SSE response to a reconnect",
  );
  const replay = new SseReader(again.body!);
  assert.deepEqual((await replay.take(2)).map((e) => JSON.parse(e.data!).msg), [1, 2]);
  await replay.cancel();

  // The other routes, and bad input, through curl.
  const stats = await curl([`${url0}/stats`]);
  assert.equal(stats.code, 200);
  // Node 0 sent the tour's message to a key, three messages through curl, and the tour's
  // broadcast, which it hands to each of the three others (it knows them all): one message per
  // first hop; acknowledged sends that had to be sent again count as retransmitted.
  const { data, kinds } = JSON.parse(stats.body);
  assert.equal(kinds.send.sent, 4);
  assert.equal(kinds.broadcast.sent, 3);
  assert.equal(data.sent, 4 + 3);
  const node = await curl([`${url0}/node`]);
  assert.equal(JSON.parse(node.body).id, Number(id0));
  const metrics = await curl([`${url0}/metrics`]);
  assert.match(metrics.body, /^p2ps_data_messages_total\{event="sent"\} \d+$/m);
  const page = await curl([url0 + "/"]);
  assert.match(page.body, /<title>P2PS node<\/title>/);
  const bad = await curl(["-d", '{"dst": -1, "msg": 1}', `${url0}/send`]);
  assert.equal(bad.code, 400);
  assert.match(JSON.parse(bad.body).error, /"dst"/);
  const broadcast = await curl(["-d", '{"msg": "all", "ack": true}', `${url0}/broadcast`]);
  assert.equal(broadcast.code, 200);
  assert.equal(JSON.parse(broadcast.body).report.reached.length, 3);
  const missing = await curl([`${url0}/nope`]);
  assert.equal(missing.code, 404);

  // Ctrl-C: every node leaves and the process ends cleanly.
  const status = await demo.stop("SIGINT");
  assert.equal(status.code, 0, demo.stderr);
  assert.ok(demo.lines.includes("All nodes left. Bye."), demo.lines.join("\n"));
  assert.equal(demo.stderr, "");
});

test("an SSE client over a real socket gets heartbeats and is released when it hangs up", async () => {
  const { createNet } = await import("../mod.ts");
  const { serveGateway } = await import("../gateway/mod.ts");
  await using node = await createNet({ node: { id: 1 } });
  await using server = serveGateway(node, { port: 0, heartbeatMs: 30 });
  // A raw TCP client: write the request by hand and read the bytes that come back.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(
    new TextEncoder().encode(
      `GET /events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAccept: text/event-stream\r\n\r\n`,
    ),
  );
  let text = "";
  const buf = new Uint8Array(4096);
  while (!/: ping\n\n[\s\S]*: ping\n\n/.test(text)) {
    const n = await within(conn.read(buf), `two heartbeats (got ${JSON.stringify(text)})`);
    assert.ok(n !== null, "connection closed early");
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /content-type: text\/event-stream/i);
  assert.equal(server.gateway.connections.events, 1);
  conn.close();
  await until(
    () => server.gateway.connections.events === 0,
    "the hung-up client is released",
  );
});
