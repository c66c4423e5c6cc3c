// The command line as real processes: create and join over TCP on loopback, JSON lines on
// stdout, the gateway flag, graceful leave on SIGINT/SIGTERM, and usage errors.
import assert from "node:assert/strict";
import { curl, Proc } from "./_gateway_process.ts";
import { type DenoRun, runDeno } from "./_deno.ts";
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
