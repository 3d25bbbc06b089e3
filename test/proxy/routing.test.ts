// The outbound routing table: Host → virtual host, first-match routes,
// weighted cluster choice and endpoint round robin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterConfig, RouteConfig, Snapshot, VirtualHost } from '../../src/compiler/snapshot.js';
import { anchor } from '../../src/compiler/http-match.js';
import { buildRoutingTable, pickCluster, pickEndpoint, selectRoute } from '../../src/proxy/routing.js';

function cluster(name: string, endpoints = 1): ClusterConfig {
  return {
    name,
    service: name.split('/')[1]!.split(':')[0]!,
    namespace: 'shop',
    port: 80,
    protocol: 'http',
    endpoints: Array.from({ length: endpoints }, (_, i) => ({
      address: '127.0.0.1',
      port: 16000 + i,
      identity: 'spiffe://cluster.local/ns/shop/sa/web',
      instance: `shop/${name}-${i}`,
    })),
  };
}

function snapshot(routes: RouteConfig[], clusters: ClusterConfig[] = [cluster('shop/web:80', 3), cluster('shop/web-v1:80'), cluster('shop/web-v2:80')]): Snapshot {
  const vh: VirtualHost = {
    name: 'shop/web:80',
    service: 'web',
    namespace: 'shop',
    port: 80,
    protocol: 'http',
    domains: ['web:80', 'web.shop:80', 'web'],
    routes,
  };
  return {
    version: 'test',
    node: { id: 'shop/client-0', namespace: 'shop', workload: 'client', serviceAccount: 'client', identity: 'spiffe://cluster.local/ns/shop/sa/client' },
    mesh: { trustDomain: 'cluster.local', mtlsMode: 'STRICT', accessMode: 'deny' },
    inbound: [],
    outbound: { httpPort: 15001, virtualHosts: [vh], upstreams: [] },
    clusters,
  };
}

const toRoot: RouteConfig = { name: 'default', action: { kind: 'clusters', clusters: [{ cluster: 'shop/web:80', weight: 1 }] } };
const firefox: RouteConfig = {
  name: 'split:shop/ab',
  matches: [{ name: 'shop/ab/firefox', methods: [], headers: [['user-agent', anchor('.*Firefox.*')]] }],
  action: { kind: 'clusters', clusters: [{ cluster: 'shop/web-v2:80', weight: 1 }] },
};

describe('proxy routing table', () => {
  it('finds the virtual host by every one of its domains', () => {
    const t = buildRoutingTable(snapshot([toRoot]));
    for (const d of ['web:80', 'web.shop:80', 'web']) assert.equal(t.byDomain.get(d)?.config.name, 'shop/web:80');
    assert.equal(t.byName.get('shop/web:80')?.config.name, 'shop/web:80');
  });

  it('throws when a route refers to an unknown cluster', () => {
    const bad: RouteConfig = { name: 'default', action: { kind: 'clusters', clusters: [{ cluster: 'shop/ghost:80', weight: 1 }] } };
    assert.throws(() => buildRoutingTable(snapshot([bad])), /route shop\/web:80\/default refers to unknown cluster shop\/ghost:80/);
  });

  it('selects the first route that matches, else the default route', () => {
    const vh = buildRoutingTable(snapshot([firefox, toRoot])).byName.get('shop/web:80')!;
    assert.equal(selectRoute(vh, { method: 'GET', headers: { 'user-agent': 'Mozilla/5.0 Firefox/126' } }, '/')?.name, 'split:shop/ab');
    assert.equal(selectRoute(vh, { method: 'GET', headers: { 'user-agent': 'curl/8' } }, '/')?.name, 'default');
  });

  it('selects no route when none matches and there is no default', () => {
    const vh = buildRoutingTable(snapshot([firefox])).byName.get('shop/web:80')!;
    assert.equal(selectRoute(vh, { method: 'GET', headers: {} }, '/'), undefined);
  });

  it('carries a local response (503 with its reason) for a split without usable backends', () => {
    const r: RouteConfig = { name: 'split:shop/s', action: { kind: 'respond', status: 503, body: 'TrafficSplit shop/s has no backend that can take traffic (every weight is 0)' } };
    const route = selectRoute(buildRoutingTable(snapshot([r])).byName.get('shop/web:80')!, { method: 'GET', headers: {} }, '/')!;
    assert.deepEqual(route.respond, { status: 503, body: 'TrafficSplit shop/s has no backend that can take traffic (every weight is 0)' });
    assert.equal(pickCluster(route), undefined);
  });

  it('spreads picks by relative weight (1000/500) within ±3% over 10,000 draws', () => {
    const split: RouteConfig = {
      name: 'split:shop/s',
      action: { kind: 'clusters', clusters: [{ cluster: 'shop/web-v1:80', weight: 1000 }, { cluster: 'shop/web-v2:80', weight: 500 }] },
    };
    const route = buildRoutingTable(snapshot([split])).byName.get('shop/web:80')!.routes[0]!;
    const counts = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const c = pickCluster(route)!.config.name;
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    const v1 = (counts.get('shop/web-v1:80') ?? 0) / n;
    const v2 = (counts.get('shop/web-v2:80') ?? 0) / n;
    assert.ok(Math.abs(v1 - 2 / 3) <= 0.03, `web-v1 share ${v1}`);
    assert.ok(Math.abs(v2 - 1 / 3) <= 0.03, `web-v2 share ${v2}`);
  });

  // Round robin starts at a random endpoint (sidecars started together do not all hit the first one).
  const nextPort = (p: number) => (p === 16002 ? 16000 : p + 1);

  it('picks endpoints round robin', () => {
    const c = buildRoutingTable(snapshot([toRoot])).clusters.get('shop/web:80')!;
    const ports = Array.from({ length: 5 }, () => pickEndpoint(c)!.config.port);
    for (let i = 1; i < ports.length; i++) assert.equal(ports[i], nextPort(ports[i - 1]!), `sequence ${ports.join(',')}`);
  });

  it('keeps the round-robin position when the table is rebuilt from a new snapshot', () => {
    const first = buildRoutingTable(snapshot([toRoot]));
    const last = pickEndpoint(first.clusters.get('shop/web:80')!)!.config.port;
    const second = buildRoutingTable(snapshot([toRoot]), first);
    assert.equal(pickEndpoint(second.clusters.get('shop/web:80')!)!.config.port, nextPort(last));
  });

  it('picks no endpoint from a cluster without ready endpoints', () => {
    const t = buildRoutingTable(snapshot([toRoot], [cluster('shop/web:80', 0)]));
    assert.equal(pickEndpoint(t.clusters.get('shop/web:80')!), undefined);
  });
});

describe('short service names', () => {
  it('resolve to services of the proxy’s own namespace only', () => {
    const base = snapshot([{ name: 'default', action: { kind: 'clusters', clusters: [{ cluster: 'shop/web:80', weight: 1 }] } }]);
    const qualified = { ...base.outbound.virtualHosts[0]!, domains: ['web.shop:80', 'web.shop'] };
    const mine = buildRoutingTable({ ...base, outbound: { ...base.outbound, virtualHosts: [qualified] } });
    assert.ok(mine.byDomain.get('web:80') && mine.byDomain.get('web'));
    const elsewhere = buildRoutingTable({
      ...base,
      node: { ...base.node, namespace: 'other' },
      outbound: { ...base.outbound, virtualHosts: [qualified] },
    });
    assert.equal(elsewhere.byDomain.get('web:80'), undefined);
    assert.ok(elsewhere.byDomain.get('web.shop:80'));
  });
});
