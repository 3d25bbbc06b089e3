import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { conformanceDir } from '../support/paths.js';
import { loadManifests } from '../../src/resources/parse.js';
import { formatManifestError } from '../../src/resources/errors.js';
import type { HTTPRouteGroupResource, TrafficSplitResource } from '../../src/resources/types.js';

const bookstore = path.join(conformanceDir, 'osm-bookstore');

describe('OSM bookstore conformance manifests', () => {
  it('loads every file with zero errors', async () => {
    const r = await loadManifests(bookstore);
    assert.deepEqual(r.errors.map(formatManifestError), []);
    assert.ok(r.resources.length > 0);
  });

  it('turns every SMI document into a canonical resource', async () => {
    const r = await loadManifests(bookstore);
    const kinds = new Set(r.resources.map((x) => x.kind));
    for (const k of ['TrafficTarget', 'HTTPRouteGroup', 'TCPRoute', 'TrafficSplit', 'Service', 'ServiceAccount']) {
      assert.ok(kinds.has(k as never), `missing ${k}`);
    }
  });

  it('reports Deployments and StatefulSets as foreign Kubernetes workloads with advice, as warnings', async () => {
    const r = await loadManifests(path.join(bookstore, 'apps'));
    const kinds = r.foreign.map((f) => f.kind).sort();
    assert.deepEqual([...new Set(kinds)], ['Deployment', 'StatefulSet']);
    for (const f of r.foreign) {
      assert.match(f.advice, /Kubernetes mode/);
      assert.match(f.advice, /trellis\.dev\/v1alpha1 Workload/);
    }
    const mysql = r.foreign.find((f) => f.kind === 'StatefulSet')!;
    assert.equal(mysql.name, 'mysql');
    assert.equal(mysql.namespace, 'bookwarehouse');
    assert.equal(mysql.source.document, 2);
    assert.equal(r.warnings.filter((w) => w.code === 'TRELLIS_W_FOREIGN_KIND').length, r.foreign.length);
  });

  it('reports the OSM MeshConfig as foreign with the equivalent trellis.dev MeshConfig fields', async () => {
    const r = await loadManifests(path.join(bookstore, 'meshconfig', 'mesh-config.yaml'));
    assert.equal(r.errors.length, 0);
    assert.equal(r.resources.length, 0);
    assert.equal(r.foreign.length, 1);
    assert.equal(r.foreign[0]!.apiVersion, 'config.openservicemesh.io/v1alpha1');
    assert.match(r.foreign[0]!.advice, /enablePermissiveTrafficPolicyMode.*spec\.access\.mode: permissive/);
  });

  it('reduces the FQDN root service bookstore.bookstore to bookstore', async () => {
    const r = await loadManifests(path.join(bookstore, 'split', 'traffic-split-50-50.yaml'));
    const ts = r.resources[0] as TrafficSplitResource;
    assert.equal(ts.spec.service, 'bookstore');
    assert.deepEqual(ts.spec.backends, [
      { service: 'bookstore', weight: 50 },
      { service: 'bookstore-v2', weight: 50 },
    ]);
  });

  it('normalises OSM list-of-maps headers into one lower-cased map', async () => {
    const r = await loadManifests(path.join(bookstore, 'access', 'traffic-access-v1.yaml'));
    const g = r.resources.find((x) => x.kind === 'HTTPRouteGroup' && x.metadata.name === 'bookstore-service-routes') as HTTPRouteGroupResource;
    assert.deepEqual(g.spec.matches[0]!.headers, { 'user-agent': '.*-http-client/*.*', 'client-app': 'bookbuyer' });
  });

  it('takes appProtocol tcp from the mysql Service and http by default for bookstore-port', async () => {
    const r = await loadManifests(path.join(bookstore, 'apps'));
    const svc = (name: string) => r.resources.find((x) => x.kind === 'Service' && x.metadata.name === name);
    assert.equal((svc('mysql')!.spec as { ports: { appProtocol: string }[] }).ports[0]!.appProtocol, 'tcp');
    assert.equal((svc('bookstore')!.spec as { ports: { appProtocol: string }[] }).ports[0]!.appProtocol, 'http');
  });
});
