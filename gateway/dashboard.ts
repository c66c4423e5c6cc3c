/**
 * The dashboard page served at `GET /`: the ring drawn as a circle with this node, its
 * predecessor, successors and fingers; live message and event feeds over `EventSource`, filled on
 * load from what the gateway kept; statistics that update every second; a form to send,
 * multicast, broadcast and send to successors; and the DHT: the items this node holds, the health
 * of its replicas (parts of its range still received or recovered, requests waiting for them),
 * and a form to put, get and delete a key. One self-contained page (no external assets), so it
 * works offline and under a strict Content-Security-Policy, from phone width up. A token given as
 * `/?token=...` is used for every call.
 *
 * @module
 */

import { DASHBOARD_SCRIPT } from "./_dashboard_script.ts";
import { DASHBOARD_STYLE } from "./_dashboard_style.ts";

/**
 * The dashboard page, as HTML.
 *
 * @example
 * ```ts
 * import { dashboardHtml } from "./dashboard.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(dashboardHtml, /<svg id="ring"/);
 * ```
 */
export const dashboardHtml: string = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>P2PS node</title>
<link rel="icon" href="data:,">
<style>${DASHBOARD_STYLE}</style>
</head>
<body>
<header>
  <h1>P2PS node <span class="id" id="node-id">…</span></h1>
  <span class="pill" id="status">loading</span>
  <div class="meta">
    <span>access point <b id="ap">…</b></span>
    <span>network <b id="net">…</b></span>
    <span>fingers <b id="policy">…</b></span>
  </div>
  <div class="live"><span class="dot" id="live-messages"></span>messages <span class="dot" id="live-events"></span>events</div>
</header>
<main>
  <div class="col">
    <section class="card">
      <h2>Ring <button class="toggle" id="layout" type="button">by key</button></h2>
      <svg id="ring" viewBox="0 0 420 420" role="img" aria-label="The ring around this node"></svg>
      <div class="legend">
        <span><i style="background:var(--self)"></i>this node</span>
        <span><i style="background:var(--pred)"></i>predecessor</span>
        <span><i style="background:var(--succ)"></i>successors</span>
        <span><i style="background:var(--finger)"></i>fingers</span>
        <span><i style="background:var(--msg)"></i>message in</span>
      </div>
    </section>
    <section class="card">
      <h2>Send</h2>
      <form id="send-form">
        <label for="op">operation</label>
        <select id="op">
          <option value="send">send — one node or key</option>
          <option value="multicast">multicast — several nodes</option>
          <option value="broadcast">broadcast — every node</option>
          <option value="succ">successors — next n nodes</option>
        </select>
        <label for="dst" id="dst-label">destination</label>
        <input id="dst" placeholder="id or name, e.g. 16 or alice">
        <label for="nrSucc" class="hidden" id="nrSucc-label">successors</label>
        <input id="nrSucc" class="hidden" type="number" min="1" value="2">
        <label for="msg">message</label>
        <textarea id="msg" placeholder='"hello" or {"any": ["json", 1]}'>"hello from the dashboard"</textarea>
        <span></span>
        <div class="checks">
          <label id="toResp-wrap"><input type="checkbox" id="toResp"> to responsible of key</label>
          <label id="toMyself-wrap" class="hidden"><input type="checkbox" id="toMyself"> to myself too</label>
          <label><input type="checkbox" id="ack"> wait for acknowledgement</label>
        </div>
        <span></span>
        <button class="primary" type="submit">Send</button>
        <span></span>
        <div id="result" class="result"></div>
      </form>
    </section>
  </div>
  <div class="col">
    <section class="card">
      <h2>Statistics <span id="stats-age" style="text-transform:none;letter-spacing:0"></span></h2>
      <div class="stats" id="stats"></div>
    </section>
    <section class="card">
      <h2>DHT <span class="pill" id="dht-health" style="text-transform:none;letter-spacing:0">…</span></h2>
      <div class="stats" id="dht-stats"></div>
      <form id="kv-form" style="margin-top:14px">
        <label for="kv-key">key</label>
        <input id="kv-key" placeholder="a string key, e.g. color">
        <label for="kv-value">value</label>
        <textarea id="kv-value" placeholder='"blue" or {"any": ["json", 1]}'>"blue"</textarea>
        <span></span>
        <div class="checks">
          <button class="primary" type="submit" id="kv-put">Put</button>
          <button class="plain" type="button" id="kv-get">Get</button>
          <button class="plain" type="button" id="kv-del">Delete</button>
        </div>
        <span></span>
        <div id="kv-result" class="result"></div>
      </form>
    </section>
    <div class="feeds">
      <section class="card">
        <h2>Messages <span id="msg-count">0</span></h2>
        <ol class="feed" id="messages"><li class="empty">Waiting for messages…</li></ol>
      </section>
      <section class="card">
        <h2>Events <span id="evt-count">0</span></h2>
        <ol class="feed" id="events"><li class="empty">Waiting for events…</li></ol>
      </section>
    </div>
  </div>
</main>
<script>
${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
