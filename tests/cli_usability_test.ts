// The command line as a new user meets it: a version, mistakes named in one line, ports in use
// named before anything starts, a quiet mode that is quiet, and names as node ids.
import assert from "node:assert/strict";
import { hashKey, joinNet } from "../mod.ts";
import { Proc } from "./_gateway_process.ts";
import { test } from "./_test.ts";

const RUN = ["run", "--allow-net=127.0.0.1", "cli.ts"];

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...RUN, ...args],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

test("cli.ts --version and -V print the version of deno.json", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  for (const flag of ["--version", "-V"]) {
    const { code, stdout } = await run([flag]);
    assert.equal(code, 0);
    assert.equal(stdout, `p2ps ${version}\n`);
  }
});

test("a mistyped option gets one line naming it, a suggestion and the usage", async () => {
  const { code, stdout, stderr } = await run(["create", "--prot", "3001"]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  const [first, second, ...usage] = stderr.split("\n");
  assert.equal(first, "error: Unknown option --prot; did you mean --port?");
  assert.equal(second, "");
  assert.match(usage.join("\n"), /^p2ps — a peer-to-peer overlay node/);
  assert.doesNotMatch(stderr, /positional argument/);
  // Options missing their value, or given one they do not take, are named too.
  assert.match((await run(["create", "--port"])).stderr, /^error: Option --port needs a value$/m);
  assert.match(
    (await run(["demo", "--quiet=1"])).stderr,
    /^error: Option --quiet takes no value$/m,
  );
});

test("create --http on a port in use names the port and starts no node", async () => {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = held.addr.port;
  const { code, stdout, stderr } = await run(["create", "--http", String(port)]);
  assert.equal(code, 1);
  assert.equal(stdout, "", "no ready line: no node was started");
  assert.equal(
    stderr,
    `error: HTTP port ${port} is in use on 127.0.0.1; choose another with --http\n`,
  );
});

test("demo checks every gateway port before it starts any node", async () => {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = held.addr.port;
  // The held port is the second of three.
  const { code, stdout, stderr } = await run([
    "demo",
    "--nodes",
    "3",
    "--http-port",
    `${port - 1}`,
  ]);
  assert.equal(code, 1);
  assert.doesNotMatch(stdout, /created the network|joined/);
  assert.match(
    stderr,
    new RegExp(`^error: HTTP ports? [\\d, ]*\\b${port}\\b[\\d, ]* (is|are) in use`),
  );
  assert.match(stderr, /--http-port/);
});

test("--quiet prints the ready line and nothing else, even while the ring changes", async () => {
  await using node = new Proc([...RUN, "create", "--id", "5", "--max-key", "64", "--quiet"]);
  const ready = await node.waitForJson({ stream: "ready" });
  const ap = ready.ap as { hostname: string; port: number };
  // Another node joins, sends to it and leaves: events and a message the node does not print.
  const other = await joinNet(ap, { node: { id: 40 } });
  await other.send(5, "unseen", { ack: true });
  await other.leave();
  assert.equal((await node.stop("SIGTERM")).code, 0, node.stderr);
  assert.equal(node.lines.length, 1, node.lines.join("\n"));
  assert.equal(JSON.parse(node.lines[0]).stream, "ready");
});

test("--id takes a name, hashed into the space as the gateway hashes a string key", async () => {
  await using alice = new Proc([...RUN, "create", "--id", "alice", "--max-key", "1024"]);
  const ready = await alice.waitForJson({ stream: "ready" });
  assert.equal(ready.id, hashKey("alice", 1024));
  const ap = ready.ap as { hostname: string; port: number };
  // A joiner hashes its name into the space --max-key says; without it, it is told the right one.
  const wrong = await run(["join", `${ap.hostname}:${ap.port}`, "--id", "bob"]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /the network's space is \[0, 1024\): add --max-key 1024/);
  await using bob = new Proc([
    ...RUN,
    "join",
    `${ap.hostname}:${ap.port}`,
    "--id",
    "bob",
    "--max-key",
    "1024",
  ]);
  assert.equal((await bob.waitForJson({ stream: "ready" })).id, hashKey("bob", 1024));
  assert.equal((await bob.stop("SIGTERM")).code, 0, bob.stderr);
  assert.equal((await alice.stop("SIGTERM")).code, 0, alice.stderr);
});
