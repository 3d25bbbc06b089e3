// Gateway API HTTPRoutes with a Service parent (GAMMA) in the compiler: the
// spec's precedence between matches and routes, producer and consumer
// routes, ports, invalid backends, filters, and precedence over TrafficSplit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileSnapshots } from '../../src/compiler/compile.js';
import type { RouteConfig, Snapshot, VirtualHost } from '../../src/compiler/snapshot.js';
import type { Resource } from '../../src/resources/types.js';
import { createdAt, instance, manifests } from './support.js';

const svc = (ns: string, name: string, ports = '{name: http, port: 80, targetPort: web}') => `
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [${ports}]
`;

const route = (name: string, body: string, ns = 'shop') => `
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
${body}`;

function mesh(...extra: string[]): Resource[] {
  return [
    ...manifests(svc('shop', 'echo', '{name: http, port: 80, targetPort: web}, {name: alt, port: 8080, targetPort: web}') + svc('shop', 'v1') + svc('shop', 'v2') + svc('shop', 'v3') + extra.join('')),
    ...['echo', 'v1', 'v2', 'v3'].map((w, i) => instance({ namespace: 'shop', workload: w, ports: [['web', 8081 + i, 16001 + i]] })),
    instance({ namespace: 'shop', workload: 'client', ports: [] }),
    instance({ namespace: 'other', workload: 'client', ports: [] }),
  ];
}

function snap(resources: readonly Resource[], id = 'shop/client-0'): Snapshot {
  const s = compileSnapshots(resources).snapshots.get(id);
  assert.ok(s, `no snapshot for ${id}`);
  return s;
}
function vhost(s: Snapshot, name = 'shop/echo:80'): VirtualHost {
  const v = s.outbound.virtualHosts.find((x) => x.name === name);
  assert.ok(v, `no virtual host ${name}`);
  return v;
}
const target = (r: RouteConfig) => (r.action.kind === 'clusters' ? r.action.clusters.map((c) => c.cluster).join(',') : r.action.kind);
const messages = (resources: readonly Resource[]) => compileSnapshots(resources).diagnostics.map((d) => `${d.kind}/${d.name}: ${d.message}`);

describe('compiler: HTTPRoute with a Service parent', () => {
  it('orders exact paths before prefixes and longer prefixes first', () => {
    const r = mesh(
      route(
        'order',
        `  parentRefs: [{group: "", kind: Service, name: echo}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /match/}}]
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /match/prefix/one}}]
    backendRefs: [{name: v2, port: 80}]
  - matches: [{path: {type: Exact, value: /match}}]
    backendRefs: [{name: v3, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /match/prefix/}}]
    backendRefs: [{name: v1, port: 80}]
`,
      ),
    );
    const routes = vhost(snap(r)).routes;
    assert.deepEqual(
      routes.map((x) => [x.matches?.[0]?.pathExact ?? x.matches?.[0]?.pathPrefix, target(x)]),
      [
        ['/match', 'shop/v3:80'],
        ['/match/prefix/one', 'shop/v2:80'],
        ['/match/prefix', 'shop/v1:80'],
        ['/match', 'shop/v1:80'],
      ],
    );
  });

  it('breaks ties by method, then header count, then query count, then rule order', () => {
    const r = mesh(
      route(
        'ties',
        `  parentRefs: [{group: "", kind: Service, name: echo}]
  rules:
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: v2, port: 80}]
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: v1, port: 80}]
  - matches: [{queryParams: [{name: animal, value: whale}]}]
    backendRefs: [{name: v3, port: 80}]
  - matches: [{method: POST}]
    backendRefs: [{name: v1, port: 80}]
  - matches: [{headers: [{name: color, value: blue}]}]
    backendRefs: [{name: v3, port: 80}]
`,
      ),
    );
    const routes = vhost(snap(r)).routes;
    assert.deepEqual(
      routes.map((x) => x.name),
      ['httproute:shop/ties/3', 'httproute:shop/ties/1', 'httproute:shop/ties/0', 'httproute:shop/ties/4', 'httproute:shop/ties/2'],
    );
  });

  it('orders routes by age, then by namespace/name, when their matches tie', () => {
    const [a, b, c] = ['b-route', 'a-route', 'c-route'].map(
      (n) => manifests(route(n, `  parentRefs: [{group: "", kind: Service, name: echo}]\n  rules: [{backendRefs: [{name: v1, port: 80}]}]\n`))[0]!,
    );
    createdAt(a!, '2026-01-01T00:00:00Z');
    createdAt(b!, '2026-01-02T00:00:00Z');
    createdAt(c!, '2026-01-02T00:00:00Z');
    const routes = vhost(snap([...mesh(), c!, b!, a!])).routes;
    assert.deepEqual(routes.map((x) => x.name), ['httproute:shop/b-route/0', 'httproute:shop/a-route/0', 'httproute:shop/c-route/0']);
  });

  it('applies a route with a parent port only to that port, and one without to every port', () => {
    const r = mesh(
      route('p80', `  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]\n  rules: [{backendRefs: [{name: v1, port: 80}]}]\n`),
    );
    const s = snap(r);
    assert.equal(target(vhost(s, 'shop/echo:80').routes[0]!), 'shop/v1:80');
    assert.equal(target(vhost(s, 'shop/echo:8080').routes[0]!), 'shop/echo:8080');
  });

  it('attaches by sectionName (the Service port name), and reports a parent port that does not exist', () => {
    const r = mesh(
      route('by-name', `  parentRefs: [{group: "", kind: Service, name: echo, sectionName: alt}]\n  rules: [{backendRefs: [{name: v1, port: 80}]}]\n`),
      route('no-port', `  parentRefs: [{group: "", kind: Service, name: echo, port: 9999}]\n  rules: [{backendRefs: [{name: v2, port: 80}]}]\n`),
    );
    const s = snap(r);
    assert.equal(target(vhost(s, 'shop/echo:80').routes[0]!), 'shop/echo:80');
    assert.equal(target(vhost(s, 'shop/echo:8080').routes[0]!), 'shop/v1:80');
    assert.ok(messages(r).some((m) => m === 'HTTPRoute/no-port: parent Service shop/echo has no port 9999 (NoMatchingParent)'));
  });

  it('lets a consumer route change only its own namespace', () => {
    const r = mesh(route('mine', `  parentRefs: [{group: "", kind: Service, name: echo, namespace: shop}]\n  rules: [{backendRefs: [{name: v2, namespace: shop, port: 80}]}]\n`, 'other'));
    const inShop = buildVh(snap(r, 'shop/client-0'));
    const inOther = buildVh(snap(r, 'other/client-0'));
    assert.equal(inShop, 'shop/echo:80');
    assert.equal(inOther, 'shop/v2:80');
  });

  it('answers 500 for the share of an invalid backend and for a rule without backends', () => {
    const r = mesh(
      route(
        'bad',
        `  parentRefs: [{group: "", kind: Service, name: echo}]
  rules:
  - matches: [{path: {type: Exact, value: /missing}}]
    backendRefs: [{name: v1, port: 80, weight: 1}, {name: ghost, port: 80, weight: 1}]
  - matches: [{path: {type: Exact, value: /kind}}]
    backendRefs: [{group: example.com, kind: Bucket, name: v1}]
  - matches: [{path: {type: Exact, value: /none}}]
`,
      ),
    );
    const routes = vhost(snap(r)).routes;
    const missing = routes.find((x) => x.matches?.[0]?.pathExact === '/missing')!;
    assert.equal(missing.action.kind, 'clusters');
    if (missing.action.kind === 'clusters') {
      assert.equal(missing.action.clusters[1]!.cluster, '');
      assert.match(missing.action.clusters[1]!.invalid!, /BackendNotFound/);
    }
    const kind = routes.find((x) => x.matches?.[0]?.pathExact === '/kind')!;
    assert.equal(kind.action.kind, 'respond');
    if (kind.action.kind === 'respond') {
      assert.equal(kind.action.status, 500);
      assert.match(kind.action.body, /InvalidKind/);
    }
    const none = routes.find((x) => x.matches?.[0]?.pathExact === '/none')!;
    assert.deepEqual(none.action.kind === 'respond' && none.action.status, 500);
    assert.ok(messages(r).some((m) => /ghost.*BackendNotFound/.test(m)));
  });

  it('compiles filters, redirects and timeouts', () => {
    const r = mesh(
      route(
        'filters',
        `  parentRefs: [{group: "", kind: Service, name: echo}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: example.com, statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
  - matches: [{path: {type: PathPrefix, value: /api}}]
    timeouts: {request: 500ms, backendRequest: 200ms}
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Set, value: a}], add: [{name: X-Add, value: b}], remove: [X-Gone]}
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: v3, port: 80}}
    backendRefs:
    - name: v1
      port: 80
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier: {set: [{name: X-Backend, value: v1}]}
`,
      ),
    );
    const routes = vhost(snap(r)).routes;
    const old = routes.find((x) => x.matches?.[0]?.pathPrefix === '/old')!;
    assert.deepEqual(old.action, { kind: 'redirect', status: 301, scheme: 'https', hostname: 'example.com', path: { kind: 'prefix', prefix: '/new' } });
    const api = routes.find((x) => x.matches?.[0]?.pathPrefix === '/api')!;
    assert.deepEqual(api.timeouts, { requestMs: 500, backendRequestMs: 200 });
    assert.deepEqual(api.filters, {
      requestHeaders: { set: [['x-set', 'a']], add: [['x-add', 'b']], remove: ['x-gone'] },
      rewrite: { path: { kind: 'prefix', prefix: '/' } },
      mirrors: [{ cluster: 'shop/v3:80', percent: 100 }],
    });
    assert.deepEqual(api.action, {
      kind: 'clusters',
      clusters: [{ cluster: 'shop/v1:80', weight: 1, filters: { responseHeaders: { set: [['x-backend', 'v1']], add: [], remove: [] } } }],
    });
  });

  it('takes precedence over a TrafficSplit of the same Service, and says so', () => {
    const r = mesh(
      route('r', `  parentRefs: [{group: "", kind: Service, name: echo}]\n  rules: [{backendRefs: [{name: v1, port: 80}]}]\n`),
      `
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s, namespace: shop}
spec:
  service: echo
  backends: [{service: v2, weight: 1}]
`,
    );
    assert.equal(target(vhost(snap(r)).routes[0]!), 'shop/v1:80');
    assert.ok(messages(r).some((m) => m.startsWith('TrafficSplit/s: ignored on port 80: HTTPRoute shop/r')));
  });

  it('reports a parent Service that does not exist', () => {
    const r = mesh(route('orphan', `  parentRefs: [{group: "", kind: Service, name: nowhere}]\n  rules: [{backendRefs: [{name: v1, port: 80}]}]\n`));
    assert.ok(messages(r).some((m) => /HTTPRoute\/orphan: parent Service shop\/nowhere does not exist/.test(m)));
  });
});

function buildVh(s: Snapshot): string {
  const vh = vhost(s);
  const routes = vh.consumerRoutes?.[s.node.namespace] ?? vh.routes;
  return target(routes[0]!);
}
