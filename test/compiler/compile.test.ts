// Behaviour of compileSnapshots: traffic splits, authorisation rules, domains,
// endpoints and versions. Golden files show whole snapshots; these tests pin
// one rule each.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileSnapshots } from '../../src/compiler/compile.js';
import type { RouteConfig, Snapshot, VirtualHost } from '../../src/compiler/snapshot.js';
import type { Resource } from '../../src/resources/types.js';
import { createdAt, instance, manifests } from './support.js';

const svc = (ns: string, name: string, selector: string, ports: string) => `
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {${selector}}
  ports: [${ports}]
`;

const split = (name: string, root: string, backends: [string, number][], extra = '') => `
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: ${name}, namespace: shop}
spec:
  service: ${root}
  backends: [${backends.map(([s, w]) => `{service: ${s}, weight: ${w}}`).join(', ')}]
${extra}`;

/** Services web, web-v1, web-v2 (port 80) in namespace shop, one instance each version, and a client. */
function shop(...extra: string[]): Resource[] {
  return [
    ...manifests(
      svc('shop', 'web', 'app: web', '{name: http, port: 80, targetPort: web}') +
        svc('shop', 'web-v1', 'app: web, version: v1', '{name: http, port: 80, targetPort: web}') +
        svc('shop', 'web-v2', 'app: web, version: v2', '{name: http, port: 80, targetPort: web}') +
        extra.join(''),
    ),
    instance({ namespace: 'shop', workload: 'web-v1', serviceAccount: 'web', labels: { app: 'web', version: 'v1' }, ports: [['web', 8081, 16001]] }),
    instance({ namespace: 'shop', workload: 'web-v2', serviceAccount: 'web', labels: { app: 'web', version: 'v2' }, ports: [['web', 8082, 16002]] }),
    instance({ namespace: 'shop', workload: 'client', ports: [] }),
  ];
}

function snap(resources: readonly Resource[], id = 'shop/client-0'): Snapshot {
  const s = compileSnapshots(resources).snapshots.get(id);
  assert.ok(s, `no snapshot for ${id}`);
  return s;
}
function vhost(s: Snapshot, name: string): VirtualHost {
  const v = s.outbound.virtualHosts.find((x) => x.name === name);
  assert.ok(v, `no virtual host ${name}`);
  return v;
}
const routesOf = (resources: readonly Resource[], name = 'shop/web:80'): RouteConfig[] => vhost(snap(resources), name).routes;
const messages = (resources: readonly Resource[]) => compileSnapshots(resources).diagnostics.map((d) => `${d.kind}/${d.name}: ${d.message}`);

describe('compiler: traffic split', () => {
  it('keeps split weights as relative integers (1000/500)', () => {
    const routes = routesOf(shop(split('s', 'web', [['web-v1', 1000], ['web-v2', 500]])));
    assert.deepEqual(routes, [
      { name: 'split:shop/s', action: { kind: 'clusters', clusters: [{ cluster: 'shop/web-v1:80', weight: 1000 }, { cluster: 'shop/web-v2:80', weight: 500 }] } },
    ]);
  });

  it('leaves a backend of weight 0 out of the route', () => {
    const [route] = routesOf(shop(split('s', 'web', [['web-v1', 0], ['web-v2', 100]])));
    assert.deepEqual(route!.action, { kind: 'clusters', clusters: [{ cluster: 'shop/web-v2:80', weight: 100 }] });
  });

  it('answers 503 with a reason when every weight is 0', () => {
    const [route] = routesOf(shop(split('s', 'web', [['web-v1', 0], ['web-v2', 0]])));
    assert.equal(route!.action.kind, 'respond');
    assert.ok(route!.action.kind === 'respond');
    assert.equal(route!.action.status, 503);
    assert.match(route!.action.body, /TrafficSplit shop\/s has no backend that can take traffic \(every weight is 0\)/);
  });

  it('answers 503 naming the missing backend when no backend exists', () => {
    const rs = shop(split('s', 'web', [['web-v9', 100]]));
    const [route] = routesOf(rs);
    assert.ok(route!.action.kind === 'respond', 'expected a respond action');
    assert.equal(route!.action.status, 503);
    assert.match(route!.action.body, /backend service shop\/web-v9 does not exist/);
    assert.ok(messages(rs).some((m) => m.startsWith('TrafficSplit/s: backend service shop/web-v9 does not exist')));
  });

  it('excludes a backend that does not serve the root port, with a diagnostic', () => {
    const rs = shop(
      svc('shop', 'web-v3', 'app: web, version: v3', '{name: http, port: 8080, targetPort: web}'),
      split('s', 'web', [['web-v1', 50], ['web-v3', 50]]),
    );
    const [route] = routesOf(rs);
    assert.deepEqual(route!.action, { kind: 'clusters', clusters: [{ cluster: 'shop/web-v1:80', weight: 50 }] });
    assert.ok(messages(rs).some((m) => m.includes('backend service shop/web-v3 does not serve port 80 of the root service')));
  });

  it('lets the oldest of two splits on one root win and reports the other', () => {
    const [older] = manifests(split('zz-older', 'web', [['web-v1', 100]]));
    const [younger] = manifests(split('aa-younger', 'web', [['web-v2', 100]]));
    const rs = [...shop(), createdAt(younger!, '2024-05-02T00:00:00Z'), createdAt(older!, '2024-05-01T00:00:00Z')];
    const [route] = routesOf(rs);
    assert.equal(route!.name, 'split:shop/zz-older');
    assert.deepEqual(messages(rs), [
      'TrafficSplit/aa-younger: ignored: TrafficSplit shop/zz-older already splits service shop/web (the oldest split wins)',
    ]);
  });

  it('puts the A/B route (matches) before a default route to the root service', () => {
    const group = `
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: ab, namespace: shop}
spec:
  matches:
  - name: firefox
    headers: {user-agent: ".*Firefox.*"}
`;
    const routes = routesOf(shop(group, split('s', 'web', [['web-v2', 1]], '  matches: [{kind: HTTPRouteGroup, name: ab}]')));
    assert.deepEqual(routes.map((r) => [r.name, r.matches?.map((m) => m.name)]), [
      ['split:shop/s', ['shop/ab/firefox']],
      ['default', undefined],
    ]);
    assert.deepEqual(routes[1]!.action, { kind: 'clusters', clusters: [{ cluster: 'shop/web:80', weight: 1 }] });
  });

  it('applies to clients of the root service in every namespace', () => {
    const rs = [...shop(split('s', 'web', [['web-v2', 1]])), instance({ namespace: 'other', workload: 'far', ports: [] })];
    assert.equal(vhost(snap(rs, 'other/far-0'), 'shop/web:80').routes[0]!.name, 'split:shop/s');
  });

  it('reports a TrafficSplit whose root service does not exist', () => {
    const rs = shop(split('s', 'nosuch', [['web-v1', 1]]));
    assert.ok(messages(rs).some((m) => m.startsWith('TrafficSplit/s:') && m.includes('nosuch')), messages(rs).join('\n'));
  });

  const tcp = (ports: string) =>
    svc('shop', 'db', 'app: db', '{name: tcp-a, port: 5432, targetPort: 5432}, {name: tcp-b, port: 6432, targetPort: 6432}') +
    svc('shop', 'db-new', 'app: db-new', '{name: tcp-a, port: 5432, targetPort: 5432}, {name: tcp-b, port: 6432, targetPort: 6432}') +
    split('db-split', 'db', [['db-new', 1]], '  matches: [{kind: TCPRoute, name: only-5432}]') +
    (ports === '' ? '' : `
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: only-5432, namespace: shop}
spec: {matches: {ports: [${ports}]}}
`);

  it('splits a TCP root port named by the TCPRoute of `matches`', () => {
    assert.equal(routesOf(shop(tcp('5432')), 'shop/db:5432')[0]!.name, 'split:shop/db-split');
  });

  it('does not split a TCP port the TCPRoute of `matches` does not list', () => {
    const [route] = routesOf(shop(tcp('5432')), 'shop/db:6432');
    assert.deepEqual(route!.action, { kind: 'clusters', clusters: [{ cluster: 'shop/db:6432', weight: 1 }] });
  });

  it('reports a TCPRoute in `matches` that does not exist', () => {
    const rs = shop(tcp(''));
    assert.ok(messages(rs).some((m) => m.includes('only-5432')), messages(rs).join('\n'));
  });
});

describe('compiler: outbound domains, endpoints and ports', () => {
  it('compiles namespace-qualified domains, the same for clients of every namespace', () => {
    const rs = [...shop(), instance({ namespace: 'other', workload: 'far', ports: [] })];
    const near = snap(rs);
    const far = snap(rs, 'other/far-0');
    assert.deepEqual(near.outbound.virtualHosts, far.outbound.virtualHosts, 'the same list for every client');
    const domains = vhost(far, 'shop/web:80').domains;
    assert.ok(!domains.includes('web:80') && !domains.includes('web'));
    assert.ok(domains.includes('web.shop:80') && domains.includes('web.shop.svc.cluster.local:80'));
  });

  it('adds hosts without a port only for port 80', () => {
    const rs = shop(svc('shop', 'api', 'app: web', '{name: http, port: 8080, targetPort: web}'));
    assert.deepEqual(vhost(snap(rs), 'shop/api:8080').domains, ['api.shop:8080', 'api.shop.svc:8080', 'api.shop.svc.cluster.local:8080']);
    assert.deepEqual(vhost(snap(rs), 'shop/web:80').domains, [
      'web.shop:80', 'web.shop.svc:80', 'web.shop.svc.cluster.local:80',
      'web.shop', 'web.shop.svc', 'web.shop.svc.cluster.local',
    ]);
  });

  it('lists endpoints only for ready instances', () => {
    const rs = shop();
    const v2 = rs.find((r) => r.kind === 'WorkloadInstance' && r.metadata.name === 'web-v2-0');
    assert.ok(v2 && v2.kind === 'WorkloadInstance');
    v2.spec.ready = false;
    const cluster = snap(rs).clusters.find((c) => c.name === 'shop/web:80');
    assert.deepEqual(cluster?.endpoints.map((e) => e.instance), ['shop/web-v1-0']);
  });

  it('resolves a numeric targetPort to the single port of a Workload', () => {
    const rs = [
      ...manifests(svc('shop', 'one', 'app: one', '{name: http, port: 80, targetPort: 9999}') + svc('shop', 'two', 'app: two', '{name: http, port: 80, targetPort: 9999}')),
      instance({ namespace: 'shop', workload: 'one', ports: [['web', 8081, 16001]] }),
      instance({ namespace: 'shop', workload: 'two', ports: [['web', 8082, 16002], ['admin', 8083, 16003]] }),
    ];
    const s = snap(rs, 'shop/one-0');
    assert.deepEqual(s.clusters.find((c) => c.name === 'shop/one:80')?.endpoints.map((e) => [e.instance, e.port]), [['shop/one-0', 16001]]);
    assert.deepEqual(s.inbound.map((l) => [l.appPort, l.services]), [[8081, ['shop/one:80']]]);
    // With two ports, a number that names neither resolves to nothing.
    assert.deepEqual(s.clusters.find((c) => c.name === 'shop/two:80')?.endpoints, []);
  });

  it('marks TCP service ports as TCP listeners, clusters and virtual hosts', () => {
    const rs = [
      ...manifests(svc('shop', 'db', 'app: db', '{name: pg, port: 5432, targetPort: pg, appProtocol: tcp}')),
      instance({ namespace: 'shop', workload: 'db', ports: [['pg', 5432, 16005]] }),
    ];
    const s = snap(rs, 'shop/db-0');
    assert.equal(s.inbound[0]!.protocol, 'tcp');
    assert.equal(vhost(s, 'shop/db:5432').protocol, 'tcp');
    assert.equal(s.clusters[0]!.protocol, 'tcp');
  });

  it('reports an upstream that is no port of any Service', () => {
    const rs = [...shop(), instance({ namespace: 'shop', workload: 'lost', ports: [], upstreams: [{ service: 'nope', namespace: 'shop', port: 80, localPort: 9000 }] })];
    assert.ok(messages(rs).some((m) => m.includes('upstream shop/nope:80 is not a port of any Service')));
  });
});

describe('compiler: versions', () => {
  it('gives equal input the same version and changes it when a split weight changes', () => {
    const a = snap(shop(split('s', 'web', [['web-v1', 90], ['web-v2', 10]])));
    const b = snap(shop(split('s', 'web', [['web-v1', 90], ['web-v2', 10]])));
    const c = snap(shop(split('s', 'web', [['web-v1', 80], ['web-v2', 20]])));
    assert.match(a.version, /^[0-9a-f]{16}$/);
    assert.equal(a.version, b.version);
    assert.notEqual(a.version, c.version);
  });

  it('does not depend on the order resources are listed in', () => {
    const tt = (name: string, source: string) => `
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: web}
  rules: [{kind: TCPRoute, name: all}]
  sources: [{kind: ServiceAccount, name: ${source}}]
`;
    const route = `
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: all, namespace: shop}
`;
    const rs = shop(route, tt('a', 'client'), tt('b', 'other'));
    const forward = snap(rs, 'shop/web-v1-0');
    const backward = snap([...rs].reverse(), 'shop/web-v1-0');
    assert.equal(backward.version, forward.version);
  });
});
