// The command line's security options as real processes over TCP: --key files (made private,
// kept across restarts, refused when others may read them or of the wrong size), a private
// network from --secret-file and P2PS_SECRET (never from the command line), --encryption and
// --id-from-key.
import assert from "node:assert/strict";
import { idOfKey } from "../lib/core/identity.ts";
import { Proc } from "./_gateway_process.ts";
import { test } from "./_test.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** `deno run` of the CLI, allowed to read and write `dir` (and read P2PS_SECRET). */
function cli(dir: string): string[] {
  return [
    "run",
    "--allow-net=127.0.0.1",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    "--allow-env=P2PS_SECRET",
    `${ROOT}cli.ts`,
  ];
}

async function run(
  dir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...cli(dir), ...args],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** A node process in `dir`, started and ready. */
async function node(dir: string, args: string[], env: Record<string, string> = {}) {
  const proc = new Proc([...cli(dir), ...args, "--quiet"], { cwd: dir, env });
  const ready = await proc.waitForJson({ stream: "ready" });
  return {
    proc,
    ready,
    at: `${(ready.ap as Deno.NetAddr).hostname}:${(ready.ap as Deno.NetAddr).port}`,
  };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "p2ps-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

test("--key makes a key file only its owner may read, and the node keeps its key and id across restarts", async () => {
  await inTempDir(async (dir) => {
    const first = await node(dir, ["create", "--key", "node.key", "--id-from-key"]);
    assert.equal((await first.proc.stop("SIGTERM")).code, 0, first.proc.stderr);
    const stat = await Deno.stat(`${dir}/node.key`);
    assert.equal(stat.mode! & 0o777, 0o600);
    assert.equal(stat.size, 32);
    const publicKey = first.ready.publicKey as string;
    assert.match(publicKey, /^[0-9a-f]{64}$/);
    assert.equal(
      first.ready.id,
      idOfKey(Uint8Array.fromHex(publicKey), first.ready.maxKey as number),
    );
    const again = await node(dir, ["create", "--key", "node.key", "--id-from-key"]);
    assert.equal(again.ready.publicKey, publicKey);
    assert.equal(again.ready.id, first.ready.id);
    assert.equal((await again.proc.stop("SIGTERM")).code, 0, again.proc.stderr);
    // Without --key, a key of the process's own each time.
    const other = await node(dir, ["create"]);
    assert.notEqual(other.ready.publicKey, publicKey);
    await other.proc.stop("SIGTERM");
  });
});

test("a key file other users may read, or of the wrong size, is refused with a message naming it", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/open.key`, new Uint8Array(32).fill(1), { mode: 0o644 });
    await Deno.chmod(`${dir}/open.key`, 0o644);
    const open = await run(dir, ["create", "--key", "open.key"]);
    assert.equal(open.code, 1);
    assert.equal(
      open.stderr,
      "error: Key file open.key may be read or written by other users (mode 0644): " +
        "run chmod 600 open.key\n",
    );
    assert.equal(open.stdout, "", "no node was started");
    await Deno.writeFile(`${dir}/short.key`, new Uint8Array(31), { mode: 0o600 });
    const short = await run(dir, ["create", "--key", "short.key"]);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /Key file short\.key holds 31 bytes, not the 32 bytes/);
    await Deno.mkdir(`${dir}/nowhere`);
    await Deno.remove(`${dir}/nowhere`);
    const missingDir = await run(dir, ["create", "--key", "nowhere/node.key"]);
    assert.equal(missingDir.code, 1);
    assert.match(missingDir.stderr, /nowhere\/node\.key/);
  });
});

test("a private network from --secret-file and P2PS_SECRET: members join, outsiders are refused, and no command line holds the secret", async () => {
  await inTempDir(async (dir) => {
    const secret = `cli secret ${crypto.randomUUID()}`;
    await Deno.writeTextFile(`${dir}/secret`, `${secret}\n`, { mode: 0o600 });
    const a = await node(dir, [
      "create",
      "--secret-file",
      "secret",
      "--id",
      "1",
      "--max-key",
      "1000",
    ]);
    try {
      assert.equal(a.ready.private, true);
      assert.equal(a.ready.encryption, "noise");
      const b = await node(dir, ["join", a.at, "--id", "500"], { P2PS_SECRET: secret });
      const c = await node(dir, ["join", a.at, "--secret-file", "secret", "--id", "700"]);
      for (const n of [b, c]) assert.equal(n.ready.status, "connected");
      // What every user of the machine sees.
      const ps = await new Deno.Command("ps", { args: ["-e", "-o", "args="], stdout: "piped" })
        .output();
      const lines = new TextDecoder().decode(ps.stdout);
      assert.ok(lines.includes(`--secret-file secret`), "ps shows the node processes");
      assert.equal(lines.includes(secret), false, "and no command line holds the secret");
      const none = await run(dir, ["join", a.at]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /HandshakeError: .*requires a secret \(net\.secret\)/);
      const wrong = await run(dir, ["join", a.at], { P2PS_SECRET: `${secret}!` });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /HandshakeError: .*holds another network secret/);
      // The right secret under another network name is another key: the error says to check.
      const named = await run(dir, ["join", a.at, "--name", "lab"], { P2PS_SECRET: secret });
      assert.equal(named.code, 1);
      assert.match(named.stderr, /the key comes from the secret and the network name \("lab"\)/);
      for (const n of [c, b]) assert.equal((await n.proc.stop("SIGTERM")).code, 0);
    } finally {
      await a.proc.stop("SIGTERM");
    }
    // Mistakes: both sources, an empty secret, a secret file others may read, --secret itself.
    const both = await run(dir, ["create", "--secret-file", "secret"], { P2PS_SECRET: "x" });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /Give the secret once: --secret-file or P2PS_SECRET, not both/);
    await Deno.writeTextFile(`${dir}/empty`, "\n", { mode: 0o600 });
    const empty = await run(dir, ["create", "--secret-file", "empty"]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /Secret file empty is empty/);
    await Deno.chmod(`${dir}/secret`, 0o640);
    const shared = await run(dir, ["create", "--secret-file", "secret"]);
    assert.equal(shared.code, 1);
    assert.match(shared.stderr, /Secret file secret may be read or written by other users/);
    const onCommandLine = await run(dir, ["create", "--secret", "hunter2"]);
    assert.equal(onCommandLine.code, 2);
    assert.match(onCommandLine.stderr, /--secret is not an option: a secret on the command line/);
    assert.equal(onCommandLine.stderr.includes("hunter2"), false, "the secret is not echoed");
  });
});

test("--encryption none makes a network in the clear; a joiner adopts it, and one insisting on noise is refused", async () => {
  await inTempDir(async (dir) => {
    const a = await node(dir, ["create", "--encryption", "none"]);
    try {
      assert.equal(a.ready.encryption, "none");
      const b = await node(dir, ["join", a.at]);
      assert.equal(b.ready.encryption, "none");
      assert.equal(b.ready.status, "connected");
      await b.proc.stop("SIGTERM");
      const insisting = await run(dir, ["join", a.at, "--encryption", "noise"]);
      assert.equal(insisting.code, 1);
      assert.match(insisting.stderr, /uses encryption "none", this node "noise"/);
    } finally {
      await a.proc.stop("SIGTERM");
    }
    await Deno.writeTextFile(`${dir}/secret`, "a secret", { mode: 0o600 });
    const clash = await run(dir, ["create", "--encryption", "none", "--secret-file", "secret"]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /--encryption none cannot be given with a secret or --id-from-key/);
    const unknown = await run(dir, ["create", "--encryption", "rot13"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--encryption must be "noise" or "none", got "rot13"/);
  });
});

test("--id-from-key: every node's id is its key's, the joiner's too", async () => {
  await inTempDir(async (dir) => {
    const a = await node(dir, ["create", "--id-from-key"]);
    try {
      assert.equal(a.ready.idFromKey, true);
      const b = await node(dir, ["join", a.at, "--key", "b.key"]);
      assert.equal(b.ready.idFromKey, true);
      const key = Uint8Array.fromHex(b.ready.publicKey as string);
      assert.equal(b.ready.id, idOfKey(key, b.ready.maxKey as number));
      await b.proc.stop("SIGTERM");
      const chosen = await run(dir, ["join", a.at, "--id", "5"]);
      assert.equal(chosen.code, 1);
      assert.match(chosen.stderr, /derives ids from keys: this node's key gives id \d+, not 5/);
    } finally {
      await a.proc.stop("SIGTERM");
    }
    const both = await run(dir, ["create", "--id-from-key", "--id", "5"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--id cannot be given with --id-from-key/);
    const onJoin = await run(dir, ["join", "127.0.0.1:1", "--id-from-key"]);
    assert.equal(onJoin.code, 2);
    assert.match(onJoin.stderr, /--id-from-key does not apply to "join"/);
  });
});
