// The command line's DHT commands as real processes: `put`, `get` and `del` against the gateways
// of two CLI nodes over TCP — JSON values, files, compare-and-set, absent keys, tokens, and the
// usage mistakes they refuse before sending anything.
import assert from "node:assert/strict";
import { Proc } from "./_gateway_process.ts";
import { runDeno } from "./_deno.ts";
import { test } from "./_test.ts";
import { CLOSED_PORT } from "./_values.ts";

const NODE = ["run", "--allow-net=127.0.0.1", "cli.ts"];
const KV = ["run", "--allow-net=127.0.0.1", "--allow-read", "cli.ts"];

/** Runs one DHT command; returns its status, its JSON line (if any) and stderr. */
async function kv(args: string[]) {
  const r = await runDeno([...KV, ...args]);
  const line = r.stdout.trim() ? JSON.parse(r.stdout.trim()) : null;
  return { code: r.code, line, stdout: r.stdout, stderr: r.stderr };
}

/** Two CLI nodes with gateways; the second requires a token. */
async function twoNodes(): Promise<{ procs: Proc[]; urls: string[] }> {
  const first = new Proc([...NODE, "create", "--http", "0", "--quiet"]);
  const ready = await first.waitForJson({ stream: "ready" });
  const ap = ready.ap as { hostname: string; port: number };
  const second = new Proc([
    ...NODE,
    "join",
    `${ap.hostname}:${ap.port}`,
    "--http",
    "0",
    "--token",
    "sesame",
    "--quiet",
  ]);
  try {
    const ready2 = await second.waitForJson({ stream: "ready" });
    return { procs: [first, second], urls: [ready.gateway as string, ready2.gateway as string] };
  } catch (e) {
    await second.stop("SIGKILL").catch(() => {});
    await first.stop("SIGKILL").catch(() => {});
    throw e;
  }
}

test("cli.ts put, get and del store, read and remove through a node's gateway, with versions and compare-and-set", async () => {
  const { procs, urls } = await twoNodes();
  const [one, two] = urls;
  const auth = ["--token", "sesame"];
  try {
    const put = await kv(["put", "color", '{"name":"blue"}', "--gateway", one]);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(
      { ...put.line, id: typeof put.line.id },
      { ok: true, key: "color", id: "number", version: 1, replicas: 3 },
    );
    // Read through the other node's gateway (with its token).
    const got = await kv(["get", "color", "--gateway", two, ...auth]);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(got.line, { key: "color", version: 1, value: { name: "blue" } });
    const raw = await kv(["get", "color", "--gateway", two, ...auth, "--raw"]);
    assert.equal(raw.stdout, '{"name":"blue"}');

    // Compare-and-set: a stale version fails naming the current one; the right one wins.
    const stale = await kv(["put", "color", '"red"', "--gateway", one, "--if-version", "7"]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /VersionConflictError: .*\(current version: 1\)/);
    const next = await kv(["put", "color", '"red"', "--gateway", one, "--if-version", "1"]);
    assert.equal(next.line.version, 2, next.stderr);
    assert.equal((await kv(["put", "fresh", "1", "--gateway", one, "--if-absent"])).code, 0);
    const taken = await kv(["put", "fresh", "2", "--gateway", one, "--if-absent"]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /\(current version: 1\)/);

    // A file's bytes, with its content type, come back byte for byte.
    const file = await Deno.makeTempFile({ prefix: "p2ps-cli-kv-" });
    try {
      const bytes = new Uint8Array(5000).map((_, i) => (i * 31) % 256);
      await Deno.writeFile(file, bytes);
      const stored = await kv([
        "put",
        "blob",
        "--file",
        file,
        "--type",
        "image/png",
        "--gateway",
        one,
      ]);
      assert.equal(stored.code, 0, stored.stderr);
      const back = await new Deno.Command(Deno.execPath(), {
        args: [...KV, "get", "blob", "--raw", "--gateway", one],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      assert.equal(back.code, 0, new TextDecoder().decode(back.stderr));
      assert.deepEqual(back.stdout, bytes);
      const described = await kv(["get", "blob", "--gateway", one]);
      assert.equal(described.line.type, "image/png");
      assert.deepEqual(
        Uint8Array.from(atob(described.line.value.$bytes), (c) => c.charCodeAt(0)),
        bytes,
      );
    } finally {
      await Deno.remove(file);
    }

    // Remove; reading an absent key exits with 3.
    const del = await kv(["del", "color", "--gateway", two, ...auth, "--if-version", "2"]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.line.version, 3);
    const absent = await kv(["get", "color", "--gateway", one]);
    assert.equal(absent.code, 3);
    assert.equal(absent.stdout, "");
    assert.match(absent.stderr, /NotFound: No value under key "color"/);

    // The token is the gateway's: without it the request fails.
    const denied = await kv(["get", "fresh", "--gateway", two]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Unauthorized: A bearer token is required/);
  } finally {
    for (const p of procs.reverse()) {
      const s = await p.stop("SIGTERM");
      assert.equal(s.code, 0, p.stderr);
    }
  }
});

test("cli.ts put, get and del refuse usage mistakes with status 2 before sending, and an unreachable gateway with status 1", async () => {
  const cases: [string[], RegExp][] = [
    [["put", "k"], /"put" needs KEY VALUE \(or KEY --file PATH\)/],
    [["put", "k", "not json"], /VALUE must be JSON/],
    [["get"], /"get" needs KEY/],
    [["get", "k", "v"], /"get" needs KEY/],
    [["get", "k", "--if-absent"], /--if-absent does not apply to "get"/],
    [["del", "k", "--raw"], /--raw does not apply to "del"/],
    [["del", "k", "--if-version", "0"], /del --if-version must be at least 1/],
    [["put", "k", "1", "--if-version", "x"], /--if-version must be an integer/],
    [["put", "k", "1", "--if-version", "1", "--if-absent"], /cannot be combined/],
    [["put", "k", "1", "--type", "text/plain"], /--type applies to put --file only/],
    [["get", "k", "--gateway", "nowhere"], /--gateway must be a URL/],
    [["get", "k", "--timeout-ms", "0"], /--timeout-ms must be an integer in \[1, 600000\]/],
    // A URL resolves them as path steps: "get .." used to print the dashboard as the value.
    [["get", ".."], /KEY "\.\." cannot be named in a URL/],
    [["put", ".", "1"], /KEY "\." cannot be named in a URL/],
    [["del", ".."], /KEY "\.\." cannot be named in a URL/],
  ];
  for (const [args, message] of cases) {
    const r = await kv(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  const down = await kv(["get", "k", "--gateway", `http://127.0.0.1:${CLOSED_PORT}`]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /Cannot reach the gateway at http:\/\/127\.0\.0\.1:1/);
});
