// The access explorer: "can A reach B on METHOD PATH?", answered by the
// control plane's compiler (GET /v1/access) with the rule that decides. The
// question is kept in the URL (#/access?from=…&to=…), so an answer can be shared.

import { api, explainError } from './api.js';
import { badge, h, notice, replace, table } from './dom.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

function field(id, label, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { id: `${id}-hint` }, hint) : null);
}

function ruleText(rule) {
  if (!rule) return '';
  if (!rule.trafficTarget) return rule.text;
  return `TrafficTarget ${rule.trafficTarget}${rule.match ? `, HTTPRouteGroup match ${rule.match}` : ''}`;
}

/** The answer panel. */
export function explanationView(e) {
  const dest = `${e.destination.namespace}/${e.destination.name}${e.destination.port !== undefined ? ':' + e.destination.port : ''}`;
  const verdict = e.allowed ? badge('ok', 'ALLOWED', { 'data-testid': 'access-verdict', 'data-allowed': 'true' }) : badge('bad', e.partial ? 'PARTLY DENIED' : 'DENIED', { 'data-testid': 'access-verdict', 'data-allowed': 'false' });
  const backends = e.backends.map((b) =>
    h(
      'tr',
      { 'data-testid': 'access-backend', 'data-allowed': String(b.allowed) },
      h('td', { class: 'mono' }, b.service),
      h('td', { class: 'num' }, `${b.percent}%`),
      h('td', { class: 'mono' }, b.serviceAccount),
      h('td', {}, b.allowed ? badge('ok', 'allowed') : badge('bad', 'denied')),
      h('td', {}, b.allowed ? ruleText(b.rule) : b.reason, b.details?.length ? h('ul', { class: 'details' }, b.details.map((d) => h('li', {}, d))) : null),
    ),
  );
  return h(
    'div',
    { class: `answer ${e.allowed ? 'answer-allowed' : 'answer-denied'}`, 'data-testid': 'access-result' },
    h('h2', {}, verdict, ' ', `${e.source.namespace}/${e.source.name} → ${dest} `, h('span', { class: 'mono' }, `${e.request.method} ${e.request.path}`)),
    e.allowed
      ? h('p', { 'data-testid': 'access-rule' }, 'Allowed by ', h('strong', {}, ruleText(e.rule)), '.')
      : h('p', { 'data-testid': 'access-reason' }, h('strong', {}, 'Reason: '), e.reason),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'source identity'),
      h('dd', { class: 'mono' }, `${e.source.identity} (${e.source.kind} ${e.source.namespace}/${e.source.name})`),
      h('dt', {}, 'route'),
      h('dd', { class: 'mono' }, e.route ?? '–'),
      h('dt', {}, 'access mode'),
      h('dd', {}, e.accessMode),
      e.localReply ? [h('dt', {}, 'answered by the client sidecar'), h('dd', {}, `${e.localReply.status}: ${e.localReply.body}`)] : null,
    ),
    e.backends.length > 0 ? table('Where the call lands, and what each destination sidecar decides', ['destination', 'share', 'service account', 'decision', 'rule or reason'], backends, { 'data-testid': 'access-backends' }) : null,
    e.notes.length > 0 ? h('ul', { class: 'notes' }, e.notes.map((n) => h('li', {}, n))) : null,
  );
}

export async function renderAccess(main, _args, query) {
  const from = h('input', { id: 'access-from', name: 'from', required: true, list: 'access-sources', value: query.get('from') ?? '', placeholder: 'bookbuyer/bookbuyer', autocomplete: 'off', 'data-testid': 'access-from', 'aria-describedby': 'access-from-hint' });
  const to = h('input', { id: 'access-to', name: 'to', required: true, list: 'access-destinations', value: query.get('to') ?? '', placeholder: 'bookstore/bookstore', autocomplete: 'off', 'data-testid': 'access-to', 'aria-describedby': 'access-to-hint' });
  const method = h('select', { id: 'access-method', name: 'method', 'data-testid': 'access-method' }, METHODS.map((m) => h('option', { value: m, selected: (query.get('method') ?? 'GET') === m }, m)));
  const path = h('input', { id: 'access-path', name: 'path', value: query.get('path') ?? '/', 'data-testid': 'access-path' });
  const port = h('input', { id: 'access-port', name: 'port', inputmode: 'numeric', pattern: '[0-9]*', value: query.get('port') ?? '', placeholder: 'first port', 'data-testid': 'access-port' });
  const headers = h('textarea', { id: 'access-headers', name: 'headers', rows: 3, placeholder: 'client-app: bookbuyer', 'data-testid': 'access-headers', 'aria-describedby': 'access-headers-hint' }, query.getAll('header').join('\n'));
  const sources = h('datalist', { id: 'access-sources' });
  const destinations = h('datalist', { id: 'access-destinations' });
  const result = h('div', { 'aria-live': 'polite', 'data-testid': 'access-answer' });
  const submit = h('button', { type: 'submit', 'data-testid': 'access-submit' }, 'Check access');

  const params = () => {
    const p = new URLSearchParams({ from: from.value.trim(), to: to.value.trim(), method: method.value, path: path.value.trim() || '/' });
    if (port.value.trim()) p.set('port', port.value.trim());
    for (const line of headers.value.split('\n').map((l) => l.trim()).filter(Boolean)) p.append('header', line);
    return p;
  };
  const run = async (p) => {
    replace(result, h('p', {}, 'checking…'));
    try {
      const q = Object.fromEntries([...p.entries()].filter(([k]) => k !== 'header'));
      q.header = p.getAll('header');
      replace(result, explanationView(await api.access(q)));
    } catch (err) {
      replace(result, notice('error', explainError(err, 'The check failed')));
    }
  };
  const form = h(
    'form',
    {
      class: 'access-form',
      'data-testid': 'access-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        const p = params();
        const hash = `#/access?${p.toString()}`;
        if (location.hash === hash) void run(p);
        else location.hash = hash; // the page is rendered again from the URL and runs the check
      },
    },
    h(
      'div',
      { class: 'fields' },
      field('access-from', 'From', from, 'namespace/name of a workload, gateway, service or service account'),
      field('access-to', 'To', to, 'namespace/name of a service'),
      field('access-method', 'Method', method),
      field('access-path', 'Path', path),
      field('access-port', 'Port', port),
    ),
    field('access-headers', 'Headers', headers, 'one "name: value" per line (SMI matches may require some)'),
    submit,
    sources,
    destinations,
  );
  replace(main, h('h1', {}, 'Access explorer'), h('p', { class: 'hint' }, 'Can A reach B? The control plane routes the call as the caller’s sidecar would and evaluates the rules the destination’s sidecar runs.'), form, result);

  // Suggestions for the two names.
  void Promise.all([api.resources('Workload'), api.resources('Gateway').catch(() => ({ items: [] })), api.resources('Service')])
    .then(([w, g, svc]) => {
      const names = (items) => items.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort();
      replace(sources, [...names(w.items), ...names(g.items)].map((v) => h('option', { value: v })));
      replace(destinations, names(svc.items).map((v) => h('option', { value: v })));
    })
    .catch(() => {});
  if (query.get('from') && query.get('to')) void run(query);
  return () => {};
}
