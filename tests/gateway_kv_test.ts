// The DHT over HTTP (`/kv/:key`): real curl against gateways of nodes over TCP — JSON and raw
// bodies, versions as entity tags, compare-and-set with If-Match / If-None-Match, and every
// kind of bad request; and, in-process, the answer to a lost quorum.
import assert from "node:assert/strict";
import { createNet, hashKey, joinNet, type P2PNode } from "../mod.ts";
import { createGateway, type GatewayServer, serveGateway } from "../gateway/mod.ts";
import { Simulator } from "../lib/node/simulator.ts";
import { holders } from "./_dht.ts";
import { test } from "./_test.ts";
import { within } from "./_wait.ts";

/** What curl saw: the status, the response headers (lower-case names) and the body's bytes. */
interface Answer {
  code: number;
  headers: Map<string, string>;
  body: Uint8Array;
  text: string;
  json(): Record<string, unknown>;
}

/** Runs curl with `args` (the URL among them). */
async function curl(args: string[]): Promise<Answer> {
  const file = await Deno.makeTempFile({ prefix: "p2ps-kv-" });
  try {
    const out = await new Deno.Command("curl", {
      args: [
        "-s",
        "-S",
        "--max-time",
        "20",
        "-D",
        "-",
        "-o",
        file,
        "-w",
        "\n%{http_code}",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr)}`);
    const text = new TextDecoder().decode(out.stdout);
    const code = Number(text.slice(text.lastIndexOf("\n") + 1));
    const headers = new Map<string, string>();
    for (const line of text.split("\r\n").slice(1)) {
      const at = line.indexOf(":");
      if (at > 0) headers.set(line.slice(0, at).toLowerCase(), line.slice(at + 1).trim());
    }
    const body = await Deno.readFile(file);
    const bodyText = new TextDecoder().decode(body);
    return { code, headers, body, text: bodyText, json: () => JSON.parse(bodyText) };
  } finally {
    await Deno.remove(file);
  }
}

/** Three nodes over TCP, each with a gateway. */
async function network(
  gatewayOptions: { maxBodyBytes?: number } = {},
): Promise<{ nodes: P2PNode[]; servers: GatewayServer[]; close(): Promise<void> }> {
  const dht = { maxValueBytes: 200_000 };
  const nodes = [await createNet({ net: { maxKey: 2 ** 40 }, dht })];
  for (let i = 0; i < 2; i++) nodes.push(await joinNet(nodes[0].ap, { dht }));
  const servers = nodes.map((n) => serveGateway(n, { port: 0, ...gatewayOptions }));
  return {
    nodes,
    servers,
    async close() {
      for (const s of servers) await s.shutdown();
      for (const n of nodes.reverse()) await n.leave();
    },
  };
}

const JSON_TYPE = ["-H", "content-type: application/json"];

test("curl PUT /kv/:key stores a JSON value that GET reads back from every node's gateway, with its version as ETag; DELETE removes it", async () => {
  const net = await network();
  try {
    const [a, b, c] = net.servers.map((s) => `${s.url}/kv`);
    const put = await curl([
      "-X",
      "PUT",
      ...JSON_TYPE,
      "-d",
      '{"color":"blue","n":[1,2]}',
      `${a}/my%20key`,
    ]);
    assert.equal(put.code, 200, put.text);
    const id = hashKey("my key", 2 ** 40);
    assert.deepEqual(put.json(), { ok: true, key: "my key", id, version: 1, replicas: 3 });
    assert.equal(put.headers.get("etag"), '"1"');
    for (const url of [a, b, c]) {
      const got = await curl([`${url}/my%20key`]);
      assert.equal(got.code, 200, got.text);
      assert.deepEqual(got.json(), { color: "blue", n: [1, 2] });
      assert.equal(got.headers.get("etag"), '"1"');
      assert.equal(got.headers.get("content-type"), "application/json; charset=utf-8");
    }
    // The same string names the same item through the library.
    assert.deepEqual(await net.nodes[2].lookup("my key"), {
      value: { color: "blue", n: [1, 2] },
      version: 1,
    });
    // JSON forms: bytes and bigints survive HTTP → CBOR → HTTP.
    const forms = '{"$bytes":"AAEC"}';
    assert.equal((await curl(["-X", "PUT", ...JSON_TYPE, "-d", forms, `${b}/forms`])).code, 200);
    assert.deepEqual((await net.nodes[0].lookup("forms"))?.value, new Uint8Array([0, 1, 2]));
    assert.equal((await curl([`${c}/forms`])).text, forms);
    // HEAD answers the headers only; If-None-Match naming the version answers 304.
    const head = await curl(["-I", `${b}/my%20key`]);
    assert.equal(head.code, 200);
    assert.equal(head.headers.get("etag"), '"1"');
    assert.equal((await curl(["-H", 'if-none-match: "1"', `${c}/my%20key`])).code, 304);
    assert.equal((await curl(["-H", 'if-none-match: "7"', `${c}/my%20key`])).code, 200);

    const del = await curl(["-X", "DELETE", `${c}/my%20key`]);
    assert.equal(del.code, 200, del.text);
    assert.deepEqual(del.json(), { ok: true, key: "my key", id, version: 2, replicas: 3 });
    const gone = await curl([`${a}/my%20key`]);
    assert.equal(gone.code, 404);
    assert.deepEqual(gone.json(), {
      error: 'No value under key "my key"',
      type: "NotFound",
      key: "my key",
      id,
    });
    assert.equal(await net.nodes[1].lookup("my key"), undefined);
  } finally {
    await net.close();
  }
});

test("curl PUT of raw bytes keeps them and their content type: GET answers them byte for byte", async () => {
  const net = await network();
  const file = await Deno.makeTempFile({ prefix: "p2ps-kv-raw-" });
  try {
    const [a, b] = net.servers.map((s) => `${s.url}/kv`);
    // Every byte value, and CR LF CR LF inside (the stored form splits at the first one only).
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) % 256);
    bytes.set([13, 10, 13, 10], 10);
    await Deno.writeFile(file, bytes);
    const put = await curl([
      "-X",
      "PUT",
      "-H",
      "content-type: image/png",
      "--data-binary",
      `@${file}`,
      `${a}/photo`,
    ]);
    assert.equal(put.code, 200, put.text);
    const got = await curl([`${b}/photo`]);
    assert.equal(got.code, 200);
    assert.equal(got.headers.get("content-type"), "image/png");
    assert.equal(got.headers.get("etag"), '"1"');
    assert.deepEqual(got.body, bytes);
    // Text with a charset, and a body without a content type (stored as octet-stream).
    const text = await curl([
      "-X",
      "PUT",
      "-H",
      "content-type: text/plain; charset=utf-8",
      "--data-binary",
      "héllo",
      `${a}/note`,
    ]);
    assert.equal(text.code, 200);
    const note = await curl([`${b}/note`]);
    assert.equal(note.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(note.text, "héllo");
    const bare = await curl([
      "-X",
      "PUT",
      "-H",
      "content-type:",
      "--data-binary",
      "xy",
      `${a}/bare`,
    ]);
    assert.equal(bare.code, 200, bare.text);
    const back = await curl([`${b}/bare`]);
    assert.equal(back.headers.get("content-type"), "application/octet-stream");
    assert.equal(back.text, "xy");
  } finally {
    await Deno.remove(file);
    await net.close();
  }
});

test("If-Match and If-None-Match make writes compare-and-sets: 412 names the current version", async () => {
  const net = await network();
  try {
    const [a, b] = net.servers.map((s) => `${s.url}/kv`);
    const put = (url: string, header: string[], body: string) =>
      curl(["-X", "PUT", ...JSON_TYPE, ...header, "-d", body, url]);
    // Only if absent: the first creates, the second finds version 1.
    const first = await put(`${a}/counter`, ["-H", "if-none-match: *"], "1");
    assert.equal(first.code, 200, first.text);
    const again = await put(`${b}/counter`, ["-H", "if-none-match: *"], "1");
    assert.equal(again.code, 412);
    assert.equal(again.json().type, "VersionConflictError");
    assert.equal(again.json().current, 1);
    // On a version: the right one wins, a stale one is refused.
    const next = await put(`${b}/counter`, ["-H", 'if-match: "1"'], "2");
    assert.equal(next.code, 200, next.text);
    assert.equal(next.headers.get("etag"), '"2"');
    const stale = await put(`${a}/counter`, ["-H", 'if-match: "1"'], "3");
    assert.equal(stale.code, 412);
    assert.equal(stale.json().current, 2);
    // If-Match: * — only if present.
    assert.equal(
      (await put(`${a}/counter`, ["-H", "if-match: *"], "4")).headers.get("etag"),
      '"3"',
    );
    const absent = await put(`${a}/nothing`, ["-H", "if-match: *"], "1");
    assert.equal(absent.code, 412);
    assert.deepEqual(absent.json(), {
      error: 'Key "nothing" is absent (If-Match: *)',
      type: "VersionConflictError",
      current: 0,
    });
    // DELETE on a version.
    const wrong = await curl(["-X", "DELETE", "-H", 'if-match: "2"', `${b}/counter`]);
    assert.equal(wrong.code, 412);
    assert.equal(wrong.json().current, 3);
    const del = await curl(["-X", "DELETE", "-H", 'if-match: "3"', `${b}/counter`]);
    assert.equal(del.code, 200, del.text);
    assert.equal(del.headers.get("etag"), '"4"');
    // Absent again: If-None-Match: * creates (version 5: versions keep growing).
    const back = await put(`${a}/counter`, ["-H", "if-none-match: *"], "5");
    assert.equal(back.headers.get("etag"), '"5"');
  } finally {
    await net.close();
  }
});

test("bad /kv requests answer 400, 405, 413 or 404 with a typed JSON error naming the problem", async () => {
  const net = await network({ maxBodyBytes: 300_000 });
  try {
    const url = `${net.servers[0].url}/kv`;
    const cases: [string[], number, string, RegExp][] = [
      [["-X", "PUT", "-d", "x", `${url}/%zz`], 400, "InvalidArgumentError", /percent-encoding/],
      [[`${url}/${"k".repeat(1025)}`], 400, "InvalidArgumentError", /longer than 1024 bytes/],
      [["-X", "PUT", ...JSON_TYPE, "-d", "{", `${url}/a`], 400, "BadRequest", /not valid JSON/],
      [["-X", "PUT", ...JSON_TYPE, `${url}/a`], 400, "BadRequest", /Body is empty/],
      [
        ["-X", "PUT", ...JSON_TYPE, "-d", '{"$nope":1}', `${url}/a`],
        400,
        "JsonFormError",
        /\$nope/,
      ],
      [
        ["-X", "PUT", "-H", "if-match: 3", "-d", "x", `${url}/a`],
        400,
        "InvalidArgumentError",
        /If-Match must be \* or one entity tag/,
      ],
      [
        ["-X", "PUT", "-H", 'if-none-match: "3"', "-d", "x", `${url}/a`],
        400,
        "InvalidArgumentError",
        /If-None-Match on PUT must be \*/,
      ],
      [
        ["-X", "PUT", "-H", "if-match: *", "-H", "if-none-match: *", "-d", "x", `${url}/a`],
        400,
        "InvalidArgumentError",
        /cannot be combined/,
      ],
      [["-H", 'if-match: "1"', `${url}/a`], 400, "InvalidArgumentError", /PUT and DELETE/],
      [[`${url}/a?timeoutMs=0`], 400, "InvalidArgumentError", /timeoutMs must be an integer/],
      // Sent as they are (URL clients resolve them away): named, not taken for an empty key.
      [["--path-as-is", `${url}/..`], 400, "InvalidArgumentError", /Key "\.\." cannot be named/],
      [
        ["--path-as-is", "-X", "PUT", "-d", "x", `${url}/%2e%2E`],
        400,
        "InvalidArgumentError",
        /Key "\.\." cannot be named/,
      ],
      [["--path-as-is", `${url}/.`], 400, "InvalidArgumentError", /Key "\." cannot be named/],
      [["-X", "POST", "-d", "x", `${url}/a`], 405, "MethodNotAllowed", /does not accept POST/],
      [[`${url}/`], 404, "NotFound", /No route GET \/kv\//],
      [[`${url}/never-written`], 404, "NotFound", /No value under key "never-written"/],
    ];
    for (const [args, code, type, message] of cases) {
      const r = await curl(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.text}`);
      assert.equal(r.json().type, type, args.join(" "));
      assert.match(r.json().error as string, message);
    }
    assert.equal(
      (await curl(["-X", "POST", `${url}/a`])).headers.get("allow"),
      "GET, HEAD, PUT, DELETE",
    );
    // Too large: the gateway's body limit, then the DHT's value limit.
    const big = await Deno.makeTempFile({ prefix: "p2ps-kv-big-" });
    try {
      await Deno.writeFile(big, new Uint8Array(300_001));
      const body = await curl(["-X", "PUT", "--data-binary", `@${big}`, `${url}/big`]);
      assert.equal(body.code, 413);
      assert.equal(body.json().type, "PayloadTooLarge");
      await Deno.writeFile(big, new Uint8Array(250_000));
      const value = await curl(["-X", "PUT", "--data-binary", `@${big}`, `${url}/big`]);
      assert.equal(value.code, 413);
      assert.equal(value.json().type, "MessageTooLargeError");
      assert.match(value.json().error as string, /the DHT's limit is 200000 bytes/);
    } finally {
      await Deno.remove(big);
    }
  } finally {
    await net.close();
  }
});

test("a read that cannot reach a majority of replicas answers 504 naming how many answered", async () => {
  const sim = new Simulator({ seed: 5 });
  const first = sim.createNet({ net: { maxKey: 2 ** 20 } });
  for (let i = 0; i < 5; i++) await sim.settle(sim.joinNet(first));
  sim.run(5_000);
  await sim.settle(first.insert("k", 1));
  // A node holding fewer than a majority of k's replicas (a node whose range spans more than
  // half of the ring holds three of the four).
  const reps = holders(sim, hashKey("k", first.maxKey), 4);
  const x = sim.live.find((n) => reps.filter((id) => id === n.id).length < 3)!;
  using gateway = createGateway(x);
  sim.partition([[x], sim.live.filter((n) => n !== x)]);
  const res = await sim.settle(gateway.fetch(new Request("http://127.0.0.1/kv/k?timeoutMs=500")));
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.type, "QuorumError");
  assert.deepEqual([body.needed, body.replicas], [3, 4]);
  assert.ok(body.answered < 3, `${body.answered} answered`);
  sim.heal();
  for (const n of sim.nodes) n.crash();
});

test("a PUT whose body trickles in answers 408 once bodyTimeoutMs has passed, and stores nothing", async () => {
  await using node = await createNet({ net: { replication: 1 } });
  await using server = serveGateway(node, { port: 0, bodyTimeoutMs: 300 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const head = "PUT /kv/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
      'Content-Length: 1000\r\n\r\n"ab';
    await conn.write(new TextEncoder().encode(head));
    let text = "";
    const buf = new Uint8Array(4096);
    await within(
      (async () => {
        while (!text.includes("}")) {
          const n = await conn.read(buf);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
      })(),
      "the answer to a body that never completes",
    );
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.match(text, /"type":"RequestTimeout"/);
    assert.match(text, /Body did not arrive within 300 ms/);
  } finally {
    conn.close();
  }
  assert.equal(await node.lookup("slow"), undefined);
});
