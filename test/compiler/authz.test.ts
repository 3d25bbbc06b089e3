// Behaviour of the compiler's authorisation rules: which TrafficTargets reach
// a proxy, what each rule allows, and the access mode.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileSnapshots } from '../../src/compiler/compile.js';
import type { AuthzPolicy } from '../../src/compiler/snapshot.js';
import type { Resource } from '../../src/resources/types.js';
import { instance, manifests } from './support.js';

const GROUP = `
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes, namespace: shop}
spec:
  matches:
  - {name: read, pathRegex: /books, methods: [GET]}
  - {name: write, pathRegex: /books, methods: [POST]}
`;

const target = (rules: string, opts: { port?: number; sources?: string } = {}) => `
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: to-web, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: shop${opts.port ? `, port: ${opts.port}` : ''}}
  rules: ${rules}
  sources: ${opts.sources ?? '[{kind: ServiceAccount, name: client}]'}
`;

function policy(yaml: string, extra: Resource[] = []): { authz: AuthzPolicy; diagnostics: string[] } {
  const rs = [
    ...manifests(yaml),
    ...extra,
    instance({ namespace: 'shop', workload: 'web', ports: [['web', 8080, 16001], ['admin', 9090, 16002]] }),
  ];
  const result = compileSnapshots(rs);
  const s = result.snapshots.get('shop/web-0');
  assert.ok(s);
  assert.deepEqual(s.inbound[1]!.authz, s.inbound[0]!.authz, 'every inbound port carries the same policy');
  return { authz: s.inbound[0]!.authz, diagnostics: result.diagnostics.map((d) => d.message) };
}

describe('compiler: authorisation rules', () => {
  it('denies by default with no rules when no TrafficTarget names the service account', () => {
    assert.deepEqual(policy(GROUP).authz, { mode: 'deny', rules: [] });
  });

  it('allows every match of the group when a rule names no matches', () => {
    const { authz } = policy(GROUP + target('[{kind: HTTPRouteGroup, name: routes}]'));
    assert.deepEqual(
      authz.rules[0]!.allow.map((a) => (a.kind === 'http' ? a.match.name : a.route)),
      ['shop/routes/read', 'shop/routes/write'],
    );
  });

  it('allows only the named matches, anchored, with upper-case methods', () => {
    const { authz } = policy(GROUP + target('[{kind: HTTPRouteGroup, name: routes, matches: [write]}]'));
    assert.deepEqual(authz.rules[0]!.allow, [
      { kind: 'http', match: { name: 'shop/routes/write', pathRegex: '^(?:/books)$', methods: ['POST'], headers: [] } },
    ]);
  });

  it('reports a match name the group does not have and allows nothing for it', () => {
    const { authz, diagnostics } = policy(GROUP + target('[{kind: HTTPRouteGroup, name: routes, matches: [delete]}]'));
    assert.deepEqual(authz.rules[0]!.allow, []);
    assert.deepEqual(diagnostics, ['HTTPRouteGroup shop/routes has no match named "delete"']);
  });

  it('reports a rule that refers to a missing HTTPRouteGroup or TCPRoute', () => {
    const { authz, diagnostics } = policy(target('[{kind: HTTPRouteGroup, name: gone}, {kind: TCPRoute, name: gone-too}]'));
    assert.deepEqual(authz.rules[0]!.allow, []);
    assert.deepEqual(diagnostics, [
      'rule refers to HTTPRouteGroup shop/gone, which does not exist: it allows nothing',
      'rule refers to TCPRoute shop/gone-too, which does not exist: it allows nothing',
    ]);
  });

  it('carries destination.port into the rule', () => {
    const { authz } = policy(GROUP + target('[{kind: HTTPRouteGroup, name: routes}]', { port: 8080 }));
    assert.equal(authz.rules[0]!.port, 8080);
    assert.equal(policy(GROUP + target('[{kind: HTTPRouteGroup, name: routes}]')).authz.rules[0]!.port, undefined);
  });

  it('names sources from other namespaces by their own SPIFFE ID, and defaults the namespace to the target’s', () => {
    const { authz } = policy(
      GROUP +
        target('[{kind: HTTPRouteGroup, name: routes}]', {
          sources: '[{kind: ServiceAccount, name: buyer, namespace: buyers}, {kind: ServiceAccount, name: client}]',
        }),
    );
    assert.deepEqual(authz.rules[0]!.sources, [
      'spiffe://cluster.local/ns/buyers/sa/buyer',
      'spiffe://cluster.local/ns/shop/sa/client',
    ]);
  });

  it('uses the MeshConfig trust domain in source identities', () => {
    const mesh = `
---
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {trustDomain: example.org}
`;
    const { authz } = policy(mesh + GROUP + target('[{kind: HTTPRouteGroup, name: routes}]'));
    assert.deepEqual(authz.rules[0]!.sources, ['spiffe://example.org/ns/shop/sa/client']);
  });

  it('turns a TCPRoute without ports into "every port" and sorts listed ports', () => {
    const routes = `
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: all, namespace: shop}
spec: {matches: {ports: []}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: some, namespace: shop}
spec: {matches: {ports: [9090, 8080]}}
`;
    const { authz } = policy(routes + target('[{kind: TCPRoute, name: all}, {kind: TCPRoute, name: some}]'));
    assert.deepEqual(authz.rules[0]!.allow, [
      { kind: 'tcp', route: 'shop/all', ports: [] },
      { kind: 'tcp', route: 'shop/some', ports: [8080, 9090] },
    ]);
  });

  it('reports a UDPRoute rule as not enforced', () => {
    const udp = `
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {name: dns, namespace: shop}
`;
    const { authz, diagnostics } = policy(udp + target('[{kind: UDPRoute, name: dns}]'));
    assert.deepEqual(authz.rules[0]!.allow, []);
    assert.deepEqual(diagnostics, ['rule kind UDPRoute is not enforced by Trellis (no UDP data path): it allows nothing']);
  });

  it('ignores TrafficTargets for another service account or namespace', () => {
    const other = target('[{kind: HTTPRouteGroup, name: routes}]').replace('name: web, namespace: shop', 'name: web, namespace: elsewhere');
    assert.deepEqual(policy(GROUP + other).authz.rules, []);
  });

  it('switches every listener to permissive when MeshConfig says so', () => {
    const mesh = `
---
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {access: {mode: permissive}}
`;
    const rs = [...manifests(mesh), instance({ namespace: 'shop', workload: 'web' })];
    const r = compileSnapshots(rs);
    assert.equal(r.mesh.access.mode, 'permissive');
    const s = r.snapshots.get('shop/web-0')!;
    assert.equal(s.mesh.accessMode, 'permissive');
    assert.equal(s.inbound[0]!.authz.mode, 'permissive');
  });
});
