import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS, kindDescriptor, resolveKind } from '../../src/resources/kinds.js';
import { TrellisResourceError } from '../../src/resources/errors.js';

describe('kind registry', () => {
  it('resolves plural, singular, short name and kind in any case to the canonical kind', () => {
    for (const input of ['trafficsplits', 'trafficsplit', 'ts', 'TrafficSplit', 'TRAFFICSPLITS', ' ts ']) {
      assert.equal(resolveKind(input), 'TrafficSplit', input);
    }
    assert.equal(resolveKind('svc'), 'Service');
    assert.equal(resolveKind('sa'), 'ServiceAccount');
    assert.equal(resolveKind('httproutegroups'), 'HTTPRouteGroup');
    assert.equal(resolveKind('tt'), 'TrafficTarget');
  });

  it('knows the traffic management kinds: HTTPRoute (v1beta1, v1), TrafficPolicy (tp), FaultInjection (fi)', () => {
    for (const input of ['httproutes', 'httproute', 'HTTPRoute', 'httproutes.gateway.networking.k8s.io']) assert.equal(resolveKind(input), 'HTTPRoute', input);
    assert.equal(resolveKind('htr'), 'HTTPRouteGroup');
    assert.equal(resolveKind('tp'), 'TrafficPolicy');
    assert.equal(resolveKind('fi'), 'FaultInjection');
    assert.deepEqual(kindDescriptor('HTTPRoute')!.versions, ['v1beta1', 'v1']);
    assert.equal(kindDescriptor('HTTPRoute')!.group, 'gateway.networking.k8s.io');
    for (const kind of ['TrafficPolicy', 'FaultInjection'] as const) {
      assert.deepEqual([kindDescriptor(kind)!.group, kindDescriptor(kind)!.versions, kindDescriptor(kind)!.namespaced], ['policy.trellis.dev', ['v1alpha1'], true]);
    }
  });

  it('resolves plural.group as kubectl does', () => {
    assert.equal(resolveKind('trafficsplits.split.smi-spec.io'), 'TrafficSplit');
    assert.throws(() => resolveKind('trafficsplits.example.com'));
  });

  it('throws a coded error listing the known kinds for an unknown name', () => {
    assert.throws(
      () => resolveKind('gizmos'),
      (e: unknown) =>
        e instanceof TrellisResourceError && e.code === 'TRELLIS_E_UNKNOWN_KIND' && /TrafficSplit/.test(e.message) && /Workload/.test(e.message),
    );
  });

  it('has unique names across kinds and marks Namespace and MeshConfig cluster-scoped', () => {
    const names = KINDS.flatMap((d) => [d.kind.toLowerCase(), d.plural, d.singular, ...d.shortNames]);
    const perKind = KINDS.map((d) => new Set([d.kind.toLowerCase(), d.plural, d.singular, ...d.shortNames]).size);
    assert.equal(new Set(names).size, perKind.reduce((a, b) => a + b, 0));
    assert.deepEqual(KINDS.filter((d) => !d.namespaced).map((d) => d.kind), ['Namespace', 'MeshConfig', 'GatewayClass']);
    assert.deepEqual(kindDescriptor('TrafficTarget')!.versions, ['v1alpha1', 'v1alpha2', 'v1alpha3']);
  });
});
