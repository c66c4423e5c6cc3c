/**
 * A node's statistics in the Prometheus text exposition format (version 0.0.4).
 *
 * Known counters get conventional names and labels; any numeric field the statistics gain later
 * still appears, as an untyped `p2ps_<path>` series, so `/metrics` never lags `/stats`.
 *
 * @module
 */

/** A metric type. */
export type MetricType = "counter" | "gauge" | "untyped";

/** One extra sample: name, labels, value, type, help. */
export type MetricSample = [string, Record<string, string>, number, MetricType, string];

/** A metric family being built. */
interface Family {
  type: MetricType;
  help: string;
  samples: string[];
}

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^a-zA-Z0-9_]/g, "_").toLowerCase();
}

const FAMILIES: Record<string, { type: MetricType; help: string }> = {
  p2ps_data_messages_total: {
    type: "counter",
    help: "Application messages of every kind: sent (originated, one per first hop), forwarded " +
      "(one per next hop), received (delivered here), dropped (ended here undelivered); the sum " +
      "of p2ps_app_messages_total over kinds.",
  },
  p2ps_control_messages_total: {
    type: "counter",
    help: "Protocol messages: sent (originated), forwarded, received (handled here), dropped.",
  },
  p2ps_app_messages_total: {
    type: "counter",
    help: "Application messages by kind: the events of p2ps_data_messages_total, plus " +
      "retransmitted (sent again, not in sent) and duplicates (arrivals suppressed).",
  },
  p2ps_links: { type: "gauge", help: "Links open now." },
  p2ps_bytes_total: { type: "counter", help: "Bytes on the wire." },
  p2ps_frames_total: { type: "counter", help: "Frames on the wire." },
  p2ps_frames_dropped_total: { type: "counter", help: "Frames dropped for a dead link." },
  p2ps_bad_links_total: { type: "counter", help: "Links closed for protocol violations." },
  p2ps_shed_links_total: {
    type: "counter",
    help: "Inbound connections closed in their handshake to make room: too many were pending.",
  },
  p2ps_bad_frames_total: { type: "counter", help: "Ill-typed frames from peers, dropped." },
  p2ps_undeliverable_total: { type: "counter", help: "Own messages reported undeliverable." },
  p2ps_delivered_hops_total: { type: "counter", help: "Overlay hops of messages delivered here." },
  p2ps_delivered_messages_total: {
    type: "counter",
    help: 'Messages delivered here (p2ps_data_messages_total{event="received"} less the DHT\'s ' +
      'frames, p2ps_app_messages_total{kind="dht",event="received"}: they reach no stream).',
  },
  p2ps_delivered_hops_max: { type: "gauge", help: "Most hops a message delivered here took." },
  p2ps_stream_overflow_total: {
    type: "counter",
    help: "Values dropped from stream readers that fell behind.",
  },
  p2ps_dht_items: { type: "gauge", help: "DHT items (replicas of keys) held here." },
  p2ps_dht_bytes: { type: "gauge", help: "Value bytes of the DHT items held here." },
  p2ps_dht_repaired_total: {
    type: "counter",
    help: "DHT replicas brought up to date here (read repair, anti-entropy, recovery).",
  },
  p2ps_dht_quorum_failures_total: {
    type: "counter",
    help: "DHT operations started here that failed for want of a quorum.",
  },
  p2ps_dht_handed_over_total: {
    type: "counter",
    help: "DHT items sent to the node that became responsible for them (join, leave).",
  },
  p2ps_dht_refused_total: {
    type: "counter",
    help: "DHT items or writes refused here (storage limits, positions outside the range).",
  },
  p2ps_dht_waiting: {
    type: "gauge",
    help: "DHT requests waiting for a range this node is still receiving or recovering.",
  },
  p2ps_dht_pending_ranges: {
    type: "gauge",
    help: "Parts of this node's range it is still receiving or recovering (0: serving it all).",
  },
};

/** The DHT's statistics that count events (the others are gauges). */
const DHT_COUNTERS = new Set(["repaired", "quorumFailures", "handedOver", "refused"]);

/**
 * Renders statistics and gateway gauges as Prometheus text.
 *
 * @param stats The node's `statistics()`.
 * @param extra Further samples: `[name, labels, value, type, help]`.
 * @returns The exposition text.
 *
 * @example
 * ```ts
 * import { prometheusText } from "./_metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const text = prometheusText({ data: { sent: 3 }, badLinks: 0, shedLinks: 2 });
 * assert.match(text, /^p2ps_data_messages_total\{event="sent"\} 3$/m);
 * assert.match(text, /^# TYPE p2ps_bad_links_total counter$/m);
 * assert.match(text, /^p2ps_shed_links_total 2$/m);
 * ```
 */
export function prometheusText(
  stats: object,
  extra: MetricSample[] = [],
): string {
  const families = new Map<string, Family>();
  const add = (name: string, labels: Record<string, string>, value: number): void => {
    let f = families.get(name);
    if (!f) {
      const known = FAMILIES[name] ?? { type: "untyped", help: `Statistic ${name}.` };
      f = { ...known, samples: [] };
      families.set(name, f);
    }
    const ls = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(",");
    f.samples.push(`${name}${ls ? `{${ls}}` : ""} ${value}`);
  };
  const walk = (path: string[], v: unknown): void => {
    if (typeof v === "number") {
      sample(path, v);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk([...path, k], x);
    }
  };
  const sample = (p: string[], v: number): void => {
    const [top, a, b] = p;
    if ((top === "data" || top === "control") && p.length === 2) {
      return add(`p2ps_${top}_messages_total`, { event: a }, v);
    }
    if (top === "kinds" && p.length === 3) {
      return add("p2ps_app_messages_total", { kind: a, event: b }, v);
    }
    if (top === "links" && p.length === 2) return add("p2ps_links", { direction: a }, v);
    if (top === "bytes" && p.length === 2) return add("p2ps_bytes_total", { direction: a }, v);
    if (top === "frames" && p.length === 2) {
      return a === "dropped"
        ? add("p2ps_frames_dropped_total", {}, v)
        : add("p2ps_frames_total", { direction: a }, v);
    }
    if (top === "hops" && p.length === 2) {
      const name = { total: "p2ps_delivered_hops_total", count: "p2ps_delivered_messages_total" }[
        a as "total" | "count"
      ] ?? `p2ps_delivered_hops_${snake(a)}`;
      return add(name, {}, v);
    }
    if (top === "dht" && p.length === 2) {
      return add(`p2ps_dht_${snake(a)}${DHT_COUNTERS.has(a) ? "_total" : ""}`, {}, v);
    }
    if (p.length === 1) {
      const name = `p2ps_${snake(top)}_total`;
      if (FAMILIES[name]) return add(name, {}, v);
    }
    add(`p2ps_${p.map(snake).join("_")}`, {}, v);
  };
  walk([], stats);
  let text = "";
  for (const [name, f] of families) {
    text += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n${f.samples.join("\n")}\n`;
  }
  const seen = new Set<string>();
  for (const [name, labels, value, type, help] of extra) {
    if (!seen.has(name)) {
      seen.add(name);
      text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    }
    const ls = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(",");
    text += `${name}${ls ? `{${ls}}` : ""} ${value}\n`;
  }
  return text;
}
