// A minimal Chrome DevTools Protocol client for browser tests: launches Debian's Chromium
// headless, opens a page, evaluates expressions in it and takes screenshots. No dependencies.

/** Where Debian's Chromium lives; CI installs it with `apt-get install -y chromium`. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether the browser is installed. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

interface Pending {
  resolve(v: Record<string, unknown>): void;
  reject(e: Error): void;
}

/** A headless Chromium and one page in it. */
export class Browser implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #profile: string;
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  readonly #stderr: Promise<void>;
  #nextId = 1;
  #session = "";
  readonly #closed: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    profile: string,
    ws: WebSocket,
    stderr: Promise<void>,
  ) {
    this.#child = child;
    this.#profile = profile;
    this.#ws = ws;
    this.#stderr = stderr;
    this.#closed = new Promise((r) => ws.addEventListener("close", () => r(), { once: true }));
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(ev.data as string);
      const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`CDP: ${msg.error.message}`));
      else p.resolve(msg.result ?? {});
    });
  }

  /** Starts Chromium headless with a fresh profile and opens a blank page of `width`×`height`. */
  static async launch(width = 1440, height = 1000): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "p2ps-chromium-" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // The DevTools address is printed on stderr; keep draining it afterwards.
    const { promise: endpoint, resolve, reject } = Promise.withResolvers<string>();
    const stderr = (async () => {
      let text = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (m) resolve(m[1]);
      }
      reject(new Error(`Chromium exited before listening:\n${text}`));
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let url: string;
    try {
      url = await Promise.race([
        endpoint,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error("Chromium did not start in 20 s")), 20_000);
        }),
      ]);
    } catch (e) {
      child.kill("SIGKILL");
      await child.status;
      await stderr.catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
    const ws = new WebSocket(url);
    await new Promise((res, rej) => {
      ws.addEventListener("open", res, { once: true });
      ws.addEventListener("error", rej, { once: true });
    });
    const browser = new Browser(child, profile, ws, stderr.catch(() => {}));
    const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await browser.send("Target.attachToTarget", { targetId, flatten: true });
    browser.#session = sessionId as string;
    await browser.page("Page.enable");
    await browser.page("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return browser;
  }

  /** Sends a browser-level command. */
  send(method: string, params: Record<string, unknown> = {}, session?: string) {
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject });
    this.#ws.send(
      JSON.stringify({ id, method, params, ...(session ? { sessionId: session } : {}) }),
    );
    return promise;
  }

  /** Sends a command to the page. */
  page(method: string, params: Record<string, unknown> = {}) {
    return this.send(method, params, this.#session);
  }

  /** Navigates and waits until the document has loaded. */
  async goto(url: string): Promise<void> {
    await this.page("Page.navigate", { url });
    await this.waitFor(
      "document.readyState === 'complete' && location.href !== 'about:blank'",
      10_000,
    );
  }

  /** Evaluates `expression` in the page and returns its (JSON) value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.page("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (r.exceptionDetails) throw new Error(`Page threw: ${JSON.stringify(r.exceptionDetails)}`);
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` until it is truthy. */
  async waitFor(expression: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.eval<boolean>(`!!(${expression})`))) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A PNG screenshot of the page. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.page("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    await this.send("Browser.close").catch(() => {});
    this.#ws.close();
    await this.#closed;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status,
      new Promise<null>((r) => (timer = setTimeout(() => r(null), 5000))),
    ]);
    clearTimeout(timer);
    if (exited === null) {
      this.#child.kill("SIGKILL");
      await this.#child.status;
    }
    await this.#stderr;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
