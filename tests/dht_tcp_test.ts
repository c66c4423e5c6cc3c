// The DHT over real TCP: 16 nodes in 4 processes, compare-and-set races from 8 writers, then
// kill -9 of one process and repair.
import assert from "node:assert/strict";
import { DhtProcess } from "./_dht_process.ts";
import { test } from "./_test.ts";

const MAX_KEY = 2 ** 40;
const PROCS = 4;
const PER = 4;
const N = PROCS * PER;

/**
 * Node ids spread evenly, each process holding a quarter of the ring in one piece: the four
 * replicas of any key (a quarter of the ring apart) then live in four different processes, so
 * killing one process takes exactly one replica of every key.
 */
function idOf(process: number, j: number): number {
  return (process * PER + j) * (MAX_KEY / N) + 1234;
}

async function ringFormed(procs: DhtProcess[]): Promise<boolean> {
  const infos = (await Promise.all(procs.map((p) => p.request({ op: "info" }))))
    .flatMap((r) => r.nodes as { id: number; status: string; pred: number; succ: number }[])
    .filter((x) => x.status === "connected");
  const ids = infos.map((x) => x.id).sort((a, b) => a - b);
  return infos.every((x) => {
    const i = ids.indexOf(x.id);
    return x.succ === ids[(i + 1) % ids.length] &&
      x.pred === ids[(i - 1 + ids.length) % ids.length];
  }) && infos.length === procs.length * PER;
}

async function until(what: string, ms: number, cond: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

test("16 nodes in 4 processes over TCP: compare-and-set races have one winner per version; after kill -9 of a process every key stays readable and is 4-fold again", async (t) => {
  const procs = Array.from({ length: PROCS }, () => new DhtProcess());
  try {
    const first = await procs[0].request({ op: "create", id: idOf(0, 0), maxKey: MAX_KEY });
    const ap = `127.0.0.1:${(first.ap as { port: number }).port}`;
    await procs[0].request({ op: "join", ap, ids: [1, 2, 3].map((j) => idOf(0, j)) });
    await Promise.all(
      procs.slice(1).map((p, i) =>
        p.request({ op: "join", ap, ids: [0, 1, 2, 3].map((j) => idOf(i + 1, j)) })
      ),
    );
    await until("the 16-node ring", 20_000, () => ringFormed(procs));

    await t.deno.step(
      "8 writers in 4 processes race compare-and-sets on one key: exactly one winner per version",
      async () => {
        const runs = await Promise.all(
          Array.from(
            { length: 8 },
            (_, w) =>
              procs[w % PROCS].request({
                op: "cas",
                node: w % PER,
                key: "race",
                rounds: 10,
                tag: `w${w}`,
              }, 60_000),
          ),
        );
        const wins = runs.flatMap((r) => r.wins as number[]);
        const conflicts = runs.reduce((a, r) => a + (r.conflicts as number), 0);
        const last = await procs[1].request({ op: "lookup", node: 0, key: "race" });
        console.log(`  ${wins.length} versions won, ${conflicts} conflicts over TCP`);
        assert.equal(new Set(wins).size, wins.length, "no version won twice");
        assert.equal(last.version, wins.length, "every version has its winner");
        assert.deepEqual([...wins].sort((a, b) => a - b), wins.map((_, i) => i + 1));
        assert.equal(wins.length + conflicts, 80);
      },
    );

    await t.deno.step(
      "kill -9 of one process right after overwrites are acknowledged: every key reads its last value, and repair makes every key 4-fold again",
      async () => {
        const keys = Array.from({ length: 200 }, (_, k) => `key-${k}`);
        await Promise.all(
          keys.map((key, k) =>
            procs[k % PROCS].request({ op: "insert", node: k % PER, key, value: { k } }).then((r) =>
              assert.equal(r.version, 1, JSON.stringify(r))
            )
          ),
        );
        const items = async (ps: DhtProcess[]) =>
          (await Promise.all(ps.map((p) => p.request({ op: "stats" }))))
            .flatMap((r) => r.dht as { items: number }[]).reduce((a, d) => a + d.items, 0);
        // 201 keys, with the one of the race.
        await until(
          "4 replicas of every key",
          15_000,
          async () => (await items(procs)) === 4 * 201,
        );
        // Overwrites acknowledged by a majority, and the kill at once: a replica that has not
        // got an overwrite yet, or the one killed, must not bring the old value back.
        await Promise.all(
          keys.map((key, k) =>
            procs[(k + 1) % PROCS].request({
              op: "insert",
              node: k % PER,
              key,
              value: { k, v: 2 },
            }).then((r) => assert.equal(r.version, 2, JSON.stringify(r)))
          ),
        );
        await procs[3].kill();
        const survivors = procs.slice(0, 3);
        const ringMs = await until("the ring to repair", 20_000, () => ringFormed(survivors));
        const readAll = async () => {
          const res = await Promise.all(
            keys.map((key, k) =>
              survivors[k % 3].request({
                op: "lookup",
                node: (k >> 2) % PER,
                key,
                timeoutMs: 5_000,
              })
            ),
          );
          const want = (k: number) => JSON.stringify({ k, v: 2 });
          return res.filter((r, k) => r.found && JSON.stringify(r.value) === want(k)).length;
        };
        assert.equal(await readAll(), 200, "every key readable once the ring repaired");
        const dataMs = await until(
          "4-fold replicas again",
          30_000,
          async () => (await items(survivors)) === 4 * 201,
        );
        assert.equal(await readAll(), 200);
        console.log(
          `  ring repaired in ${ringMs} ms; items 4-fold again after ${ringMs + dataMs} ms`,
        );
      },
    );
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
});
