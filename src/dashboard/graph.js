// The live service graph: GET /v1/graph every 2 s, drawn as SVG. Namespaces
// are columns ordered by who calls whom (callers left), services and
// workloads are sub-columns inside each namespace, everything sorted by name:
// the same graph always gives the same picture. Edges carry
// "rps · success · p95"; denied traffic is a dashed red edge of its own with
// the count and reason; TrafficSplit backends show their weight.

import { api, explainError } from './api.js';
import { fmtMs, fmtPct, fmtRps, h, notice, replace, s, table } from './dom.js';

export const POLL_MS = 2000;
export const WINDOW = '30s';

const NODE_W = 184;
const NODE_H = 54;
const VGAP = 24;
const SUBGAP = 124;
const COLGAP = 190;
const NS_PAD = 14;
const NS_HEADER = 26;
const NS_VGAP = 34;
const MARGIN = 24;
/** Approximate width of a character of an edge label (11 px). */
const CHAR_W = 6.2;

/** Health of an edge or node from its success rate (as the API words node health). */
export function healthOfRate(rate, requests) {
  if (!requests || rate === null || rate === undefined) return 'idle';
  if (rate >= 0.99) return 'healthy';
  if (rate >= 0.9) return 'degraded';
  return 'failing';
}

/**
 * Rank of each namespace: 0 for those nobody calls from another namespace,
 * else one more than the highest-ranked caller (cycles are cut). Pure.
 */
export function namespaceRanks(nodes, edges) {
  const nsOf = new Map(nodes.map((n) => [n.id, n.namespace]));
  const names = [...new Set(nodes.map((n) => n.namespace))].sort();
  const incoming = new Map(names.map((n) => [n, new Set()]));
  for (const e of edges) {
    const a = nsOf.get(e.source);
    const b = nsOf.get(e.target);
    if (a === undefined || b === undefined || a === b) continue;
    incoming.get(b).add(a);
  }
  const rank = new Map(names.map((n) => [n, 0]));
  // Longest path by relaxation; at most |names| rounds, so a cycle cannot loop forever.
  for (let round = 0; round < names.length; round++) {
    let changed = false;
    for (const n of names) {
      for (const from of incoming.get(n)) {
        const r = rank.get(from) + 1;
        if (r > rank.get(n) && r < names.length) {
          rank.set(n, r);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  return rank;
}

/**
 * Positions of every node and namespace box. Deterministic: depends only on
 * the ids, namespaces, kinds and edges, never on rates or the order given.
 */
export function layoutGraph(graph) {
  const nodes = [...graph.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ranks = namespaceRanks(nodes, graph.edges);
  const byNs = new Map();
  for (const n of nodes) {
    if (!byNs.has(n.namespace)) byNs.set(n.namespace, { services: [], workloads: [] });
    byNs.get(n.namespace)[n.kind === 'service' ? 'services' : 'workloads'].push(n);
  }
  const columns = new Map();
  for (const ns of [...byNs.keys()].sort()) {
    const r = ranks.get(ns);
    if (!columns.has(r)) columns.set(r, []);
    columns.get(r).push(ns);
  }
  const positions = new Map();
  const boxes = [];
  let x = MARGIN;
  let height = 0;
  for (const r of [...columns.keys()].sort((a, b) => a - b)) {
    let y = MARGIN;
    let colWidth = 0;
    for (const ns of columns.get(r)) {
      const { services, workloads } = byNs.get(ns);
      const subs = [services, workloads].filter((l) => l.length > 0);
      const width = subs.length * NODE_W + (subs.length - 1) * SUBGAP + 2 * NS_PAD;
      const rows = Math.max(...subs.map((l) => l.length));
      const boxH = NS_HEADER + rows * NODE_H + (rows - 1) * VGAP + 2 * NS_PAD;
      subs.forEach((list, i) => {
        // Centre a shorter sub-column against the taller one.
        const offset = ((rows - list.length) * (NODE_H + VGAP)) / 2;
        list.forEach((n, j) => {
          positions.set(n.id, {
            x: x + NS_PAD + i * (NODE_W + SUBGAP),
            y: y + NS_HEADER + NS_PAD + offset + j * (NODE_H + VGAP),
            w: NODE_W,
            h: NODE_H,
          });
        });
      });
      boxes.push({ namespace: ns, x, y, w: width, h: boxH, rank: r });
      colWidth = Math.max(colWidth, width);
      y += boxH + NS_VGAP;
    }
    height = Math.max(height, y - NS_VGAP + MARGIN);
    x += colWidth + COLGAP;
  }
  return { positions, boxes, width: Math.max(x - COLGAP + MARGIN, 320), height: Math.max(height, 160) };
}

/** The edges to draw: traffic (what was not denied) and, separately, denied traffic. */
export function drawnEdges(edges) {
  const out = [];
  for (const e of edges) {
    const denied = e.denied ?? 0;
    const served = Math.max(0, (e.requests ?? 0) - denied);
    const tcp = e.protocol === 'tcp' && e.tcp && (e.tcp.opened > 0 || e.tcp.open > 0);
    if (served > 0 || tcp || (denied === 0 && (e.rps ?? 0) > 0)) {
      const rps = e.requests > 0 ? (e.rps * served) / e.requests : e.rps;
      out.push({ kind: 'traffic', edge: e, rps, health: tcp && !served ? 'healthy' : healthOfRate(e.successRate, served) });
    }
    if (denied > 0) out.push({ kind: 'denied', edge: e, rps: e.requests > 0 ? (e.rps * denied) / e.requests : 0, health: 'denied' });
  }
  return out;
}

function reasonsText(reasons) {
  const entries = Object.entries(reasons ?? {}).filter(([, n]) => n > 0);
  if (entries.length === 0) return '';
  if (entries.length === 1) return ` (${entries[0][0]})`;
  return ` (${entries.map(([k, n]) => `${k} ${n}`).join(', ')})`;
}

/** The label of a drawn edge, e.g. "1.0 rps · 100% · p95 3.2 ms" or "denied 30 (rbac)". */
export function edgeLabel(d) {
  const e = d.edge;
  if (d.kind === 'denied') return `denied ${e.denied}${reasonsText(e.deniedReasons)}`;
  if (e.protocol === 'tcp' && !(e.requests > 0)) {
    const t = e.tcp ?? { opened: 0, open: 0 };
    return `tcp · ${t.open} open · ${t.opened} opened`;
  }
  return `${fmtRps(d.rps)} · ${fmtPct(e.successRate)} · p95 ${fmtMs(e.p95Ms)}`;
}

function edgePath(a, b, offset) {
  const ay = a.y + a.h / 2 + offset;
  const by = b.y + b.h / 2 + offset;
  if (b.x >= a.x + a.w) {
    const x1 = a.x + a.w;
    const x2 = b.x;
    const dx = Math.max(40, (x2 - x1) / 2);
    return { d: `M${x1},${ay} C${x1 + dx},${ay} ${x2 - dx},${by} ${x2},${by}`, mid: bezierMid([x1, ay], [x1 + dx, ay], [x2 - dx, by], [x2, by]) };
  }
  if (a.x >= b.x + b.w) {
    const x1 = a.x;
    const x2 = b.x + b.w;
    const dx = Math.max(40, (x1 - x2) / 2);
    return { d: `M${x1},${ay} C${x1 - dx},${ay} ${x2 + dx},${by} ${x2},${by}`, mid: bezierMid([x1, ay], [x1 - dx, ay], [x2 + dx, by], [x2, by]) };
  }
  // Same column: loop out to the right.
  const x1 = a.x + a.w;
  const x2 = b.x + b.w;
  const out = Math.max(x1, x2) + 60;
  return { d: `M${x1},${ay} C${out},${ay} ${out},${by} ${x2},${by}`, mid: bezierMid([x1, ay], [out, ay], [out, by], [x2, by]) };
}

function bezierMid(p0, p1, p2, p3) {
  const t = 0.5;
  const u = 1 - t;
  return [
    u * u * u * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t * t * t * p3[0],
    u * u * u * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t * t * t * p3[1],
  ];
}

function nodeHref(n) {
  if (n.kind === 'service') return `#/service/${encodeURIComponent(n.namespace)}/${encodeURIComponent(n.name)}`;
  return `#/proxies?workload=${encodeURIComponent(`${n.namespace}/${n.name}`)}`;
}

function markers() {
  const m = (id) =>
    s('marker', { id: `arrow-${id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow arrow-${id}` }));
  return s('defs', {}, ['healthy', 'degraded', 'failing', 'idle', 'denied'].map(m));
}

/** The SVG of a graph. */
export function graphSvg(graph) {
  const { positions, boxes, width, height } = layoutGraph(graph);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const drawn = drawnEdges(graph.edges);
  const services = graph.nodes.filter((n) => n.kind === 'service').length;
  const svg = s('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-labelledby': 'graph-title',
    'data-testid': 'graph',
    class: 'graph',
  });
  svg.append(
    s('title', { id: 'graph-title' }, `Service graph: ${graph.nodes.length - services} workloads, ${services} services, ${graph.edges.length} edges (window ${graph.window})`),
    markers(),
  );
  for (const b of boxes) {
    svg.append(
      s(
        'g',
        { class: 'ns', 'data-testid': 'namespace', 'data-namespace': b.namespace },
        s('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 10 }),
        s('text', { x: b.x + NS_PAD, y: b.y + 19, class: 'ns-label' }, b.namespace),
      ),
    );
  }
  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  for (const d of drawn) {
    const a = positions.get(d.edge.source);
    const b = positions.get(d.edge.target);
    if (!a || !b) continue;
    const both = drawn.some((o) => o !== d && o.edge === d.edge);
    const offset = both ? (d.kind === 'denied' ? 7 : -7) : 0;
    const p = edgePath(a, b, offset);
    const width = d.kind === 'denied' ? 2 : Math.min(7, 1.5 + Math.log2(1 + Math.max(0, d.rps)));
    const label = edgeLabel(d);
    const split = d.kind === 'traffic' && d.edge.splitWeight !== undefined ? `split ${d.edge.splitWeight}%` : '';
    const src = byId.get(d.edge.source);
    const dst = byId.get(d.edge.target);
    const title = `${src?.name ?? d.edge.source} → ${dst?.name ?? d.edge.target}: ${label}${split ? ` · ${split}` : ''}`;
    edgeLayer.append(
      s(
        'g',
        {
          class: `edge edge-${d.kind} health-${d.health}`,
          'data-testid': d.kind === 'denied' ? 'edge-denied' : 'edge',
          'data-source': d.edge.source,
          'data-target': d.edge.target,
          'data-rps': d.rps.toFixed(3),
          'data-denied': d.kind === 'denied' ? d.edge.denied : null,
          'data-split-weight': split ? d.edge.splitWeight : null,
        },
        s('title', {}, title),
        s('path', { d: p.d, 'stroke-width': width.toFixed(2), 'marker-end': `url(#arrow-${d.health})` }),
      ),
    );
    // One line when the gap between the nodes allows, else "rps · success" over "p95".
    const gap = Math.abs(b.x - a.x) - NODE_W;
    const parts = label.split(' · ');
    const textLines = label.length * CHAR_W + 16 <= gap || d.kind === 'denied' || parts.length < 3 ? [label] : [parts.slice(0, -1).join(' · '), parts[parts.length - 1]];
    const lines = split ? [...textLines, split] : textLines;
    const lw = Math.max(...lines.map((l) => l.length)) * CHAR_W + 10;
    const lh = lines.length * 14 + 4;
    const [mx, my] = p.mid;
    const ly = my + (d.kind === 'denied' && both ? 10 : both ? -lh - 2 : -lh / 2);
    labelLayer.append(
      s(
        'g',
        { class: `edge-label edge-label-${d.kind}`, 'data-testid': 'edge-label', 'data-source': d.edge.source, 'data-target': d.edge.target, 'aria-hidden': 'true' },
        s('rect', { x: mx - lw / 2, y: ly, width: lw, height: lh, rx: 4 }),
        lines.map((l, i) => s('text', { x: mx, y: ly + 14 + i * 14, 'text-anchor': 'middle', class: split && i === lines.length - 1 ? 'split' : null }, l)),
      ),
    );
  }
  svg.append(edgeLayer);
  const nodeLayer = s('g', { class: 'nodes' });
  for (const n0 of graph.nodes) {
    const p = positions.get(n0.id);
    if (!p) continue;
    const n = withOutgoing(n0, graph.edges);
    const stats = nodeStats(n);
    nodeLayer.append(
      s(
        'a',
        {
          href: nodeHref(n),
          class: `node node-${n.kind} health-${n.health}`,
          'data-testid': 'node',
          'data-id': n.id,
          'data-kind': n.kind,
          'data-name': n.name,
          'data-namespace': n.namespace,
          'data-health': n.health,
          'data-rps': n.rps,
          'aria-label': `${n.kind} ${n.namespace}/${n.name}: ${n.health}, ${stats}${n.p95Ms !== null && n.p95Ms !== undefined ? `, p95 ${fmtMs(n.p95Ms)}` : ''}`,
        },
        s('rect', { x: p.x, y: p.y, width: p.w, height: p.h, rx: n.kind === 'service' ? 26 : 6 }),
        s('circle', { cx: p.x + 14, cy: p.y + 18, r: 5, class: 'dot' }),
        s('text', { x: p.x + 26, y: p.y + 22, class: 'node-name' }, truncate(n.name, Math.floor((NODE_W - 60) / 8))),
        s('text', { x: p.x + p.w - 10, y: p.y + 22, class: 'node-kind', 'text-anchor': 'end' }, n.kind === 'service' ? 'svc' : 'wl'),
        s('text', { x: p.x + 14, y: p.y + 42, class: 'node-stats' }, stats),
      ),
    );
  }
  svg.append(nodeLayer, labelLayer);
  return svg;
}

/**
 * A node as drawn: one that nobody calls (a client such as bookbuyer) shows
 * the calls it makes, and takes its health from them.
 */
export function withOutgoing(n, edges) {
  if (n.requests > 0 || n.rps > 0 || n.denied > 0) return n;
  const out = edges.filter((e) => e.source === n.id && e.requests > 0);
  if (out.length === 0) return n;
  const sum = (f) => out.reduce((a, e) => a + (f(e) ?? 0), 0);
  const requests = sum((e) => e.requests);
  const denied = sum((e) => e.denied);
  const failures = sum((e) => e.failures);
  const served = requests - denied;
  const successRate = served > 0 ? (served - failures) / served : null;
  const health = served > 0 ? healthOfRate(successRate, served) : 'failing';
  return { ...n, rps: sum((e) => e.rps), requests, denied, failures, successRate, health, outgoing: true };
}

/** The one-line summary inside a node. */
export function nodeStats(n) {
  if (!(n.requests > 0 || n.rps > 0)) return 'no traffic';
  const served = (n.requests ?? 0) - (n.denied ?? 0);
  const parts = [`${n.outgoing ? 'calls ' : ''}${fmtRps(n.rps)}`];
  if (served > 0) parts.push(fmtPct(n.successRate));
  if (n.denied > 0) parts.push(served > 0 ? `${n.denied} denied` : 'all denied');
  return parts.join(' · ');
}

function truncate(text, n) {
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

function legend() {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('health-healthy', 'healthy (≥ 99% success)'),
    item('health-degraded', 'degraded (≥ 90%)'),
    item('health-failing', 'failing'),
    item('health-idle', 'idle'),
    item('swatch-denied', 'denied by access control'),
  );
}

function edgeTable(graph) {
  const name = new Map(graph.nodes.map((n) => [n.id, `${n.namespace}/${n.name}`]));
  const rows = drawnEdges(graph.edges).map((d) =>
    h(
      'tr',
      { 'data-testid': 'edge-row', 'data-kind': d.kind },
      h('td', {}, name.get(d.edge.source) ?? d.edge.source),
      h('td', {}, name.get(d.edge.target) ?? d.edge.target),
      h('td', {}, d.kind === 'denied' ? 'denied' : d.edge.protocol),
      h('td', {}, fmtRps(d.rps)),
      h('td', {}, d.kind === 'denied' ? '–' : fmtPct(d.edge.successRate)),
      h('td', {}, d.kind === 'denied' ? '–' : fmtMs(d.edge.p95Ms)),
      h('td', {}, d.kind === 'denied' ? `${d.edge.denied}${reasonsText(d.edge.deniedReasons)}` : '–'),
      h('td', {}, d.edge.splitWeight !== undefined && d.kind === 'traffic' ? `${d.edge.splitWeight}%` : '–'),
    ),
  );
  return table(`Edges over the last ${graph.window}`, ['from', 'to', 'protocol', 'rate', 'success', 'p95', 'denied', 'split weight'], rows, { 'data-testid': 'edge-table' });
}

export function renderGraph(main) {
  const status = h('p', { class: 'updated', 'data-testid': 'graph-updated', 'aria-live': 'off' }, 'loading…');
  const error = h('div', { 'data-testid': 'graph-error', 'aria-live': 'polite' });
  const canvas = h('div', { class: 'graph-canvas', 'data-testid': 'graph-canvas' });
  const details = h('details', { class: 'edge-details' }, h('summary', {}, 'Edges as a table'));
  const detailsBody = h('div');
  details.append(detailsBody);
  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Service graph'), legend()),
    h('p', { class: 'hint' }, `Requests over the last ${WINDOW}, refreshed every ${POLL_MS / 1000} s. Select a service for its page.`),
    error,
    status,
    canvas,
    details,
  );
  let stopped = false;
  let timer;
  let controller;
  const tick = async () => {
    controller = new AbortController();
    try {
      const graph = await api.graph(WINDOW, { signal: controller.signal });
      if (stopped) return;
      // Keep keyboard focus on the same node across redraws.
      const focused = document.activeElement?.closest?.('[data-testid="node"]')?.dataset.id;
      replace(canvas, graph.nodes.length === 0 ? notice('info', 'No workloads or services yet.') : graphSvg(graph));
      if (focused) canvas.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus();
      replace(detailsBody, edgeTable(graph));
      replace(error);
      status.dataset.generatedAt = graph.generatedAt;
      replace(status, `updated ${new Date(graph.generatedAt).toLocaleTimeString()} · ${graph.nodes.length} nodes · ${graph.edges.length} edges · window ${graph.window}`);
    } catch (err) {
      if (stopped || err.name === 'AbortError') return;
      replace(error, notice('error', explainError(err, 'The service graph is not available')));
    } finally {
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    }
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
  };
}
