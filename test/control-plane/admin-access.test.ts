// The dashboard's admin routes: GET /v1/access (the access explorer),
// GET /v1/proxies/<id>/config_dump (a sidecar's config dump fetched by the
// control plane) and the static files under /dashboard/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DASHBOARD_FILES } from '../../src/control-plane/admin-dashboard.js';
import { loadManifests } from '../../src/resources/load.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { PROXIES, startAdmin, type RunningAdmin } from '../cli/fixtures.js';
import { instance } from '../compiler/support.js';
import { examplesDir } from '../support/paths.js';

let store: Store;
let admin: RunningAdmin;
let sidecarAdmin: http.Server;
let sidecarPort: number;

async function getJson(p: string): Promise<{ status: number; body: any }> {
  const res = await fetch(admin.url + p);
  return { status: res.status, body: await res.json() };
}

describe('admin API: access explorer, config dumps, dashboard files', () => {
  before(async () => {
    store = createMemoryStore();
    const r = await loadManifests(path.join(examplesDir, 'bookstore', 'mesh'));
    assert.deepEqual(r.errors, []);
    // A fake sidecar admin port answering /config_dump.
    sidecarAdmin = http.createServer((req, res) => {
      if (req.url === '/config_dump') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ proxyId: 'bookstore/bookstore-v1-0', snapshot: { version: 'abc' }, endpoints: {} }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => sidecarAdmin.listen(0, '127.0.0.1', resolve));
    sidecarPort = (sidecarAdmin.address() as AddressInfo).port;
    const inst = instance({ namespace: 'bookstore', workload: 'bookstore-v1', serviceAccount: 'bookstore', labels: { app: 'bookstore' }, outboundPort: sidecarPort - 1 });
    const gone = instance({ namespace: 'bookstore', workload: 'bookstore-v2', serviceAccount: 'bookstore-v2', labels: { app: 'bookstore-v2' }, outboundPort: 1 });
    await store.apply([...r.resources, inst, gone]);
    admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({ trustDomain: 'cluster.local' }) });
  });

  after(async () => {
    await admin.close();
    await store.close();
    await new Promise<void>((resolve) => sidecarAdmin.close(() => resolve()));
  });

  test('GET /v1/access allows bookbuyer → bookstore GET /books-bought with the buyer headers, naming the rule', async () => {
    const q = new URLSearchParams({ from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', method: 'GET', path: '/books-bought' });
    q.append('header', 'user-agent: bookbuyer-http-client/1.0');
    q.append('header', 'client-app: bookbuyer');
    const r = await getJson('/v1/access?' + q.toString());
    assert.equal(r.status, 200);
    assert.equal(r.body.allowed, true);
    assert.equal(r.body.rule.trafficTarget, 'bookstore/bookstore');
    assert.equal(r.body.rule.match, 'bookstore/bookstore-service-routes/books-bought');
    assert.equal(r.body.backends[0].appPort, 8080, 'the running instance gives the app port');
  });

  test('GET /v1/access denies the thief with the reason', async () => {
    const r = await getJson('/v1/access?from=bookthief/bookthief&to=bookstore/bookstore&path=/books-bought');
    assert.equal(r.status, 200);
    assert.equal(r.body.allowed, false);
    assert.match(r.body.reason, /no TrafficTarget allows spiffe:\/\/cluster.local\/ns\/bookthief\/sa\/bookthief to reach this destination/);
  });

  test('GET /v1/access answers coded errors', async () => {
    const missing = await getJson('/v1/access?from=bookthief/bookthief');
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'TRELLIS_E_BAD_REQUEST');
    const unknown = await getJson('/v1/access?from=x/y&to=bookstore/bookstore');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'TRELLIS_E_RESOURCE_NOT_FOUND');
    const port = await getJson('/v1/access?from=bookthief/bookthief&to=bookstore/bookstore&port=x');
    assert.equal(port.status, 400);
    const header = await getJson('/v1/access?from=bookthief/bookthief&to=bookstore/bookstore&header=nocolon');
    assert.equal(header.status, 400);
  });

  test('GET /v1/proxies/<ns>/<instance>/config_dump fetches the sidecar admin port', async () => {
    for (const p of ['/v1/proxies/bookstore/bookstore-v1-0/config_dump', '/v1/proxies/config_dump?id=bookstore/bookstore-v1-0']) {
      const r = await getJson(p);
      assert.equal(r.status, 200, p);
      assert.equal(r.body.proxyId, 'bookstore/bookstore-v1-0');
      assert.equal(r.body.snapshot.version, 'abc');
    }
    const none = await getJson('/v1/proxies/bookstore/nothing-0/config_dump');
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'TRELLIS_E_RESOURCE_NOT_FOUND');
    const down = await getJson('/v1/proxies/bookstore/bookstore-v2-0/config_dump');
    assert.equal(down.status, 502);
    assert.equal(down.body.error.code, 'TRELLIS_E_PROXY_UNREACHABLE');
    const other = await getJson('/v1/proxies/bookstore/bookstore-v1-0/other');
    assert.equal(other.status, 404);
  });

  test('serves the dashboard files with their content types, and nothing else', async () => {
    const redirect = await fetch(admin.url + '/dashboard', { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/dashboard/');
    const index = await fetch(admin.url + '/dashboard/');
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await index.text(), /<script type="module" src="app.js"><\/script>/);
    for (const [name, type] of Object.entries(DASHBOARD_FILES)) {
      const res = await fetch(`${admin.url}/dashboard/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('content-type'), type, name);
      assert.ok((await res.text()).length > 0, name);
    }
    for (const p of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/README.md', '/dashboard/x.js']) {
      const res = await fetch(admin.url + p);
      assert.equal(res.status, 404, p);
      await res.body?.cancel();
    }
  });
});
