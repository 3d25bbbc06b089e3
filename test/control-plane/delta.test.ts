import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterConfig, Snapshot, VirtualHost } from '../../src/compiler/snapshot.js';
import { applyDelta, encodeDelta, encodeFullSnapshot, sentStateOf, type SnapshotDelta } from '../../src/control-plane/delta.js';

const vh = (name: string, weight = 1): VirtualHost => ({
  name,
  service: name,
  namespace: 'ns',
  port: 80,
  protocol: 'http',
  domains: [`${name}.ns:80`],
  routes: [{ name: 'default', action: { kind: 'clusters', clusters: [{ cluster: `ns/${name}:80`, weight }] } }],
});
const cluster = (name: string, eps = 1): ClusterConfig => ({
  name: `ns/${name}:80`,
  service: name,
  namespace: 'ns',
  port: 80,
  protocol: 'http',
  endpoints: Array.from({ length: eps }, (_, i) => ({ address: '127.0.0.1', port: 1000 + i, identity: 'spiffe://x/ns/ns/sa/a', instance: `ns/${name}-${i}` })),
});
const snapshot = (version: string, vhosts: VirtualHost[], clusters: ClusterConfig[]): Snapshot => ({
  version,
  node: { id: 'ns/a-0', namespace: 'ns', workload: 'a', serviceAccount: 'a', identity: 'spiffe://x/ns/ns/sa/a' },
  mesh: { trustDomain: 'x', mtlsMode: 'STRICT', accessMode: 'deny' },
  inbound: [],
  outbound: { httpPort: 1, virtualHosts: vhosts, upstreams: [] },
  clusters,
});

describe('incremental snapshots', () => {
  it('sends only changed and removed resources, and the proxy rebuilds the same snapshot', () => {
    const v1 = snapshot('v1', [vh('a'), vh('b'), vh('c')], [cluster('a'), cluster('b'), cluster('c')]);
    const full = JSON.parse(encodeFullSnapshot(v1)) as { snapshot: Snapshot };
    assert.deepEqual(full.snapshot, v1);
    const sent = sentStateOf(v1);
    const v2 = snapshot('v2', [vh('a'), vh('b', 5), vh('d')], [cluster('a'), cluster('b', 3), cluster('d')]);
    const line = encodeDelta(v2, sent);
    const delta = JSON.parse(line) as SnapshotDelta;
    assert.deepEqual(delta.upsertVirtualHosts.map((v) => v.name), ['b', 'd']);
    assert.deepEqual(delta.removeVirtualHosts, ['c']);
    assert.deepEqual(delta.upsertClusters.map((c) => c.name), ['ns/b:80', 'ns/d:80']);
    assert.deepEqual(delta.removeClusters, ['ns/c:80']);
    const rebuilt = applyDelta(v1, delta);
    const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((p, q) => (p.name < q.name ? -1 : 1));
    assert.deepEqual(byName(rebuilt.outbound.virtualHosts), byName(v2.outbound.virtualHosts));
    assert.deepEqual(byName(rebuilt.clusters), byName(v2.clusters));
    assert.equal(rebuilt.version, 'v2');
    assert.equal(sent.version, 'v2');
  });

  it('refuses a delta whose base is not the snapshot the proxy runs', () => {
    const v1 = snapshot('v1', [vh('a')], [cluster('a')]);
    const sent = sentStateOf(snapshot('other', [], []));
    const delta = JSON.parse(encodeDelta(v1, sent)) as SnapshotDelta;
    assert.throws(() => applyDelta(v1, delta), /does not apply/);
  });
});
