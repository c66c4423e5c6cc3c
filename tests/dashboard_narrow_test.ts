// The dashboard at phone width and at desktop width in a real browser (Debian's Chromium): nothing
// wider than the screen, the header's live indicators visible, the empty feeds on one line, no
// quarter-mark number under a node, errors as sentences, and the feeds filled on load from what
// the gateway kept. Skipped, with a printed reason, when Chromium is not installed.
import assert from "node:assert/strict";
import { createNet, joinNet, type P2PNode } from "../mod.ts";
import { type GatewayServer, serveGateway } from "../gateway/mod.ts";
import { Browser, CHROMIUM, hasChromium } from "./_cdp.ts";
import { test } from "./_test.ts";

const present = hasChromium();
if (!present) {
  console.log(
    `dashboard_narrow_test: skipped, ${CHROMIUM} is not installed (apt-get install -y chromium)`,
  );
}

/** A five-node ring (one node at key 256, a quarter of the space) with a gateway on node 100. */
async function ring(): Promise<{ nodes: P2PNode[]; server: GatewayServer } & AsyncDisposable> {
  const nodes = [await createNet({ node: { id: 100 }, net: { maxKey: 1024 } })];
  for (const id of [256, 520, 760, 900]) nodes.push(await joinNet(nodes[0].ap, { node: { id } }));
  const server = serveGateway(nodes[0], { port: 0 });
  return {
    nodes,
    server,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      for (const n of nodes.reverse()) await n.leave();
    },
  };
}

/** Keeps a screenshot only when regenerating the docs; otherwise checks it and drops it. */
async function screenshot(browser: Browser, name: string): Promise<void> {
  const png = await browser.screenshot();
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
    const file = new URL(`../docs/${name}`, import.meta.url);
    await Deno.writeFile(file, png);
    console.log(`  screenshot written to ${file.pathname}`);
  }
}

const LIVE = "document.getElementById('live-messages').className === 'dot on' && " +
  "document.getElementById('live-events').className === 'dot on'";

test(
  "at 420 px the dashboard fits the screen, shows its live indicators and readable errors",
  async () => {
    await using r = await ring();
    // A message that arrives before the page is open.
    await r.nodes[2].send(100, { note: "sent before the page loaded" }, { ack: true });
    await using browser = await Browser.launch(420, 900);
    await browser.goto(`${r.server.url}/`);
    await browser.waitFor(LIVE);
    await browser.waitFor("document.querySelector('#ring [data-node=\"256\"]')");

    // Nothing is wider than the screen, and the header's indicators are on it.
    const width = await browser.eval<{ scroll: number; client: number; events: number }>(`({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
      events: document.getElementById('live-events').parentElement.getBoundingClientRect().right,
    })`);
    assert.ok(width.scroll <= width.client, `page ${width.scroll} px wide in ${width.client} px`);
    assert.ok(width.events <= width.client, `live indicators end at ${width.events} px`);

    // The message from before the page loaded is in the feed, marked as earlier.
    await browser.waitFor(
      "document.getElementById('messages').textContent.includes('sent before')",
    );
    assert.equal(
      await browser.eval("document.querySelector('#messages li .t').textContent"),
      "earlier",
    );

    // An error reads as its type and message, without JSON quoting.
    await browser.eval(`(() => {
      document.getElementById('dst').value = '';
      document.querySelector('#send-form button').click();
    })()`);
    await browser.waitFor("document.getElementById('result').className === 'result err'");
    const error = await browser.eval<string>("document.getElementById('result').textContent");
    assert.match(error, /^400 InvalidArgumentError: Field "dst" must be an integer in \[0, 1024\)/);
    assert.doesNotMatch(error, /\\"|\{"error"/);

    // A name is a destination: the gateway hashes it.
    await browser.eval(`(() => {
      document.getElementById('dst').value = 'alice';
      document.getElementById('toResp').checked = true;
      document.querySelector('#send-form button').click();
    })()`);
    await browser.waitFor("document.getElementById('result').textContent.startsWith('200')");
    await screenshot(browser, "dashboard-narrow.png");
  },
  { ignore: !present },
);

test(
  "at 1400 px the empty feeds read on one line and no quarter-mark number sits under a node",
  async () => {
    await using r = await ring();
    await using browser = await Browser.launch(1400, 1000);
    await browser.goto(`${r.server.url}/`);
    await browser.waitFor(LIVE);
    await browser.waitFor("document.querySelector('#ring [data-node=\"256\"]')");
    // One line of text: its height is about one line, not one per word.
    const lines = await browser.eval<number>(`(() => {
      const li = document.querySelector('#events li.empty');
      const lineHeight = parseFloat(getComputedStyle(li).lineHeight);
      const style = getComputedStyle(li);
      return (li.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)) /
        lineHeight;
    })()`);
    assert.ok(lines < 1.5, `"Waiting for events…" takes ${lines.toFixed(1)} lines`);
    // Tick labels (0, 256, 512, 768 in a space of 1024) overlap no node's circle.
    const overlaps = await browser.eval<string[]>(`(() => {
      const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      const ticks = [...document.querySelectorAll('#ring .ring-tick')];
      const nodes = [...document.querySelectorAll('#ring [data-node] circle')];
      return ticks.filter((t) => nodes.some((c) => hit(t.getBoundingClientRect(), c.getBoundingClientRect())))
        .map((t) => t.textContent);
    })()`);
    assert.deepEqual(overlaps, []);
    const ticks = await browser.eval<string[]>(
      "[...document.querySelectorAll('#ring .ring-tick')].map((t) => t.textContent)",
    );
    assert.ok(!ticks.includes("256"), "node 256 stands where 256 would be written");
    assert.ok(ticks.includes("0"), "a quarter mark with no node near keeps its number");
  },
  { ignore: !present },
);
