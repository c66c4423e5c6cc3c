/**
 * One Server-Sent-Events stream of the gateway: a bounded log of encoded events shared by every
 * client, and the response bodies that read it.
 *
 * Clients hold no queue of their own, only a cursor into the log: each reads at its own pace
 * through a pull-based body, so a slow client costs no memory. The log keeps the newest
 * `replay` events (and at most `replayBytes` of them); when a client's cursor falls behind the
 * oldest event kept — because it reconnected too late, or reads slower than events arrive — it
 * gets a `gap` event that says how many events it missed, then continues with the oldest event
 * still kept.
 *
 * Event ids are `<instance>-<sequence>`: the instance part changes when a gateway is created, so
 * an id from an earlier gateway is recognised as unknown instead of being misread.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Limits of an {@linkcode EventLog}. */
export interface EventLogOptions {
  /** Events kept for replay. @default 1024 */
  replay?: number;
  /** Bytes of encoded events kept for replay (the newest event is always kept). @default 8 MiB */
  replayBytes?: number;
  /** A `: ping` comment is sent after this long without events, ms. @default 15000 */
  heartbeatMs?: number;
  /** `retry:` advice sent to clients when they connect, ms. @default 2000 */
  retryMs?: number;
}

interface Entry {
  seq: number;
  bytes: Uint8Array;
}

/**
 * Why a client did not get every event: it reconnected after the events that followed its
 * `Last-Event-ID` were evicted (`evicted`), it read more slowly than events arrived (`slow`), or
 * its id belongs to no event of this gateway (`unknown-id`, e.g. the gateway restarted).
 */
export type GapReason = "evicted" | "slow" | "unknown-id";

/** The result of parsing a `Last-Event-ID`. */
export type LastEventId = { seq: number } | { unknown: string } | null;

const REPLAYED = encoder.encode("event: replayed\ndata: {}\n\n");

/** Largest chunk a client is handed at once when it is behind. */
const CHUNK_BYTES = 64 * 1024;

/**
 * A bounded, shared log of SSE events with replay from an event id.
 *
 * @example Replay after an id
 * ```ts
 * import { EventLog } from "./_event_log.ts";
 * import assert from "node:assert/strict";
 *
 * const log = new EventLog("abc");
 * log.append("message", '"one"');
 * log.append("message", '"two"');
 * log.end();
 * const text = await new Response(log.open(log.parseId("abc-1"))).text();
 * assert.equal(text, 'retry: 2000\n\nid: abc-2\nevent: message\ndata: "two"\n\n');
 * ```
 */
export class EventLog {
  readonly #instance: string;
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #heartbeatMs: number;
  readonly #retryMs: number;
  #entries: Entry[] = [];
  #head = 0;
  #bytes = 0;
  #seq = 0;
  #ended = false;
  readonly #wakers = new Set<() => void>();
  #clients = 0;
  /** Clients that fell behind the log while connected (counted once per gap). */
  slowGaps = 0;

  /** Creates an empty log; `instance` prefixes every event id. */
  constructor(instance: string, options: EventLogOptions = {}) {
    this.#instance = instance;
    this.#max = Math.max(1, options.replay ?? 1024);
    this.#maxBytes = Math.max(1, options.replayBytes ?? 8 * 1024 * 1024);
    this.#heartbeatMs = Math.max(1, options.heartbeatMs ?? 15000);
    this.#retryMs = options.retryMs ?? 2000;
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients;
  }

  /** Sequence number of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Whether the stream has ended (the node left or the gateway closed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** The position before the oldest event kept: opening there replays every one of them. */
  beforeOldest(): LastEventId {
    return { seq: this.#oldest() - 1 };
  }

  /** Parses a `Last-Event-ID`; `null` means none was given. */
  parseId(raw: string | null): LastEventId {
    if (raw === null || raw === "") return null;
    const m = /^([a-z0-9]+)-(\d{1,15})$/.exec(raw);
    if (!m || m[1] !== this.#instance || Number(m[2]) > this.#seq) return { unknown: raw };
    return { seq: Number(m[2]) };
  }

  /** Appends an event of type `event` whose data is `data` (one line of JSON). */
  append(event: string, data: string): void {
    if (this.#ended) return;
    const seq = ++this.#seq;
    // An event name with a line break would end the field early; the library never sends one.
    const name = event.replace(/[\r\n]/g, " ");
    const bytes = encoder.encode(`id: ${this.#id(seq)}\nevent: ${name}\ndata: ${data}\n\n`);
    this.#entries.push({ seq, bytes });
    this.#bytes += bytes.length;
    while (
      this.#entries.length - this.#head > 1 &&
      (this.#entries.length - this.#head > this.#max || this.#bytes > this.#maxBytes)
    ) {
      this.#bytes -= this.#entries[this.#head].bytes.length;
      this.#entries[this.#head++] = undefined as unknown as Entry;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    this.#wake();
  }

  /** Ends the stream: clients read what is left, then their responses end. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** Whether a client resuming after `last` would get anything (used to answer 204). */
  hasAfter(last: LastEventId): boolean {
    if (last === null) return !this.#ended;
    return !this.#ended || !("seq" in last) || last.seq < this.#seq;
  }

  #id(seq: number): string {
    return `${this.#instance}-${seq}`;
  }

  #oldest(): number {
    return this.#head < this.#entries.length ? this.#entries[this.#head].seq : this.#seq + 1;
  }

  #wake(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const w of wakers) w();
  }

  #gap(lastEventId: string, resume: number, missed: number | null, reason: GapReason): string {
    const data = JSON.stringify({ lastEventId, missed, reason });
    return `id: ${this.#id(resume - 1)}\nevent: gap\ndata: ${data}\n\n`;
  }

  /**
   * A response body that replays what followed `last` and then follows the log live.
   * Cancelling the body (the client went away) detaches it at once. With `markReplayed`, an
   * `event: replayed` (no id, data `{}`) follows the last event that was already in the log, so
   * a client can tell what it is shown from the past from what happens now.
   *
   * @example A page that loads late sees the earlier events, then the mark
   * ```ts
   * import { EventLog } from "./_event_log.ts";
   * import assert from "node:assert/strict";
   *
   * const log = new EventLog("abc");
   * log.append("message", '"earlier"');
   * const body = log.open(log.beforeOldest(), { markReplayed: true });
   * log.append("message", '"now"');
   * log.end();
   * const text = await new Response(body).text();
   * assert.match(text, /"earlier"\n\nevent: replayed\ndata: \{\}\n\nid: abc-2\n/);
   * ```
   */
  open(last: LastEventId, options?: { markReplayed?: boolean }): ReadableStream<Uint8Array> {
    // Events up to this one were in the log before the client came.
    let replayedUpTo = options?.markReplayed ? this.#seq : -1;
    let cursor: number;
    let prefix = `retry: ${this.#retryMs}\n\n`;
    if (last === null) {
      cursor = this.#seq + 1;
    } else if ("seq" in last) {
      cursor = last.seq + 1;
      const oldest = this.#oldest();
      if (cursor < oldest) {
        prefix += this.#gap(this.#id(last.seq), oldest, oldest - cursor, "evicted");
        cursor = oldest;
      }
    } else {
      cursor = this.#oldest();
      prefix += this.#gap(last.unknown, cursor, null, "unknown-id");
    }
    let closed = false;
    let wake: (() => void) | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const detach = () => {
      if (closed) return;
      closed = true;
      this.#clients--;
      clearTimeout(timer);
      if (wake) {
        this.#wakers.delete(wake);
        wake();
      }
    };
    this.#clients++;
    const pull = async (c: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
      while (!closed) {
        const oldest = this.#oldest();
        if (cursor < oldest) {
          this.slowGaps++;
          prefix += this.#gap(this.#id(cursor - 1), oldest, oldest - cursor, "slow");
          cursor = oldest;
        }
        const parts: Uint8Array[] = prefix ? [encoder.encode(prefix)] : [];
        prefix = "";
        let size = parts[0]?.length ?? 0;
        while (cursor <= this.#seq && size < CHUNK_BYTES) {
          if (replayedUpTo >= 0 && cursor > replayedUpTo) break;
          const e = this.#entries[this.#head + (cursor - oldest)];
          parts.push(e.bytes);
          size += e.bytes.length;
          cursor++;
        }
        if (replayedUpTo >= 0 && cursor > replayedUpTo) {
          parts.push(REPLAYED);
          size += REPLAYED.length;
          replayedUpTo = -1;
        }
        if (parts.length > 0) {
          c.enqueue(parts.length === 1 ? parts[0] : concat(parts, size));
          return;
        }
        if (this.#ended) {
          detach();
          c.close();
          return;
        }
        const ping = await new Promise<boolean>((resolve) => {
          wake = () => resolve(false);
          this.#wakers.add(wake);
          timer = setTimeout(() => {
            this.#wakers.delete(wake!);
            resolve(true);
          }, this.#heartbeatMs);
        });
        clearTimeout(timer);
        wake = null;
        if (ping && !closed) {
          c.enqueue(encoder.encode(": ping\n\n"));
          return;
        }
      }
    };
    return new ReadableStream<Uint8Array>({ pull, cancel: detach }, { highWaterMark: 0 });
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
