// Parley ops dashboard: polls /api/ops/stats for live numbers and draws the
// stored history (/api/ops/stats/history) plus the live points as SVG
// charts. No libraries, no external assets.
'use strict';

const POLL_MS = 2000;
const HISTORY_MS = 60000;
const MAX_LIVE = 300;
const MAX_DOTS = 400;
const COLORS = ['#0969da', '#1a7f37', '#9a6700', '#cf222e', '#8250df', '#bf3989', '#0550ae', '#116329'];
const SVG = 'http://www.w3.org/2000/svg';

let history = [];
let live = [];

async function getJSON(url) {
  const r = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401 || r.status === 403) {
    location.href = '/ops';
    throw new Error('the ops session ended');
  }
  if (!r.ok) throw new Error(url + ' answered ' + r.status);
  return r.json();
}

function fmt(n) {
  if (n === null || n === undefined) return '–';
  if (typeof n !== 'number') return String(n);
  if (!Number.isInteger(n)) return n.toLocaleString(undefined, { maximumFractionDigits: 2 });
  return n.toLocaleString();
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  return Math.round(s / 3600) + 'h ago';
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm';
}

function setText(id, v) { document.getElementById(id).textContent = v; }

function row(cells, name) {
  const tr = document.createElement('tr');
  if (name !== undefined) tr.dataset.name = name;
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = typeof c === 'number' ? fmt(c) : c;
    if (typeof c === 'number') td.className = 'num';
    tr.appendChild(td);
  }
  return tr;
}

function fill(id, rows) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren(...rows);
}

function kv(id, pairs) {
  fill(id, pairs.map(([k, v]) => row([k, v], k)));
}

function sum(obj) { return Object.values(obj || {}).reduce((a, b) => a + b, 0); }

// pointOf turns a live stats answer into a point like the stored ones.
function pointOf(st) {
  const lag = {}, pending = {};
  for (const p of st.projections) lag[p.name] = p.lag;
  for (const c of st.consumers) if (c.durable) pending[c.stream + '/' + c.name] = c.pending + c.ack_pending;
  return {
    at: st.at, node: st.node, events_per_second: st.notifications.events_per_second,
    projection_lag: lag, consumer_pending: pending, connections: st.hub ? st.hub.connections : 0,
  };
}

function render(st) {
  setText('node', 'node ' + st.node);
  setText('uptime', 'up ' + duration(st.uptime_seconds));
  // What keeps the node from being ready (a paused projector), or "ready".
  const degraded = st.degraded || [];
  const health = document.getElementById('health');
  health.textContent = degraded.length === 0 ? 'ready' : 'degraded: ' + degraded.map((c) =>
    c.component + ' ' + c.reason + ' since ' + new Date(c.since).toLocaleTimeString() +
    ' (' + fmt(c.failures) + ' failures): ' + c.detail).join('; ');
  health.className = degraded.length === 0 ? 'health ok' : 'health bad';
  const p = pointOf(st);
  setText('t-eps', fmt(p.events_per_second));
  setText('t-lag', fmt(sum(p.projection_lag)));
  setText('t-pending', fmt(sum(p.consumer_pending)));
  setText('t-conns', fmt(p.connections));
  setText('t-online', st.presence ? fmt(st.presence.online_users) : 'off');
  setText('t-rps', fmt(st.http.requests_per_second));
  setText('t-err', (st.http.error_rate * 100).toFixed(2) + ' %');
  setText('t-p99', fmt(st.http.latency_ms.p99));
  const w = st.webhooks;
  setText('t-hooks', w.enabled ? fmt(w.sent) + ' / ' + fmt(w.failed) + ' / ' + fmt(w.dead) : 'off');
  setText('t-disk', st.disk ? bytes(st.disk.free_bytes) + ' of ' + bytes(st.disk.total_bytes) : 'unknown');

  fill('streams', st.streams.map(s => row([s.name, s.messages, bytes(s.bytes), s.first_seq, s.last_seq, s.consumers, s.replicas, s.storage], s.name)));
  fill('consumers', st.consumers.map(c => row([c.stream, c.name, c.durable ? 'durable' : 'ordered', c.pending, c.ack_pending,
    c.redelivered, c.waiting, c.delivered_seq, c.ack_floor_seq, ago(c.last_active)], c.name)));
  fill('projections', st.projections.map(p => {
    const tr = row([p.name, p.stream, p.checkpoint, p.stream_last_seq, p.lag,
      p.stalled_seconds > 0 ? duration(Math.round(p.stalled_seconds)) : '–'], p.name);
    if (p.lag > 1000 || p.stalled_seconds > 10) tr.className = 'warn';
    return tr;
  }));
  const h = st.hub;
  kv('hub', h ? [['connections', h.connections], ['users', h.users], ['subscriptions', h.subscriptions], ['channels', h.channels],
    ['deliveries/s', h.deliveries_per_second], ['published', h.published], ['delivered', h.delivered],
    ['slow-consumer disconnects', h.slow_consumer_disconnects], ['online users', st.presence ? st.presence.online_users : 0]]
    : [['realtime', 'off']]);
  const x = st.http;
  kv('http', [['requests/s', x.requests_per_second], ['5xx rate', (x.error_rate * 100).toFixed(2) + ' %'],
    ['p50 ms', x.latency_ms.p50], ['p90 ms', x.latency_ms.p90], ['p99 ms', x.latency_ms.p99],
    ['requests (total)', x.requests], ['5xx (total)', x.server_errors], ['4xx (total)', x.client_errors]]);
  const n = st.notifications;
  kv('notifications', [['enabled', n.enabled ? 'yes' : 'no'], ['messages handled', n.messages], ['notifications created', n.created],
    ['skipped: online', n.skipped_online], ['failed attempts', n.failed], ['dead', n.dead],
    ['queue acked / retried / dead', fmt(n.queue.acked) + ' / ' + fmt(n.queue.retried) + ' / ' + fmt(n.queue.dead)],
    ['dead letters stored', n.dead_letters]]);
  kv('webhooks', [['enabled', w.enabled ? 'yes' : 'no'], ['attempts', w.attempts], ['sent', w.sent], ['failed', w.failed],
    ['dead', w.dead], ['batched (no post)', w.batched]]);
}

const CHARTS = [
  ['chart-throughput', p => p.events_per_second],
  ['chart-lag', p => sum(p.projection_lag)],
  ['chart-pending', p => sum(p.consumer_pending)],
  ['chart-connections', p => p.connections],
];

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function draw(id, value) {
  const svg = document.getElementById(id);
  const pts = history.concat(live).map(p => ({ t: Date.parse(p.at), v: Number(value(p)) || 0, node: p.node }))
    .filter(p => !Number.isNaN(p.t)).sort((a, b) => a.t - b.t);
  const W = 400, H = 140, L = 34, R = 6, T = 8, B = 18;
  const kids = [svgEl('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svgEl('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B })];
  svg.dataset.points = pts.length;
  if (!pts.length) {
    const t = svgEl('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' });
    t.textContent = 'no data yet';
    svg.replaceChildren(...kids, t);
    return;
  }
  const t0 = pts[0].t, t1 = pts[pts.length - 1].t, vmax = Math.max(1, ...pts.map(p => p.v));
  const x = t => t1 === t0 ? (L + W - R) / 2 : L + (t - t0) / (t1 - t0) * (W - R - L);
  const y = v => H - B - v / vmax * (H - B - T);
  const label = (s, ax, ay, anchor) => { const e = svgEl('text', { x: ax, y: ay, 'text-anchor': anchor }); e.textContent = s; return e; };
  kids.push(label(fmt(vmax), L - 3, T + 6, 'end'), label('0', L - 3, H - B, 'end'),
    label(new Date(t0).toLocaleTimeString(), L, H - 4, 'start'), label(new Date(t1).toLocaleTimeString(), W - R, H - 4, 'end'));
  const nodes = [...new Set(pts.map(p => p.node))];
  nodes.forEach((node, i) => {
    const color = COLORS[i % COLORS.length];
    const mine = pts.filter(p => p.node === node);
    kids.push(svgEl('polyline', { class: 'line', stroke: color, points: mine.map(p => x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1)).join(' ') }));
    const step = Math.max(1, Math.ceil(mine.length / MAX_DOTS));
    mine.forEach((p, j) => {
      if (j % step && j !== mine.length - 1) return;
      const c = svgEl('circle', { class: 'pt', cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2, fill: color });
      const title = svgEl('title', {});
      title.textContent = node + ' ' + new Date(p.t).toLocaleString() + ': ' + fmt(p.v);
      c.appendChild(title);
      kids.push(c);
    });
  });
  svg.replaceChildren(...kids);
}

function drawAll() { for (const [id, fn] of CHARTS) draw(id, fn); }

async function loadHistory() {
  let points = [], cursor = '';
  for (let page = 0; page < 4; page++) {
    const h = await getJSON('/api/ops/stats/history?since=24h&limit=5000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    points = points.concat(h.points);
    if (!h.next_cursor) break;
    cursor = h.next_cursor;
  }
  history = points;
  const newest = history.length ? Date.parse(history[history.length - 1].at) : 0;
  live = live.filter(p => Date.parse(p.at) > newest);
}

async function poll() {
  const status = document.getElementById('status');
  try {
    const st = await getJSON('/api/ops/stats');
    render(st);
    live.push(pointOf(st));
    if (live.length > MAX_LIVE) live.shift();
    drawAll();
    status.textContent = 'live · ' + new Date().toLocaleTimeString();
    status.className = 'status ok';
  } catch (e) {
    status.textContent = 'error: ' + e.message;
    status.className = 'status bad';
  }
}

async function refreshHistory() {
  try {
    await loadHistory();
    drawAll();
  } catch (e) {
    document.getElementById('status').textContent = 'history: ' + e.message;
  }
}

refreshHistory().then(poll);
setInterval(poll, POLL_MS);
setInterval(refreshHistory, HISTORY_MS);
