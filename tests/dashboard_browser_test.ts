// The dashboard in a real browser (Debian's Chromium, headless, driven over the DevTools
// protocol): it draws the ring, follows the streams live, and its form sends through the node.
// Skipped, with a printed reason, when /usr/bin/chromium is not installed.
import assert from "node:assert/strict";
import { createNet, joinNet, type P2PNode } from "../mod.ts";
import { type GatewayServer, serveGateway } from "../gateway/mod.ts";
import { Browser, CHROMIUM, hasChromium } from "./_cdp.ts";
import { test } from "./_test.ts";
import { within } from "./_wait.ts";

const present = hasChromium();
if (!present) {
  console.log(
    `dashboard_browser_test: skipped, ${CHROMIUM} is not installed (apt-get install -y chromium)`,
  );
}

test(
  "the dashboard shows a message sent through another node's gateway as it arrives",
  async () => {
    const nodes: P2PNode[] = [];
    const servers: GatewayServer[] = [];
    try {
      const net = { maxKey: 1024 };
      nodes.push(await createNet({ node: { id: 100 }, net }));
      for (const id of [300, 520, 760, 900]) {
        nodes.push(await joinNet(nodes[0].ap, { node: { id } }));
      }
      const token = "dashboard-test-token";
      for (const node of nodes.slice(0, 2)) {
        servers.push(serveGateway(node, { port: 0, token }));
      }
      const [watched, other] = servers;
      await using browser = await Browser.launch();
      await browser.goto(`${watched.url}/?token=${token}`);
      // Both EventSources are open and the ring is drawn with this node and its neighbours.
      await browser.waitFor(
        "document.getElementById('live-messages').className === 'dot on' && " +
          "document.getElementById('live-events').className === 'dot on'",
      );
      await browser.waitFor("document.querySelector('#ring [data-node=\"100\"]')");
      assert.equal(await browser.eval("document.getElementById('node-id').textContent"), "100");
      assert.equal(
        await browser.eval("document.getElementById('status').textContent"),
        "connected",
      );
      const drawn = await browser.eval<number[]>(
        "[...document.querySelectorAll('#ring [data-node]')].map(g => +g.dataset.node).sort((a, b) => a - b)",
      );
      assert.deepEqual(drawn, [100, 300, 520, 760, 900]);

      // A message sent through node 300's gateway appears on node 100's page.
      const res = await within(
        fetch(`${other.url}/send`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({
            dst: 100,
            msg: { note: "hello from node 300's gateway" },
            ack: true,
          }),
        }),
        "POST /send through node 300's gateway",
      );
      assert.equal(res.status, 200);
      await res.body?.cancel();
      await browser.waitFor(
        "document.getElementById('messages').textContent.includes(\"hello from node 300's gateway\")",
      );
      assert.match(
        await browser.eval<string>("document.querySelector('#messages li').textContent"),
        /send\s*from 300/,
      );

      // A node joins: the event feed shows it and the ring is redrawn with it.
      nodes.push(await joinNet(nodes[1].ap, { node: { id: 50 } }));
      await browser.waitFor("document.getElementById('events').textContent.includes('newpred')");
      await browser.waitFor("document.querySelector('#ring [data-node=\"50\"]')");

      // The page's own form: a broadcast with acknowledgement reaches the other five nodes.
      await browser.eval(`(() => {
        document.getElementById('op').value = 'broadcast';
        document.getElementById('op').dispatchEvent(new Event('change'));
        document.getElementById('msg').value = '{"from": "the dashboard form"}';
        document.getElementById('ack').checked = true;
        document.querySelector('#send-form button').click();
      })()`);
      await browser.waitFor("document.getElementById('result').textContent.startsWith('200')");
      const result = await browser.eval<string>("document.getElementById('result').textContent");
      assert.equal(JSON.parse(result.slice(4)).report.reached.length, 5);
      // Statistics update on their own.
      await browser.waitFor("Number(document.querySelector('#stats .stat .v').textContent) >= 1");

      // The DHT form: a value put through the page reads back with its version; the DHT card
      // shows the items this node holds and that it serves its whole range.
      await browser.eval(`(() => {
        document.getElementById('kv-key').value = 'color';
        document.getElementById('kv-value').value = '{"name": "blue"}';
        document.getElementById('kv-put').click();
      })()`);
      await browser.waitFor("document.getElementById('kv-result').textContent.startsWith('200')");
      assert.equal((await nodes[3].lookup("color"))?.version, 1);
      await browser.eval("document.getElementById('kv-get').click()");
      await browser.waitFor(
        "document.getElementById('kv-result').textContent === '200 version 1 {\"name\":\"blue\"}'",
      );
      await browser.waitFor(
        "document.getElementById('dht-health').textContent === 'serving · f = 4'",
      );
      await browser.waitFor(
        `Number(document.querySelector('#dht-stats .stat .v').textContent) === ${
          (await nodes[0].statistics()).dht.items
        }`,
      );
      await browser.eval("document.getElementById('kv-del').click()");
      await browser.waitFor("document.getElementById('kv-result').textContent.startsWith('200')");
      await browser.eval("document.getElementById('kv-get').click()");
      await browser.waitFor(
        "document.getElementById('kv-result').textContent.startsWith('404 NotFound: No value')",
      );

      // Let the message pulse animation finish, then keep a screenshot.
      await new Promise((r) => setTimeout(r, 800));
      const png = await browser.screenshot();
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      // Kept only when regenerating the README's picture: the suite leaves no files behind.
      if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
        const docs = new URL("../docs/dashboard.png", import.meta.url);
        await Deno.writeFile(docs, png);
        console.log(`dashboard screenshot written to ${docs.pathname}`);
      }
    } finally {
      for (const s of servers) await s.shutdown();
      for (const n of nodes.reverse()) await n.leave();
    }
  },
  { ignore: !present },
);
