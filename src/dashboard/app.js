// The dashboard's entry: hash routing between pages. Each page module exports
// render(main, params) and may return a cleanup function (stopping its polls)
// that runs when the user leaves the page.
//
//   #/graph                    service graph (graph.js)
//   #/service/<ns>/<name>      service page (service.js)
//   #/access[?from=&to=&…]     access explorer (access.js)
//   #/proxies                  proxies (proxy.js)
//   #/proxy/<ns>/<instance>    one proxy (proxy.js)
//   #/traces[?service=]        recent traces (traces.js)
//   #/trace/<id>               one trace's waterfall (traces.js)

import { api } from './api.js';
import { h, replace } from './dom.js';

const routes = [
  { re: /^\/?$/, nav: 'graph', load: () => import('./graph.js').then((m) => m.renderGraph) },
  { re: /^\/graph$/, nav: 'graph', load: () => import('./graph.js').then((m) => m.renderGraph) },
  { re: /^\/service\/([^/]+)\/([^/]+)$/, nav: 'graph', load: () => import('./service.js').then((m) => m.renderService) },
  { re: /^\/access$/, nav: 'access', load: () => import('./access.js').then((m) => m.renderAccess) },
  { re: /^\/proxies$/, nav: 'proxies', load: () => import('./proxy.js').then((m) => m.renderProxies) },
  { re: /^\/proxy\/([^/]+)\/([^/]+)$/, nav: 'proxies', load: () => import('./proxy.js').then((m) => m.renderProxy) },
  { re: /^\/traces$/, nav: 'traces', load: () => import('./traces.js').then((m) => m.renderTraces) },
  { re: /^\/trace\/([^/]+)$/, nav: 'traces', load: () => import('./traces.js').then((m) => m.renderTrace) },
];

let cleanup;
let generation = 0;

/** `#/path?x=1` → { path, query }. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/graph';
  const q = raw.indexOf('?');
  return { path: q < 0 ? raw : raw.slice(0, q), query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

async function navigate() {
  const main = document.getElementById('main');
  const { path, query } = currentRoute();
  const mine = ++generation;
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const route = routes.find((r) => r.re.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!route) {
    replace(main, h('h1', {}, 'Not found'), h('p', {}, `No page ${path}. `, h('a', { href: '#/graph' }, 'Back to the service graph')));
    return;
  }
  const args = route.re.exec(path).slice(1).map(decodeURIComponent);
  const render = await route.load();
  if (mine !== generation) return;
  main.replaceChildren();
  const c = await render(main, args, query);
  if (mine !== generation) {
    if (typeof c === 'function') c();
    return;
  }
  cleanup = c;
}

/** The header's one-line mesh summary, refreshed every 10 s. */
async function meshStatus() {
  const el = document.getElementById('mesh-status');
  try {
    const st = await api.status();
    const connected = st.proxies.filter((p) => p.connected).length;
    replace(el, `revision ${st.revision} · ${connected}/${st.proxies.length} proxies connected`);
    el.dataset.state = 'ok';
  } catch (err) {
    replace(el, `control plane unreachable: ${err.message}`);
    el.dataset.state = 'error';
  }
}

window.addEventListener('hashchange', () => void navigate());
void navigate();
void meshStatus();
setInterval(() => void meshStatus(), 10_000);
