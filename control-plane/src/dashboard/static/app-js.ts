/**
 * The dashboard's browser code: plain ES module, no framework, DOM built with createElement (no
 * HTML from data), charts as inline SVG. Embedded as a string so it ships inside dist; it must not
 * contain backticks. Exercised by the browser tests in test/src/browser.
 */
export const APP_JS = `
const state = { token: localStorage.getItem('mw.token') || '', session: null, route: null, live: null, lastAgentFetch: 0, overview: null };
const main = document.getElementById('main');

// ---------- DOM helpers ----------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) if (kid !== undefined && kid !== null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const kid of kids.flat(Infinity)) if (kid !== undefined && kid !== null) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
function fmtAgo(ms) {
  if (!ms) return 'never';
  const d = Math.max(0, Date.now() - ms) / 1000;
  if (d < 90) return Math.round(d) + ' s ago';
  if (d < 5400) return Math.round(d / 60) + ' min ago';
  if (d < 172800) return Math.round(d / 3600) + ' h ago';
  return Math.round(d / 86400) + ' d ago';
}
function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : '—'; }
function fmtNum(n, digits) { return n === null || n === undefined || Number.isNaN(n) ? '—' : Number(n).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 2 : digits }); }
function fmtBytes(b) { if (!b) return '0 B'; const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; } return fmtNum(b, 1) + ' ' + u[i]; }
function healthBadge(hh) { return h('span', { class: 'badge h-' + hh, 'data-health': hh }, hh); }
function agentLink(id) { return h('a', { href: '#/agents/' + encodeURIComponent(id) }, id); }
function kv(pairs) { return h('dl', { class: 'kv' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])); }

// ---------- API ----------
async function api(path, opts) {
  const headers = { accept: 'application/json' };
  if (state.token) headers.authorization = 'Bearer ' + state.token;
  if (opts && opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method: (opts && opts.method) || 'GET', headers, body: opts && opts.body !== undefined ? JSON.stringify(opts.body) : undefined });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || ('HTTP ' + res.status));
    err.status = res.status;
    throw err;
  }
  return data;
}

// ---------- charts ----------
/** A line chart of {t, v} points: inline SVG, labelled for screen readers with its latest value. */
function lineChart(title, points, opts) {
  const o = Object.assign({ w: 560, h: 150, fmt: (v) => fmtNum(v), min: 0, max: undefined, threshold: undefined }, opts || {});
  const pad = { l: 46, r: 10, t: 8, b: 20 };
  const vals = points.filter((p) => p.v !== null && p.v !== undefined);
  const last = vals.length ? vals[vals.length - 1].v : null;
  const label = title + ': ' + (last === null ? 'no data' : 'latest ' + o.fmt(last)) + ', ' + vals.length + ' points';
  const svg = s('svg', { class: 'chart', viewBox: '0 0 ' + o.w + ' ' + o.h, role: 'img', 'aria-label': label });
  svg.append(s('title', {}, label));
  if (vals.length === 0) {
    svg.append(s('text', { x: o.w / 2, y: o.h / 2, 'text-anchor': 'middle' }, 'no data yet'));
    return h('figure', { class: 'panel' }, h('figcaption', {}, h('strong', {}, title)), svg);
  }
  const t0 = points[0].t, t1 = points[points.length - 1].t || t0 + 1;
  let max = o.max !== undefined ? o.max : Math.max.apply(null, vals.map((p) => p.v).concat(o.threshold || 0));
  if (!(max > o.min)) max = o.min + 1;
  const x = (t) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (o.w - pad.l - pad.r);
  const y = (v) => o.h - pad.b - ((v - o.min) / (max - o.min)) * (o.h - pad.t - pad.b);
  svg.append(s('line', { class: 'axis', x1: pad.l, x2: o.w - pad.r, y1: o.h - pad.b, y2: o.h - pad.b }));
  svg.append(s('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end' }, o.fmt(max)));
  svg.append(s('text', { x: pad.l - 4, y: o.h - pad.b, 'text-anchor': 'end' }, o.fmt(o.min)));
  svg.append(s('text', { x: pad.l, y: o.h - 4 }, new Date(t0).toLocaleTimeString()));
  svg.append(s('text', { x: o.w - pad.r, y: o.h - 4, 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  if (o.threshold !== undefined) svg.append(s('line', { class: 'thr', x1: pad.l, x2: o.w - pad.r, y1: y(o.threshold), y2: y(o.threshold) }));
  let d = '', pen = false;
  for (const p of points) {
    if (p.v === null || p.v === undefined) { pen = false; continue; }
    d += (pen ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(Math.min(max, p.v)).toFixed(1) + ' ';
    pen = true;
  }
  svg.append(s('path', { class: 'line', d: d.trim() }));
  return h('figure', { class: 'panel', 'data-chart': title }, h('figcaption', {}, h('strong', {}, title), ' ', h('span', { class: 'muted' }, last === null ? '' : o.fmt(last))), svg);
}

const HEALTH_COLOR = { online: '#1d7a3a', stale: '#a35b00', offline: '#b3261e', decommissioned: '#56606b' };
/** The health timeline as coloured bands from each transition to the next. */
function healthTimeline(history, sinceMs, nowMs, current) {
  const w = 560, hh = 34;
  const entries = history.filter((e) => e.event.startsWith('health.')).sort((a, b) => a.atMs - b.atMs);
  const label = 'Health timeline: ' + entries.length + ' transitions, now ' + current;
  const svg = s('svg', { class: 'chart', viewBox: '0 0 ' + w + ' ' + hh, role: 'img', 'aria-label': label }, s('title', {}, label));
  const x = (t) => ((Math.max(sinceMs, t) - sinceMs) / Math.max(1, nowMs - sinceMs)) * w;
  let from = sinceMs, hState = entries.length ? prevHealth(entries[0].health) : current;
  for (const e of entries) {
    svg.append(s('rect', { x: x(from), y: 4, width: Math.max(0, x(e.atMs) - x(from)), height: 18, fill: HEALTH_COLOR[hState] || '#888' }));
    from = e.atMs; hState = e.health;
  }
  svg.append(s('rect', { x: x(from), y: 4, width: Math.max(1, w - x(from)), height: 18, fill: HEALTH_COLOR[current] || '#888' }));
  svg.append(s('text', { x: 0, y: 33 }, new Date(sinceMs).toLocaleTimeString()));
  svg.append(s('text', { x: w, y: 33, 'text-anchor': 'end' }, 'now'));
  const list = h('ul', { class: 'muted' }, entries.slice(-6).reverse().map((e) => h('li', {}, fmtTime(e.atMs) + ' — ' + e.event)));
  return h('figure', { class: 'panel', 'data-chart': 'health' }, h('figcaption', {}, h('strong', {}, 'Health'), ' ', healthBadge(current)), svg, list);
}
function prevHealth(firstTo) { return firstTo === 'online' ? 'offline' : 'online'; }

// ---------- pages ----------
function setPage(name, ...content) {
  document.querySelectorAll('[data-nav]').forEach((a) => a.toggleAttribute('aria-current', false));
  const nav = document.querySelector('[data-nav="' + name + '"]');
  if (nav) nav.setAttribute('aria-current', 'page');
  main.replaceChildren(...content);
}

function renderOverview(o) {
  state.overview = o;
  const c = o.counts;
  const cards = h('div', { class: 'cards', 'data-testid': 'fleet-counts' },
    ['online', 'stale', 'offline'].map((k) => h('div', { class: 'card ' + k, 'data-count': k }, h('span', { class: 'n' }, c[k]), k)),
    h('div', { class: 'card' }, h('span', { class: 'n' }, Object.keys(o.versions).length), 'model versions running'));
  const versions = Object.entries(o.versions);
  const att = h('section', { class: 'panel', 'aria-labelledby': 'att-h' }, h('h2', { id: 'att-h' }, 'Needs attention (' + o.attention.length + ')'),
    o.attention.length === 0 ? h('p', { class: 'muted' }, 'Nothing needs attention.') :
    h('ul', { class: 'attention', 'data-testid': 'attention' }, o.attention.slice(0, 50).map((a) =>
      h('li', { 'data-kind': a.kind, 'data-agent': a.agentId }, h('span', { class: 'sev-' + a.severity }, a.kind.replace('_', ' ')), ' ', agentLink(a.agentId), ' (' + a.siteId + '): ' + a.message))));
  const sites = o.sites.map((site) => h('section', { class: 'panel', 'data-site': site.id },
    h('h2', {}, site.displayName ? site.displayName + ' (' + site.id + ')' : site.id, ' ',
      h('span', { class: 'muted' }, site.counts.online + ' online · ' + site.counts.stale + ' stale · ' + site.counts.offline + ' offline')),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Line', 'Online', 'Stale', 'Offline', 'Models', 'Backlog', 'Oldest sync', 'Agents'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, site.lines.map((l) => h('tr', { 'data-line': l.id },
        h('th', { scope: 'row' }, l.displayName || l.id || '(none)'),
        h('td', { class: 'h-online' }, l.counts.online), h('td', { class: 'h-stale' }, l.counts.stale), h('td', { class: 'h-offline' }, l.counts.offline),
        h('td', {}, Object.entries(l.versions).map(([v, n]) => v + ' ×' + n).join(', ') || '—'),
        h('td', {}, fmtNum(l.unsentRecords, 0) + ' records'),
        h('td', {}, fmtAgo(l.oldestSyncMs)),
        h('td', {}, h('div', { class: 'chips' }, l.agents.map((a) => h('a', { class: 'chip h-' + a.health, href: '#/agents/' + encodeURIComponent(a.id), 'data-agent': a.id, 'data-health': a.health, title: a.id + ': ' + a.health }, a.id + ' (' + a.health + ')')))))))))));
  setPage('overview', h('h2', {}, 'Fleet'), cards,
    h('p', { class: 'muted' }, versions.length ? 'Running: ' + versions.map(([v, n]) => v + ' on ' + n).join(', ') : 'No model running yet.', ' Updated ' + new Date(o.generatedAtMs).toLocaleTimeString() + '.'),
    h('div', { class: 'grid' }, att), ...sites);
}

async function showOverview() { renderOverview(await api('/api/overview')); }

async function showAgent(id, quiet) {
  const [d, preds] = await Promise.all([api('/api/agents/' + encodeURIComponent(id)), api('/api/agents/' + encodeURIComponent(id) + '/predictions?limit=25')]);
  state.lastAgentFetch = Date.now();
  const a = d.agent, b = a.buffer, ms = a.modelState;
  state.agentHealth = a.health;
  const sr = d.series;
  const pct = b && b.capacityBytes ? Math.round((100 * b.bytesOnDisk) / b.capacityBytes) : 0;
  const desired = h('section', { class: 'panel', 'aria-labelledby': 'ds-h' }, h('h3', { id: 'ds-h' }, 'Desired vs actual'),
    h('table', { 'data-testid': 'desired-actual' }, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', { scope: 'col' }, 'Desired'), h('th', { scope: 'col' }, 'Actual'))),
      h('tbody', {},
        h('tr', {}, h('th', { scope: 'row' }, 'Model version'), h('td', {}, a.desiredModelVersion || '—'), h('td', {}, a.runningModelVersion || '—',
          a.desiredModelVersion && a.desiredModelVersion !== a.runningModelVersion ? h('span', { class: 'sev-warning' }, ' (differs)') : '')),
        h('tr', {}, h('th', { scope: 'row' }, 'Update state'), h('td', {}, '—'), h('td', {}, ms ? ms.phase.replace('MODEL_STATE_PHASE_', '').toLowerCase() + (ms.reason ? ': ' + ms.reason : '') : '—')))),
    kv([['Agent version', a.agentVersion || '—'], ['Pinned', a.pinned ? 'yes (left out of rollouts)' : 'no'], ['Last heartbeat', fmtAgo(a.lastHeartbeatMs)], ['Started', fmtTime(a.startedAtMs)],
      ['Labels', Object.entries(a.labels).map(([k, v]) => k + '=' + v).join(', ') || '—']]));
  const buffer = h('section', { class: 'panel', 'aria-labelledby': 'buf-h' }, h('h3', { id: 'buf-h' }, 'Buffer and sync'),
    b ? kv([['Unsent', fmtNum(b.unsentRecords, 0) + ' records'], ['Uncommitted', fmtNum(b.uncommittedRecords, 0) + ' records'], ['On disk', fmtBytes(b.bytesOnDisk) + ' of ' + fmtBytes(b.capacityBytes) + ' (' + pct + ' %)'],
      ['Last sync', fmtAgo(b.lastSyncMs)], ['Committed seq', fmtNum(b.committedSeq, 0) + ' of ' + fmtNum(b.headSeq, 0)]]) : h('p', { class: 'muted' }, 'No buffer status reported yet.'));
  const charts = h('div', { class: 'grid' },
    healthTimeline(d.history, d.window.sinceMs, d.window.nowMs, a.health),
    lineChart('Anomaly rate', sr.anomalyRate, { max: 1, fmt: (v) => fmtNum(v * 100, 1) + ' %' }),
    lineChart('Inference latency p99', sr.latencyP99Us, { fmt: (v) => fmtNum(v, 0) + ' µs' }),
    lineChart('Sensor drift (max score)', sr.drift, { threshold: 3 }));
  const cleaning = h('section', { class: 'panel', 'aria-labelledby': 'cl-h' }, h('h3', { id: 'cl-h' }, 'Cleaning (last hour)'),
    d.cleaning.length === 0 ? h('p', { class: 'muted' }, 'No cleaning reports yet.') :
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'cleaning' }, h('thead', {}, h('tr', {}, ['Channel', 'Points', 'NaN/Inf', 'Out of range', 'Spikes', 'Stuck', 'Gaps', 'Drift'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, d.cleaning.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.channel), h('td', {}, fmtNum(c.points, 0)), h('td', {}, fmtNum(c.nanOrInf, 0)), h('td', {}, fmtNum(c.outOfRange, 0)),
        h('td', {}, fmtNum(c.spikes, 0)), h('td', {}, fmtNum(c.stuck, 0)), h('td', {}, fmtNum(c.gaps, 0)),
        h('td', { class: c.calibrationDrift ? 'sev-warning' : '' }, (c.calibrationDrift ? 'suspected ' : '') + fmtNum(c.driftScore))))))));
  const can = state.session && state.session.can.label;
  const predictions = h('section', { class: 'panel', 'aria-labelledby': 'pr-h' }, h('h3', { id: 'pr-h' }, 'Recent predictions and why'),
    preds.length === 0 ? h('p', { class: 'muted' }, 'No predictions yet: is a model deployed to this agent?') :
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'predictions' },
      h('thead', {}, h('tr', {}, ['Time', 'Asset', 'Score', 'Decision', 'Top contributing features', 'Operator label'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, preds.map((p) => predictionRow(p, can))))));
  setPage('overview', h('p', {}, h('a', { href: '#/' }, '← Fleet')),
    h('h2', {}, 'Agent ' + a.id + ' ', healthBadge(a.health), ' ', h('span', { class: 'muted' }, a.siteId + (a.lineId ? ' / ' + a.lineId : ''))),
    h('div', { class: 'grid' }, desired, buffer), charts, predictions, cleaning);
  if (!quiet) main.focus();
}

function predictionRow(p, can) {
  const maxC = Math.max.apply(null, p.reasons.map((r) => Math.abs(r.contribution)).concat(1e-12));
  const reasons = h('ul', { class: 'reasons' }, p.reasons.slice(0, 3).map((r) => h('li', {},
    h('span', {}, r.feature), h('span', {}, fmtNum(r.value, 3) + ' ' + r.unit + (r.baseline !== null ? ' (base ' + fmtNum(r.baseline, 3) + ')' : '')),
    h('span', { title: r.text || ('contribution ' + fmtNum(r.contribution, 3)) }, h('div', { class: 'bar' + (r.contribution < 0 ? ' neg' : ''), style: 'width:' + Math.round((100 * Math.abs(r.contribution)) / maxC) + '%' })))));
  const labelCell = h('td', { 'data-label-cell': '' });
  const renderLabel = () => {
    labelCell.replaceChildren();
    if (p.label) labelCell.append(h('span', { 'data-label': p.label.kind }, p.label.kind.replace('_', ' ') + ' by ' + p.label.operator));
    if (!can) { if (!p.label) labelCell.append(h('span', { class: 'muted' }, 'read-only')); return; }
    const status = h('span', { role: 'status', class: 'muted' });
    const send = (kind) => async () => {
      status.textContent = 'saving…';
      try {
        await api('/api/labels', { method: 'POST', body: { predictionId: p.predictionId, kind } });
        p.label = { kind, operator: state.session.user, atMs: Date.now() };
        renderLabel();
      } catch (e) { status.textContent = 'refused: ' + e.message; status.className = 'error'; }
    };
    labelCell.append(h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: send('confirmed_failure'), 'data-action': 'confirm', 'aria-label': 'Confirm failure for prediction ' + p.predictionId }, 'Confirm'),
      h('button', { type: 'button', onclick: send('false_alarm'), 'data-action': 'false-alarm', 'aria-label': 'False alarm for prediction ' + p.predictionId }, 'False alarm')), status);
  };
  renderLabel();
  return h('tr', { 'data-prediction': p.predictionId },
    h('td', {}, new Date(p.tsMs).toLocaleTimeString()), h('td', {}, p.asset || '—'), h('td', {}, fmtNum(p.score, 3)),
    h('td', {}, h('span', { class: 'badge d-' + p.decision }, p.decision)), h('td', {}, p.reasons.length ? reasons : h('span', { class: 'muted' }, '—')), labelCell);
}

async function showModels() {
  const models = await api('/api/models');
  setPage('models', h('h2', {}, 'Models'), models.length === 0 ? h('p', { class: 'muted' }, 'No models registered yet (mwctl models push).') : '',
    ...models.map((m) => h('section', { class: 'panel', 'data-model': m.name },
      h('h3', {}, m.name, ' ', h('span', { class: 'muted' }, m.description)),
      h('p', {}, 'Aliases: ', Object.entries(m.aliases).map(([k, v]) => k + ' → ' + v).join(', ') || 'none'),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Version', 'Seq', 'Runtime', 'Aliases', 'Lineage', 'Training metrics', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, m.versions.map((v) => h('tr', { 'data-version': v.version },
          h('th', { scope: 'row' }, v.version), h('td', {}, v.sequence), h('td', {}, v.runtime), h('td', {}, v.aliases.join(', ') || '—'),
          h('td', {}, [v.parentVersion ? 'from ' + v.parentVersion : 'no parent', v.datasetSnapshotId ? 'snapshot ' + v.datasetSnapshotId : '', v.retrainingRequestId ? 'request ' + v.retrainingRequestId : ''].filter(Boolean).join(' · ')),
          h('td', {}, Object.entries(v.trainingMetrics).map(([k, x]) => k + ' ' + fmtNum(x, 3)).join(', ') || '—'),
          h('td', {}, fmtTime(v.createdAtMs) + (v.createdBy ? ' by ' + v.createdBy : ''))))))))));
}

async function showRollouts() {
  if (state.session && !state.session.features.rollouts) return setPage('rollouts', h('h2', {}, 'Rollouts'), h('p', { class: 'notice' }, 'Rollouts are not available on this control plane.'));
  const list = await api('/api/rollouts');
  setPage('rollouts', h('h2', {}, 'Rollouts'), list.length === 0 ? h('p', { class: 'muted' }, 'No rollouts yet.') : '', ...list.map(rolloutPanel));
}

function rolloutPanel(r) {
  const can = state.session && state.session.can.operateRollouts;
  const stages = r.stages.length ? r.stages : [{ name: 'stage ' + r.currentStage, percent: null }];
  const progress = h('ol', { class: 'progress', 'aria-label': 'Stages' }, stages.map((st, i) =>
    h('li', { class: 'stage' + (i < r.currentStage ? ' done' : i === r.currentStage ? ' current' : ''), 'aria-current': i === r.currentStage ? 'step' : undefined }, (st.name || 'stage ' + (i + 1)) + (st.percent !== null ? ' ' + st.percent + ' %' : ''))));
  const gates = r.gates.length === 0 ? h('p', { class: 'muted' }, 'No gate evaluated yet.') : h('table', { 'data-testid': 'gates' },
    h('thead', {}, h('tr', {}, ['Gate', 'Value', 'Threshold', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, r.gates.map((g) => h('tr', {}, h('th', { scope: 'row' }, g.name), h('td', {}, fmtNum(g.value, 4)), h('td', {}, fmtNum(g.threshold, 4)),
      h('td', { class: g.passed === null ? 'muted' : g.passed ? 'pass' : 'fail' }, g.passed === null ? 'pending' : g.passed ? 'pass' : 'fail', g.detail ? ' — ' + g.detail : '')))));
  const cohorts = h('ul', {}, r.members.map((m) => h('li', {}, 'stage ' + m.stage + ' ' + m.role + ': ' + m.count + ' ' + m.state)));
  const reason = h('input', { type: 'text', placeholder: 'reason (required)', 'aria-label': 'Reason for the action on rollout ' + r.id });
  const status = h('span', { role: 'status', class: 'muted' });
  const act = (action) => async () => {
    if (!reason.value.trim()) { status.textContent = 'give a reason first'; reason.focus(); return; }
    status.textContent = action + '…';
    try { await api('/api/rollouts/' + encodeURIComponent(r.id) + '/' + action, { method: 'POST', body: { reason: reason.value } }); status.textContent = action + ' done'; await showRollouts(); }
    catch (e) { status.textContent = 'refused: ' + e.message; status.className = 'error'; }
  };
  const actions = can ? h('div', { class: 'actions' }, reason, ['pause', 'resume', 'promote', 'abort', 'rollback'].map((a) =>
    h('button', { type: 'button', class: a === 'abort' || a === 'rollback' ? 'danger' : a === 'promote' ? 'primary' : '', onclick: act(a), 'data-action': a }, a)), status)
    : h('p', { class: 'muted' }, 'Your role may view rollouts but not act on them.');
  return h('section', { class: 'panel', 'data-rollout': r.id },
    h('h3', {}, r.model + ' ' + (r.previousVersion ? r.previousVersion + ' → ' : '') + r.version + ' ', h('span', { class: 'badge', 'data-status': r.status }, r.status)),
    r.statusReason ? h('p', {}, r.statusReason) : '', progress,
    h('div', { class: 'grid' }, h('div', {}, h('h4', {}, 'Gates'), gates), h('div', {}, h('h4', {}, 'Cohorts (' + r.targetSize + ' targeted)'), cohorts)),
    actions,
    h('details', {}, h('summary', {}, 'Decisions (' + r.decisions.length + ')'), h('ul', {}, r.decisions.map((x) => h('li', {}, fmtTime(x.atMs) + ' ' + x.kind + ' stage ' + x.stage + (x.actor ? ' by ' + x.actor : '') + (x.reason ? ': ' + x.reason : ''))))));
}

async function showAlerts() {
  if (state.session && !state.session.features.alerts) return setPage('alerts', h('h2', {}, 'Alerts'), h('p', { class: 'notice' }, 'Notifications are not enabled.'));
  const [rules, events] = await Promise.all([api('/api/alerts/rules'), api('/api/alerts/events?limit=50')]);
  const can = state.session && state.session.can.manageAlerts;
  const rulesTable = h('table', {}, h('thead', {}, h('tr', {}, ['Rule', 'Kind', 'Parameters', 'Webhook', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rules.map((r) => h('tr', {}, h('th', { scope: 'row' }, r.id), h('td', {}, r.kind), h('td', {}, Object.entries(r.params).map(([k, v]) => k + '=' + v).join(', ') || '—'),
      h('td', {}, new URL(r.webhookUrl).host), h('td', {}, can ? h('button', { type: 'button', class: 'danger', onclick: async () => { await api('/api/alerts/rules/' + encodeURIComponent(r.id), { method: 'DELETE' }); await showAlerts(); } }, 'Remove') : '')))));
  const evs = h('ul', {}, events.map((e) => h('li', {}, h('span', { class: e.resolvedAtMs ? 'pass' : 'fail' }, e.resolvedAtMs ? 'resolved' : 'firing'), ' ', String(e.payload.summary || e.subject), h('span', { class: 'muted' }, ' since ' + fmtTime(e.firstAtMs)))));
  setPage('alerts', h('h2', {}, 'Alerts'), h('section', { class: 'panel' }, h('h3', {}, 'Rules'), rules.length ? rulesTable : h('p', { class: 'muted' }, 'No rules. Add one with mwctl alerts rules add.')),
    h('section', { class: 'panel' }, h('h3', {}, 'Notifications'), events.length ? evs : h('p', { class: 'muted' }, 'None sent yet.')));
}

// ---------- routing, live updates, session ----------
function parseRoute() {
  const p = (location.hash || '#/').slice(1).split('/').filter(Boolean).map(decodeURIComponent);
  if (p[0] === 'agents' && p[1]) return { page: 'agent', id: p[1] };
  if (p[0] === 'models' || p[0] === 'rollouts' || p[0] === 'alerts') return { page: p[0] };
  return { page: 'overview' };
}
async function render(quiet) {
  state.route = parseRoute();
  const r = state.route;
  try {
    if (r.page === 'agent') await showAgent(r.id, quiet);
    else if (r.page === 'models') await showModels();
    else if (r.page === 'rollouts') await showRollouts();
    else if (r.page === 'alerts') await showAlerts();
    else await showOverview();
  } catch (e) {
    setPage(r.page, h('p', { class: 'error', role: 'alert' }, e.status === 401 ? 'Sign in with an API token to see the dashboard.' : 'Could not load: ' + e.message));
  }
}
/** On an agent page only its own health change is worth a redraw (rows must not move under the pointer). */
function agentHealthChanged(o, id) {
  let health = 'gone';
  for (const site of o.sites) for (const l of site.lines) for (const a of l.agents) if (a.id === id) health = a.health;
  const changed = state.agentHealth !== undefined && state.agentHealth !== health;
  state.agentHealth = health;
  return changed;
}
function setLive(text, ok) { const el = document.getElementById('live'); el.textContent = text; el.classList.toggle('off', !ok); }
function connectLive() {
  if (state.live) state.live.close();
  const es = new EventSource('/api/events' + (state.token ? '?access_token=' + encodeURIComponent(state.token) : ''));
  state.live = es;
  es.onopen = () => setLive('live', true);
  es.onerror = () => setLive('reconnecting…', false);
  es.addEventListener('fleet', (ev) => {
    const o = JSON.parse(ev.data);
    const r = state.route;
    if (r && r.page === 'overview') renderOverview(o);
    else if (r && r.page === 'agent' && agentHealthChanged(o, r.id)) void render(true);
    setLive('live · ' + new Date().toLocaleTimeString(), true);
  });
  es.addEventListener('tick', () => {
    const r = state.route;
    if (r && r.page === 'agent' && Date.now() - state.lastAgentFetch > 10000 && !main.contains(document.activeElement)) void render(true);
  });
  es.addEventListener('cp', () => { const r = state.route; if (r && r.page === 'rollouts') void render(true); });
}
async function loadSession() {
  try { state.session = await api('/api/session'); } catch (e) { state.session = null; }
  const who = document.getElementById('whoami');
  who.textContent = state.session ? 'signed in as ' + state.session.user + ' (' + state.session.role + ')' : 'not signed in';
  document.getElementById('signin').textContent = state.session && state.token ? state.session.user + ' (' + state.session.role + ')' : 'Sign in';
  document.getElementById('nav-rollouts').parentElement.hidden = !!state.session && !state.session.features.rollouts;
}
function setupChrome() {
  const large = document.getElementById('large-text');
  const applyLarge = (on) => { document.documentElement.classList.toggle('large', on); large.setAttribute('aria-pressed', String(on)); localStorage.setItem('mw.large', on ? '1' : ''); };
  applyLarge(localStorage.getItem('mw.large') === '1' || new URLSearchParams(location.search).has('large'));
  large.addEventListener('click', () => applyLarge(!document.documentElement.classList.contains('large')));
  const form = document.getElementById('signin-form');
  document.getElementById('signin').addEventListener('click', () => { form.hidden = !form.hidden; if (!form.hidden) document.getElementById('token').focus(); });
  form.addEventListener('submit', async (ev) => { ev.preventDefault(); state.token = document.getElementById('token').value.trim(); localStorage.setItem('mw.token', state.token); await restart(); });
  document.getElementById('signout').addEventListener('click', async () => { state.token = ''; localStorage.removeItem('mw.token'); document.getElementById('token').value = ''; await restart(); });
  window.addEventListener('hashchange', () => void render(false));
}
async function restart() { await loadSession(); connectLive(); await render(true); }
/** A token handed over in the URL (the demo prints such a link) is kept and removed from the address bar. */
function takeTokenFromUrl() {
  const q = new URLSearchParams(location.search);
  const t = q.get('token');
  if (!t) return;
  state.token = t;
  localStorage.setItem('mw.token', t);
  q.delete('token');
  history.replaceState(null, '', location.pathname + (q.toString() ? '?' + q.toString() : '') + location.hash);
}
takeTokenFromUrl();
setupChrome();
void restart();
`;
