/**
 * The dashboard's script (see `dashboard.ts`): draws the ring from `GET /node`, fills the
 * statistics from `GET /stats`, follows `GET /messages` and `GET /events` (starting with what the
 * gateway kept, shown as "earlier"), and sends the form's requests. Plain ES5 in one closure, no
 * dependencies.
 *
 * @module
 */

import { EVENT_TYPES } from "../lib/core/events.ts";

/**
 * The script, as JavaScript text.
 *
 * @example
 * ```ts
 * import { DASHBOARD_SCRIPT } from "./_dashboard_script.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(DASHBOARD_SCRIPT, /replay=all/);
 * assert.match(DASHBOARD_SCRIPT, /"suspect"/); // every event type the node emits is listened to
 * ```
 */
export const DASHBOARD_SCRIPT: string = /* js */ `"use strict";
(function () {
  var token = new URLSearchParams(location.search).get("token");
  var headers = token ? { authorization: "Bearer " + token } : {};
  var NS = "http://www.w3.org/2000/svg";
  var info = null;
  var byRank = false;
  var layoutChosen = false;
  var counts = { messages: 0, events: 0 };
  // Until a stream's "replayed" mark, its items happened before the page loaded.
  var live = { messages: false, events: false };
  var $ = function (id) { return document.getElementById(id); };

  function api(path, init) {
    init = init || {};
    init.headers = Object.assign({}, headers, init.headers || {});
    return fetch(path, init);
  }
  // A page that just loaded starts with what the gateway kept (replay=all); after a drop, the
  // browser resumes from its Last-Event-ID on its own.
  function streamUrl(path) {
    return path + "?replay=all" + (token ? "&token=" + encodeURIComponent(token) : "");
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
        // A node drawn at (or next to) a quarter mark hides its number: its own label says it.
        var covered = nodes.some(function (n) {
          var d = Math.abs(angleOf(n.id, nodes) - a) % (2 * Math.PI);
          return Math.min(d, 2 * Math.PI - d) < 0.2;
        });
        if (covered) return;
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
      // Messages: every kind but the DHT's frames, which the DHT card counts.
      var t = s.kinds.dht, c = s.control, h = s.hops;
      var d = { sent: s.data.sent - t.sent, received: s.data.received - t.received,
        forwarded: s.data.forwarded - t.forwarded, dropped: s.data.dropped - t.dropped };
      $("stats").innerHTML =
        stat("sent", d.sent, "own messages out") +
        stat("received", d.received, "delivered here") +
        stat("forwarded", d.forwarded, "for other nodes") +
        stat("dropped", d.dropped, s.undeliverable + " undeliverable") +
        stat("control out", c.sent + c.forwarded, c.received + " in") +
        stat("links", s.links.in + s.links.out, s.links.in + " in · " + s.links.out + " out") +
        stat("traffic", bytes(s.bytes.in + s.bytes.out), bytes(s.bytes.in) + " in · " + bytes(s.bytes.out) + " out") +
        stat("hops", h.count ? (h.total / h.count).toFixed(2) : "–", "mean · max " + h.max);
      showDht(s.dht, t);
    }).catch(function () {});
  }
  // The DHT: what this node holds, and whether it serves its whole range yet.
  function showDht(t, traffic) {
    var f = info && info.net ? info.net.replication : "?";
    var health = $("dht-health");
    if (t.pendingRanges > 0 || t.waiting > 0) {
      health.textContent = "repairing " + t.pendingRanges + " range" + (t.pendingRanges === 1 ? "" : "s");
      health.className = "pill repairing";
    } else {
      health.textContent = "serving · f = " + f;
      health.className = "pill serving";
    }
    $("dht-stats").innerHTML =
      stat("items", t.items, bytes(t.bytes) + " of values held here") +
      stat("pending ranges", t.pendingRanges, t.waiting + " requests waiting") +
      stat("repaired", t.repaired, t.handedOver + " handed over · " + t.refused + " refused") +
      stat("quorum failures", t.quorumFailures,
        (traffic.sent + traffic.forwarded) + " frames out · " + traffic.received + " in");
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
    li.className = (cls ? cls + " " : "") + (live[countKey] ? "" : "past");
    var t = document.createElement("span");
    t.className = "t";
    t.textContent = live[countKey] ? clock() : "earlier";
    t.title = live[countKey] ? "" : "before this page loaded";
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
    es.addEventListener("replayed", function () { live[key] = true; });
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
    if (live.messages) pulse(m.src);
  });
  var evs = connect("/events", "events");
  // EventSource dispatches named events only to listeners of that name: list the node's types.
  var EVENT_TYPES = ${JSON.stringify(EVENT_TYPES)};
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
      case "suspect": return "suspect " + e.peer + " (silent " + Math.round(e.silentMs) + " ms)";
      case "alive": return "peer " + e.peer + " alive again" + (e.wasCrashed ? " (was taken for crashed)" : "");
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
    $("dst").placeholder = op === "multicast" ? "ids or names, e.g. 1, 16, alice" : "id or name, e.g. 16 or alice";
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
    // Digits are an id or key; anything else is a name the gateway hashes into the space.
    function key(s) { return /^\\d+$/.test(s) ? Number(s) : s; }
    if (op === "send") body.dst = key($("dst").value.trim());
    if (op === "multicast") {
      body.dst = $("dst").value.split(/[\\s,]+/).filter(Boolean).map(key);
    }
    if (op === "send" || op === "multicast") body.toResp = $("toResp").checked;
    if (op === "broadcast") body.toMyself = $("toMyself").checked;
    if (op === "succ") body.nrSucc = Number($("nrSucc").value);
    if ($("ack").checked) body.ack = true;
    res.className = "result"; res.textContent = "sending…";
    api("/" + op, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = JSON.parse(t); } catch (_) { /* not JSON: shown as text */ }
          return [r.status, j, t];
        });
      })
      .then(function (x) {
        var status = x[0], j = x[1];
        res.textContent = "";
        if (status === 200 && j) {
          res.className = "result ok";
          res.textContent = status + " " + JSON.stringify(j);
        } else {
          // An error reads as a sentence: its kind, then what went wrong.
          res.className = "result err";
          text(res, "span", "", status + " ");
          if (j && j.type) text(res, "span", "type", j.type + ": ");
          text(res, "span", "", j && j.error ? j.error : x[2]);
          if (j && j.missing) text(res, "span", "", " (missing: " + j.missing.join(", ") + ")");
        }
        refreshStats();
      })
      .catch(function (e) { res.className = "result err"; res.textContent = "Network error: " + e.message; });
  });

  // ---- the DHT form: PUT, GET, DELETE /kv/:key ----
  function kv(method) {
    var key = $("kv-key").value.trim(), res = $("kv-result");
    if (!key) { res.className = "result err"; res.textContent = "A key is required"; return; }
    if (key === "." || key === "..") {
      res.className = "result err"; res.textContent = "A key cannot be . or .. (a URL resolves them)"; return;
    }
    var init = { method: method };
    if (method === "PUT") {
      var raw = $("kv-value").value, v;
      try { v = JSON.parse(raw); } catch (_) { v = raw; }
      init.headers = { "content-type": "application/json" };
      init.body = JSON.stringify(v);
    }
    res.className = "result"; res.textContent = method + " " + key + "…";
    api("/kv/" + encodeURIComponent(key), init).then(function (r) {
      return r.text().then(function (t) { return [r, t]; });
    }).then(function (x) {
      var r = x[0], t = x[1], j = null;
      try { j = JSON.parse(t); } catch (_) { /* a raw value: shown as text */ }
      res.textContent = "";
      var version = r.headers.get("etag");
      if (r.ok) {
        res.className = "result ok";
        res.textContent = r.status + (version ? " version " + version.replace(/"/g, "") + " " : " ") +
          (method === "GET" ? (j !== null ? JSON.stringify(j) : t) : JSON.stringify(j));
      } else {
        res.className = "result err";
        text(res, "span", "", r.status + " ");
        if (j && j.type) text(res, "span", "type", j.type + ": ");
        text(res, "span", "", j && j.error ? j.error : t);
      }
      refreshStats();
    }).catch(function (e) { res.className = "result err"; res.textContent = "Network error: " + e.message; });
  }
  $("kv-form").addEventListener("submit", function (ev) { ev.preventDefault(); kv("PUT"); });
  $("kv-get").addEventListener("click", function () { kv("GET"); });
  $("kv-del").addEventListener("click", function () { kv("DELETE"); });

  refreshNode();
  refreshStats();
  setInterval(refreshStats, 1000);
  setInterval(refreshNode, 3000);
})();
`;
