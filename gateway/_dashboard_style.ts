/**
 * The dashboard's style sheet (see `dashboard.ts`): dark, one column below 980 px, and phone
 * margins below 600 px; grid columns are `minmax(0, …)` so no content can widen the page.
 *
 * @module
 */

/**
 * The style sheet, as CSS text.
 *
 * @example
 * ```ts
 * import { DASHBOARD_STYLE } from "./_dashboard_style.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(DASHBOARD_STYLE, /@media \(max-width: 600px\)/);
 * ```
 */
export const DASHBOARD_STYLE: string = /* css */ `
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
    display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 16px 24px;
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
  .pill.serving { color: var(--succ); border-color: #2b6b55; }
  .pill.repairing { color: var(--warn); border-color: #6b5a2b; }
  .meta { color: var(--muted); font-size: 13px; display: flex; gap: 14px; flex-wrap: wrap; }
  .meta b { color: var(--text); font-weight: 550; }
  .live { margin-left: auto; display: flex; gap: 8px; align-items: center; color: var(--muted); font-size: 12px; white-space: nowrap; }
  .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--bad); display: inline-block; }
  .dot.on { background: var(--succ); box-shadow: 0 0 8px var(--succ); }
  /* minmax(0, ...) lets a column shrink below its content's preferred width. */
  main {
    display: grid; grid-template-columns: minmax(360px, 470px) minmax(0, 1fr); gap: 18px;
    padding: 18px 24px;
  }
  @media (max-width: 980px) { main { grid-template-columns: minmax(0, 1fr); } }
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
  .stats { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; }
  .stat { background: var(--panel2); border-radius: 10px; padding: 10px 12px; min-width: 0; }
  .stat .v { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
  .stat .k { color: var(--muted); font-size: 12px; }
  .stat .s { color: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
  .feeds { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
  @media (max-width: 1300px) { .feeds { grid-template-columns: minmax(0, 1fr); } }
  ol.feed { list-style: none; margin: 0; padding: 0; height: 300px; overflow: auto; font-size: 13px; }
  ol.feed li {
    padding: 7px 8px; border-bottom: 1px solid rgba(38, 49, 82, .6); display: grid;
    grid-template-columns: 64px minmax(0, 1fr); gap: 8px; animation: flash 1.2s ease-out;
  }
  ol.feed li.past { animation: none; }
  ol.feed li.past .t { font-style: italic; }
  ol.feed li .t { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
  ol.feed li .body { min-width: 0; overflow-wrap: anywhere; }
  ol.feed li code { color: #cfe3ff; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
  ol.feed li.gap { color: var(--warn); }
  .tag { display: inline-block; font-size: 11px; padding: 0 7px; border-radius: 6px; margin-right: 6px;
    background: var(--panel2); border: 1px solid var(--line); color: var(--muted); }
  .tag.newpred { color: var(--pred); } .tag.newsucc { color: var(--succ); }
  .tag.fingers { color: var(--finger); } .tag.undeliverable, .tag.left, .tag.crash { color: var(--bad); }
  .tag.connected, .tag.alone { color: var(--self); }
  ol.feed li.empty { display: block; color: var(--muted); font-style: italic; padding: 10px 8px; animation: none; }
  @keyframes flash { from { background: rgba(90, 167, 255, .18); } to { background: transparent; } }
  form { display: grid; grid-template-columns: 120px minmax(0, 1fr); gap: 10px 12px; align-items: center; }
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
  .result { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; color: var(--muted);
    min-height: 1.4em; overflow-wrap: anywhere; }
  .result.ok { color: var(--succ); } .result.err { color: var(--bad); font-family: inherit; font-size: 13px; }
  .result .type { font-weight: 650; }
  button.plain { background: var(--panel2); color: var(--text); border: 1px solid var(--line); border-radius: 9px;
    padding: 8px 14px; cursor: pointer; }
  .hidden { display: none !important; }
  .ring-label { font-size: 11px; fill: var(--text); font-weight: 600; paint-order: stroke; stroke: var(--bg); stroke-width: 3px; }
  .ring-tick { font-size: 9px; fill: var(--muted); }
  /* Phones: one column everywhere, labels above their fields, tighter margins. */
  @media (max-width: 600px) {
    header { padding: 12px 14px; }
    header h1 { font-size: 16px; }
    .meta { gap: 4px 12px; font-size: 12px; }
    main { padding: 12px; gap: 12px; }
    .col { gap: 12px; }
    .card { padding: 12px; }
    .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); }
    form { grid-template-columns: minmax(0, 1fr); gap: 6px; }
    form > span:empty { display: none; }
    form label[for] { margin-top: 6px; }
    ol.feed { height: 240px; }
  }
`;
