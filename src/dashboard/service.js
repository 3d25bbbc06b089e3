// The service page: endpoints with readiness, zone and health as the callers'
// sidecars see them; the policies that apply (access, split, routes,
// resilience); golden signals over time; recent traces.

import { api, explainError } from './api.js';
import { badge, fmtMs, fmtPct, fmtRps, h, notice, replace, s, table } from './dom.js';
import { summariesOf, traceList } from './traces.js';

const SAMPLE_MS = 2000;
/** Window of each live sample. */
const SAMPLE_WINDOW_S = 10;
/** Points kept per chart (3 minutes of samples). */
const MAX_POINTS = 90;

function selects(selector, labels) {
  const keys = Object.keys(selector ?? {});
  return keys.length > 0 && keys.every((k) => labels?.[k] === selector[k]);
}

function metric(item, name) {
  return item?.metrics?.find((m) => m.name === name)?.value ?? null;
}

/** The service's own item of a TrafficMetricsList (not an edge). */
function ownItem(list) {
  return list?.items?.find((i) => !i.edge) ?? null;
}

/** A small line chart of one or more series of {t, v}. */
export function lineChart(title, series, format, { width = 300, height = 110, yMin, yMax } = {}) {
  const pad = { l: 6, r: 6, t: 8, b: 18 };
  const all = series.flatMap((x) => x.points).filter((p) => p.v !== null && p.v !== undefined && !Number.isNaN(p.v));
  const latest = series.map((x) => ({ name: x.name, cls: x.cls, v: [...x.points].reverse().find((p) => p.v !== null && p.v !== undefined)?.v }));
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': `${title}: ${latest.map((l) => `${l.name} ${format(l.v ?? null)}`).join(', ')}` });
  svg.append(s('rect', { x: 0, y: 0, width, height, class: 'chart-bg', rx: 6 }));
  if (all.length === 0) {
    svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no data yet'));
  } else {
    const t0 = Math.min(...all.map((p) => p.t));
    const t1 = Math.max(...all.map((p) => p.t), t0 + 1);
    let lo = yMin ?? Math.min(...all.map((p) => p.v));
    let hi = Math.max(...all.map((p) => p.v));
    if (hi - lo < 1e-9) {
      // A flat line: widen the range, within the bounds the quantity has.
      const pad = (Math.abs(hi) || 1) * 0.1;
      hi = Math.min(yMax ?? Infinity, hi + pad);
      lo = Math.max(yMin ?? -Infinity, lo - pad);
      if (hi - lo < 1e-9) lo = hi - pad;
    }
    const X = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
    const Y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (height - pad.t - pad.b);
    for (const x of series) {
      const pts = x.points.filter((p) => p.v !== null && p.v !== undefined && !Number.isNaN(p.v));
      if (pts.length === 0) continue;
      const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`).join(' ');
      svg.append(s('path', { d, class: `chart-line ${x.cls ?? ''}` }));
      if (pts.length === 1) svg.append(s('circle', { cx: X(pts[0].t), cy: Y(pts[0].v), r: 2.5, class: `chart-dot ${x.cls ?? ''}` }));
    }
    svg.append(
      s('text', { x: pad.l + 2, y: height - 5, class: 'chart-axis' }, `min ${format(lo)}`),
      s('text', { x: width - pad.r - 2, y: height - 5, class: 'chart-axis', 'text-anchor': 'end' }, `max ${format(hi)}`),
    );
  }
  return h(
    'figure',
    { class: 'chart-box', 'data-testid': 'chart' },
    h('figcaption', {}, h('span', { class: 'chart-title' }, title), ' ', latest.map((l) => h('span', { class: `chart-value ${l.cls ?? ''}` }, `${series.length > 1 ? l.name + ' ' : ''}${format(l.v ?? null)}`))),
    svg,
  );
}

function describeTarget(tt) {
  const sources = tt.spec.sources.map((x) => `${x.namespace || tt.metadata.namespace}/${x.name}`).join(', ');
  const rules = tt.spec.rules.map((r) => `${r.kind} ${r.name}${r.matches?.length ? ` (${r.matches.join(', ')})` : ''}`).join('; ');
  const port = tt.spec.destination.port !== undefined ? ` port ${tt.spec.destination.port}` : '';
  return `sources ${sources || 'none'} → service account ${tt.spec.destination.namespace || tt.metadata.namespace}/${tt.spec.destination.name}${port}; ${rules || 'no rules'}`;
}

function describeRoute(route) {
  return route.spec.rules
    .map((r, i) => {
      const m = r.matches.map((x) => `${x.method ? x.method + ' ' : ''}${x.path.type === 'PathPrefix' ? x.path.value + '*' : x.path.value}${x.headers.length ? ` +${x.headers.length} header(s)` : ''}`).join(' | ') || '/*';
      const b = r.backendRefs.map((x) => `${x.name}${x.port ? ':' + x.port : ''}${r.backendRefs.length > 1 ? `=${x.weight}` : ''}`).join(', ') || 'no backend';
      return `rule ${i}: ${m} → ${b}`;
    })
    .concat(route.spec.parentRefs.map((p) => `parent ${p.kind} ${p.namespace || route.metadata.namespace}/${p.name}`))
    .join('; ');
}

function describePolicy(p) {
  const sections = ['timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'rateLimit', 'loadBalancer', 'healthCheck'].filter((k) => p.spec[k] !== undefined);
  if (p.kind === 'FaultInjection') return `${p.spec.rules.length} fault rule(s)`;
  return sections.join(', ') || 'nothing set';
}

/** Every policy that applies to the service, by section. */
function policiesOf(svc, all, serviceAccounts) {
  const ns = svc.metadata.namespace;
  const name = svc.metadata.name;
  const sa = new Set(serviceAccounts);
  const access = all.TrafficTarget.filter((tt) => sa.has(`${tt.spec.destination.namespace || tt.metadata.namespace}/${tt.spec.destination.name}`));
  const splits = all.TrafficSplit.filter((x) => x.metadata.namespace === ns && (x.spec.service === name || x.spec.backends.some((b) => b.service === name)));
  const routes = all.HTTPRoute.filter((r) =>
    r.spec.parentRefs.some((p) => p.kind === 'Service' && (p.namespace || r.metadata.namespace) === ns && p.name === name) ||
    r.spec.rules.some((rule) => rule.backendRefs.some((b) => (b.namespace || r.metadata.namespace) === ns && b.name === name)),
  );
  const resilience = [...all.TrafficPolicy, ...all.FaultInjection].filter((p) => p.metadata.namespace === ns && p.spec.targetRef?.name === name);
  return { access, splits, routes, resilience };
}

function policySection(title, testid, items, describe, extra) {
  return h(
    'section',
    { class: 'policy', 'data-testid': testid },
    h('h3', {}, title, ' ', h('span', { class: 'count' }, `(${items.length})`)),
    items.length === 0
      ? h('p', { class: 'empty' }, 'none')
      : h('ul', {}, items.map((x) => h('li', {}, h('strong', {}, `${x.kind} ${x.metadata.namespace}/${x.metadata.name}`), ': ', describe(x), extra ? extra(x) : null))),
  );
}

export async function renderService(main, [ns, name]) {
  const title = h('h1', {}, 'Service ', h('span', { class: 'mono', 'data-testid': 'service-name' }, `${ns}/${name}`));
  const head = h('div', { class: 'service-head' });
  const endpointsBox = h('section', { 'data-testid': 'endpoints', 'aria-labelledby': 'endpoints-h' }, h('h2', { id: 'endpoints-h' }, 'Endpoints'), h('p', {}, 'loading…'));
  const policiesBox = h('section', { 'data-testid': 'policies', 'aria-labelledby': 'policies-h' }, h('h2', { id: 'policies-h' }, 'Policies that apply'), h('p', {}, 'loading…'));
  const signalsBody = h('div', { class: 'charts' });
  const signalsError = h('div');
  const signalsBox = h(
    'section',
    { 'data-testid': 'golden-signals', 'aria-labelledby': 'signals-h' },
    h('h2', { id: 'signals-h' }, 'Golden signals'),
    h('p', { class: 'hint' }, `Requests to the service (the callers' view), sampled every ${SAMPLE_MS / 1000} s over the last ${SAMPLE_WINDOW_S} s.`),
    signalsError,
    signalsBody,
  );
  const tracesBox = h('section', { 'data-testid': 'service-traces', 'aria-labelledby': 'traces-h' }, h('h2', { id: 'traces-h' }, 'Recent traces'), h('p', {}, 'loading…'));
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/graph' }, 'Service graph'), ' / ', `${ns}/${name}`), title, head, signalsBox, endpointsBox, policiesBox, tracesBox);

  let stopped = false;
  let timer;
  const controller = new AbortController();
  const signal = controller.signal;

  let svc;
  try {
    svc = (await api.resources('Service', { namespace: ns, name }, { signal })).items[0];
  } catch (err) {
    if (err.name === 'AbortError') return () => {};
    replace(main, title, notice('error', explainError(err, `Service ${ns}/${name}`)));
    return () => {};
  }
  replace(
    head,
    h('p', {}, 'Ports: ', svc.spec.ports.map((p, i) => [i ? ', ' : '', h('span', { class: 'mono' }, `${p.name ? p.name + ' ' : ''}${p.port}/${p.appProtocol}`)]), ' · selector ', h('span', { class: 'mono' }, Object.entries(svc.spec.selector).map(([k, v]) => `${k}=${v}`).join(',') || 'none')),
    h('p', {}, h('a', { href: `#/access?to=${encodeURIComponent(`${ns}/${name}`)}` }, 'Check access to this service'), ' · ', h('a', { href: `#/traces?service=${encodeURIComponent(name)}` }, 'All its traces')),
  );

  // Golden signals: a backfill of request counts from nested windows, then live samples.
  const points = { rps: [], success: [], p50: [], p99: [], denied: [] };
  const draw = () => {
    replace(
      signalsBody,
      lineChart('Requests', [{ name: 'rps', points: points.rps }], fmtRps, { yMin: 0 }),
      lineChart('Success rate', [{ name: 'success', points: points.success }], fmtPct, { yMax: 1 }),
      lineChart('Latency', [{ name: 'p50', points: points.p50, cls: 'series-a' }, { name: 'p99', points: points.p99, cls: 'series-b' }], fmtMs, { yMin: 0 }),
      lineChart('Denied', [{ name: 'denied', points: points.denied, cls: 'series-bad' }], (v) => (v === null ? '–' : `${Math.round(v)}/${SAMPLE_WINDOW_S}s`), { yMin: 0 }),
    );
  };
  const push = (key, t, v) => {
    points[key].push({ t, v });
    if (points[key].length > MAX_POINTS) points[key].shift();
  };
  const backfill = async () => {
    const windows = [60, 50, 40, 30, 20, 10];
    try {
      const lists = await Promise.all(windows.map((w) => api.trafficMetrics({ kind: 'services', namespace: ns, name, window: `${w}s` }, { signal })));
      const now = Date.now();
      const counts = lists.map((l) => {
        const it = ownItem(l);
        return { ok: metric(it, 'success_count') ?? 0, failed: metric(it, 'failure_count') ?? 0 };
      });
      for (let i = 0; i < windows.length; i++) {
        const next = counts[i + 1] ?? { ok: 0, failed: 0 };
        const ok = Math.max(0, counts[i].ok - next.ok);
        const failed = Math.max(0, counts[i].failed - next.failed);
        const t = now - (windows[i] - 5) * 1000;
        push('rps', t, (ok + failed) / 10);
        push('success', t, ok + failed > 0 ? ok / (ok + failed) : null);
      }
    } catch {
      // A shorter retention or no metrics: the live samples below say why.
    }
  };
  const sample = async () => {
    try {
      const list = await api.trafficMetrics({ kind: 'services', namespace: ns, name, window: `${SAMPLE_WINDOW_S}s` }, { signal });
      const it = ownItem(list);
      const t = Date.now();
      const ok = metric(it, 'success_count') ?? 0;
      const failed = metric(it, 'failure_count') ?? 0;
      push('rps', t, metric(it, 'requests_per_second') ?? (ok + failed) / SAMPLE_WINDOW_S);
      push('success', t, ok + failed > 0 ? ok / (ok + failed) : null);
      push('p50', t, metric(it, 'p50_response_latency'));
      push('p99', t, metric(it, 'p99_response_latency'));
      push('denied', t, metric(it, 'denied_count'));
      replace(signalsError);
      draw();
    } catch (err) {
      if (stopped || err.name === 'AbortError') return;
      replace(signalsError, notice('error', explainError(err, 'Traffic metrics are not available')));
    } finally {
      if (!stopped) timer = setTimeout(sample, SAMPLE_MS);
    }
  };
  draw();
  void backfill().then(() => !stopped && sample());

  // Endpoints, policies and traces, once.
  void (async () => {
    try {
      const kinds = ['Workload', 'TrafficTarget', 'TrafficSplit', 'HTTPRoute', 'TrafficPolicy', 'FaultInjection'];
      const [status, graph, ...lists] = await Promise.all([
        api.status({ signal }),
        api.graph('30s', { signal }).catch(() => null),
        ...kinds.map((k) => api.resources(k, {}, { signal }).then((r) => r.items)),
      ]);
      const all = Object.fromEntries(kinds.map((k, i) => [k, lists[i]]));
      const instances = status.instances.filter((i) => i.metadata.namespace === ns && selects(svc.spec.selector, i.spec.labels));
      const workloads = all.Workload.filter((w) => w.metadata.namespace === ns && selects(svc.spec.selector, w.metadata.labels));
      const sas = [...new Set([...instances.map((i) => `${ns}/${i.spec.serviceAccountName}`), ...workloads.map((w) => `${ns}/${w.spec.serviceAccountName}`)])];
      void renderTraces(tracesBox, [...new Set([...workloads.map((w) => w.metadata.name), ...instances.map((i) => i.spec.workload)])], signal);
      await renderEndpoints(endpointsBox, svc, instances, status, graph, signal);
      const p = policiesOf(svc, all, sas);
      replace(
        policiesBox,
        h('h2', { id: 'policies-h' }, 'Policies that apply'),
        h('p', { class: 'hint' }, `Service accounts behind it: ${sas.join(', ') || 'none'}.`),
        policySection('Access (TrafficTarget)', 'policy-access', p.access, describeTarget, (tt) => [
          ' ',
          h('a', { href: `#/access?${new URLSearchParams({ from: `${tt.spec.sources[0]?.namespace || tt.metadata.namespace}/${tt.spec.sources[0]?.name ?? ''}`, to: `${ns}/${name}` })}` }, 'check'),
        ]),
        policySection('Traffic split', 'policy-split', p.splits, (x) => `${x.spec.service === name ? 'splits this service' : `backend of ${x.spec.service}`}: ${x.spec.backends.map((b) => `${b.service}=${b.weight}`).join(', ')}`),
        policySection('Routes (HTTPRoute)', 'policy-routes', p.routes, describeRoute),
        policySection('Resilience (TrafficPolicy, FaultInjection)', 'policy-resilience', p.resilience, describePolicy),
      );
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(endpointsBox, h('h2', {}, 'Endpoints'), notice('error', explainError(err, 'Endpoints')));
    }
  })();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}

/** Endpoints with health as the sidecars that call the service see it (their /config_dump). */
async function renderEndpoints(box, svc, instances, status, graph, signal) {
  const ns = svc.metadata.namespace;
  const name = svc.metadata.name;
  const clusters = new Set(svc.spec.ports.map((p) => `${ns}/${name}:${p.port}`));
  // Ask the callers' sidecars (from the graph), else any few connected ones.
  const callers = new Set((graph?.edges ?? []).filter((e) => e.target === `service/${ns}/${name}`).map((e) => e.source.replace(/^workload\//, '')));
  const connected = status.proxies.filter((p) => p.connected);
  const chosen = [...connected.filter((p) => callers.has(`${p.namespace}/${p.workload}`)), ...connected.filter((p) => !callers.has(`${p.namespace}/${p.workload}`))].slice(0, 5);
  const dumps = await Promise.all(chosen.map((p) => api.configDump(p.id, { signal }).then((d) => ({ id: p.id, d }), () => null)));
  const seen = new Map();
  for (const x of dumps) {
    if (!x) continue;
    for (const [cluster, eps] of Object.entries(x.d.endpoints ?? {})) {
      if (!clusters.has(cluster)) continue;
      for (const e of eps) {
        const list = seen.get(e.instance) ?? [];
        list.push({ by: x.id, ...e });
        seen.set(e.instance, list);
      }
    }
  }
  const proxies = new Map(status.proxies.map((p) => [p.id, p]));
  const rows = instances
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((i) => {
      const id = `${i.metadata.namespace}/${i.metadata.name}`;
      const views = seen.get(id) ?? [];
      const ejected = views.filter((v) => v.ejected);
      const unhealthy = views.filter((v) => !v.healthy);
      const health =
        views.length === 0
          ? badge('idle', 'not seen', { title: 'no caller sidecar has this endpoint (not ready, or nobody calls it)' })
          : ejected.length > 0
            ? badge('bad', `ejected by ${ejected.length}/${views.length}`, { title: ejected.map((v) => v.by).join(', ') })
            : unhealthy.length > 0
              ? badge('warn', `unhealthy for ${unhealthy.length}/${views.length}`, { title: unhealthy.map((v) => v.by).join(', ') })
              : badge('ok', `healthy (${views.length} caller${views.length === 1 ? '' : 's'})`, { title: views.map((v) => v.by).join(', ') });
      const p = proxies.get(id);
      return h(
        'tr',
        { 'data-testid': 'endpoint', 'data-instance': id },
        h('td', {}, h('a', { href: `#/proxy/${encodeURIComponent(i.metadata.namespace)}/${encodeURIComponent(i.metadata.name)}` }, i.metadata.name)),
        h('td', {}, i.spec.zone ?? '–'),
        h('td', { class: 'mono' }, i.spec.ports.map((x) => `${i.spec.address}:${x.inboundPort}→${x.port}`).join(', ')),
        h('td', {}, i.spec.ready ? badge('ok', 'ready') : badge('warn', 'not ready')),
        h('td', {}, p ? (p.connected ? badge('ok', 'connected') : badge('bad', 'disconnected')) : '–'),
        h('td', {}, health),
      );
    });
  replace(
    box,
    h('h2', { id: 'endpoints-h' }, 'Endpoints'),
    table('', ['instance', 'zone', 'sidecar inbound → app port', 'ready', 'proxy', 'health seen by callers'], rows, { 'data-testid': 'endpoints-table' }),
  );
}

/** Recent traces through the workloads behind the service (spans name workloads). */
async function renderTraces(box, workloads, signal) {
  const title = h('h2', { id: 'traces-h' }, 'Recent traces');
  if (workloads.length === 0) return replace(box, title, h('p', { class: 'empty' }, 'no workload behind this service'));
  try {
    const replies = await Promise.all(workloads.map((w) => api.traces({ service: w, limit: 10 }, { signal })));
    const byId = new Map();
    for (const t of replies.flatMap(summariesOf)) byId.set(t.traceId, t);
    const traces = [...byId.values()].sort((a, b) => (b.start ?? 0) - (a.start ?? 0)).slice(0, 10);
    replace(box, title, traceList({ traces }));
  } catch (err) {
    if (err.name === 'AbortError') return;
    replace(box, title, notice('warn', explainError(err, 'Traces')));
  }
}
