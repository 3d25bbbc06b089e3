// "Can A reach B?" on the bookstore demo's manifests: the explainer routes the
// call as the client sidecar would and authorises it with the rules the
// destination sidecar runs.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { compileSnapshots } from '../../src/compiler/compile.js';
import { AccessQueryError, explainAccess, summariseAccess, type AccessQuery } from '../../src/compiler/explain-access.js';
import { compileAuthorizer } from '../../src/proxy/authz.js';
import { loadManifests } from '../../src/resources/load.js';
import type { Resource } from '../../src/resources/types.js';
import { examplesDir } from '../support/paths.js';
import { instance, manifests } from './support.js';

const BUYER_HEADERS = { 'User-Agent': 'bookbuyer-http-client/1.0', 'client-app': 'bookbuyer' };
let bookstore: Resource[];

async function load(file: string): Promise<Resource[]> {
  const r = await loadManifests(path.join(examplesDir, 'bookstore', file));
  assert.deepEqual(r.errors, []);
  return r.resources;
}

/** Later objects replace earlier ones of the same kind/namespace/name, as apply does. */
function withApplied(base: Resource[], extra: Resource[]): Resource[] {
  const key = (r: Resource) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
  const replaced = new Set(extra.map(key));
  return [...base.filter((r) => !replaced.has(key(r))), ...extra];
}

describe('explainAccess on the bookstore demo', () => {
  before(async () => {
    bookstore = await load('mesh');
  });

  it('allows bookbuyer → bookstore GET /books-bought by TrafficTarget bookstore and its books-bought match', () => {
    const e = explainAccess(bookstore, { from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', path: '/books-bought', headers: BUYER_HEADERS });
    assert.equal(e.allowed, true);
    assert.deepEqual(e.rule, {
      trafficTarget: 'bookstore/bookstore',
      match: 'bookstore/bookstore-service-routes/books-bought',
      text: 'bookstore/bookstore (bookstore/bookstore-service-routes/books-bought)',
    });
    assert.equal(e.route, 'split:bookstore/bookstore-split');
    assert.deepEqual(e.source, {
      namespace: 'bookbuyer',
      name: 'bookbuyer',
      kind: 'Workload',
      serviceAccount: 'bookbuyer/bookbuyer',
      identity: 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer',
    });
    assert.deepEqual(e.destination, { namespace: 'bookstore', name: 'bookstore', kind: 'Service', port: 14001, protocol: 'http' });
    // The 100/0 split sends every call to v1.
    assert.deepEqual(e.backends.map((b) => [b.service, b.serviceAccount, b.percent, b.allowed]), [['bookstore/bookstore:14001', 'bookstore/bookstore', 100, true]]);
    assert.match(summariseAccess(e), /^allowed: bookbuyer\/bookbuyer → bookstore\/bookstore:14001 GET \/books-bought \(TrafficTarget bookstore\/bookstore, match bookstore\/bookstore-service-routes\/books-bought\)$/);
  });

  it('denies bookthief → bookstore with the reason the sidecar gives', () => {
    const e = explainAccess(bookstore, { from: 'bookthief/bookthief', to: 'bookstore/bookstore', method: 'get', path: '/books-bought' });
    assert.equal(e.allowed, false);
    assert.equal(e.rule, undefined);
    assert.equal(e.backends[0]!.reason, 'no TrafficTarget allows spiffe://cluster.local/ns/bookthief/sa/bookthief to reach this destination');
    assert.match(e.reason!, /bookstore\/bookstore:14001 \(service account bookstore\/bookstore\): no TrafficTarget allows spiffe:\/\/cluster.local\/ns\/bookthief\/sa\/bookthief/);
    assert.match(summariseAccess(e), /^denied: bookthief\/bookthief → bookstore\/bookstore:14001 GET \/books-bought: /);
  });

  it('says which condition of each match failed (the buyer without its headers)', () => {
    const e = explainAccess(bookstore, { from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', path: '/books-bought' });
    assert.equal(e.allowed, false);
    assert.equal(e.backends[0]!.reason, 'GET /books-bought matches no route that TrafficTarget bookstore/bookstore allows for this source');
    const details = e.backends[0]!.details!;
    assert.ok(details.some((d) => d.includes('match bookstore/bookstore-service-routes/books-bought') && d.includes('header client-app is missing')), details.join('\n'));
    assert.ok(details.some((d) => d.includes('match bookstore/bookstore-service-routes/buy-a-book') && d.includes('path /books-bought does not match')), details.join('\n'));
  });

  it('follows the 50/50 split: both versions are checked, each with its own service account', async () => {
    const rs = withApplied(bookstore, await load('split-50-50.yaml'));
    const e = explainAccess(rs, { from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', path: '/buy-a-book/new' });
    assert.equal(e.allowed, true);
    assert.deepEqual(
      e.backends.map((b) => [b.service, b.serviceAccount, b.percent, b.rule?.trafficTarget]),
      [
        ['bookstore/bookstore:14001', 'bookstore/bookstore', 50, 'bookstore/bookstore'],
        ['bookstore/bookstore-v2:14001', 'bookstore/bookstore-v2', 50, 'bookstore/bookstore-v2'],
      ],
    );
  });

  it('reports a partial answer when the split sends half of the calls where the source is not allowed', async () => {
    const rs = withApplied(bookstore, [...(await load('split-50-50.yaml')), ...(await load('allow-thief.yaml'))]);
    const e = explainAccess(rs, { from: 'bookthief/bookthief', to: 'bookstore/bookstore', path: '/buy-a-book/new' });
    assert.equal(e.allowed, false);
    assert.equal(e.partial, true);
    assert.deepEqual(e.backends.map((b) => [b.serviceAccount, b.allowed, b.rule?.trafficTarget ?? null]), [
      ['bookstore/bookstore', true, 'bookstore/bookstore-allow-thief'],
      ['bookstore/bookstore-v2', false, null],
    ]);
    assert.match(e.reason!, /^50% of the calls are denied: bookstore\/bookstore-v2:14001/);
  });

  it('accepts a Gateway and a Service as the source, and a bare name in the given namespace', () => {
    const gw = explainAccess(bookstore, { from: 'bookstore/bookstore-gateway', to: 'bookstore/bookstore', path: '/books-bought' });
    assert.equal(gw.source.kind, 'Gateway');
    assert.equal(gw.allowed, true);
    assert.equal(gw.rule?.trafficTarget, 'bookstore/gateway-to-bookstore');
    // Service bookstore selects the Workload bookstore-v1 (service account bookstore).
    const svc = explainAccess(bookstore, { from: 'bookstore', to: 'bookwarehouse/bookwarehouse', method: 'POST', path: '/restock-books', namespace: 'bookstore' });
    assert.equal(svc.source.kind, 'Service');
    assert.equal(svc.source.serviceAccount, 'bookstore/bookstore');
    assert.equal(svc.rule?.trafficTarget, 'bookwarehouse/bookstore-access-bookwarehouse');
    const get = explainAccess(bookstore, { from: 'bookstore/bookstore-v1', to: 'bookwarehouse/bookwarehouse', method: 'GET', path: '/restock-books' });
    assert.equal(get.allowed, false);
    assert.ok(get.backends[0]!.details!.some((d) => d.includes('method GET is not POST')));
  });

  it('rejects unknown names and ports with coded errors', () => {
    const code = (q: AccessQuery) => {
      try {
        explainAccess(bookstore, q);
      } catch (err) {
        assert.ok(err instanceof AccessQueryError);
        return err.code;
      }
      return 'no error';
    };
    assert.equal(code({ from: 'nowhere/nobody', to: 'bookstore/bookstore' }), 'TRELLIS_E_RESOURCE_NOT_FOUND');
    assert.equal(code({ from: 'bookbuyer/bookbuyer', to: 'bookstore/nothing' }), 'TRELLIS_E_RESOURCE_NOT_FOUND');
    assert.equal(code({ from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', port: 80 }), 'TRELLIS_E_BAD_REQUEST');
    assert.equal(code({ from: 'a/b/c', to: 'bookstore/bookstore' }), 'TRELLIS_E_BAD_REQUEST');
    assert.equal(code({ from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', path: 'books' }), 'TRELLIS_E_BAD_REQUEST');
  });

  it('decides as the destination sidecar does on its compiled snapshot (running instances)', () => {
    const rs = [
      ...bookstore,
      instance({ namespace: 'bookstore', workload: 'bookstore-v1', serviceAccount: 'bookstore', labels: { app: 'bookstore', version: 'v1' }, ports: [['web', 8081, 18081]] }),
      instance({ namespace: 'bookbuyer', workload: 'bookbuyer', labels: { app: 'bookbuyer' }, ports: [['web', 8082, 18082]], outboundPort: 15100 }),
    ];
    const snap = compileSnapshots(rs).snapshots.get('bookstore/bookstore-v1-0')!;
    const authorizer = compileAuthorizer(snap.inbound[0]!.authz);
    const cases: [string, string, string, Record<string, string>][] = [
      ['bookbuyer/bookbuyer', 'GET', '/books-bought', BUYER_HEADERS],
      ['bookbuyer/bookbuyer', 'GET', '/books-bought', {}],
      ['bookbuyer/bookbuyer', 'GET', '/buy-a-book/new', {}],
      ['bookbuyer/bookbuyer', 'POST', '/buy-a-book/new', {}],
      ['bookthief/bookthief', 'GET', '/buy-a-book/new', {}],
    ];
    for (const [from, method, p, headers] of cases) {
      const e = explainAccess(rs, { from, to: 'bookstore/bookstore', method, path: p, headers });
      const [ns, sa] = from.split('/');
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const d = authorizer.http(`spiffe://cluster.local/ns/${ns}/sa/${sa}`, 8081, { method, headers: lower, target: p }, p);
      assert.equal(e.allowed, d.allowed, `${from} ${method} ${p}`);
      assert.equal(e.backends[0]!.appPort, 8081);
      if (d.allowed) assert.equal(e.rule?.text, d.rule);
      else assert.equal(e.backends[0]!.reason, d.reason);
    }
  });

  it('allows everything from the mesh when the access mode is permissive', () => {
    const mesh = manifests(`
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {access: {mode: permissive}}
`);
    const e = explainAccess([...bookstore, ...mesh], { from: 'bookthief/bookthief', to: 'bookstore/bookstore', path: '/books-bought' });
    assert.equal(e.allowed, true);
    assert.equal(e.accessMode, 'permissive');
    assert.deepEqual(e.rule, { text: 'access mode permissive' });
  });

  it('follows HTTPRoute matches to the backend they name, and reports a path no rule matches', () => {
    const route = manifests(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: v2-only, namespace: bookstore}
spec:
  parentRefs: [{group: "", kind: Service, name: bookstore, port: 14001}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /buy-a-book}}]
    backendRefs: [{name: bookstore-v2, port: 14001}]
`);
    const rs = [...bookstore, ...route];
    const e = explainAccess(rs, { from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', path: '/buy-a-book/new' });
    assert.equal(e.route, 'httproute:bookstore/v2-only/0');
    assert.deepEqual(e.backends.map((b) => b.serviceAccount), ['bookstore/bookstore-v2']);
    assert.equal(e.allowed, true);
    const none = explainAccess(rs, { from: 'bookbuyer/bookbuyer', to: 'bookstore/bookstore', path: '/elsewhere' });
    assert.equal(none.allowed, false);
    assert.equal(none.localReply?.status, 404);
    assert.match(none.reason!, /no route of bookstore\/bookstore:14001 matches GET \/elsewhere/);
  });
});
