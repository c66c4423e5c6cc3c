// Twelve nodes as twelve OS processes started with the CLI; kill -9 a quarter of them and check
// that the survivors repair the ring and that sends to random keys reach the live responsible
// node. Ids, bootstrap nodes, victims and keys come from the test's seed.
import assert from "node:assert/strict";
import { Proc } from "./_gateway_process.ts";
import { test } from "./_test.ts";
import { until, within } from "./_wait.ts";

interface Ready {
  id: number;
  ap: { hostname: string; port: number };
  gateway: string;
}

const CLI = ["run", "--allow-net=127.0.0.1", "cli.ts"];
const MAX_KEY = 1_000_000;

/** A request to a node's gateway, failing after 10 s or on an error status. */
async function request(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  return await within(
    (async () => {
      const res = await fetch(url, init);
      const body = await res.json();
      if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    })(),
    `an answer from ${url}`,
  );
}

async function ringOk(nodes: { ready: Ready }[]): Promise<boolean> {
  const ids = nodes.map((n) => n.ready.id).sort((a, b) => a - b);
  for (const n of nodes) {
    const info = await request(`${n.ready.gateway}/node`);
    const i = ids.indexOf(n.ready.id);
    const succ = (info.succ as { id: number }).id;
    const pred = (info.pred as { id: number } | null)?.id;
    if (succ !== ids[(i + 1) % ids.length] || pred !== ids[(i - 1 + ids.length) % ids.length]) {
      return false;
    }
  }
  return true;
}

test("12 CLI processes: kill -9 of a quarter, the survivors repair the ring and route to live responsible nodes", async (ctx) => {
  const procs: { proc: Proc; ready: Ready }[] = [];
  try {
    const ids = new Set<number>();
    while (ids.size < 12) ids.add(ctx.int(MAX_KEY));
    const [first, ...rest] = ids;
    const start = async (args: string[], id: number) => {
      const proc = new Proc([...CLI, ...args, "--id", String(id), "--http", "0", "--quiet"]);
      procs.push({ proc, ready: { id, ap: { hostname: "", port: 0 }, gateway: "" } });
      const ready = await proc.waitForJson({ stream: "ready" }, 30_000) as unknown as Ready;
      procs[procs.length - 1].ready = ready;
      assert.equal(ready.id, id);
    };
    await start(["create", "--max-key", String(MAX_KEY)], first);
    for (const id of rest) {
      const via = procs[ctx.int(procs.length)].ready;
      await start(["join", `${via.ap.hostname}:${via.ap.port}`], id);
    }
    assert.equal(procs.length, 12);
    await until(() => ringOk(procs), "the 12-process ring to form", 30_000, 100);
    // kill -9 three processes, never the first (its gateway is a handy observer).
    const victims: typeof procs = [];
    while (victims.length < 3) {
      const v = procs[1 + ctx.int(procs.length - 1)];
      if (!victims.includes(v)) victims.push(v);
    }
    const t0 = Date.now();
    for (const v of victims) v.proc.child.kill("SIGKILL");
    for (const v of victims) await v.proc.status();
    const survivors = procs.filter((p) => !victims.includes(p));
    // A failure bound, not a timing claim: TCP resets usually tell at once, the failure
    // detector (heartbeat 1 s, timeout ≥ 1 s) within a few seconds even on a busy machine.
    await until(() => ringOk(survivors), "the survivors to repair the ring", 20_000, 50);
    console.log(`  ring repaired after ${Date.now() - t0} ms`);
    const live = survivors.map((p) => p.ready.id).sort((a, b) => a - b);
    for (let i = 0; i < 30; i++) {
      const key = ctx.int(MAX_KEY);
      const from = survivors[i % survivors.length].ready;
      const body = await request(`${from.gateway}/send`, {
        method: "POST",
        body: JSON.stringify({ dst: key, msg: { key }, toResp: true, ack: true }),
      });
      const receipt = body.receipt as { node: number };
      assert.equal(receipt.node, live.find((id) => id >= key) ?? live[0], `key ${key}`);
    }
  } finally {
    await Promise.all(procs.map((p) => p.proc.stop("SIGTERM")));
  }
});
