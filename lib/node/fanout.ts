/**
 * A stream with many independent readers: each reader sees every value pushed after it
 * subscribed, in order, at its own pace. A reader that falls more than `bufferSize` values
 * behind loses the oldest ones (counted in {@linkcode Fanout.overflow}) so that a slow consumer
 * cannot make the node's memory grow without bound.
 *
 * @module
 */

/** Options of one reader. */
export interface ReaderOptions {
  /** Values kept for a reader that is behind; older ones are dropped past it. @default 65536 */
  bufferSize?: number;
  /** Ends the reader when aborted. */
  signal?: AbortSignal;
}

class Reader<T> implements AsyncIterableIterator<T> {
  #queue: T[] = [];
  #head = 0;
  #wait: ((r: IteratorResult<T>) => void) | null = null;
  #done = false;
  readonly #owner: Fanout<T>;
  readonly #limit: number;
  readonly #signal?: AbortSignal;
  readonly #onAbort = () => this.#finish();

  constructor(owner: Fanout<T>, options: ReaderOptions) {
    this.#owner = owner;
    this.#limit = Math.max(1, options.bufferSize ?? 65536);
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  push(v: T): void {
    if (this.#wait) {
      const w = this.#wait;
      this.#wait = null;
      w({ value: v, done: false });
      return;
    }
    this.#queue.push(v);
    if (this.#queue.length - this.#head > this.#limit) {
      this.#head++;
      this.#owner.overflow++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.release(this);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (this.#wait) {
      const w = this.#wait;
      this.#wait = null;
      w({ value: undefined, done: true });
    }
  }

  end(): void {
    // Values already queued are still read; only then does the reader finish.
    if (this.#head >= this.#queue.length) this.#finish();
    else this.#ending = true;
  }

  #ending = false;

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined as T;
      if (this.#ending && this.#head >= this.#queue.length) this.#finish();
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#wait = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.#queue = [];
    this.#head = 0;
    this.#finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** A multi-reader stream. */
export class Fanout<T> {
  /** Created with the first reader: most nodes of a large simulation never have one. */
  #readers: Set<Reader<T>> | null = null;
  #closed = false;
  /** Values dropped because a reader was too far behind. */
  overflow = 0;

  /** Number of readers attached now. */
  get readers(): number {
    return this.#readers?.size ?? 0;
  }

  /** Hands `v` to every reader. */
  push(v: T): void {
    if (this.#readers) { for (const r of this.#readers) r.push(v); }
  }

  /** A new reader that sees everything pushed from now on; breaking out of a loop releases it. */
  subscribe(options: ReaderOptions = {}): AsyncIterableIterator<T> {
    const r = new Reader(this, options);
    if (this.#closed || options.signal?.aborted) r.end();
    else (this.#readers ??= new Set()).add(r);
    return r;
  }

  /** Ends every reader after what it has queued. */
  close(): void {
    this.#closed = true;
    for (const r of [...(this.#readers ?? [])]) r.end();
  }

  /** Detaches a reader (called by the reader itself). */
  release(r: Reader<T>): void {
    this.#readers?.delete(r);
  }
}
