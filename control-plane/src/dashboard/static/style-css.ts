/** Dashboard styles: system fonts, high contrast, visible focus, a large-text mode for control rooms. */
export const STYLE_CSS = `:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #15191e; --muted: #56606b; --line: #d5dae0;
  --ok: #1d7a3a; --warn: #a35b00; --bad: #b3261e; --accent: #0b5cad; --focus: #ffbf00;
  --fs: 15px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
html.large { --fs: 21px; }
@media (min-width: 2200px) { :root { --fs: 20px; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--ink); font-size: var(--fs); line-height: 1.4; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 3px; }
button { font: inherit; padding: .3em .8em; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--ink); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .55; cursor: not-allowed; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { color: var(--bad); border-color: var(--bad); }
input, select { font: inherit; padding: .25em .5em; border: 1px solid var(--line); border-radius: 6px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1em; top: 1em; background: var(--panel); padding: .5em; z-index: 10; }
.top { display: flex; flex-wrap: wrap; gap: .5em 1.5em; align-items: center; padding: .6em 1.2em; background: #12202f; color: #fff; }
.top a { color: #fff; text-decoration: none; }
.brand { font-size: 1.25em; margin: 0; }
.top nav ul { display: flex; gap: .3em; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
.top nav a { padding: .3em .7em; border-radius: 6px; display: inline-block; }
.top nav a[aria-current="page"] { background: #2b4763; }
.tools { margin-left: auto; display: flex; gap: .6em; align-items: center; }
.tools button { background: transparent; color: #fff; border-color: #56708c; }
.tools button[aria-pressed="true"] { background: #2b4763; }
.live { font-size: .85em; color: #cfe3f7; }
.live.off { color: #ffb4ab; }
.signin { display: flex; flex-wrap: wrap; gap: .5em; align-items: center; padding: .6em 1.2em; background: #e6edf5; }
main { padding: 1em 1.2em 3em; max-width: 1800px; margin: 0 auto; }
main:focus { outline: none; }
h2 { font-size: 1.35em; margin: .6em 0 .4em; }
h3 { font-size: 1.1em; margin: .8em 0 .4em; }
.muted { color: var(--muted); }
.grid { display: grid; gap: 1em; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22em), 1fr)); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: .8em 1em; min-width: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8em; margin: .4em 0 1em; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: .6em 1.1em; min-width: 8em; }
.card .n { font-size: 2em; font-weight: 700; display: block; }
.card.online .n { color: var(--ok); } .card.stale .n { color: var(--warn); } .card.offline .n { color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .5em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .9em; }
.table-wrap { overflow-x: auto; }
.badge { display: inline-block; padding: .05em .55em; border-radius: 999px; font-size: .85em; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.h-online { color: var(--ok); } .h-stale { color: var(--warn); } .h-offline, .h-decommissioned { color: var(--bad); }
.d-alert { color: var(--bad); } .d-normal { color: var(--ok); } .d-unknown { color: var(--warn); }
.chips { display: flex; flex-wrap: wrap; gap: .3em; }
.chip { text-decoration: none; padding: .1em .5em; border-radius: 6px; border: 1px solid var(--line); background: var(--bg); }
.chip::before { content: "● "; }
.attention li { margin: .25em 0; }
.sev-critical { color: var(--bad); font-weight: 700; }
.sev-warning { color: var(--warn); font-weight: 700; }
.reasons { list-style: none; margin: 0; padding: 0; }
.reasons li { display: grid; grid-template-columns: minmax(8em, 14em) 6em 1fr; gap: .5em; align-items: center; }
.bar { height: .7em; background: var(--accent); border-radius: 3px; min-width: 2px; }
.bar.neg { background: var(--muted); }
.chart { width: 100%; height: auto; display: block; }
.chart text { font-size: 11px; fill: var(--muted); }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 2; }
.chart .thr { stroke: var(--bad); stroke-dasharray: 4 3; }
.chart .axis { stroke: var(--line); }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; }
.actions { display: flex; flex-wrap: wrap; gap: .4em; }
.progress { display: flex; gap: 3px; margin: .4em 0; }
.progress .stage { flex: 1; padding: .3em .4em; border-radius: 4px; background: #e5e9ee; font-size: .85em; text-align: center; }
.progress .stage.done { background: #cde8d4; } .progress .stage.current { background: var(--accent); color: #fff; }
.pass { color: var(--ok); font-weight: 700; } .fail { color: var(--bad); font-weight: 700; }
.error { color: var(--bad); }
.notice { padding: .5em .8em; border-radius: 8px; background: #fff4d6; border: 1px solid #e7c56b; }
@media (max-width: 700px) { .reasons li { grid-template-columns: 1fr 5em; } .reasons .bar { display: none; } }
@media (prefers-reduced-motion: no-preference) { .flash { animation: flash 1.2s ease-out; } }
@keyframes flash { from { background: #fff2b3; } to { background: transparent; } }
`;
