// Twelve nodes as twelve OS processes started with the CLI; kill -9 a quarter of them and check
// that the survivors repair the ring within the failure detector's bound and that sends to
// random keys reach the live responsible node.
import assert from "node:assert/strict";
import { Proc } from "./_gateway_process.ts";
import { test } from "./_test.ts";

interface Ready {
  id: number;
  ap: { hostname: string; port: number };
  gateway: string;
}

const CLI = ["run", "--allow-net=127.0.0.1", "cli.ts"];

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function ringOk(nodes: { ready: Ready }[]): Promise<boolean> {
  const ids = nodes.map((n) => n.ready.id).sort((a, b) => a - b);
  for (const n of nodes) {
    const info = await getJson(`${n.ready.gateway}/node`);
    const i = ids.indexOf(n.ready.id);
    const succ = (info.succ as { id: number }).id;
    const pred = (info.pred as { id: number } | null)?.id;
    if (succ !== ids[(i + 1) % ids.length] || pred !== ids[(i - 1 + ids.length) % ids.length]) {
      return false;
    }
  }
  return true;
}

test("12 CLI processes: kill -9 of a quarter, the survivors repair the ring and route to live responsible nodes", async () => {
  const procs: { proc: Proc; ready: Ready }[] = [];
  try {
    const start = async (args: string[]) => {
      const proc = new Proc([...CLI, ...args, "--http", "0", "--quiet"]);
      const ready = await proc.waitForJson({ stream: "ready" }, 30_000) as unknown as Ready;
      procs.push({ proc, ready });
      return ready;
    };
    await start(["create", "--max-key", "1000000"]);
    for (let i = 1; i < 12; i++) {
      const via = procs[Math.floor(Math.random() * procs.length)].ready;
      await start(["join", `${via.ap.hostname}:${via.ap.port}`]);
    }
    assert.equal(procs.length, 12);
    let ok = false;
    for (let t = 0; t < 100 && !ok; t++) {
      ok = await ringOk(procs);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, "the 12-process ring formed");
    // kill -9 three processes, never the first (its gateway is a handy observer).
    const victims = procs.slice(1).sort(() => Math.random() - 0.5).slice(0, 3);
    const t0 = Date.now();
    for (const v of victims) v.proc.child.kill("SIGKILL");
    for (const v of victims) await v.proc.status();
    const survivors = procs.filter((p) => !victims.includes(p));
    // The detector's bound: heartbeat (1 s) + timeout (≥ 1 s), plus a repair round; TCP resets
    // usually tell sooner.
    const bound = 6_000;
    let repaired = false;
    while (!repaired && Date.now() - t0 < bound) {
      repaired = await ringOk(survivors);
      if (!repaired) await new Promise((r) => setTimeout(r, 50));
    }
    console.log(
      `  ring repaired ${repaired ? `after ${Date.now() - t0} ms` : "NOT within the bound"}`,
    );
    assert.ok(repaired, `ring repaired within ${bound} ms`);
    const ids = survivors.map((p) => p.ready.id).sort((a, b) => a - b);
    for (let i = 0; i < 30; i++) {
      const key = Math.floor(Math.random() * 1_000_000);
      const from = survivors[i % survivors.length].ready;
      const res = await fetch(`${from.gateway}/send`, {
        method: "POST",
        body: JSON.stringify({ dst: key, msg: { key }, toResp: true, ack: true }),
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.receipt.node, ids.find((id) => id >= key) ?? ids[0], `key ${key}`);
    }
  } finally {
    await Promise.all(procs.map((p) => p.proc.stop("SIGTERM")));
  }
});
