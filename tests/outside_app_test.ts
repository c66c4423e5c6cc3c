// The library used the way another project uses it: an app in its own folder outside this
// checkout, with no configuration of its own and an empty Deno cache (only the npm registry is
// reachable), imports P2PS by path or by URL and runs the README's example; `deno install -g`
// of the CLI gives a working `p2ps` command.
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { Proc } from "./_gateway_process.ts";
import { test } from "./_test.ts";

const ROOT = new URL("..", import.meta.url);
const ROOT_PATH = fromFileUrl(ROOT);

/** The README's first TypeScript example, with its import pointed at `specifier`. */
async function readmeExample(specifier: string): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block?.includes('from "@p2ps/p2ps"'), "the README's first example imports @p2ps/p2ps");
  assert.ok(block);
  return block.replace('from "@p2ps/p2ps"', `from ${JSON.stringify(specifier)}`);
}

/** A fresh app folder and an empty Deno cache, both outside the checkout; removed afterwards. */
async function outsideApp(): Promise<
  { dir: string; env: Record<string, string> } & AsyncDisposable
> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "p2ps-app-" }));
  const cache = await Deno.makeTempDir({ prefix: "p2ps-deno-dir-" });
  assert.ok(!dir.startsWith(ROOT_PATH), `${dir} is outside ${ROOT_PATH}`);
  return {
    dir,
    env: { DENO_DIR: cache, NO_COLOR: "1" },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(cache, { recursive: true });
    },
  };
}

async function deno(
  args: string[],
  app: { dir: string; env: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: app.dir,
    env: app.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/**
 * Checks what the README example did: its assertions held (it exits 0), and it printed node 3's
 * data counters and successor.
 */
function assertExampleRan(r: { code: number; stdout: string; stderr: string }): void {
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^\{ sent: \d+, forwarded: \d+, received: \d+, dropped: \d+ \} \{ id: \d+, ap:/,
    r.stdout,
  );
  // No warning about ignored install scripts, or any other, on a first run.
  assert.doesNotMatch(r.stderr, /warning|ignored build scripts|^error/im, r.stderr);
}

test("an app outside the checkout imports the library by path and runs the README example from an empty cache", async () => {
  await using app = await outsideApp();
  const mod = fromFileUrl(new URL("mod.ts", ROOT));
  await Deno.writeTextFile(`${app.dir}/main.ts`, await readmeExample(mod));
  const checked = await deno(["check", "main.ts"], app);
  assert.equal(checked.code, 0, checked.stderr);
  assertExampleRan(await deno(["run", "--allow-net=127.0.0.1", "main.ts"], app));
});

/** Serves the checkout's files over HTTP, as a git host serves raw files. */
function serveCheckout(): Deno.HttpServer<Deno.NetAddr> {
  const types: Record<string, string> = {
    ts: "application/typescript",
    js: "application/javascript",
    json: "application/json",
  };
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, ROOT));
      const type = types[path.split(".").pop()!] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

test("an app outside the checkout imports the library from a URL and runs the README example from an empty cache", async () => {
  await using app = await outsideApp();
  await using server = serveCheckout();
  const origin = `127.0.0.1:${server.addr.port}`;
  await Deno.writeTextFile(`${app.dir}/main.ts`, await readmeExample(`http://${origin}/mod.ts`));
  assertExampleRan(
    await deno(["run", `--allow-import=${origin}`, "--allow-net=127.0.0.1", "main.ts"], app),
  );
});

test("deno install -g of cli.ts gives a p2ps command that prints its version and runs a node", async () => {
  await using app = await outsideApp();
  const installed = await deno([
    "install",
    "-g",
    "--root",
    app.dir,
    "-n",
    "p2ps",
    "--allow-net=127.0.0.1",
    fromFileUrl(new URL("cli.ts", ROOT)),
  ], app);
  assert.equal(installed.code, 0, installed.stderr);
  const p2ps = `${app.dir}/bin/p2ps`;
  const { version } = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const out = await new Deno.Command(p2ps, { args: ["--version"], cwd: app.dir, env: app.env })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), `p2ps ${version}`);

  // The installed command runs a real node: it prints its ready line and leaves on SIGTERM.
  await using node = new Proc(["create", "--id", "7", "--max-key", "64"], {
    cwd: app.dir,
    command: p2ps,
    env: app.env,
  });
  const ready = await node.waitForJson({ stream: "ready" });
  assert.equal(ready.id, 7);
  assert.equal((await node.stop("SIGTERM")).code, 0, node.stderr);
});
