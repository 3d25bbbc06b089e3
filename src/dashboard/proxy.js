// Proxies: every sidecar and gateway with its distribution state (GET
// /v1/status), and one proxy's page: the snapshot it runs (its /config_dump,
// fetched by the control plane), version and ACK state, certificate expiry.

import { api, explainError } from './api.js';
import { badge, fmtRelative, h, notice, replace, shortVersion, table } from './dom.js';

/** ACK state of a proxy: in sync, waiting for an ACK, or the last version rejected. */
export function ackState(p) {
  if (!p.version) return { kind: 'idle', text: 'no snapshot sent' };
  if (p.nackedVersion && p.nackedVersion === p.version) return { kind: 'bad', text: `NACK: ${p.nackError ?? 'rejected'}` };
  if (p.ackedVersion === p.version) return { kind: 'ok', text: 'ACK (in sync)' };
  return { kind: 'warn', text: p.ackedVersion ? 'applying a newer version' : 'waiting for ACK' };
}

function certState(notAfter) {
  if (!notAfter) return badge('idle', 'no certificate');
  const left = Date.parse(notAfter) - Date.now();
  const kind = left <= 0 ? 'bad' : left < 3_600_000 ? 'warn' : 'ok';
  return badge(kind, `${left <= 0 ? 'expired' : 'expires'} ${fmtRelative(notAfter)}`, { title: notAfter });
}

function proxyHref(id) {
  const [ns, name] = id.split('/');
  return `#/proxy/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
}

export async function renderProxies(main, _args, query) {
  const workload = query.get('workload') ?? '';
  const body = h('div', {}, h('p', {}, 'loading…'));
  replace(main, h('h1', {}, 'Proxies'), workload ? h('p', {}, `Workload ${workload} · `, h('a', { href: '#/proxies' }, 'all proxies')) : null, body);
  const controller = new AbortController();
  let timer;
  const load = async () => {
    try {
      const st = await api.status({ signal: controller.signal });
      const instances = new Map(st.instances.map((i) => [`${i.metadata.namespace}/${i.metadata.name}`, i]));
      const proxies = st.proxies
        .filter((p) => !workload || `${p.namespace}/${p.workload}` === workload)
        .sort((a, b) => a.id.localeCompare(b.id));
      const rows = proxies.map((p) => {
        const ack = ackState(p);
        const inst = instances.get(p.id);
        return h(
          'tr',
          { 'data-testid': 'proxy-row', 'data-proxy-id': p.id },
          h('td', {}, h('a', { href: proxyHref(p.id), class: 'mono' }, p.id)),
          h('td', {}, inst?.spec.gateway ? `gateway ${inst.spec.gateway}` : p.workload),
          h('td', {}, p.connected ? badge('ok', 'connected') : badge('bad', 'disconnected')),
          h('td', { class: 'mono' }, shortVersion(p.version)),
          h('td', {}, badge(ack.kind, ack.text)),
          h('td', {}, certState(p.certNotAfter)),
          h('td', {}, inst ? (inst.spec.ready ? badge('ok', 'ready') : badge('warn', 'not ready')) : '–'),
        );
      });
      replace(body, table('', ['proxy', 'workload', 'control plane', 'snapshot', 'ACK state', 'certificate', 'instance'], rows, { 'data-testid': 'proxy-table' }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(body, notice('error', explainError(err, 'Proxies')));
    }
    timer = setTimeout(load, 5000);
  };
  void load();
  return () => {
    clearTimeout(timer);
    controller.abort();
  };
}

function listenersTable(snapshot) {
  return table(
    'Inbound listeners',
    ['listener', 'port → app port', 'protocol', 'services', 'access'],
    (snapshot.inbound ?? []).map((l) => [
      l.name,
      `${l.port} → ${l.appPort}`,
      l.protocol,
      l.services.join(', ') || '–',
      `${l.authz.mode}: ${l.authz.rules.length} TrafficTarget${l.authz.rules.length === 1 ? '' : 's'}${l.authz.rules.length ? ` (${l.authz.rules.map((r) => r.target).join(', ')})` : ''}`,
    ]),
    { 'data-testid': 'proxy-listeners' },
  );
}

function routeAction(r) {
  const a = r.action;
  if (a.kind === 'clusters') return a.clusters.map((c) => (c.invalid ? `invalid (${c.invalid})` : `${c.cluster}${a.clusters.length > 1 ? ` ×${c.weight}` : ''}`)).join(', ');
  if (a.kind === 'respond') return `answer ${a.status}`;
  return `redirect ${a.status}`;
}

function vhostTable(snapshot) {
  const rows = (snapshot.outbound?.virtualHosts ?? []).map((v) => [
    h('span', { class: 'mono' }, v.name),
    v.protocol,
    v.routes.map((r) => `${r.name}: ${routeAction(r)}`).join('; '),
    v.policy?.sources?.join(', ') || '–',
  ]);
  return table('Outbound virtual hosts', ['virtual host', 'protocol', 'routes', 'policies'], rows, { 'data-testid': 'proxy-vhosts' });
}

function clusterTable(snapshot, endpoints) {
  const rows = (snapshot.clusters ?? []).map((c) => {
    const live = new Map((endpoints?.[c.name] ?? []).map((e) => [e.instance, e]));
    const eps = c.endpoints.map((e) => {
      const s = live.get(e.instance);
      const state = !s ? 'idle' : s.ejected ? 'bad' : s.healthy ? 'ok' : 'warn';
      const text = !s ? '?' : s.ejected ? 'ejected' : s.healthy ? 'healthy' : 'unhealthy';
      return h('div', {}, h('span', { class: 'mono' }, `${e.instance} ${e.address}:${e.port}`), e.zone ? ` zone ${e.zone} ` : ' ', badge(state, text), s && s.active ? ` ${s.active} active` : '');
    });
    return [h('span', { class: 'mono' }, c.name), c.protocol, eps.length ? eps : 'no ready endpoint', c.policy?.sources?.join(', ') || '–'];
  });
  return table('Clusters and endpoints (health as this proxy sees it)', ['cluster', 'protocol', 'endpoints', 'policies'], rows, { 'data-testid': 'proxy-clusters' });
}

export async function renderProxy(main, [ns, name]) {
  const id = `${ns}/${name}`;
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/proxies' }, 'Proxies'), ' / ', id);
  const title = h('h1', {}, 'Proxy ', h('span', { class: 'mono', 'data-testid': 'proxy-id' }, id));
  replace(main, crumbs, title, h('p', {}, 'loading…'));
  const [status, dump] = await Promise.allSettled([api.status(), api.configDump(id)]);
  const out = [crumbs, title];
  const p = status.status === 'fulfilled' ? status.value.proxies.find((x) => x.id === id) : undefined;
  const inst = status.status === 'fulfilled' ? status.value.instances.find((i) => `${i.metadata.namespace}/${i.metadata.name}` === id) : undefined;
  if (status.status === 'rejected') out.push(notice('error', explainError(status.reason, 'Status')));
  const d = dump.status === 'fulfilled' ? dump.value : undefined;
  const running = d?.snapshot?.version;
  const ack = p ? ackState(p) : undefined;
  out.push(
    h(
      'dl',
      { class: 'facts', 'data-testid': 'proxy-facts' },
      h('dt', {}, 'workload'),
      h('dd', {}, p?.workload ?? inst?.spec.workload ?? '–', inst?.spec.gateway ? ` (gateway ${inst.spec.gateway})` : ''),
      h('dt', {}, 'identity'),
      h('dd', { class: 'mono' }, p?.identity ?? d?.snapshot?.node?.identity ?? '–'),
      h('dt', {}, 'control plane'),
      h('dd', {}, p ? (p.connected ? badge('ok', 'connected') : badge('bad', 'disconnected')) : '–', p?.lastSeen ? ` · last seen ${fmtRelative(p.lastSeen)}` : ''),
      h('dt', {}, 'snapshot sent'),
      h('dd', { class: 'mono', 'data-testid': 'proxy-version' }, p?.version ?? '–'),
      h('dt', {}, 'snapshot running'),
      h('dd', { class: 'mono', 'data-testid': 'proxy-running-version' }, running ?? (d ? 'none yet' : '–')),
      h('dt', {}, 'ACK state'),
      h('dd', { 'data-testid': 'proxy-ack' }, ack ? badge(ack.kind, ack.text) : '–', p?.ackedVersion ? h('span', { class: 'mono' }, ` acked ${shortVersion(p.ackedVersion)}`) : '', p?.nackedVersion ? h('span', { class: 'mono' }, ` · rejected ${shortVersion(p.nackedVersion)}: ${p.nackError ?? ''}`) : ''),
      h('dt', {}, 'certificate'),
      h('dd', { 'data-testid': 'proxy-cert' }, certState(d?.certificate?.notAfter ?? p?.certNotAfter), ' ', h('span', { class: 'mono' }, d?.certificate?.notAfter ?? p?.certNotAfter ?? '')),
      inst ? [h('dt', {}, 'ports'), h('dd', { class: 'mono' }, `inbound ${inst.spec.ports.map((x) => `${x.inboundPort}→${x.port}`).join(', ') || '–'} · outbound ${inst.spec.outboundPort} · admin ${inst.spec.adminPort}`)] : null,
      inst?.spec.zone ? [h('dt', {}, 'zone'), h('dd', {}, inst.spec.zone)] : null,
    ),
  );
  if (dump.status === 'rejected') out.push(notice('error', explainError(dump.reason, 'The sidecar’s config dump')));
  else if (!d.snapshot) out.push(notice('warn', 'The proxy has no snapshot yet.'));
  else {
    out.push(h('h2', {}, 'The snapshot it runs'), listenersTable(d.snapshot), vhostTable(d.snapshot), clusterTable(d.snapshot, d.endpoints));
    if (d.snapshot.gateway) {
      out.push(table('Gateway listeners', ['listener', 'port', 'protocol', 'hostname', 'virtual hosts'], d.snapshot.gateway.listeners.map((l) => [l.name, String(l.port), l.protocol, l.hostname ?? '*', l.virtualHosts.map((v) => v.domains.join(' ')).join('; ')])));
    }
    out.push(h('details', {}, h('summary', {}, 'Raw config dump (JSON)'), h('pre', { class: 'json', 'data-testid': 'proxy-json' }, JSON.stringify(d, null, 2))));
  }
  replace(main, out);
  return () => {};
}
