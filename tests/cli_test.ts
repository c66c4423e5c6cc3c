// The command line as real processes: create and join over TCP on loopback, JSON lines on
// stdout, the gateway flag, graceful leave on SIGINT/SIGTERM, and usage errors.
import assert from "node:assert/strict";
import { curl, Proc } from "./_gateway_process.ts";
import { type DenoRun, ROOT, runDeno } from "./_deno.ts";
import { test } from "./_test.ts";
import { CLOSED_PORT } from "./_values.ts";

const RUN = ["run", "--allow-net=127.0.0.1", "cli.ts"];

/** Runs the CLI to its end (killed, failing the test, if it takes over 60 s). */
function run(args: string[]): Promise<DenoRun> {
  return runDeno([...RUN, ...args]);
}

test("cli.ts --help prints the usage of every command", async () => {
  const { code, stdout } = await run(["--help"]);
  assert.equal(code, 0);
  for (const word of ["create", "join HOST:PORT", "demo", "--http PORT", "--token", "SIGINT"]) {
    assert.ok(stdout.includes(word), word);
  }
});

test("cli.ts rejects usage mistakes with status 2 and a message naming them", async () => {
  const cases: [string[], RegExp][] = [
    [[], /A command is required/],
    [["frobnicate"], /Unknown command "frobnicate"/],
    [["create", "--bogus"], /bogus/],
    [["create", "--port", "abc"], /--port must be an integer in \[0, 65535\], got "abc"/],
    [["create", "--id", "-3"], /--id/],
    [["join"], /needs exactly one access point/],
    [["join", "127.0.0.1:1", "--max-key", "8"], /--max-key does not apply to "join"/],
    [["create", "--token", "t"], /need --http PORT/],
    [["demo", "--nodes", "0"], /--nodes must be an integer in \[1, 64\]/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await run(args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message);
    assert.match(stderr, /--help/);
  }
});

test("cli.ts refuses a non-loopback gateway without a token", async () => {
  for (const command of [["create", "--http", "0"], ["demo"]]) {
    const { code, stderr } = await run([...command, "--http-hostname", "0.0.0.0"]);
    assert.equal(code, 2);
    assert.match(stderr, /--http-hostname 0\.0\.0\.0 is not loopback: it requires --token/);
  }
});

test("cli.ts join to an access point nobody listens on fails with status 1", async () => {
  const { code, stderr } = await run(["join", `127.0.0.1:${CLOSED_PORT}`]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /Cannot connect to 127\.0\.0\.1:1: Connection refused/);
});

test("cli.ts create and join run a network, print JSON lines and leave on signals", async () => {
  await using first = new Proc([
    ...RUN,
    "create",
    "--id",
    "1",
    "--port",
    "0",
    "--max-key",
    "1024",
    "--http",
    "0",
  ]);
  const ready1 = await first.waitForJson({ stream: "ready" });
  assert.equal(ready1.id, 1);
  assert.equal(ready1.status, "alone");
  assert.equal(ready1.maxKey, 1024);
  const ap = ready1.ap as { hostname: string; port: number };
  const gateway = ready1.gateway as string;
  assert.match(gateway, /^http:\/\/127\.0\.0\.1:\d+$/);

  await using second = new Proc([...RUN, "join", `${ap.hostname}:${ap.port}`, "--id", "16"]);
  const ready2 = await second.waitForJson({ stream: "ready" });
  assert.equal(ready2.id, 16);
  assert.equal(ready2.status, "connected");
  assert.equal(ready2.gateway, null);
  const newpred = await first.waitForJson({ stream: "event", type: "newpred" });
  assert.equal((newpred.pred as { id: number }).id, 16);

  // A message sent through node 1's gateway is printed by node 16 as one JSON line.
  const sent = await curl([
    "-d",
    JSON.stringify({ dst: 16, msg: { text: "hi", raw: { $bytes: "AQI=" } }, ack: true }),
    `${gateway}/send`,
  ]);
  assert.equal(sent.code, 200, sent.body);
  assert.equal(JSON.parse(sent.body).receipt.node, 16);
  const got = await second.waitForJson({ stream: "message" });
  assert.deepEqual(got.msg, { text: "hi", raw: { $bytes: "AQI=" } });
  assert.equal(got.src, 1);
  assert.equal(got.kind, "send");

  // SIGTERM: node 16 leaves gracefully, and node 1 finds itself alone.
  const status2 = await second.stop("SIGTERM");
  assert.equal(status2.code, 0, second.stderr);
  assert.ok(second.lines.some((l) => JSON.parse(l).type === "left"), second.lines.join("\n"));
  await first.waitForJson({ stream: "event", type: "alone" });
  for (const line of [...first.lines, ...second.lines]) JSON.parse(line);

  const status1 = await first.stop("SIGINT");
  assert.equal(status1.code, 0, first.stderr);
  assert.equal(first.stderr, "");
});

test("examples/postit.ts runs a group whose boards all show the same notes", async () => {
  const { code, stdout, stderr } = await runDeno([
    "run",
    "--allow-net=127.0.0.1",
    "examples/postit.ts",
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Every board shows the same notes\./);
  // Five notes, each on four boards.
  assert.equal(stdout.split("\n").filter((l) => l.includes("📝")).length, 20);
});

/**
 * A copy of example `file` in `dir`, importing the library from this repository, with each
 * `[find, replace]` applied; each `find` must occur exactly once (an example that changed fails
 * here, loudly).
 */
async function exampleCopy(dir: string, file: string, edits: [string, string][]): Promise<string> {
  let text = await Deno.readTextFile(`${ROOT}examples/${file}`);
  for (const [find, replace] of [['"../mod.ts"', JSON.stringify(`${ROOT}mod.ts`)], ...edits]) {
    assert.equal(text.split(find).length - 1, 1, `examples/${file} holds ${find} exactly once`);
    text = text.replace(find, replace);
  }
  const path = `${dir}/${file}`;
  await Deno.writeTextFile(path, text);
  return path;
}

test("examples node1, node2 and node3 replay the talk's three slides", async () => {
  // The slides use fixed ports 3001 and 3002, which another program may hold: the examples run
  // from copies that listen on port 0 and pass the real ports on.
  const dir = await Deno.makeTempDir({ prefix: "p2ps-slides-" });
  try {
    const run = (path: string) => [...RUN.slice(0, 2), "--config", `${ROOT}deno.json`, path];
    await using node1 = new Proc(
      run(await exampleCopy(dir, "node1.ts", [["port: 3001", "port: 0"]])),
    );
    const created = await node1.waitFor(
      (l) => /^node 1 created the network at 127\.0\.0\.1:\d+$/.test(l),
      "node 1",
    );
    const ap1 = created.split(" ").at(-1)!;
    await using node2 = new Proc(run(
      await exampleCopy(dir, "node2.ts", [['"127.0.0.1:3001"', JSON.stringify(ap1)], [
        "port: 3002",
        "port: 0",
      ]]),
    ));
    const joined = await node2.waitFor(
      (l) => new RegExp(`^node 16 \\(port \\d+\\) joined through ${ap1}$`).test(l),
      "node 16",
    );
    const ap2 = `127.0.0.1:${/port (\d+)/.exec(joined)![1]}`;
    await node2.waitFor((l) => l === "its successor is node 1", "node 16's successor");
    await using node3 = new Proc(run(
      await exampleCopy(dir, "node3.ts", [['"127.0.0.1:3002"', JSON.stringify(ap2)]]),
    ));
    const joined3 = await node3.waitFor((l) => /^node \d+ joined at /.test(l), "node 3's id");
    const id3 = Number(joined3.split(" ")[1]);
    // Key 42 belongs to the first node at or after it, round the ring.
    const at42 = [1, 16, id3].sort((a, b) => a - b).find((id) => id >= 42) ?? 1;
    await node3.waitFor(
      (l) => new RegExp(`^key 42 → delivered to node ${at42} in \\d hop\\(s\\)$`).test(l),
      `the send to key 42, delivered to node ${at42}`,
    );
    await node3.waitFor((l) => l === "multicast → reached [1, 16]", "the multicast");
    assert.equal((await node3.status()).code, 0, node3.stderr);
    await node1.waitFor(
      (l) => new RegExp(`^from ${id3} \\(multicast, \\d+ hops\\): hello$`).test(l),
      "hello at node 1",
    );
    await node2.waitFor(
      (l) => new RegExp(`^from ${id3} \\(multicast, \\d+ hops\\): hello$`).test(l),
      "hello at node 16",
    );
    assert.equal((await node2.stop("SIGINT")).code, 0, node2.stderr);
    assert.equal((await node1.stop("SIGINT")).code, 0, node1.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
