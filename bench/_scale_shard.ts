// One shard of the sharded scale benchmark (bench/scale.ts --shards N): a Simulator holding the
// nodes of its ports, driven by the coordinator over stdin/stdout (bench/_shard_ipc.ts), one
// window of the minimum latency per `step`.
//
// Usage (by bench/scale.ts): deno run --v8-flags=...,--expose-gc bench/_scale_shard.ts INDEX COUNT SEED
import process from "node:process";
import { decode, encode } from "cbor-x/encode";
import { Simulator } from "../lib/node/simulator.ts";
import type { P2PNode } from "../lib/node/node.ts";
import { packMessages, unpackMessages } from "../lib/com/memory_shard.ts";
import { MessageReader, writeMessage } from "./_shard_ipc.ts";
import { type LookupCounts, startLookups, tableSizes } from "./_scale_net.ts";

const [index, count, seed] = Deno.args.map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc (heap is measured after a full GC)");

const sim = new Simulator({ seed, shard: { index, count } });
/** Nodes on the ring, in the order they got there. */
const live: P2PNode[] = [];
let pending = 0, failed = 0;
/** Ports of nodes that reached the ring since the last step's answer. */
let newLive: number[] = [];
/** What came back of the lookups under way. */
let look: LookupCounts | null = null;

function join(via: number): void {
  pending++;
  sim.joinNet({ hostname: "sim", port: via }).then(
    (node) => {
      live.push(node);
      newLive.push(node.ap.port);
      pending--;
    },
    () => {
      failed++;
      pending--;
    },
  );
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const reader = new MessageReader(Deno.stdin.readable.getReader());
const writer = Deno.stdout.writable.getWriter();

loop: for (;;) {
  const cmd = await reader.next() as Record<string, unknown> | undefined;
  if (cmd === undefined) break;
  switch (cmd.op) {
    case "create": {
      const n = sim.createNet();
      live.push(n);
      await writeMessage(writer, { port: n.ap.port });
      break;
    }
    case "step": {
      // Joins first, then what the other shards sent, then the window.
      for (const via of cmd.joins as number[]) join(via);
      for (const bytes of cmd.inbox as Uint8Array[]) {
        sim.network.deliver(unpackMessages(bytes, decode));
      }
      const events = sim.clock.run(cmd.until as number);
      // Let the joins' promises settle.
      await Promise.resolve();
      await Promise.resolve();
      const to = sim.network.takeOutbox();
      await writeMessage(writer, {
        events,
        pending,
        failed,
        newLive,
        out: to.map((ms) => (ms.length ? packMessages(ms, encode) : null)),
      });
      newLive = [];
      break;
    }
    case "stats":
      await writeMessage(writer, {
        framesByType: sim.network.framesByType,
        cpuMs: cpuMs(),
        live: live.length,
        timers: sim.clock.pending,
      });
      break;
    case "ids":
      await writeMessage(writer, { ids: new Float64Array(live.map((n) => n.id)) });
      break;
    case "lookups":
      look = { answered: 0, right: 0, hops: 0, maxHops: 0 };
      startLookups(live, sim.random, cmd.ids as Float64Array, cmd.count as number, look);
      await writeMessage(writer, {});
      break;
    case "lookupResult":
      await writeMessage(writer, look);
      break;
    case "heap": {
      // Routing entries (distinct nodes) and connection ends of the oldest nodes.
      const sample = live.slice(0, cmd.sample as number);
      const { distinct, ends } = tableSizes(sample);
      gc!();
      const mem = Deno.memoryUsage();
      await writeMessage(writer, {
        heapUsed: mem.heapUsed,
        external: mem.external,
        rss: mem.rss,
        sampled: sample.length,
        distinct,
        ends,
        timers: sim.clock.pending,
      });
      break;
    }
    case "exit":
      for (const n of live) n.crash();
      await writeMessage(writer, {});
      break loop;
  }
}
