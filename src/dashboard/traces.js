// Recent traces (GET /v1/traces) and one trace's span waterfall
// (GET /v1/traces/<id>: Zipkin v2 spans, µs timestamps): one row per span,
// indented under its parent, a bar from its start for its duration.

import { api, explainError } from './api.js';
import { badge, fmtMs, h, notice, replace, s, table } from './dom.js';

/** The summaries of a /v1/traces reply (`{traces: [...]}` or a bare array). */
export function summariesOf(reply) {
  if (Array.isArray(reply)) return reply;
  return reply?.traces ?? reply?.items ?? [];
}

/** µs since the epoch from a number in µs or ms, or an ISO string. */
function startUs(x) {
  if (typeof x === 'string') return Date.parse(x) * 1000;
  if (typeof x !== 'number') return NaN;
  return x > 1e14 ? x : x * 1000;
}

function durationMsOf(t) {
  if (typeof t.durationUs === 'number') return t.durationUs / 1000;
  if (typeof t.durationMs === 'number') return t.durationMs;
  if (typeof t.duration === 'number') return t.duration / 1000;
  return null;
}

/** A table of trace summaries linking to their waterfalls. */
export function traceList(reply) {
  const traces = summariesOf(reply);
  if (traces.length === 0) return notice('info', 'No traces yet: spans arrive as requests flow (MeshConfig spec.tracing.samplingPercent decides how many).');
  const rows = traces.map((t) =>
    h(
      'tr',
      { 'data-testid': 'trace-row', 'data-trace-id': t.traceId },
      h('td', {}, h('a', { href: `#/trace/${encodeURIComponent(t.traceId)}`, class: 'mono', 'data-testid': 'trace-link' }, t.traceId.slice(0, 16))),
      h('td', {}, new Date(startUs(t.start ?? t.startTime) / 1000).toLocaleTimeString()),
      h('td', {}, t.rootService || '–', t.rootName ? h('span', { class: 'muted' }, ` ${t.rootName}`) : null),
      h('td', {}, (t.services ?? []).join(', ') || '–'),
      h('td', { class: 'num' }, String(t.spanCount ?? '–')),
      h('td', { class: 'num' }, fmtMs(durationMsOf(t))),
      h('td', {}, t.error ? badge('bad', 'error') : badge('ok', 'ok')),
    ),
  );
  return table('', ['trace', 'start', 'root', 'services', 'spans', 'duration', 'outcome'], rows, { 'data-testid': 'trace-table' });
}

export async function renderTraces(main, _args, query) {
  const service = query.get('service') ?? '';
  const body = h('div', {}, h('p', {}, 'loading…'));
  const input = h('input', { id: 'trace-service', name: 'service', value: service, placeholder: 'any', autocomplete: 'off' });
  const form = h(
    'form',
    {
      class: 'inline-form',
      role: 'search',
      onsubmit: (ev) => {
        ev.preventDefault();
        location.hash = `#/traces${input.value ? `?service=${encodeURIComponent(input.value)}` : ''}`;
      },
    },
    h('label', { for: 'trace-service' }, 'Service (workload) '),
    input,
    h('button', { type: 'submit' }, 'Filter'),
  );
  replace(main, h('h1', {}, 'Recent traces'), form, body);
  const controller = new AbortController();
  let timer;
  const load = async () => {
    try {
      const reply = await api.traces({ service: service || undefined, limit: 50 }, { signal: controller.signal });
      replace(body, traceList(reply));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(body, notice('error', explainError(err, 'Traces')));
    }
    timer = setTimeout(load, 5000);
  };
  void load();
  return () => {
    clearTimeout(timer);
    controller.abort();
  };
}

/** Spans in waterfall order with their depth (the API gives both; computed here when absent). */
export function waterfallRows(spans) {
  if (spans.every((x) => typeof x.depth === 'number')) return spans;
  const ids = new Set(spans.map((x) => x.id));
  const children = new Map();
  for (const x of spans) {
    if (!x.parentId || !ids.has(x.parentId) || x.parentId === x.id) continue;
    if (!children.has(x.parentId)) children.set(x.parentId, []);
    children.get(x.parentId).push(x);
  }
  const byStart = (a, b) => a.timestamp - b.timestamp || (a.kind === 'CLIENT' ? -1 : b.kind === 'CLIENT' ? 1 : 0);
  const out = [];
  const seen = new Set();
  const visit = (x, depth) => {
    if (seen.has(x)) return;
    seen.add(x);
    out.push({ ...x, depth });
    for (const c of (children.get(x.id) ?? []).sort(byStart)) visit(c, depth + 1);
  };
  const roots = spans.filter((x) => !x.parentId || !ids.has(x.parentId) || x.parentId === x.id).sort(byStart);
  for (const r of roots) visit(r, 0);
  for (const x of [...spans].sort(byStart)) visit(x, 0);
  return out;
}

function isError(span) {
  return span.tags?.error !== undefined || Number(span.tags?.['http.status_code']) >= 500;
}

/** The waterfall SVG of a trace's spans. */
export function waterfallSvg(spans) {
  const rows = waterfallRows(spans);
  const t0 = Math.min(...rows.map((x) => x.timestamp));
  const t1 = Math.max(...rows.map((x) => x.timestamp + (x.duration ?? 0)));
  const total = Math.max(1, t1 - t0);
  const labelW = 380;
  const barW = 560;
  const rowH = 26;
  const top = 26;
  const width = labelW + barW + 90;
  const height = top + rows.length * rowH + 8;
  const services = [...new Set(rows.map((x) => x.localEndpoint?.serviceName ?? ''))].sort();
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'waterfall', role: 'img', 'aria-label': `Span waterfall: ${rows.length} spans over ${fmtMs(total / 1000)}`, 'data-testid': 'waterfall' });
  // Time axis: 0, ¼, ½, ¾, end.
  for (let i = 0; i <= 4; i++) {
    const x = labelW + (barW * i) / 4;
    svg.append(s('line', { x1: x, y1: top - 6, x2: x, y2: height - 4, class: 'tick' }), s('text', { x, y: 14, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle', class: 'tick-label' }, fmtMs((total * i) / 4 / 1000)));
  }
  rows.forEach((x, i) => {
    const y = top + i * rowH;
    const service = x.localEndpoint?.serviceName ?? '?';
    const start = ((x.timestamp - t0) / total) * barW;
    const w = Math.max(2, ((x.duration ?? 0) / total) * barW);
    const err = isError(x);
    const status = x.tags?.['http.status_code'];
    const label = `${service}${x.kind ? ` (${x.kind.toLowerCase()})` : ''} ${x.name}`;
    svg.append(
      s(
        'g',
        {
          class: `span${err ? ' span-error' : ''} svc-${services.indexOf(service) % 6}`,
          'data-testid': 'span',
          'data-span-id': x.id,
          'data-parent-id': x.parentId ?? null,
          'data-depth': x.depth,
          'data-service': service,
        },
        s('title', {}, `${service} ${x.kind ?? ''} ${x.name}: ${fmtMs((x.duration ?? 0) / 1000)} from +${fmtMs((x.timestamp - t0) / 1000)}${status ? `, status ${status}` : ''}${err && x.tags?.error ? `, error ${x.tags.error}` : ''}`),
        s('text', { x: 8 + x.depth * 16, y: y + 17, class: 'span-label' }, label.length > 52 - x.depth * 2 ? label.slice(0, 51 - x.depth * 2) + '…' : label),
        s('rect', { x: labelW + start, y: y + 5, width: w, height: rowH - 10, rx: 3, class: 'span-bar' }),
        s('text', { x: Math.min(labelW + start + w + 6, width - 4), y: y + 17, class: 'span-duration', 'text-anchor': labelW + start + w + 6 > width - 60 ? 'end' : 'start' }, `${fmtMs((x.duration ?? 0) / 1000)}${status ? ` · ${status}` : ''}`),
      ),
    );
  });
  return svg;
}

export async function renderTrace(main, [id]) {
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/traces' }, 'Traces'), ' / ', id), h('h1', {}, 'Trace ', h('span', { class: 'mono' }, id)), h('p', {}, 'loading…'));
  try {
    const t = await api.trace(id);
    const spans = Array.isArray(t) ? t : t.spans;
    const rows = waterfallRows(spans);
    const services = [...new Set(rows.map((x) => x.localEndpoint?.serviceName).filter(Boolean))];
    const details = table(
      'Spans',
      ['span', 'service', 'kind', 'name', 'duration', 'status', 'route'],
      rows.map((x) => [
        h('span', { class: 'mono' }, `${'  '.repeat(x.depth)}${x.id}`),
        x.localEndpoint?.serviceName ?? '–',
        x.kind ?? '–',
        x.name,
        fmtMs((x.duration ?? 0) / 1000),
        x.tags?.['http.status_code'] ?? (x.tags?.error ? 'error' : '–'),
        x.tags?.['trellis.route'] ?? '–',
      ]),
    );
    replace(
      main,
      h('p', { class: 'crumbs' }, h('a', { href: '#/traces' }, 'Traces'), ' / ', id),
      h('h1', {}, 'Trace ', h('span', { class: 'mono' }, id)),
      h('p', {}, `${rows.length} spans · ${services.join(' → ')} · ${fmtMs((Math.max(...rows.map((x) => x.timestamp + x.duration)) - Math.min(...rows.map((x) => x.timestamp))) / 1000)}`),
      h('div', { class: 'waterfall-box' }, waterfallSvg(spans)),
      h('details', {}, h('summary', {}, 'Spans as a table'), details),
    );
  } catch (err) {
    replace(main, h('h1', {}, 'Trace ', h('span', { class: 'mono' }, id)), notice('error', explainError(err, 'This trace')));
  }
}
