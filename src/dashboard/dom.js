// Small DOM helpers shared by the dashboard's pages: element builders for
// HTML and SVG, and number formatting. No framework.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an HTML element: h('a', { href: '#/x', class: 'link' }, 'text', child).
 * Attributes with value null/undefined/false are skipped; `on*` functions become listeners.
 */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** Creates an SVG element, like h(). */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
}

/** A table with a caption, column headers and rows of cells (strings or nodes). */
export function table(caption, headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.length === 0 ? h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'none')) : rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c)))))),
  );
}

/** A message box: kind is info, warn or error. */
export function notice(kind, ...text) {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...text);
}

export function fmtRps(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (v === 0) return '0 rps';
  if (v < 0.1) return `${v.toFixed(2)} rps`;
  if (v < 100) return `${v.toFixed(1)} rps`;
  return `${Math.round(v)} rps`;
}

/** A success rate (0..1) as a percentage. */
export function fmtPct(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const p = v * 100;
  if (p === 100 || p === 0) return `${p}%`;
  return `${p >= 99 ? p.toFixed(2) : p.toFixed(1)}%`;
}

export function fmtMs(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (v === 0) return '0 ms';
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 10_000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

/** "in 23 h", "3 min ago" from an RFC 3339 time. */
export function fmtRelative(iso, now = Date.now()) {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = t - now;
  const a = Math.abs(d);
  const unit = a < 60_000 ? [1000, 's'] : a < 3_600_000 ? [60_000, 'min'] : a < 86_400_000 ? [3_600_000, 'h'] : [86_400_000, 'd'];
  const n = Math.round(a / unit[0]);
  return d >= 0 ? `in ${n} ${unit[1]}` : `${n} ${unit[1]} ago`;
}

/** A short hash for display. */
export function shortVersion(v) {
  return v ? String(v).slice(0, 12) : '–';
}

/** A badge: kind is ok, warn, bad or idle. */
export function badge(kind, text, attrs = {}) {
  return h('span', { class: `badge badge-${kind}`, ...attrs }, text);
}
