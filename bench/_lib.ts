// Shared helpers of the benchmark suite: statistics, machine description, line protocol of the
// child processes, and a dependency-free SVG line chart.

/** Mean of numbers (NaN when empty). */
export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** The p-quantile (nearest rank) of numbers. */
export function quantile(xs: readonly number[], p: number): number {
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** Largest of numbers, without spreading them onto the stack. */
export function max(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

/** Fixed-point formatting that keeps integers short. */
export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return String(x);
  if (digits === 0) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 1e6) return x.toExponential(2);
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  return x.toFixed(digits);
}

/** A Markdown table. */
export function mdTable(head: string[], rows: (string | number)[][]): string {
  const line = (r: (string | number)[]) => `| ${r.map(String).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** What the suite ran on. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  deno: string;
  v8: string;
  os: string;
}

/**
 * Reads a /proc file through `cat`: Deno only lets a script read /proc with --allow-all, while
 * the suite already runs children (--allow-run).
 */
export function readProc(name: string): string {
  const out = new Deno.Command("cat", { args: [`/proc/${name}`], stdout: "piped", stderr: "null" })
    .outputSync();
  if (!out.success) throw new Error(`cannot read /proc/${name}`);
  return new TextDecoder().decode(out.stdout);
}

/** CPU time (user + system) a process has used so far, in µs (Linux). */
export function cpuMicros(pid: number): number {
  const fields = readProc(`${pid}/stat`).split(") ")[1].split(" ");
  // utime and stime (fields 14 and 15 of the line), in clock ticks of 1/100 s (USER_HZ on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Reads the machine description (needs --allow-read for /proc; falls back gracefully). */
export function machine(): Machine {
  let cpuModel = "unknown";
  let memoryGiB = NaN;
  let cpus = navigator.hardwareConcurrency;
  try {
    const info = readProc("cpuinfo");
    cpuModel = /model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? cpuModel;
    cpus = (info.match(/^processor\s*:/gm) ?? []).length || cpus;
  } catch { /* not Linux or no permission */ }
  try {
    const mem = readProc("meminfo");
    memoryGiB = Number(/MemTotal:\s*(\d+)/.exec(mem)?.[1]) / 1024 / 1024;
  } catch { /* idem */ }
  return {
    cpus,
    cpuModel,
    memoryGiB,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
}

/** One series of a line chart. */
export interface Series {
  name: string;
  points: [number, number][];
  /** Dashed line (for baselines and reference curves). */
  dashed?: boolean;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

/** A small SVG line chart; `logX` plots x on a log2 axis. */
export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  yMin?: number;
}): string {
  const W = 720, H = 420, L = 70, R = 190, T = 40, B = 55;
  const pts = options.series.flatMap((s) => s.points);
  const tx = (x: number) => (options.logX ? Math.log2(x) : x);
  const xs = pts.map((p) => tx(p[0]));
  const ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const y0 = options.yMin ?? Math.min(0, ...ys), y1 = Math.max(...ys) * 1.08 || 1;
  const sx = (x: number) => L + ((tx(x) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2 + L / 2}" y="22" text-anchor="middle" font-size="15">${
      esc(options.title)
    }</text>`,
  ];
  for (const v of niceTicks(y0, y1)) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${sy(v)}" y2="${sy(v)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  const xticks = options.logX
    ? [...new Set(pts.map((p) => p[0]))].sort((a, b) => a - b)
    : niceTicks(x0, x1);
  for (const v of xticks) {
    const label = options.logX ? `2^${Math.round(Math.log2(v))}` : fmt(v);
    out.push(
      `<line x1="${sx(v)}" x2="${sx(v)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`,
      `<text x="${sx(v)}" y="${H - B + 16}" text-anchor="middle">${label}</text>`,
    );
  }
  out.push(
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(options.xLabel)}</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${
      esc(options.yLabel)
    }</text>`,
  );
  options.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    const d = sorted.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join(" ");
    out.push(
      `<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="6 4"' : ""
      }/>`,
    );
    for (const p of sorted) {
      out.push(
        `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${c}"/>`,
      );
    }
    const ly = T + 10 + i * 20;
    out.push(
      `<line x1="${W - R + 15}" x2="${
        W - R + 40
      }" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="6 4"' : ""
      }/>`,
      `<text x="${W - R + 46}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/**
 * Line-delimited JSON over a child's stdin/stdout: `request` sends a command and resolves with the
 * reply carrying the same `rid`. Lines that are not JSON replies (logs) go to `onLog`.
 */
export class LineChannel {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiting = new Map<number, (v: Record<string, unknown>) => void>();
  #next = 1;
  readonly done: Promise<void>;

  constructor(
    input: WritableStream<Uint8Array>,
    output: ReadableStream<Uint8Array>,
    onLog: (line: string) => void = () => {},
  ) {
    this.#writer = input.getWriter();
    this.done = (async () => {
      const lines = output.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
      for await (const line of lines) {
        let v: Record<string, unknown> | null = null;
        try {
          v = JSON.parse(line);
        } catch { /* a log line */ }
        const rid = v?.rid;
        if (typeof rid === "number" && this.#waiting.has(rid)) {
          const w = this.#waiting.get(rid)!;
          this.#waiting.delete(rid);
          w(v!);
        } else onLog(line);
      }
      for (const w of this.#waiting.values()) w({ error: "child closed its output" });
    })();
  }

  /** Sends `cmd` and waits (at most `timeoutMs`) for its reply. */
  async request(
    cmd: Record<string, unknown>,
    timeoutMs = 120_000,
  ): Promise<Record<string, unknown>> {
    const rid = this.#next++;
    const { promise, resolve } = Promise.withResolvers<Record<string, unknown>>();
    this.#waiting.set(rid, resolve);
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ ...cmd, rid }) + "\n"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<Record<string, unknown>>((r) => {
      timer = setTimeout(() => r({ error: `timeout after ${timeoutMs} ms: ${cmd.op}` }), timeoutMs);
    });
    try {
      const v = await Promise.race([promise, timeout]);
      if (v.error) throw new Error(`child: ${v.error}`);
      return v;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(rid);
    }
  }

  /** Closes the child's stdin. */
  async close(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* already closed */ }
  }
}

/** Splits a text stream into lines. */
export function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, ctl) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) if (p.trim()) ctl.enqueue(p);
    },
    flush(ctl) {
      if (rest.trim()) ctl.enqueue(rest);
    },
  });
}

/** Serves line-delimited JSON commands on stdin (child side); replies carry the command's rid. */
export async function serveLines(
  handle: (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>,
): Promise<void> {
  const enc = new TextEncoder();
  const reply = (v: Record<string, unknown>) =>
    Deno.stdout.writeSync(enc.encode(JSON.stringify(v) + "\n"));
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
    lineSplitter(),
  );
  for await (const line of lines) {
    const cmd = JSON.parse(line);
    // Commands run concurrently: a long stream test does not block a stats query.
    handle(cmd).then(
      (v) => reply({ ...v, rid: cmd.rid }),
      (e) => reply({ error: String(e?.stack ?? e), rid: cmd.rid }),
    );
    if (cmd.op === "quit") break;
  }
}

/** The node responsible for a key among `ids` (sorted ascending): the first at or after it. */
export function responsibleAmong(ids: readonly number[]): (key: number) => number {
  return (key) => {
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo === ids.length ? ids[0] : ids[lo];
  };
}
