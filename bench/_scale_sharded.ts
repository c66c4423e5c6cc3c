// The sharded scale benchmark's coordinator: one network split over shard processes
// (bench/_scale_shard.ts), driven in windows of the minimum latency (1 ms): each window, every
// shard gets what the others sent it during the last one and the joins to start, runs to the
// window's end, and answers with what it sends to each other shard.
import process from "node:process";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import { MessageReader, writeMessage } from "./_shard_ipc.ts";
import type { HeapFigures, LookupCounts, ScaleNet } from "./_scale_net.ts";

interface Shard {
  child: Deno.ChildProcess;
  w: WritableStreamDefaultWriter<Uint8Array>;
  r: MessageReader;
}

interface StepAnswer {
  events: number;
  pending: number;
  failed: number;
  newLive: number[];
  out: (Uint8Array | null)[];
}

/** The simulator's default minimum latency: no frame between shards arrives within a window. */
const WINDOW_MS = 1;

/** One network over `count` shard processes. */
export class ShardedNet implements ScaleNet {
  readonly #shards: Shard[];
  readonly #random: () => number;
  /** Ports of the nodes on the ring (joins go through random ones). */
  readonly #ports: number[] = [];
  /** Per shard: what the others sent it, in shard order; and the joins to start. */
  #inbox: Uint8Array[][];
  #joins: number[][];
  #next = 0;
  #now = 0;
  pending = 0;
  failed = 0;

  private constructor(shards: Shard[], seed: number) {
    this.#shards = shards;
    this.#random = seededRandom(seed);
    this.#inbox = shards.map(() => []);
    this.#joins = shards.map(() => []);
  }

  /** Starts `count` shard processes (with `v8Flags`) and the network's first node. */
  static async start(count: number, seed: number, v8Flags: string): Promise<ShardedNet> {
    const script = new URL("./_scale_shard.ts", import.meta.url).pathname;
    const shards = Array.from({ length: count }, (_, i) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          `--v8-flags=${v8Flags}`,
          script,
          `${i}`,
          `${count}`,
          `${seed}`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      return {
        child,
        w: child.stdin.getWriter(),
        r: new MessageReader(child.stdout.getReader()),
      };
    });
    const net = new ShardedNet(shards, seed);
    const { port } = await net.#ask(0, { op: "create" }) as { port: number };
    net.#ports.push(port);
    return net;
  }

  async #ask(i: number, cmd: unknown): Promise<unknown> {
    const s = this.#shards[i];
    await writeMessage(s.w, cmd);
    const got = await s.r.next();
    if (got === undefined) throw new Error(`Shard ${i} ended`);
    return got;
  }

  #all(cmd: (i: number) => unknown): Promise<unknown[]> {
    return Promise.all(this.#shards.map((_, i) => this.#ask(i, cmd(i))));
  }

  get size(): number {
    return this.#ports.length;
  }

  wave(n: number): void {
    const ports = this.#ports;
    for (let j = 0; j < n; j++) {
      this.#joins[this.#next++ % this.#shards.length].push(
        ports[Math.floor(this.#random() * ports.length)],
      );
    }
    this.pending += n;
  }

  async run(ms: number): Promise<number> {
    const end = this.#now + ms;
    let events = 0;
    while (this.#now < end) {
      const until = Math.min(end, this.#now + WINDOW_MS);
      const inbox = this.#inbox, joins = this.#joins;
      this.#inbox = this.#shards.map(() => []);
      this.#joins = this.#shards.map(() => []);
      const answers = await this.#all((i) => ({
        op: "step",
        until,
        inbox: inbox[i],
        joins: joins[i],
      })) as StepAnswer[];
      let pending = 0, failed = 0;
      for (const a of answers) {
        events += a.events;
        pending += a.pending;
        failed += a.failed;
        for (const p of a.newLive) this.#ports.push(p);
        a.out.forEach((bytes, d) => {
          if (bytes) this.#inbox[d].push(bytes);
        });
      }
      this.pending = pending;
      this.failed = failed;
      this.#now = until;
    }
    return events;
  }

  now(): number {
    return this.#now;
  }

  async framesByType(): Promise<number[]> {
    const got = await this.#all(() => ({ op: "stats" })) as { framesByType: number[] }[];
    return got[0].framesByType.map((_, t) => got.reduce((a, s) => a + s.framesByType[t], 0));
  }

  async cpuMs(): Promise<number> {
    const got = await this.#all(() => ({ op: "stats" })) as { cpuMs: number }[];
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000 + got.reduce((a, s) => a + s.cpuMs, 0);
  }

  async lookups(count: number, limitMs: number): Promise<LookupCounts> {
    const parts = await this.#all(() => ({ op: "ids" })) as { ids: Float64Array }[];
    const ids = new Float64Array(parts.reduce((a, p) => a + p.ids.length, 0));
    let at = 0;
    for (const p of parts) {
      ids.set(p.ids, at);
      at += p.ids.length;
    }
    ids.sort();
    const n = this.#shards.length;
    await this.#all((i) => ({
      op: "lookups",
      ids,
      count: Math.floor(count / n) + (i < count % n ? 1 : 0),
    }));
    const v0 = this.#now;
    for (;;) {
      const got = await this.#all(() => ({ op: "lookupResult" })) as LookupCounts[];
      const sum = {
        answered: got.reduce((a, g) => a + g.answered, 0),
        right: got.reduce((a, g) => a + g.right, 0),
        hops: got.reduce((a, g) => a + g.hops, 0),
        maxHops: Math.max(...got.map((g) => g.maxHops)),
      };
      if (sum.answered >= count || this.#now - v0 > limitMs) return sum;
      await this.run(100);
    }
  }

  async heap(sample: number): Promise<HeapFigures> {
    const n = this.#shards.length;
    const got = await this.#all((i) => ({
      op: "heap",
      sample: Math.floor(sample / n) + (i < sample % n ? 1 : 0),
    })) as HeapFigures[];
    const sum = (k: keyof HeapFigures) => got.reduce((a, g) => a + g[k], 0);
    return {
      heapUsed: sum("heapUsed"),
      external: sum("external"),
      rss: sum("rss") + Deno.memoryUsage().rss,
      sampled: sum("sampled"),
      distinct: sum("distinct"),
      ends: sum("ends"),
      timers: sum("timers"),
    };
  }

  async close(): Promise<void> {
    await this.#all(() => ({ op: "exit" }));
    for (const s of this.#shards) {
      await s.w.close().catch(() => {});
      await s.child.status;
    }
  }
}
