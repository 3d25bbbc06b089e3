import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLocalCatalog } from '../../src/catalog/catalog.js';
import {
  computeStatuses,
  intersectHostnames,
  listenerAcceptsRoute,
  type ObjectStatus,
} from '../../src/compiler/status.js';
import type { GatewayResource, HTTPRouteResource, Resource, StatusCondition } from '../../src/resources/types.js';
import { manifests } from './support.js';

const CLASS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: trellis
spec:
  controllerName: trellis.dev/gateway-controller
`;

/** Three echo Services on port 8080 in `ns` (v1, v2, v3), as the conformance suite has. */
const backends = (ns: string) =>
  ['v1', 'v2', 'v3']
    .map(
      (v) => `apiVersion: v1
kind: Service
metadata:
  name: infra-backend-${v}
  namespace: ${ns}
spec:
  selector:
    app: infra-backend-${v}
  ports:
  - name: http
    port: 8080
`,
    )
    .join('---\n');

const gatewayYaml = (name: string, ns: string, listeners: string, className = 'trellis') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  gatewayClassName: ${className}
  listeners:
${listeners}`;

const routeYaml = (name: string, ns: string, body: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${body}`;

function statuses(...docs: string[]): Map<string, ObjectStatus> {
  const resources = manifests(docs.join('---\n'));
  return computeStatuses(resources, buildLocalCatalog(resources));
}

function cond(conditions: StatusCondition[] | undefined, type: string): StatusCondition {
  const c = conditions?.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition in ${JSON.stringify(conditions)}`);
  return c;
}

/** `True/Reason` of a condition: what the conformance suite checks. */
const sr = (conditions: StatusCondition[] | undefined, type: string) => {
  const c = cond(conditions, type);
  return `${c.status}/${c.reason}`;
};

function parents(map: Map<string, ObjectStatus>, ns: string, name: string) {
  const s = map.get(`HTTPRoute/${ns}/${name}`);
  assert.ok(s?.parents, `no status for HTTPRoute ${ns}/${name}`);
  return s.parents;
}

function listener(map: Map<string, ObjectStatus>, ns: string, gw: string, name: string) {
  const l = map.get(`Gateway/${ns}/${gw}`)?.listeners?.find((x) => x.name === name);
  assert.ok(l, `no listener ${name} in Gateway ${ns}/${gw}`);
  return l;
}

describe('intersectHostnames (Gateway API hostname intersection)', () => {
  const cases: [string | undefined, string[], string[]][] = [
    // exact ↔ exact
    ['very.specific.com', ['very.specific.com'], ['very.specific.com']],
    ['very.specific.com', ['non.matching.com'], []],
    // exact listener ↔ wildcard route: the listener's name
    ['very.specific.com', ['*.specific.com'], ['very.specific.com']],
    ['very.specific.com', ['*.very.specific.com'], []],
    ['very.specific.com', ['specific.com'], []],
    // wildcard listener ↔ exact route: one or more labels before the suffix
    ['*.wildcard.io', ['foo.wildcard.io', 'bar.wildcard.io', 'foo.bar.wildcard.io'], ['foo.wildcard.io', 'bar.wildcard.io', 'foo.bar.wildcard.io']],
    ['*.wildcard.io', ['wildcard.io'], []],
    ['*.wildcard.io', ['foowildcard.io'], []],
    // wildcard ↔ wildcard: the more specific one
    ['*.anotherwildcard.io', ['*.anotherwildcard.io'], ['*.anotherwildcard.io']],
    ['*.anotherwildcard.io', ['*.foo.anotherwildcard.io'], ['*.foo.anotherwildcard.io']],
    ['*.foo.example.com', ['*.example.com'], ['*.foo.example.com']],
    ['*.example.com', ['*.example.net'], []],
    // no route hostnames: the listener's, or any
    ['very.specific.com', [], ['very.specific.com']],
    ['*.wildcard.io', [], ['*.wildcard.io']],
    [undefined, [], ['*']],
    // no listener hostname: the route's, lower-case, once
    [undefined, ['Foo.Example.com', 'foo.example.com', '*.bar.com'], ['foo.example.com', '*.bar.com']],
    // several route hostnames: only those that intersect
    ['very.specific.com', ['non.matching.com', '*.nonmatchingwildcard.io'], []],
    ['*.wildcard.io', ['a.wildcard.io', 'other.com', '*.wildcard.io'], ['a.wildcard.io', '*.wildcard.io']],
    ['Very.Specific.com', ['VERY.specific.COM'], ['very.specific.com']],
  ];
  for (const [l, routes, want] of cases) {
    it(`${l ?? '(none)'} ∩ [${routes.join(', ')}] = [${want.join(', ')}]`, () => {
      assert.deepEqual(intersectHostnames(l, routes), want);
    });
  }
});

describe('listenerAcceptsRoute', () => {
  const resources = manifests(
    [
      gatewayYaml(
        'gw',
        'infra',
        `  - name: same
    port: 80
    protocol: HTTP
  - name: all
    port: 81
    protocol: HTTP
    hostname: "*.example.com"
    allowedRoutes:
      namespaces:
        from: All
  - name: selected
    port: 82
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            team: web
  - name: by-name
    port: 83
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            kubernetes.io/metadata.name: apps
  - name: foo-only
    port: 84
    protocol: HTTP
    allowedRoutes:
      kinds:
      - kind: FooRoute
  - name: tcp
    port: 85
    protocol: TCP
`,
      ),
      routeYaml('r', 'apps', `  parentRefs:\n  - name: gw\n    namespace: infra\n  hostnames: [shop.example.com]\n`),
      routeYaml('home', 'infra', `  parentRefs:\n  - name: gw\n  hostnames: [example.com]\n`),
    ].join('---\n'),
  );
  const gw = resources.find((r) => r.kind === 'Gateway') as GatewayResource;
  const route = resources.find((r) => r.metadata.name === 'r') as HTTPRouteResource;
  const home = resources.find((r) => r.metadata.name === 'home') as HTTPRouteResource;
  const l = (name: string) => gw.spec.listeners.find((x) => x.name === name)!;
  const labels: Record<string, Record<string, string>> = { apps: { team: 'web' } };
  const ns = (name: string) => labels[name];

  it('Same: only routes in the Gateway\'s namespace', () => {
    const v = listenerAcceptsRoute(gw, l('same'), route, ns);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.reason, 'NotAllowedByListeners');
    assert.deepEqual(listenerAcceptsRoute(gw, l('same'), home, ns), { ok: true });
  });

  it('All: any namespace, subject to the hostname', () => {
    assert.deepEqual(listenerAcceptsRoute(gw, l('all'), route, ns), { ok: true });
    const v = listenerAcceptsRoute(gw, l('all'), home, ns);
    assert.equal(!v.ok && v.reason, 'NoMatchingListenerHostname');
  });

  it('Selector: namespaces whose labels match, kubernetes.io/metadata.name included', () => {
    assert.deepEqual(listenerAcceptsRoute(gw, l('selected'), route, ns), { ok: true });
    assert.equal(listenerAcceptsRoute(gw, l('selected'), route, () => undefined).ok, false);
    assert.deepEqual(listenerAcceptsRoute(gw, l('by-name'), route, () => undefined), { ok: true });
    assert.equal(listenerAcceptsRoute(gw, l('by-name'), home, ns).ok, false);
  });

  it('refuses HTTPRoutes on listeners that do not allow the kind, or are not HTTP/HTTPS', () => {
    for (const name of ['foo-only', 'tcp']) {
      const v = listenerAcceptsRoute(gw, l(name), home, ns);
      assert.equal(!v.ok && v.reason, 'NotAllowedByListeners', name);
      assert.ok(!v.ok && v.message.includes(`listener ${name}`));
    }
  });
});

describe('status: hostnames and listeners (conformance)', () => {
  const gw = gatewayYaml(
    'same-namespace',
    'infra',
    `  - name: listener-1
    port: 80
    protocol: HTTP
    hostname: very.specific.com
  - name: listener-2
    port: 80
    protocol: HTTP
    hostname: "*.wildcard.io"
  - name: listener-3
    port: 80
    protocol: HTTP
    hostname: "*.anotherwildcard.io"
`,
  );
  const route = (name: string, hostnames: string[], section?: string) =>
    routeYaml(
      name,
      'infra',
      `  parentRefs:\n  - name: same-namespace\n${section ? `    sectionName: ${section}\n` : ''}  hostnames: [${hostnames.map((h) => JSON.stringify(h)).join(', ')}]\n  rules:\n  - backendRefs:\n    - name: infra-backend-v1\n      port: 8080\n`,
    );
  const map = statuses(
    CLASS,
    backends('infra'),
    gw,
    route('specific-host-matches-listener-specific-host', ['very.specific.com']),
    route('specific-host-matches-listener-wildcard-host', ['foo.wildcard.io', 'bar.wildcard.io', 'foo.bar.wildcard.io']),
    route('wildcard-host-matches-listener-specific-host', ['*.specific.com']),
    route('wildcard-host-matches-listener-wildcard-host', ['*.anotherwildcard.io']),
    route('no-intersecting-hosts', ['specific.but.wrong.com', 'wildcard.io']),
    route('bare-wildcard-io', ['wildcard.io'], 'listener-2'),
  );

  it('accepts routes whose hostnames intersect a listener\'s', () => {
    for (const name of [
      'specific-host-matches-listener-specific-host',
      'specific-host-matches-listener-wildcard-host',
      'wildcard-host-matches-listener-specific-host',
      'wildcard-host-matches-listener-wildcard-host',
    ]) {
      const [p] = parents(map, 'infra', name);
      assert.equal(sr(p!.conditions, 'Accepted'), 'True/Accepted', name);
      assert.equal(sr(p!.conditions, 'ResolvedRefs'), 'True/ResolvedRefs', name);
      assert.equal(p!.controllerName, 'trellis.dev/gateway-controller');
      assert.deepEqual(p!.parentRef, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'same-namespace' });
    }
  });

  it('a route whose hostnames match no listener: Accepted=False NoMatchingListenerHostname', () => {
    const [p] = parents(map, 'infra', 'no-intersecting-hosts');
    assert.equal(sr(p!.conditions, 'Accepted'), 'False/NoMatchingListenerHostname');
  });

  it('bare wildcard.io does not match *.wildcard.io', () => {
    const [p] = parents(map, 'infra', 'bare-wildcard-io');
    assert.equal(sr(p!.conditions, 'Accepted'), 'False/NoMatchingListenerHostname');
    assert.equal(p!.parentRef.sectionName, 'listener-2');
  });

  it('counts attached routes per listener', () => {
    assert.equal(listener(map, 'infra', 'same-namespace', 'listener-1').attachedRoutes, 2);
    assert.equal(listener(map, 'infra', 'same-namespace', 'listener-2').attachedRoutes, 1);
    assert.equal(listener(map, 'infra', 'same-namespace', 'listener-3').attachedRoutes, 1);
  });

  it('the Gateway and its listeners are Accepted and Programmed', () => {
    const s = map.get('Gateway/infra/same-namespace')!;
    assert.equal(sr(s.conditions, 'Accepted'), 'True/Accepted');
    assert.equal(sr(s.conditions, 'Programmed'), 'True/Programmed');
    for (const l of s.listeners!) {
      assert.deepEqual(
        l.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
        ['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs', 'Programmed=True/Programmed', 'Conflicted=False/NoConflicts'],
      );
      assert.deepEqual(l.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
    }
    assert.equal(sr(map.get('GatewayClass//trellis')!.conditions, 'Accepted'), 'True/Accepted');
  });
});

describe('status: invalid references (conformance)', () => {
  const gw = gatewayYaml(
    'same-namespace',
    'infra',
    `  - name: http
    port: 80
    protocol: HTTP
`,
  );
  const rule = (backend: string) => `  rules:\n  - backendRefs:\n${backend}`;
  const parent = `  parentRefs:\n  - name: same-namespace\n    namespace: infra\n`;

  it('missing backend → ResolvedRefs=False BackendNotFound (route still Accepted)', () => {
    const map = statuses(CLASS, backends('infra'), gw, routeYaml('r', 'infra', parent + rule(`    - name: nonexistent\n      port: 8080\n`)));
    const [p] = parents(map, 'infra', 'r');
    assert.equal(sr(p!.conditions, 'Accepted'), 'True/Accepted');
    assert.equal(sr(p!.conditions, 'ResolvedRefs'), 'False/BackendNotFound');
    assert.match(cond(p!.conditions, 'ResolvedRefs').message, /infra\/nonexistent does not exist/);
  });

  it('a backend Service without that port → BackendNotFound', () => {
    const map = statuses(CLASS, backends('infra'), gw, routeYaml('r', 'infra', parent + rule(`    - name: infra-backend-v1\n      port: 9999\n`)));
    assert.equal(sr(parents(map, 'infra', 'r')[0]!.conditions, 'ResolvedRefs'), 'False/BackendNotFound');
  });

  it('unknown backend kind → InvalidKind', () => {
    const map = statuses(
      CLASS,
      backends('infra'),
      gw,
      routeYaml('r', 'infra', parent + rule(`    - group: unknown.example.com\n      kind: NonExistent\n      name: infra-backend-v1\n      port: 8080\n`)),
    );
    assert.equal(sr(parents(map, 'infra', 'r')[0]!.conditions, 'ResolvedRefs'), 'False/InvalidKind');
  });

  it('a backend in another namespace of a Gateway route → RefNotPermitted (no ReferenceGrant)', () => {
    const map = statuses(
      CLASS,
      backends('infra'),
      backends('web-backend'),
      gw,
      routeYaml('r', 'infra', parent + rule(`    - name: infra-backend-v1\n      namespace: web-backend\n      port: 8080\n`)),
    );
    assert.equal(sr(parents(map, 'infra', 'r')[0]!.conditions, 'ResolvedRefs'), 'False/RefNotPermitted');
  });

  it('a mirror target is a reference too', () => {
    const map = statuses(
      CLASS,
      backends('infra'),
      gw,
      routeYaml(
        'r',
        'infra',
        parent +
          `  rules:\n  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef:\n          name: gone\n          port: 8080\n    backendRefs:\n    - name: infra-backend-v1\n      port: 8080\n`,
      ),
    );
    assert.equal(sr(parents(map, 'infra', 'r')[0]!.conditions, 'ResolvedRefs'), 'False/BackendNotFound');
  });

  it('route in another namespace than a Same listener → Accepted=False NotAllowedByListeners, not attached', () => {
    const map = statuses(
      CLASS,
      backends('web-backend'),
      gw,
      routeYaml('r', 'web-backend', parent + rule(`    - name: infra-backend-v1\n      port: 8080\n`)),
    );
    assert.equal(sr(parents(map, 'web-backend', 'r')[0]!.conditions, 'Accepted'), 'False/NotAllowedByListeners');
    assert.equal(listener(map, 'infra', 'same-namespace', 'http').attachedRoutes, 0);
  });

  it('a listener that disallows the route kind → NotAllowedByListeners; the listener reports InvalidRouteKinds', () => {
    const fooOnly = gatewayYaml(
      'gateway-only-invalid-route-kind',
      'infra',
      `  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      kinds:
      - kind: FooRoute
`,
    );
    const map = statuses(
      CLASS,
      backends('infra'),
      fooOnly,
      routeYaml('r', 'infra', `  parentRefs:\n  - name: gateway-only-invalid-route-kind\n` + rule(`    - name: infra-backend-v1\n      port: 8080\n`)),
    );
    assert.equal(sr(parents(map, 'infra', 'r')[0]!.conditions, 'Accepted'), 'False/NotAllowedByListeners');
    const l = listener(map, 'infra', 'gateway-only-invalid-route-kind', 'http');
    assert.deepEqual(l.supportedKinds, []);
    assert.equal(l.attachedRoutes, 0);
    assert.equal(sr(l.conditions, 'ResolvedRefs'), 'False/InvalidRouteKinds');
    assert.equal(sr(l.conditions, 'Programmed'), 'False/Invalid');
  });

  it('parentRef sectionName or port that matches no listener → NoMatchingParent', () => {
    const map = statuses(
      CLASS,
      backends('infra'),
      gw,
      routeYaml('by-section', 'infra', `  parentRefs:\n  - name: same-namespace\n    sectionName: nonexistent\n`),
      routeYaml('by-port', 'infra', `  parentRefs:\n  - name: same-namespace\n    port: 81\n`),
      routeYaml('matching', 'infra', `  parentRefs:\n  - name: same-namespace\n    sectionName: http\n    port: 80\n`),
    );
    assert.equal(sr(parents(map, 'infra', 'by-section')[0]!.conditions, 'Accepted'), 'False/NoMatchingParent');
    assert.equal(sr(parents(map, 'infra', 'by-port')[0]!.conditions, 'Accepted'), 'False/NoMatchingParent');
    assert.equal(sr(parents(map, 'infra', 'matching')[0]!.conditions, 'Accepted'), 'True/Accepted');
    assert.equal(listener(map, 'infra', 'same-namespace', 'http').attachedRoutes, 1);
  });

  it('a Gateway that does not exist → NoMatchingParent', () => {
    const map = statuses(CLASS, routeYaml('r', 'infra', `  parentRefs:\n  - name: nowhere\n`));
    const [p] = parents(map, 'infra', 'r');
    assert.equal(sr(p!.conditions, 'Accepted'), 'False/NoMatchingParent');
    assert.match(cond(p!.conditions, 'Accepted').message, /Gateway infra\/nowhere does not exist/);
  });
});

describe('status: Gateways and listeners', () => {
  const CERT = `apiVersion: v1
kind: Secret
metadata:
  name: shop-cert
  namespace: shop
type: kubernetes.io/tls
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
  tls.key: "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"
`;
  const OPAQUE = `apiVersion: v1
kind: Secret
metadata:
  name: opaque
  namespace: shop
stringData:
  a: b
`;
  const https = (name: string, port: number, tls: string) => `  - name: ${name}
    port: ${port}
    protocol: HTTPS
    tls:
${tls}`;

  it('a Gateway of a missing class: Accepted=False InvalidParameters, Programmed=False', () => {
    const map = statuses(gatewayYaml('web', 'shop', `  - name: http\n    port: 80\n    protocol: HTTP\n`, 'nope'));
    const s = map.get('Gateway/shop/web')!;
    assert.equal(sr(s.conditions, 'Accepted'), 'False/InvalidParameters');
    assert.match(cond(s.conditions, 'Accepted').message, /GatewayClass "nope" does not exist/);
    assert.equal(sr(s.conditions, 'Programmed'), 'False/Invalid');
    assert.equal(sr(s.listeners![0]!.conditions, 'Programmed'), 'False/Invalid');
  });

  it('another controller\'s class: the class is left alone, the Gateway is not accepted, its routes are not attached', () => {
    const other = CLASS.replace('name: trellis', 'name: other').replace('trellis.dev/gateway-controller', 'example.com/controller');
    const map = statuses(
      other,
      gatewayYaml('web', 'shop', `  - name: http\n    port: 80\n    protocol: HTTP\n`, 'other'),
      routeYaml('r', 'shop', `  parentRefs:\n  - name: web\n`),
    );
    assert.equal(map.has('GatewayClass//other'), false);
    const s = map.get('Gateway/shop/web')!;
    assert.equal(sr(s.conditions, 'Accepted'), 'False/InvalidParameters');
    assert.match(cond(s.conditions, 'Accepted').message, /example\.com\/controller/);
    assert.equal(sr(parents(map, 'shop', 'r')[0]!.conditions, 'Accepted'), 'False/NoMatchingParent');
    assert.equal(s.listeners![0]!.attachedRoutes, 0);
  });

  it('certificate references: resolved, missing, wrong type, wrong kind, other namespace; file options resolve', () => {
    const map = statuses(
      CLASS,
      CERT,
      OPAQUE,
      gatewayYaml(
        'web',
        'shop',
        [
          https('good', 443, `      certificateRefs:\n      - name: shop-cert\n`),
          https('missing', 444, `      certificateRefs:\n      - name: gone\n`),
          https('opaque', 445, `      certificateRefs:\n      - name: opaque\n`),
          https('configmap', 446, `      certificateRefs:\n      - kind: ConfigMap\n        name: shop-cert\n`),
          https('elsewhere', 447, `      certificateRefs:\n      - name: shop-cert\n        namespace: certs\n`),
          https('files', 448, `      options:\n        trellis.dev/cert-file: /etc/tls.crt\n        trellis.dev/key-file: /etc/tls.key\n`),
        ].join(''),
      ),
    );
    const rr = (name: string) => sr(listener(map, 'shop', 'web', name).conditions, 'ResolvedRefs');
    assert.equal(rr('good'), 'True/ResolvedRefs');
    assert.equal(rr('missing'), 'False/InvalidCertificateRef');
    assert.equal(rr('opaque'), 'False/InvalidCertificateRef');
    assert.equal(rr('configmap'), 'False/InvalidCertificateRef');
    assert.equal(rr('elsewhere'), 'False/RefNotPermitted');
    assert.equal(rr('files'), 'True/ResolvedRefs');
    assert.equal(sr(listener(map, 'shop', 'web', 'missing').conditions, 'Programmed'), 'False/Invalid');
    assert.equal(sr(listener(map, 'shop', 'web', 'good').conditions, 'Programmed'), 'True/Programmed');
    const gw = map.get('Gateway/shop/web')!;
    // Some listeners are invalid: still accepted (ListenersNotValid), programmed for the valid ones.
    assert.equal(sr(gw.conditions, 'Accepted'), 'True/ListenersNotValid');
    assert.match(cond(gw.conditions, 'Accepted').message, /missing, opaque, configmap, elsewhere/);
    assert.equal(sr(gw.conditions, 'Programmed'), 'True/Programmed');
  });

  it('TCP and TLS listeners: Accepted=False UnsupportedProtocol; a Gateway with only those is not programmed', () => {
    const map = statuses(
      CLASS,
      gatewayYaml('db', 'shop', `  - name: pg\n    port: 5432\n    protocol: TCP\n  - name: tls\n    port: 443\n    protocol: TLS\n    tls:\n      mode: Passthrough\n`),
    );
    for (const name of ['pg', 'tls']) {
      const l = listener(map, 'shop', 'db', name);
      assert.equal(sr(l.conditions, 'Accepted'), 'False/UnsupportedProtocol');
      assert.deepEqual(l.supportedKinds, []);
    }
    const gw = map.get('Gateway/shop/db')!;
    assert.equal(sr(gw.conditions, 'Accepted'), 'False/ListenersNotValid');
    assert.equal(sr(gw.conditions, 'Programmed'), 'False/Invalid');
  });

  it('HTTP and HTTPS on one port: Conflicted=True ProtocolConflict', () => {
    const map = statuses(
      CLASS,
      CERT,
      gatewayYaml('web', 'shop', `  - name: http\n    port: 8443\n    protocol: HTTP\n` + https('https', 8443, `      certificateRefs:\n      - name: shop-cert\n`) + `  - name: other\n    port: 80\n    protocol: HTTP\n`),
    );
    assert.equal(sr(listener(map, 'shop', 'web', 'http').conditions, 'Conflicted'), 'True/ProtocolConflict');
    assert.equal(sr(listener(map, 'shop', 'web', 'https').conditions, 'Conflicted'), 'True/ProtocolConflict');
    assert.equal(sr(listener(map, 'shop', 'web', 'https').conditions, 'Programmed'), 'False/Invalid');
    assert.equal(sr(listener(map, 'shop', 'web', 'other').conditions, 'Conflicted'), 'False/NoConflicts');
  });

  it('a route without sectionName attaches to every listener that takes it', () => {
    const map = statuses(
      CLASS,
      CERT,
      backends('shop'),
      gatewayYaml(
        'web',
        'shop',
        `  - name: http\n    port: 80\n    protocol: HTTP\n` +
          https('https', 443, `      certificateRefs:\n      - name: shop-cert\n`) +
          `  - name: api\n    port: 80\n    protocol: HTTP\n    hostname: api.example.com\n`,
      ),
      routeYaml('shop', 'shop', `  parentRefs:\n  - name: web\n  hostnames: [shop.example.com]\n`),
    );
    assert.equal(listener(map, 'shop', 'web', 'http').attachedRoutes, 1);
    assert.equal(listener(map, 'shop', 'web', 'https').attachedRoutes, 1);
    assert.equal(listener(map, 'shop', 'web', 'api').attachedRoutes, 0);
    assert.match(cond(parents(map, 'shop', 'shop')[0]!.conditions, 'Accepted').message, /listeners http, https/);
  });

  it('conditions carry observedGeneration from metadata.generation', () => {
    const resources: Resource[] = manifests(
      [CLASS, gatewayYaml('web', 'shop', `  - name: http\n    port: 80\n    protocol: HTTP\n`), routeYaml('r', 'shop', `  parentRefs:\n  - name: web\n`)].join('---\n'),
    );
    for (const r of resources) r.metadata.generation = r.kind === 'HTTPRoute' ? 3 : 2;
    const map = computeStatuses(resources, buildLocalCatalog(resources));
    assert.equal(cond(map.get('Gateway/shop/web')!.conditions, 'Accepted').observedGeneration, 2);
    assert.equal(cond(map.get('Gateway/shop/web')!.listeners![0]!.conditions, 'Programmed').observedGeneration, 2);
    assert.equal(cond(parents(map, 'shop', 'r')[0]!.conditions, 'Accepted').observedGeneration, 3);
    assert.equal(cond(map.get('GatewayClass//trellis')!.conditions, 'Accepted').observedGeneration, 2);
    // Without a generation, no observedGeneration and no lastTransitionTime.
    const plain = statuses(CLASS, gatewayYaml('web', 'shop', `  - name: http\n    port: 80\n    protocol: HTTP\n`));
    assert.deepEqual(Object.keys(cond(plain.get('Gateway/shop/web')!.conditions, 'Accepted')).sort(), ['message', 'reason', 'status', 'type']);
  });
});

describe('status: Service parents (GAMMA)', () => {
  const svc = `apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: mesh
spec:
  selector:
    app: echo
  ports:
  - name: http
    port: 80
  - name: db
    port: 5432
    appProtocol: tcp
`;
  const route = (name: string, parentRef: string, backend = `    - name: echo\n      port: 80\n`) =>
    routeYaml(name, 'mesh', `  parentRefs:\n  - group: ""\n    kind: Service\n${parentRef}  rules:\n  - backendRefs:\n${backend}`);

  it('accepted on an existing Service port, by port or by port name', () => {
    const map = statuses(
      svc,
      route('any-port', `    name: echo\n`),
      route('by-port', `    name: echo\n    port: 80\n`),
      route('by-name', `    name: echo\n    sectionName: http\n`),
    );
    for (const name of ['any-port', 'by-port', 'by-name']) {
      const [p] = parents(map, 'mesh', name);
      assert.equal(sr(p!.conditions, 'Accepted'), 'True/Accepted', name);
      assert.equal(sr(p!.conditions, 'ResolvedRefs'), 'True/ResolvedRefs', name);
      assert.equal(p!.parentRef.kind, 'Service');
      assert.equal(p!.parentRef.group, '');
    }
    assert.equal(parents(map, 'mesh', 'by-port')[0]!.parentRef.port, 80);
  });

  it('a missing Service, or a port or sectionName it lacks → NoMatchingParent', () => {
    const map = statuses(
      svc,
      route('missing', `    name: nope\n`),
      route('port', `    name: echo\n    port: 81\n`),
      route('section', `    name: echo\n    sectionName: grpc\n`),
    );
    for (const name of ['missing', 'port', 'section']) {
      assert.equal(sr(parents(map, 'mesh', name)[0]!.conditions, 'Accepted'), 'False/NoMatchingParent', name);
    }
  });

  it('only TCP ports chosen → UnsupportedValue', () => {
    const map = statuses(svc, route('tcp', `    name: echo\n    port: 5432\n`, `    - name: echo\n      port: 5432\n`));
    assert.equal(sr(parents(map, 'mesh', 'tcp')[0]!.conditions, 'Accepted'), 'False/UnsupportedValue');
  });

  it('backends in other namespaces are allowed for a Service parent', () => {
    const other = svc.replace('namespace: mesh', 'namespace: other');
    const map = statuses(svc, other, route('cross', `    name: echo\n`, `    - name: echo\n      namespace: other\n      port: 80\n`));
    assert.equal(sr(parents(map, 'mesh', 'cross')[0]!.conditions, 'ResolvedRefs'), 'True/ResolvedRefs');
  });

  it('one status entry per parentRef, Gateway and Service alike, in order', () => {
    const map = statuses(
      CLASS,
      svc,
      gatewayYaml('gw', 'mesh', `  - name: http\n    port: 80\n    protocol: HTTP\n`),
      routeYaml('both', 'mesh', `  parentRefs:\n  - name: gw\n  - group: ""\n    kind: Service\n    name: echo\n  rules:\n  - backendRefs:\n    - name: echo\n      port: 80\n`),
    );
    const ps = parents(map, 'mesh', 'both');
    assert.deepEqual(ps.map((p) => p.parentRef.kind), ['Gateway', 'Service']);
    assert.deepEqual(ps.map((p) => sr(p.conditions, 'Accepted')), ['True/Accepted', 'True/Accepted']);
  });
});
