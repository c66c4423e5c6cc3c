/**
 * The dashboard page served at `GET /`: the ring drawn as a circle with this node, its
 * predecessor, successors and fingers; live message and event feeds over `EventSource`;
 * statistics that update every second; and a form to send, multicast, broadcast and send to
 * successors. One self-contained page (no external assets), so it works offline and under a
 * strict Content-Security-Policy. A token given as `/?token=...` is used for every call.
 *
 * @module
 */

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
<style>
  :root {
    --bg: #0d1220; --panel: #151c2e; --panel2: #1b2439; --line: #263152; --text: #e7ebf4;
    --muted: #8b95ad; --self: #5aa7ff; --pred: #c38bff; --succ: #42dba0; --finger: #ffb84d;
    --msg: #ff6f91; --warn: #ffcf5c; --bad: #ff6b6b;
  }
  * { box-sizing: border-box; }
  body {
    margin: 0; background: radial-gradient(1200px 600px at 20% -10%, #1a2544 0%, var(--bg) 60%);
    color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    min-height: 100vh;
  }
  header {
    display: flex; align-items: center; gap: 16px; padding: 16px 24px;
    border-bottom: 1px solid var(--line); background: rgba(13, 18, 32, .7);
  }
  header h1 { font-size: 18px; margin: 0; font-weight: 650; letter-spacing: .2px; }
  header h1 .id { color: var(--self); }
  .pill {
    padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600;
    background: var(--panel2); border: 1px solid var(--line); color: var(--muted);
  }
  .pill.connected, .pill.alone { color: var(--succ); border-color: #2b6b55; }
  .pill.offline, .pill.left, .pill.crashed { color: var(--bad); border-color: #6b2b2b; }
  .meta { color: var(--muted); font-size: 13px; display: flex; gap: 14px; flex-wrap: wrap; }
  .meta b { color: var(--text); font-weight: 550; }
  .live { margin-left: auto; display: flex; gap: 8px; align-items: center; color: var(--muted); font-size: 12px; }
  .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--bad); display: inline-block; }
  .dot.on { background: var(--succ); box-shadow: 0 0 8px var(--succ); }
  main {
    display: grid; grid-template-columns: minmax(360px, 470px) 1fr; gap: 18px; padding: 18px 24px;
  }
  @media (max-width: 980px) { main { grid-template-columns: 1fr; } }
  .card {
    background: var(--panel); border: 1px solid var(--line); border-radius: 14px; padding: 14px 16px;
    box-shadow: 0 10px 30px rgba(0, 0, 0, .25);
  }
  .card h2 {
    font-size: 12px; text-transform: uppercase; letter-spacing: 1.2px; color: var(--muted);
    margin: 0 0 10px; font-weight: 650; display: flex; justify-content: space-between; align-items: center;
  }
  .col { display: flex; flex-direction: column; gap: 18px; min-width: 0; }
  svg { width: 100%; height: auto; display: block; }
  .legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin-top: 6px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 5px; vertical-align: -1px; }
  .toggle { background: none; border: 1px solid var(--line); color: var(--muted); border-radius: 8px;
    padding: 2px 8px; font-size: 11px; cursor: pointer; text-transform: none; letter-spacing: 0; }
  .stats { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
  .stat { background: var(--panel2); border-radius: 10px; padding: 10px 12px; min-width: 0; }
  .stat .v { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .stat .k { color: var(--muted); font-size: 12px; }
  .stat .s { color: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
  .feeds { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
  @media (max-width: 1300px) { .feeds { grid-template-columns: 1fr; } }
  ol.feed { list-style: none; margin: 0; padding: 0; height: 300px; overflow: auto; font-size: 13px; }
  ol.feed li {
    padding: 7px 8px; border-bottom: 1px solid rgba(38, 49, 82, .6); display: grid;
    grid-template-columns: 64px 1fr; gap: 8px; animation: flash 1.2s ease-out;
  }
  ol.feed li .t { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
  ol.feed li .body { min-width: 0; overflow-wrap: anywhere; }
  ol.feed li code { color: #cfe3ff; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
  ol.feed li.gap { color: var(--warn); }
  .tag { display: inline-block; font-size: 11px; padding: 0 7px; border-radius: 6px; margin-right: 6px;
    background: var(--panel2); border: 1px solid var(--line); color: var(--muted); }
  .tag.newpred { color: var(--pred); } .tag.newsucc { color: var(--succ); }
  .tag.fingers { color: var(--finger); } .tag.undeliverable, .tag.left, .tag.crash { color: var(--bad); }
  .tag.connected, .tag.alone { color: var(--self); }
  .empty { color: var(--muted); font-style: italic; padding: 10px 8px; }
  @keyframes flash { from { background: rgba(90, 167, 255, .18); } to { background: transparent; } }
  form { display: grid; grid-template-columns: 120px 1fr; gap: 10px 12px; align-items: center; }
  form label { color: var(--muted); font-size: 13px; }
  input, select, textarea {
    background: #0f1628; border: 1px solid var(--line); color: var(--text); border-radius: 8px;
    padding: 8px 10px; font: inherit; width: 100%;
  }
  textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; min-height: 64px; resize: vertical; }
  .checks { display: flex; gap: 16px; flex-wrap: wrap; }
  .checks label { display: flex; gap: 6px; align-items: center; color: var(--text); }
  .checks input { width: auto; }
  button.primary {
    background: linear-gradient(180deg, #4e9bff, #3a7de0); color: white; border: 0; border-radius: 9px;
    padding: 9px 18px; font-weight: 650; cursor: pointer; justify-self: start;
  }
  button.primary:hover { filter: brightness(1.1); }
  #result { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; color: var(--muted);
    min-height: 1.4em; overflow-wrap: anywhere; }
  #result.ok { color: var(--succ); } #result.err { color: var(--bad); }
  .hidden { display: none !important; }
  .ring-label { font-size: 11px; fill: var(--text); font-weight: 600; paint-order: stroke; stroke: var(--bg); stroke-width: 3px; }
  .ring-tick { font-size: 9px; fill: var(--muted); }
</style>
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
        <input id="dst" placeholder="node id, e.g. 16">
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
        <div id="result"></div>
      </form>
    </section>
  </div>
  <div class="col">
    <section class="card">
      <h2>Statistics <span id="stats-age" style="text-transform:none;letter-spacing:0"></span></h2>
      <div class="stats" id="stats"></div>
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
"use strict";
(function () {
  var token = new URLSearchParams(location.search).get("token");
  var headers = token ? { authorization: "Bearer " + token } : {};
  var NS = "http://www.w3.org/2000/svg";
  var info = null;
  var byRank = false;
  var layoutChosen = false;
  var counts = { messages: 0, events: 0 };
  var $ = function (id) { return document.getElementById(id); };

  function api(path, init) {
    init = init || {};
    init.headers = Object.assign({}, headers, init.headers || {});
    return fetch(path, init);
  }
  function streamUrl(path) {
    return token ? path + "?token=" + encodeURIComponent(token) : path;
  }
  function el(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clock() {
    return new Date().toLocaleTimeString([], { hour12: false });
  }
  function short(v, n) {
    var s = JSON.stringify(v);
    if (s === undefined) s = String(v);
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  // ---- ring ----
  var C = 210, R = 160;
  function known() {
    var m = new Map();
    function add(ref, role) {
      if (!ref) return;
      var e = m.get(ref.id) || { id: ref.id, ap: ref.ap, roles: [] };
      if (e.roles.indexOf(role) < 0) e.roles.push(role);
      m.set(ref.id, e);
    }
    add(info, "self");
    add(info.pred, "pred");
    (info.succList || []).forEach(function (s) { add(s, "succ"); });
    (info.fingers || []).forEach(function (f) { add(f.node, "finger"); });
    return Array.from(m.values()).sort(function (a, b) { return a.id - b.id; });
  }
  function maxKey() { return info && info.net ? info.net.maxKey : Math.pow(2, 52); }
  function angleOf(id, nodes) {
    if (byRank && nodes) {
      var i = nodes.findIndex(function (n) { return n.id === id; });
      if (i >= 0) return (i / nodes.length) * 2 * Math.PI;
    }
    return (id / maxKey()) * 2 * Math.PI;
  }
  function xy(a, r) { return [C + r * Math.sin(a), C - r * Math.cos(a)]; }
  function drawRing() {
    var svg = $("ring");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (!info) return;
    var nodes = known();
    if (!layoutChosen) {
      // Ids that sit close together (e.g. 1 and 16 in a 2^52 space) read better evenly spaced.
      var span = nodes.length > 1 ? (nodes[nodes.length - 1].id - nodes[0].id) / maxKey() : 1;
      byRank = nodes.length > 1 && span < 0.05;
      $("layout").textContent = byRank ? "evenly spaced" : "by key";
    }
    var defs = el("defs", {});
    var grad = el("radialGradient", { id: "glow" });
    grad.appendChild(el("stop", { offset: "0%", "stop-color": "#5aa7ff", "stop-opacity": ".35" }));
    grad.appendChild(el("stop", { offset: "100%", "stop-color": "#5aa7ff", "stop-opacity": "0" }));
    defs.appendChild(grad);
    svg.appendChild(defs);
    svg.appendChild(el("circle", { cx: C, cy: C, r: R, fill: "none", stroke: "#2a3760", "stroke-width": 10, "stroke-opacity": ".35" }));
    svg.appendChild(el("circle", { cx: C, cy: C, r: R, fill: "none", stroke: "#3a4a7a", "stroke-width": 1.5 }));
    if (!byRank) {
      [0, 0.25, 0.5, 0.75].forEach(function (q) {
        var a = q * 2 * Math.PI, p = xy(a, R - 18), p1 = xy(a, R - 6), p2 = xy(a, R + 6);
        svg.appendChild(el("line", { x1: p1[0], y1: p1[1], x2: p2[0], y2: p2[1], stroke: "#3a4a7a" }));
        var t = el("text", { x: p[0], y: p[1] + 3, "text-anchor": "middle", class: "ring-tick" }, q === 0 ? "0" : Math.round(q * maxKey()).toString());
        svg.appendChild(t);
      });
      (info.fingers || []).forEach(function (f) {
        var a = angleOf(f.target), p1 = xy(a, R - 4), p2 = xy(a, R + 4);
        svg.appendChild(el("line", { x1: p1[0], y1: p1[1], x2: p2[0], y2: p2[1], stroke: "#ffb84d", "stroke-opacity": ".5" }));
      });
    }
    var self = xy(angleOf(info.id, nodes), R);
    var chords = el("g", {});
    nodes.forEach(function (n) {
      if (n.id === info.id) return;
      var p = xy(angleOf(n.id, nodes), R);
      var isFinger = n.roles.indexOf("finger") >= 0;
      var color = n.roles.indexOf("pred") >= 0 ? "#c38bff" : n.roles.indexOf("succ") >= 0 ? "#42dba0" : "#ffb84d";
      var mx = (self[0] + p[0]) / 2, my = (self[1] + p[1]) / 2;
      var cx = C + (mx - C) * 0.35, cy = C + (my - C) * 0.35;
      chords.appendChild(el("path", {
        d: "M" + self[0] + "," + self[1] + " Q" + cx + "," + cy + " " + p[0] + "," + p[1],
        fill: "none", stroke: color, "stroke-width": isFinger ? 1.6 : 1.2,
        "stroke-opacity": ".55", "stroke-dasharray": isFinger ? "" : "4 4",
      }));
    });
    svg.appendChild(chords);
    svg.appendChild(el("circle", { cx: self[0], cy: self[1], r: 30, fill: "url(#glow)" }));
    nodes.forEach(function (n) {
      var a = angleOf(n.id, nodes), p = xy(a, R), l = xy(a, R + 26);
      var r = n.roles;
      var fill = r.indexOf("self") >= 0 ? "#5aa7ff" : r.indexOf("pred") >= 0 ? "#c38bff" : r.indexOf("succ") >= 0 ? "#42dba0" : "#ffb84d";
      var g = el("g", { "data-node": n.id });
      if (r.indexOf("finger") >= 0 && r.indexOf("self") < 0) {
        // A finger that is also predecessor or successor gets an amber halo.
        g.appendChild(el("circle", { cx: p[0], cy: p[1], r: 10, fill: "none", stroke: "#ffb84d", "stroke-width": 1.5, "stroke-opacity": ".8" }));
      }
      g.appendChild(el("circle", { cx: p[0], cy: p[1], r: r.indexOf("self") >= 0 ? 9 : 6.5, fill: fill, stroke: "#0d1220", "stroke-width": 2 }));
      var t = el("title", {}, "node " + n.id + " (" + r.join(", ") + ")" + (n.ap ? " at " + n.ap.hostname + ":" + n.ap.port : ""));
      g.appendChild(t);
      g.appendChild(el("text", { x: l[0], y: l[1] + 4, "text-anchor": "middle", class: "ring-label" }, String(n.id)));
      svg.appendChild(g);
    });
    var center = el("text", { x: C, y: C - 6, "text-anchor": "middle", fill: "#e7ebf4", "font-size": 30, "font-weight": 700 }, String(info.id));
    svg.appendChild(center);
    svg.appendChild(el("text", { x: C, y: C + 16, "text-anchor": "middle", fill: "#8b95ad", "font-size": 11 },
      nodes.length + " nodes known · " + (info.fingers || []).length + " fingers"));
    svg.appendChild(el("g", { id: "pulses" }));
  }
  function pulse(src) {
    var g = $("pulses");
    if (!g || !info) return;
    var nodes = known();
    var a = angleOf(src, nodes.some(function (n) { return n.id === src; }) ? nodes : null);
    var from = xy(a, R), to = xy(angleOf(info.id, nodes), R);
    var dot = el("circle", { r: 5, fill: "#ff6f91", cx: from[0], cy: from[1] });
    g.appendChild(dot);
    var start = performance.now();
    function step(now) {
      var t = Math.min(1, (now - start) / 700), e = t * (2 - t);
      dot.setAttribute("cx", from[0] + (to[0] - from[0]) * e);
      dot.setAttribute("cy", from[1] + (to[1] - from[1]) * e);
      dot.setAttribute("opacity", String(1 - t * 0.6));
      if (t < 1) requestAnimationFrame(step); else dot.remove();
    }
    requestAnimationFrame(step);
  }
  $("layout").addEventListener("click", function () {
    byRank = !byRank; layoutChosen = true;
    $("layout").textContent = byRank ? "evenly spaced" : "by key";
    drawRing();
  });

  function refreshNode() {
    return api("/node").then(function (r) { return r.json(); }).then(function (n) {
      if (n.error) throw new Error(n.error);
      var changed = JSON.stringify(n) !== JSON.stringify(info);
      info = n;
      $("node-id").textContent = n.id;
      document.title = "P2PS node " + n.id;
      $("status").textContent = n.status;
      $("status").className = "pill " + n.status;
      $("ap").textContent = n.ap.hostname + ":" + n.ap.port;
      $("net").textContent = n.net ? n.net.name + " · ids < " + n.net.maxKey : "…";
      $("policy").textContent = n.net ? n.net.fingers : "…";
      if (changed) drawRing();
    }).catch(function () {
      $("status").textContent = "offline";
      $("status").className = "pill offline";
    });
  }

  // ---- statistics ----
  function stat(k, v, s) {
    return '<div class="stat"><div class="v">' + v + '</div><div class="k">' + k + "</div>" +
      (s ? '<div class="s">' + s + "</div>" : "") + "</div>";
  }
  function bytes(n) {
    return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
  }
  var lastStats = 0;
  function refreshStats() {
    return api("/stats").then(function (r) { return r.json(); }).then(function (s) {
      if (s.error) return;
      lastStats = Date.now();
      var d = s.data, c = s.control, h = s.hops;
      $("stats").innerHTML =
        stat("sent", d.sent, "data messages") +
        stat("received", d.received, "delivered here") +
        stat("forwarded", d.forwarded, "for others") +
        stat("dropped", d.dropped, s.undeliverable + " undeliverable") +
        stat("control out", c.sent + c.forwarded, c.received + " in") +
        stat("links", s.links.in + s.links.out, s.links.in + " in · " + s.links.out + " out") +
        stat("traffic", bytes(s.bytes.in + s.bytes.out), bytes(s.bytes.in) + " in · " + bytes(s.bytes.out) + " out") +
        stat("hops", h.count ? (h.total / h.count).toFixed(2) : "–", "mean · max " + h.max);
    }).catch(function () {});
  }
  setInterval(function () {
    $("stats-age").textContent = lastStats ? "updated " + Math.round((Date.now() - lastStats) / 1000) + " s ago" : "";
  }, 1000);

  // ---- feeds ----
  function addItem(list, cls, html, countKey) {
    var ol = $(list);
    var empty = ol.querySelector(".empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    if (cls) li.className = cls;
    var t = document.createElement("span");
    t.className = "t";
    t.textContent = clock();
    var b = document.createElement("span");
    b.className = "body";
    html(b);
    li.appendChild(t);
    li.appendChild(b);
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 200) ol.removeChild(ol.lastChild);
    counts[countKey]++;
    $(countKey === "messages" ? "msg-count" : "evt-count").textContent = counts[countKey];
  }
  function text(parent, tag, cls, s) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    e.textContent = s;
    parent.appendChild(e);
    return e;
  }
  function gap(list, key, ev) {
    var g = JSON.parse(ev.data);
    addItem(list, "gap", function (b) {
      text(b, "span", "", (g.missed === null ? "Some" : g.missed) + " " + key + " missed (" + g.reason + ")");
    }, key);
  }
  function connect(path, key, onOpen) {
    var es = new EventSource(streamUrl(path));
    var dot = $("live-" + key);
    es.onopen = function () { dot.className = "dot on"; if (onOpen) onOpen(); };
    es.onerror = function () { dot.className = "dot"; };
    es.addEventListener("gap", function (ev) { gap(key === "messages" ? "messages" : "events", key, ev); });
    return es;
  }
  var msgs = connect("/messages", "messages");
  msgs.addEventListener("message", function (ev) {
    var m = JSON.parse(ev.data);
    addItem("messages", "", function (b) {
      text(b, "span", "tag", m.kind);
      text(b, "span", "", "from ");
      text(b, "b", "", String(m.src));
      text(b, "span", "", " · " + m.hops + " hop" + (m.hops === 1 ? "" : "s") + " · ");
      text(b, "code", "", short(m.msg, 240));
    }, "messages");
    pulse(m.src);
  });
  var evs = connect("/events", "events");
  // EventSource dispatches named events only to listeners of that name: list the node's types.
  var EVENT_TYPES = ["connected", "alone", "newpred", "newsucc", "fingers", "crash", "left",
    "undeliverable", "joined", "leaving"];
  // Node references ({ id, ap }) read best as their id.
  function ids(v) {
    if (Array.isArray(v)) return v.map(ids);
    if (v && typeof v === "object") {
      if (typeof v.id === "number" && v.ap) return v.id;
      var o = {};
      for (var k in v) o[k] = ids(v[k]);
      return o;
    }
    return v;
  }
  function describe(e) {
    var was = function (x) { return x === null || x === undefined ? "" : " (was " + x + ")"; };
    switch (e.type) {
      case "newpred": return "predecessor is now " + (e.pred === null ? "none" : e.pred) + was(e.old);
      case "newsucc": return "successor is now " + e.succ + was(e.old);
      case "fingers":
        return (e.changed || []).map(function (f) {
          return "finger " + f.index + " (target " + f.target + ") → " + (f.node === null ? "none" : f.node);
        }).join(", ");
      case "alone": return "the only node" + (e.last !== undefined ? " (last peer " + e.last + " gone)" : "");
      case "crash": return "peer " + e.peer + " crashed" + (e.reason ? ": " + e.reason : "");
      case "undeliverable": return "message " + e.id + " to " + e.dst + ": " + e.reason;
      default:
        var rest = Object.assign({}, e);
        delete rest.type; delete rest.time;
        return Object.keys(rest).length ? short(rest, 200) : "";
    }
  }
  function onEvent(ev) {
    var e = ids(JSON.parse(ev.data));
    addItem("events", "", function (b) {
      text(b, "span", "tag " + e.type, e.type);
      text(b, "span", "", describe(e));
    }, "events");
    refreshNode();
  }
  EVENT_TYPES.forEach(function (t) { evs.addEventListener(t, onEvent); });

  // ---- form ----
  function syncForm() {
    var op = $("op").value;
    $("dst").classList.toggle("hidden", op === "broadcast" || op === "succ");
    $("dst-label").classList.toggle("hidden", op === "broadcast" || op === "succ");
    $("dst").placeholder = op === "multicast" ? "ids, e.g. 1, 16, 42" : "node id, e.g. 16";
    $("dst-label").textContent = op === "multicast" ? "destinations" : "destination";
    $("nrSucc").classList.toggle("hidden", op !== "succ");
    $("nrSucc-label").classList.toggle("hidden", op !== "succ");
    $("toResp-wrap").classList.toggle("hidden", op !== "send" && op !== "multicast");
    $("toMyself-wrap").classList.toggle("hidden", op !== "broadcast");
  }
  $("op").addEventListener("change", syncForm);
  syncForm();
  $("send-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var op = $("op").value, raw = $("msg").value, msg;
    try { msg = JSON.parse(raw); } catch (_) { msg = raw; }
    var body = { msg: msg };
    var res = $("result");
    if (op === "send") body.dst = Number($("dst").value);
    if (op === "multicast") {
      body.dst = $("dst").value.split(/[\\s,]+/).filter(Boolean).map(Number);
    }
    if (op === "send" || op === "multicast") body.toResp = $("toResp").checked;
    if (op === "broadcast") body.toMyself = $("toMyself").checked;
    if (op === "succ") body.nrSucc = Number($("nrSucc").value);
    if ($("ack").checked) body.ack = true;
    res.className = ""; res.textContent = "sending…";
    api("/" + op, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (x) {
        res.className = x[0] === 200 ? "ok" : "err";
        res.textContent = x[0] + " " + JSON.stringify(x[1]);
        refreshStats();
      })
      .catch(function (e) { res.className = "err"; res.textContent = String(e); });
  });

  refreshNode();
  refreshStats();
  setInterval(refreshStats, 1000);
  setInterval(refreshNode, 3000);
})();
</script>
</body>
</html>
`;
