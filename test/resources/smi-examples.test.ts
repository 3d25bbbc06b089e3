import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';
import { loadManifests } from '../../src/resources/parse.js';
import { formatManifestError } from '../../src/resources/errors.js';
import type {
  HTTPRouteGroupResource,
  Resource,
  TCPRouteResource,
  TrafficSplitResource,
  TrafficTargetResource,
  UDPRouteResource,
} from '../../src/resources/types.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'smi');

async function load(name: string): Promise<Resource[]> {
  const r = await loadManifests(path.join(fixtures, name));
  assert.deepEqual(r.errors.map(formatManifestError), [], `${name} has errors`);
  return r.resources;
}
const named = <T extends Resource>(rs: Resource[], kind: T['kind'], name: string): T[] =>
  rs.filter((r) => r.kind === kind && r.metadata.name === name) as T[];

describe('SMI specification examples', () => {
  for (const file of readdirSync(fixtures).filter((f) => f.endsWith('.yaml')).sort()) {
    it(`loads ${file} with zero errors and every document as a resource`, async () => {
      const r = await loadManifests(path.join(fixtures, file));
      assert.deepEqual(r.errors.map(formatManifestError), []);
      assert.equal(r.foreign.length, 0);
      assert.ok(r.resources.length > 0);
    });
  }

  it('reads v1alpha1 TrafficTarget top-level fields, specs → rules and a numeric destination port', async () => {
    const rs = await load('traffictarget-v1alpha1.yaml');
    const [tt] = named<TrafficTargetResource>(rs, 'TrafficTarget', 'path-specific');
    assert.deepEqual(tt!.spec, {
      destination: { kind: 'ServiceAccount', name: 'service-a', namespace: 'default', port: 8080 },
      rules: [{ kind: 'HTTPRouteGroup', name: 'the-routes', matches: ['metrics'] }],
      sources: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'default' }],
    });
  });

  it('reads v1alpha2 TrafficTarget spec.rules and leaves matches undefined when omitted', async () => {
    const rs = await load('traffictarget-v1alpha2.yaml');
    const [tt] = named<TrafficTargetResource>(rs, 'TrafficTarget', 'api-service-api');
    assert.equal(tt!.spec.destination.port, 8080);
    assert.deepEqual(tt!.spec.rules, [{ kind: 'HTTPRouteGroup', name: 'api-service-routes', matches: ['api'] }]);
    assert.equal(tt!.spec.sources.length, 2);
  });

  it('reads v1alpha3 TrafficTarget TCPRoute and UDPRoute rules, defaulting the namespace', async () => {
    const rs = await load('traffictarget-v1alpha3.yaml');
    const [tt] = named<TrafficTargetResource>(rs, 'TrafficTarget', 'protocal-specific');
    assert.equal(tt!.metadata.namespace, 'default');
    assert.deepEqual(tt!.spec.rules, [
      { kind: 'TCPRoute', name: 'tcp-ports' },
      { kind: 'UDPRoute', name: 'udp-ports' },
    ]);
    const [udp] = named<UDPRouteResource>(rs, 'UDPRoute', 'udp-ports');
    assert.deepEqual(udp!.spec.ports, [8301, 8302]);
  });

  it('reads v1alpha1 HTTPRouteGroup top-level matches, keeps * and accepts the group-less apiVersion with a warning', async () => {
    const r = await loadManifests(path.join(fixtures, 'httproutegroup-v1alpha1.yaml'));
    const groups = r.resources as HTTPRouteGroupResource[];
    assert.deepEqual(groups[0]!.spec.matches[1], { name: 'health', pathRegex: '/ping', methods: ['*'], headers: {} });
    assert.equal(groups[1]!.apiVersion, 'specs.smi-spec.io/v1alpha1');
    assert.deepEqual(r.warnings.map((w) => [w.code, w.path, w.document]), [['TRELLIS_W_LEGACY_FORM', 'apiVersion', 1]]);
  });

  for (const v of ['v1alpha2', 'v1alpha3', 'v1alpha4']) {
    it(`reads ${v} HTTPRouteGroup header maps with AND semantics kept in one map`, async () => {
      const rs = await load(`httproutegroup-${v}.yaml`);
      const g = (rs as HTTPRouteGroupResource[]).find((x) => x.spec.matches.map((m) => m.name).join() === 'android-insiders,firefox-users')!;
      assert.deepEqual(g.spec.matches[0], {
        name: 'android-insiders',
        methods: [],
        headers: { 'user-agent': '.*Android.*', cookie: '^(.*?;)?(type=insider)(;.*)?$' },
      });
      const iphone = rs.map((x) => (x as HTTPRouteGroupResource).spec.matches[0]!).find((m) => m.name === 'iphone-users');
      assert.deepEqual(iphone, { name: 'iphone-users', pathRegex: '/api/.*', methods: ['GET', 'HEAD'], headers: { 'user-agent': '.*iPhone.*' } });
    });
  }

  it('treats TCPRoute without spec (v1alpha1..v1alpha3) and with empty ports (v1alpha4) as every port', async () => {
    for (const v of ['v1alpha1', 'v1alpha2', 'v1alpha3']) {
      const [r] = (await load(`tcproute-${v}.yaml`)) as TCPRouteResource[];
      assert.deepEqual(r!.spec, { ports: [] }, v);
    }
    const rs = (await load('tcproute-v1alpha4.yaml')) as TCPRouteResource[];
    assert.deepEqual(rs.map((r) => r.spec.ports), [[3306, 6446], []]);
    const udp = (await load('udproute-v1alpha4.yaml')) as UDPRouteResource[];
    assert.deepEqual(udp.map((r) => r.spec.ports), [[989, 990], []]);
  });

  it('converts v1alpha1 TrafficSplit quantities to milli-units (10m → 10, 1 → 1000, 0m → 0)', async () => {
    const rs = await load('trafficsplit-v1alpha1.yaml');
    const [weights] = named<TrafficSplitResource>(rs, 'TrafficSplit', 'my-weights');
    assert.deepEqual(weights!.spec, {
      service: 'numbers',
      backends: [
        { service: 'one', weight: 10 },
        { service: 'two', weight: 100 },
        { service: 'three', weight: 1500 },
      ],
      matches: [],
    });
    const rollouts = named<TrafficSplitResource>(rs, 'TrafficSplit', 'foobar-rollout');
    assert.deepEqual(rollouts.map((t) => t.spec.backends.map((b) => b.weight)), [[1000, 0], [1000, 500], [1000]]);
  });

  it('keeps v1alpha2 integer weights as they are', async () => {
    const rs = await load('trafficsplit-v1alpha2.yaml');
    const [t] = named<TrafficSplitResource>(rs, 'TrafficSplit', 'my-trafficsplit');
    assert.deepEqual(t!.spec.backends, [
      { service: 'my-website-v1', weight: 50 },
      { service: 'my-website-v2', weight: 50 },
    ]);
  });

  for (const v of ['v1alpha3', 'v1alpha4']) {
    it(`reads ${v} TrafficSplit matches for A/B routing and the HTTPRouteGroup beside it`, async () => {
      const rs = await load(`trafficsplit-${v}.yaml`);
      const [ab] = named<TrafficSplitResource>(rs, 'TrafficSplit', 'ab-test');
      assert.deepEqual(ab!.spec.matches, [{ kind: 'HTTPRouteGroup', name: 'ab-test' }]);
      assert.deepEqual(ab!.spec.backends.map((b) => b.weight), [0, 100]);
      const [g] = named<HTTPRouteGroupResource>(rs, 'HTTPRouteGroup', 'ab-test');
      assert.deepEqual(g!.spec.matches, [{ name: 'firefox-users', methods: [], headers: { 'user-agent': '.*Firefox.*' } }]);
    });
  }
});
