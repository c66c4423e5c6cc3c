// A process hosting P2PS nodes over TCP on 127.0.0.1, driven by JSON lines on stdin (one command
// per line, answered by one line with the same `rid`). Used by tests/_dht_process.ts and by
// bench/dht.ts. DHT errors are answers (`{ error: { name, message, current } }`), not failures.
//
//   deno run --allow-net=127.0.0.1 tests/_dht_peer.ts
import { createNet, hashKey, joinNet, type P2PNode, VersionConflictError } from "../mod.ts";

const nodes: P2PNode[] = [];

function node(i: unknown): P2PNode {
  const n = nodes[Number(i ?? 0)];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

function failure(e: unknown) {
  const err = e as Error & { current?: number; answered?: number };
  return { error: { name: err.name, message: err.message, current: err.current } };
}

/** Compare-and-set rounds: read the version, write version + 1; wins and conflicts. */
async function cas(n: P2PNode, key: string, rounds: number, tag: string) {
  const wins: number[] = [];
  let conflicts = 0;
  for (let r = 0; r < rounds; r++) {
    const seen = (await n.lookup(key))?.version ?? 0;
    try {
      const res = await n.insert(key, { tag, r }, { ifVersion: seen });
      if (res.version !== seen + 1) throw new Error(`won ${res.version} from ${seen}`);
      wins.push(res.version);
    } catch (e) {
      if (!(e instanceof VersionConflictError)) throw e;
      conflicts++;
    }
  }
  return { wins, conflicts };
}

/** Latencies in µs of `count` calls of `op`, `conc` at a time. */
async function timed(count: number, conc: number, op: (i: number) => Promise<unknown>) {
  const us: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await op(i);
      us.push((performance.now() - t) * 1000);
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  return { us, ms: performance.now() - t0 };
}

async function handle(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  switch (cmd.op) {
    case "create": {
      const n = await createNet({
        node: cmd.id === undefined ? {} : { id: cmd.id as number },
        net: { maxKey: cmd.maxKey as number | undefined, replication: cmd.replication as number },
        dht: cmd.dht as Record<string, number> | undefined,
      });
      nodes.push(n);
      return { id: n.id, ap: n.ap };
    }
    case "join": {
      const ids = (cmd.ids as number[] | undefined) ?? [];
      const out = [];
      for (let i = 0; i < Number(cmd.count ?? ids.length); i++) {
        const n = await joinNet(cmd.ap as string, {
          node: ids[i] === undefined ? {} : { id: ids[i] },
          dht: cmd.dht as Record<string, number> | undefined,
        });
        nodes.push(n);
        out.push({ id: n.id, ap: n.ap });
      }
      return { nodes: out };
    }
    case "insert":
      return await node(cmd.node).insert(cmd.key as string, cmd.value, {
        ifVersion: cmd.ifVersion as number | undefined,
        timeoutMs: cmd.timeoutMs as number | undefined,
      }).then((r) => ({ ...r }), failure);
    case "lookup":
      return await node(cmd.node).lookup(cmd.key as string, {
        timeoutMs: cmd.timeoutMs as number | undefined,
      }).then((e) => (e ? { found: true, ...e } : { found: false }), failure);
    case "remove":
      return await node(cmd.node).remove(cmd.key as string).then((r) => ({ ...r }), failure);
    case "cas":
      return await cas(node(cmd.node), cmd.key as string, cmd.rounds as number, cmd.tag as string);
    case "load": {
      // `count` inserts of keys `${prefix}${i}` from node `node`, `conc` at a time.
      const n = node(cmd.node);
      const r = await timed(
        cmd.count as number,
        Number(cmd.conc ?? 1),
        (i) => n.insert(`${cmd.prefix}${i}`, { i, pad: "x".repeat(Number(cmd.size ?? 0)) }),
      );
      return { us: r.us, ms: r.ms };
    }
    case "read": {
      // `count` lookups of keys `${prefix}${i}`; how many found the value inserted by `load`.
      const n = node(cmd.node);
      let found = 0;
      const r = await timed(cmd.count as number, Number(cmd.conc ?? 1), async (i) => {
        const e = await n.lookup(`${cmd.prefix}${i}`);
        if ((e?.value as { i?: number } | undefined)?.i === i) found++;
      });
      return { us: r.us, ms: r.ms, found };
    }
    case "ping": {
      // Acknowledged routed sends to the keys `${prefix}${i}` (the replica-0 position).
      const n = node(cmd.node);
      const r = await timed(
        cmd.count as number,
        Number(cmd.conc ?? 1),
        (i) => n.send(hashKey(`${cmd.prefix}${i}`, n.maxKey), { i }, { toResp: true, ack: true }),
      );
      return { us: r.us, ms: r.ms };
    }
    case "info":
      return {
        nodes: nodes.map((n) => {
          const i = n.info();
          return { id: i.id, status: i.status, pred: i.pred?.id ?? null, succ: i.succ.id };
        }),
      };
    case "stats":
      return { dht: nodes.filter((n) => n.status !== "left").map((n) => n.statistics().dht) };
    case "quit":
      await Promise.allSettled(nodes.map((n) => n.leave()));
      return { ok: true };
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const enc = new TextEncoder();
const reply = (v: Record<string, unknown>) =>
  Deno.stdout.writeSync(enc.encode(JSON.stringify(v) + "\n"));
let buf = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buf += chunk;
  let at: number;
  while ((at = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, at);
    buf = buf.slice(at + 1);
    const cmd = JSON.parse(line);
    // Commands run concurrently: a long load does not hold up an info query.
    handle(cmd).then(
      (v) => reply({ ...v, rid: cmd.rid }),
      (e) => reply({ fatal: String(e?.stack ?? e), rid: cmd.rid }),
    );
  }
}
// stdin closed: leave and exit.
await Promise.allSettled(nodes.map((n) => n.leave()));
Deno.exit(0);
