import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';
import { loadManifests, parseManifests } from '../../src/resources/parse.js';
import { formatManifestError, formatManifestWarning, type ManifestError } from '../../src/resources/errors.js';
import { parseGatewayDuration } from '../../src/resources/duration.js';
import type { HTTPRouteFilter, HTTPRouteResource } from '../../src/resources/types.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'resources');

/** 1-based line of the `nth` line of `text` that contains `needle`. */
function lineOf(text: string, needle: string, nth = 1): number {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`"${needle}" (${nth}) not in text`);
}

function one(text: string): HTTPRouteResource {
  const r = parseManifests(text, 'route.yaml');
  assert.deepEqual(r.errors.map(formatManifestError), []);
  assert.equal(r.resources.length, 1);
  return r.resources[0] as HTTPRouteResource;
}

function onlyError(text: string): ManifestError {
  const r = parseManifests(text, 'route.yaml');
  assert.equal(r.errors.length, 1, r.errors.map(formatManifestError).join('\n') || 'no error');
  assert.equal(r.resources.length, 0);
  return r.errors[0]!;
}

/** Asserts one error with this code and path, located on the first line that contains `needle` (or on line `needle`). */
function expectError(text: string, code: string, errPath: string, needle: string | number, message?: RegExp): ManifestError {
  const e = onlyError(text);
  const line = typeof needle === 'number' ? needle : lineOf(text, needle);
  assert.deepEqual([e.code, e.path, e.line], [code, errPath, line], formatManifestError(e));
  if (message) assert.match(e.message, message);
  return e;
}

const HEAD = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: shop
spec:
`;
const SERVICE_PARENT = `  parentRefs:
  - group: ""
    kind: Service
    name: web
`;

/** A route on Service web with the given rules (indented as under `spec:`). */
const route = (rules: string) => `${HEAD}${SERVICE_PARENT}  rules:\n${rules}`;

describe('HTTPRoute defaults', () => {
  it('normalises a GAMMA route: parent and backend defaults, default match, weight 1', () => {
    const r = one(route(`  - backendRefs:
    - name: web-v1
      port: 8080
`));
    assert.equal(r.kind, 'HTTPRoute');
    assert.equal(r.apiVersion, 'gateway.networking.k8s.io/v1');
    assert.deepEqual(r.spec, {
      parentRefs: [{ group: '', kind: 'Service', namespace: 'shop', name: 'web' }],
      hostnames: [],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }],
          filters: [],
          backendRefs: [{ group: '', kind: 'Service', namespace: 'shop', name: 'web-v1', port: 8080, weight: 1, filters: [] }],
        },
      ],
    });
  });

  it('defaults a parentRef without group and kind to a Gateway, keeping port and sectionName', () => {
    const r = one(`${HEAD}  parentRefs:
  - name: ingress
    namespace: gateways
    sectionName: http
    port: 8080
  rules:
  - backendRefs:
    - {name: web, port: 80}
`);
    assert.deepEqual(r.spec.parentRefs, [
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateways', name: 'ingress', port: 8080, sectionName: 'http' },
    ]);
  });

  it('accepts v1beta1 and v1 alike and keeps the apiVersion the user wrote', () => {
    const text = route('  - backendRefs:\n    - {name: web-v1, port: 80}\n');
    const v1 = one(text);
    const beta = one(text.replace('gateway.networking.k8s.io/v1\n', 'gateway.networking.k8s.io/v1beta1\n'));
    assert.equal(beta.apiVersion, 'gateway.networking.k8s.io/v1beta1');
    assert.deepEqual(beta.spec, v1.spec);
  });

  it('gives a route without rules the Gateway API default rule, with a warning that it has no backends', () => {
    const text = `${HEAD}${SERVICE_PARENT}`;
    const res = parseManifests(text, 'route.yaml');
    assert.deepEqual(res.errors, []);
    const r = res.resources[0] as HTTPRouteResource;
    assert.deepEqual(r.spec.rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }], filters: [], backendRefs: [] }]);
    assert.deepEqual(res.warnings.map((w) => [w.code, w.path]), [['TRELLIS_W_SUSPICIOUS_VALUE', 'spec.rules']]);
  });

  it('lower-cases hostnames and keeps a leading wildcard', () => {
    const r = one(`${HEAD}${SERVICE_PARENT}  hostnames: [Shop.Example.COM, "*.Example.org", shop.example.com]\n  rules:\n  - backendRefs: [{name: a, port: 80}]\n`);
    assert.deepEqual(r.spec.hostnames, ['shop.example.com', '*.example.org']);
  });

  it('defaults a path type to PathPrefix and a path value to "/"; header names lower-case, match types Exact', () => {
    const r = one(route(`  - matches:
    - path: {value: /api}
      headers:
      - {name: X-Version, value: Two}
      queryParams:
      - {name: Animal, value: Whale}
      method: PATCH
    - path: {type: Exact}
    backendRefs: [{name: a, port: 80}]
`));
    assert.deepEqual(r.spec.rules[0]!.matches, [
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [{ type: 'Exact', name: 'x-version', value: 'Two' }],
        queryParams: [{ type: 'Exact', name: 'Animal', value: 'Whale' }],
        method: 'PATCH',
      },
      { path: { type: 'Exact', value: '/' }, headers: [], queryParams: [] },
    ]);
  });

  it('keeps the first of two headers with equivalent names and warns about the other', () => {
    const text = route(`  - matches:
    - headers:
      - {name: Color, value: blue}
      - {name: color, value: red}
      queryParams:
      - {name: q, value: "1"}
      - {name: Q, value: "2"}
      - {name: q, value: "3"}
    backendRefs: [{name: a, port: 80}]
`);
    const res = parseManifests(text, 'route.yaml');
    assert.deepEqual(res.errors, []);
    const m = (res.resources[0] as HTTPRouteResource).spec.rules[0]!.matches[0]!;
    assert.deepEqual(m.headers, [{ type: 'Exact', name: 'color', value: 'blue' }]);
    // Query parameter names are case-sensitive: q and Q are different parameters.
    assert.deepEqual(m.queryParams.map((q) => [q.name, q.value]), [['q', '1'], ['Q', '2']]);
    assert.deepEqual(
      res.warnings.map((w) => [w.code, w.path, w.line]),
      [
        ['TRELLIS_W_SUSPICIOUS_VALUE', 'spec.rules[0].matches[0].headers[1].name', lineOf(text, 'value: red')],
        ['TRELLIS_W_SUSPICIOUS_VALUE', 'spec.rules[0].matches[0].queryParams[2].name', lineOf(text, 'value: "3"')],
      ],
    );
    assert.match(res.warnings[0]!.message, /only the first entry/);
  });

  it('upper-cases a lower-case method with a warning', () => {
    const text = route('  - matches:\n    - method: get\n    backendRefs: [{name: a, port: 80}]\n');
    const res = parseManifests(text, 'route.yaml');
    assert.equal((res.resources[0] as HTTPRouteResource).spec.rules[0]!.matches[0]!.method, 'GET');
    assert.deepEqual(res.warnings.map((w) => [w.code, w.path]), [['TRELLIS_W_LEGACY_FORM', 'spec.rules[0].matches[0].method']]);
  });

  it('keeps backendRefs of unknown groups and kinds for the compiler, without requiring a port', () => {
    const r = one(route(`  - backendRefs:
    - group: unknownkind.example.com
      kind: NonExistent
      name: infra
    - group: multicluster.x-k8s.io
      kind: ServiceImport
      name: remote
      namespace: other
      port: 80
`));
    assert.deepEqual(
      r.spec.rules[0]!.backendRefs.map((b) => [b.group, b.kind, b.namespace, b.name, b.port]),
      [
        ['unknownkind.example.com', 'NonExistent', 'shop', 'infra', undefined],
        ['multicluster.x-k8s.io', 'ServiceImport', 'other', 'remote', 80],
      ],
    );
  });

  it('converts rule timeouts to milliseconds; 0s disables', () => {
    const r = one(route(`  - backendRefs: [{name: a, port: 80}]
    timeouts: {request: 1h2m, backendRequest: 500ms}
  - backendRefs: [{name: a, port: 80}]
    timeouts: {request: 0s, backendRequest: 10s}
  - backendRefs: [{name: a, port: 80}]
    timeouts: {request: 2s, backendRequest: 0s}
  - backendRefs: [{name: a, port: 80}]
    timeouts: {backendRequest: 1m}
`));
    assert.deepEqual(
      r.spec.rules.map((x) => x.timeouts),
      [{ requestMs: 3_720_000, backendRequestMs: 500 }, { requestMs: 0, backendRequestMs: 10_000 }, { requestMs: 2000, backendRequestMs: 0 }, { backendRequestMs: 60_000 }],
    );
  });

  it('parses Gateway API durations (GEP-2257) and rejects what Go accepts but the format does not', () => {
    assert.equal(parseGatewayDuration('500ms'), 500);
    assert.equal(parseGatewayDuration('1h2m3s4ms'), 3_723_004);
    assert.equal(parseGatewayDuration('0s'), 0);
    for (const bad of ['1.5s', '0', '-1s', '1d', '100us', '123456s', '1h1m1s1ms1h', '']) assert.throws(() => parseGatewayDuration(bad), bad);
  });

  it('marks a rule without backendRefs and one whose weights are all 0 as suspicious', () => {
    const res = parseManifests(route(`  - matches: [{path: {type: Exact, value: /nothing}}]
  - backendRefs: [{name: a, port: 80, weight: 0}]
`), 'route.yaml');
    assert.deepEqual(res.errors, []);
    assert.deepEqual(res.warnings.map((w) => [w.code, w.path]), [
      ['TRELLIS_W_SUSPICIOUS_VALUE', 'spec.rules[0]'],
      ['TRELLIS_W_SUSPICIOUS_VALUE', 'spec.rules[1].backendRefs'],
    ]);
  });

  it('warns that retry and sessionPersistence on a rule are not applied', () => {
    const res = parseManifests(route(`  - backendRefs: [{name: a, port: 80}]
    retry: {attempts: 2}
    sessionPersistence: {sessionName: s}
`), 'route.yaml');
    assert.equal(res.resources.length, 1);
    assert.deepEqual(res.warnings.map((w) => [w.code, w.path]), [
      ['TRELLIS_W_UNKNOWN_FIELD', 'spec.rules[0].retry'],
      ['TRELLIS_W_UNKNOWN_FIELD', 'spec.rules[0].sessionPersistence'],
    ]);
    assert.match(res.warnings[0]!.message, /TrafficPolicy/);
  });
});

describe('HTTPRoute filters', () => {
  const filtersOf = (text: string, rule = 0): HTTPRouteFilter[] => one(text).spec.rules[rule]!.filters;

  it('normalises header modifiers, keeping header names as written', () => {
    const f = filtersOf(route(`  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: a}]
        add: [{name: X-Add, value: b}]
        remove: [X-Gone]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        remove: [Server]
    backendRefs: [{name: a, port: 80}]
`));
    assert.deepEqual(f, [
      { type: 'RequestHeaderModifier', set: [{ name: 'X-Set', value: 'a' }], add: [{ name: 'X-Add', value: 'b' }], remove: ['X-Gone'] },
      { type: 'ResponseHeaderModifier', set: [], add: [], remove: ['Server'] },
    ]);
  });

  it('defaults a redirect to 302 and lower-cases its hostname', () => {
    const f = filtersOf(route(`  - filters:
    - type: RequestRedirect
      requestRedirect: {hostname: Example.ORG}
`));
    assert.deepEqual(f, [{ type: 'RequestRedirect', statusCode: 302, hostname: 'example.org' }]);
  });

  it('reads mirror shares: 100 by default, percent, or a fraction (denominator default 100)', () => {
    const f = filtersOf(route(`  - filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: m1, port: 80}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: m2, port: 80}, percent: 35}
    - type: RequestMirror
      requestMirror: {backendRef: {name: m3, port: 80}, fraction: {numerator: 25, denominator: 50}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: m4, port: 80}, fraction: {numerator: 5}}
    backendRefs: [{name: a, port: 80}]
`));
    assert.deepEqual(f.map((x) => (x.type === 'RequestMirror' ? [x.backendRef.name, x.percent] : [])), [['m1', 100], ['m2', 35], ['m3', 50], ['m4', 5]]);
    assert.deepEqual(f[0], { type: 'RequestMirror', backendRef: { group: '', kind: 'Service', namespace: 'shop', name: 'm1', port: 80 }, percent: 100 });
  });

  it('loads the conformance-shaped routes with every filter type, weights and timeouts', async () => {
    const r = await loadManifests(path.join(fixtures, 'httproutes.yaml'));
    assert.deepEqual(r.errors.map(formatManifestError), []);
    assert.deepEqual(r.warnings.map(formatManifestWarning), []);
    const byName = new Map(r.resources.map((x) => [x.metadata.name, x as HTTPRouteResource]));
    assert.deepEqual([...byName.keys()], ['shop-matching', 'shop-weights', 'shop-filters', 'storefront']);

    const matching = byName.get('shop-matching')!.spec;
    assert.deepEqual(matching.parentRefs, [{ group: '', kind: 'Service', namespace: 'shop', name: 'shop', port: 80 }]);
    assert.deepEqual(matching.rules[1]!.matches[1], { path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'version', value: 'two' }], queryParams: [] });
    assert.deepEqual(matching.rules[2]!.matches, [
      { path: { type: 'Exact', value: '/exact' }, headers: [], queryParams: [], method: 'POST' },
      {
        path: { type: 'PathPrefix', value: '/' },
        headers: [{ type: 'RegularExpression', name: 'x-tier', value: 'gold|silver' }],
        queryParams: [
          { type: 'Exact', name: 'animal', value: 'whale' },
          { type: 'RegularExpression', name: 'color', value: '^(blue|green)$' },
        ],
      },
    ]);

    assert.deepEqual(byName.get('shop-weights')!.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight]), [['shop-v1', 70], ['shop-v2', 30], ['shop-v3', 0]]);

    const rules = new Map(byName.get('shop-filters')!.spec.rules.map((x) => [x.name, x]));
    assert.deepEqual(rules.get('headers')!.filters.map((x) => x.type), ['RequestHeaderModifier', 'ResponseHeaderModifier']);
    assert.deepEqual(rules.get('headers')!.backendRefs[0]!.filters, [{ type: 'RequestHeaderModifier', set: [{ name: 'X-Backend', value: 'v1' }], add: [], remove: [] }]);
    assert.deepEqual(rules.get('redirect-prefix')!.filters, [{ type: 'RequestRedirect', statusCode: 302, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new-prefix' } }]);
    assert.deepEqual(rules.get('redirect-prefix')!.backendRefs, []);
    assert.deepEqual(rules.get('redirect-full')!.filters, [
      { type: 'RequestRedirect', scheme: 'https', hostname: 'shop.example.com', port: 8443, statusCode: 301, path: { type: 'ReplaceFullPath', replaceFullPath: '/moved-here' } },
    ]);
    assert.deepEqual(rules.get('rewrite')!.filters, [{ type: 'URLRewrite', hostname: 'internal.shop.svc', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } }]);
    assert.deepEqual(
      rules.get('mirror')!.filters.map((x) => (x.type === 'RequestMirror' ? `${x.backendRef.namespace}/${x.backendRef.name}:${x.percent}` : x.type)),
      ['shop/shop-v2:100', 'shop-audit/shop-v3:20', 'shop/shop-v3:50'],
    );
    assert.deepEqual(rules.get('timeouts')!.timeouts, { requestMs: 500, backendRequestMs: 250 });
    assert.deepEqual(rules.get('no-timeout')!.timeouts, { requestMs: 0 });

    const storefront = byName.get('storefront')!;
    assert.equal(storefront.apiVersion, 'gateway.networking.k8s.io/v1beta1');
    assert.deepEqual(storefront.spec.hostnames, ['shop.example.com', '*.shop.example.com']);
    assert.deepEqual(storefront.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateways', name: 'ingress', sectionName: 'http' }]);
  });
});

describe('HTTPRoute errors', () => {
  it('requires at least one parentRef', () => {
    const missing = `${HEAD}  rules:\n  - backendRefs: [{name: a, port: 80}]\n`;
    expectError(missing, 'TRELLIS_E_MISSING_FIELD', 'spec.parentRefs', 'spec:', /at least one parent/);
    const empty = `${HEAD}  parentRefs: []\n  rules:\n  - backendRefs: [{name: a, port: 80}]\n`;
    expectError(empty, 'TRELLIS_E_MISSING_FIELD', 'spec.parentRefs', 'parentRefs: []');
  });

  it('requires a spec', () => {
    const e = onlyError('apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n');
    assert.deepEqual([e.code, e.path, e.message], ['TRELLIS_E_MISSING_FIELD', 'spec', 'spec is required']);
  });

  it('accepts kind Service only with the core group and Gateway only with the Gateway API group', () => {
    const noGroup = `${HEAD}  parentRefs:\n  - kind: Service\n    name: web\n`;
    expectError(noGroup, 'TRELLIS_E_INVALID_FIELD', 'spec.parentRefs[0].group', '- kind: Service', /group: "" \(the core group\)/);
    const wrongGroup = `${HEAD}  parentRefs:\n  - kind: Service\n    group: gateway.networking.k8s.io\n    name: web\n`;
    expectError(wrongGroup, 'TRELLIS_E_INVALID_FIELD', 'spec.parentRefs[0].group', 'group: gateway');
    const coreGateway = `${HEAD}  parentRefs:\n  - name: gw\n    group: ""\n`;
    expectError(coreGateway, 'TRELLIS_E_INVALID_FIELD', 'spec.parentRefs[0].group', 'group: ""', /for kind Gateway/);
    const otherKind = `${HEAD}  parentRefs:\n  - name: m\n    group: ""\n    kind: ServiceImport\n`;
    expectError(otherKind, 'TRELLIS_E_INVALID_FIELD', 'spec.parentRefs[0].kind', 'kind: ServiceImport', /Service .* or Gateway/);
  });

  it('rejects a parentRef port out of range and two references to the same parent without distinct sections', () => {
    expectError(`${HEAD}  parentRefs:\n  - {group: "", kind: Service, name: web, port: 70000}\n`, 'TRELLIS_E_INVALID_FIELD', 'spec.parentRefs[0].port', 'port: 70000');
    const dup = `${HEAD}  parentRefs:\n  - {group: "", kind: Service, name: web}\n  - {group: "", kind: Service, name: web, namespace: shop}\n`;
    expectError(dup, 'TRELLIS_E_DUPLICATE_NAME', 'spec.parentRefs[1]', 'namespace: shop}');
    const mixed = `${HEAD}  parentRefs:\n  - {group: "", kind: Service, name: web, port: 80}\n  - {group: "", kind: Service, name: web}\n`;
    expectError(mixed, 'TRELLIS_E_DUPLICATE_NAME', 'spec.parentRefs[1]', 'name: web}');
    one(`${HEAD}  parentRefs:\n  - {group: "", kind: Service, name: web, port: 80}\n  - {group: "", kind: Service, name: web, port: 81}\n  rules:\n  - backendRefs: [{name: a, port: 80}]\n`);
  });

  it('rejects hostnames that are IP addresses, carry a port or misuse the wildcard', () => {
    for (const [host, re] of [
      ['10.0.0.1', /IP address/],
      ['shop.example.com:8080', /port/],
      ['"foo.*.example.com"', /not a DNS name/],
      ['"*"', /not a DNS name/],
      ['shop_example.com', /not a DNS name/],
    ] as const) {
      const text = `${HEAD}${SERVICE_PARENT}  hostnames:\n  - ok.example.com\n  - ${host}\n`;
      expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.hostnames[1]', `- ${host}`, re);
    }
  });

  it('limits a route to 16 rules, 64 matches per rule and 128 matches in all', () => {
    const rule = '  - backendRefs: [{name: a, port: 80}]\n';
    expectError(route(rule.repeat(17)), 'TRELLIS_E_INVALID_FIELD', 'spec.rules', 'rules:', /at most 16/);
    const matches = (n: number) => `  - matches:\n${'    - path: {value: /x}\n'.repeat(n)}    backendRefs: [{name: a, port: 80}]\n`;
    expectError(route(matches(65)), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].matches', 'matches:', /at most 64/);
    expectError(route(matches(43).repeat(3)), 'TRELLIS_E_INVALID_FIELD', 'spec.rules', 'rules:', /129 matches.*at most 128/);
    one(route(matches(64) + matches(64)));
    expectError(`${HEAD}${SERVICE_PARENT}  rules: []\n`, 'TRELLIS_E_INVALID_FIELD', 'spec.rules', 'rules: []', /at least one rule/);
  });

  it('rejects rule names used twice', () => {
    const text = route('  - name: a\n    backendRefs: [{name: a, port: 80}]\n  - name: a\n    backendRefs: [{name: b, port: 80}]\n');
    expectError(text, 'TRELLIS_E_DUPLICATE_NAME', 'spec.rules[1].name', lineOf(text, '- name: a', 2), /already used by rules\[0\]/);
  });

  it('applies the Gateway API path rules to Exact and PathPrefix values', () => {
    for (const [value, re] of [
      ['api', /start.* with "\/"/],
      ['/a//b', /"\/\/"/],
      ['/a/./b', /"\/\.\/"/],
      ['/a/../b', /"\/\.\.\/"/],
      ['/a%2fb', /"%2f"/],
      ['/a%2Fb', /"%2F"/],
      ['"/a#b"', /"#"/],
      ['/a/..', /end with "\/\.\."/],
      ['/a/.', /end with "\/\."/],
      ['"/a b"', /URL path characters/],
    ] as const) {
      const text = route(`  - matches:\n    - path:\n        type: Exact\n        value: ${value}\n    backendRefs: [{name: a, port: 80}]\n`);
      expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].matches[0].path.value', `value: ${value}`, re);
    }
    expectError(route('  - matches:\n    - path: {type: Prefix, value: /a}\n    backendRefs: [{name: a, port: 80}]\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].matches[0].path.type', 'path:', /Exact, PathPrefix or RegularExpression/);
  });

  it('compiles every RegularExpression value with RE2', () => {
    const path = route('  - matches:\n    - path:\n        type: RegularExpression\n        value: "/(a"\n    backendRefs: [{name: a, port: 80}]\n');
    expectError(path, 'TRELLIS_E_INVALID_REGEX', 'spec.rules[0].matches[0].path.value', 'value: "/(a"');
    const header = route('  - matches:\n    - headers:\n      - name: x\n        type: RegularExpression\n        value: "(a)\\\\1"\n    backendRefs: [{name: a, port: 80}]\n');
    expectError(header, 'TRELLIS_E_INVALID_REGEX', 'spec.rules[0].matches[0].headers[0].value', 'value: "(a)');
    const query = route('  - matches:\n    - queryParams:\n      - {name: q, type: RegularExpression, value: "[z-a]"}\n    backendRefs: [{name: a, port: 80}]\n');
    expectError(query, 'TRELLIS_E_INVALID_REGEX', 'spec.rules[0].matches[0].queryParams[0].value', 'name: q');
    // An Exact value is not a regex: "(" is fine there.
    one(route('  - matches:\n    - headers: [{name: x, value: "(a"}]\n    backendRefs: [{name: a, port: 80}]\n'));
  });

  it('checks header match names and values and the method', () => {
    expectError(route('  - matches:\n    - headers:\n      - {name: "x y", value: a}\n    backendRefs: [{name: a, port: 80}]\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].matches[0].headers[0].name', 'name: "x y"', /HTTP header name/);
    expectError(route('  - matches:\n    - headers:\n      - name: x\n    backendRefs: [{name: a, port: 80}]\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.rules[0].matches[0].headers[0].value', '- name: x');
    expectError(route('  - matches:\n    - method: FETCH\n    backendRefs: [{name: a, port: 80}]\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].matches[0].method', 'method: FETCH', /GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH/);
  });

  it('rejects ExtensionRef, CORS and unknown filter types, naming the type', () => {
    for (const [type, re] of [
      ['ExtensionRef', /ExtensionRef is not supported by Trellis/],
      ['CORS', /CORS is not supported/],
      ['Compress', /unknown filter type "Compress"/],
    ] as const) {
      const text = route(`  - filters:\n    - type: ${type}\n      extensionRef: {group: x.io, kind: F, name: f}\n    backendRefs: [{name: a, port: 80}]\n`);
      const r = parseManifests(text, 'route.yaml');
      const e = r.errors.find((x) => x.path === 'spec.rules[0].filters[0].type')!;
      assert.ok(e, r.errors.map(formatManifestError).join('\n'));
      assert.equal(e.line, lineOf(text, `type: ${type}`));
      assert.match(e.message, re);
      assert.match(e.message, /supported types: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror/);
    }
  });

  it('requires the configuration of the filter type and nothing else', () => {
    expectError(route('  - filters:\n    - type: RequestHeaderModifier\n    backendRefs: [{name: a, port: 80}]\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.rules[0].filters[0].requestHeaderModifier', '- type: RequestHeaderModifier');
    const r = parseManifests(route('  - filters:\n    - type: URLRewrite\n      urlRewrite: {hostname: a.example}\n      requestRedirect: {statusCode: 301}\n    backendRefs: [{name: a, port: 80}]\n'), 'route.yaml');
    assert.deepEqual(r.errors.map((e) => [e.code, e.path]), [['TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestRedirect']]);
  });

  it('rejects a header name acted on twice in one header modifier, and bad header names', () => {
    const text = route(`  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-A, value: "1"}]
        remove: [x-b, x-a]
    backendRefs: [{name: a, port: 80}]
`);
    expectError(text, 'TRELLIS_E_DUPLICATE_NAME', 'spec.rules[0].filters[0].requestHeaderModifier.remove[1]', 'remove:', /already has an action at set\[0\]/);
    const twice = route('  - filters:\n    - type: ResponseHeaderModifier\n      responseHeaderModifier:\n        add:\n        - {name: X-A, value: "1"}\n        - {name: X-A, value: "2"}\n    backendRefs: [{name: a, port: 80}]\n');
    expectError(twice, 'TRELLIS_E_DUPLICATE_NAME', 'spec.rules[0].filters[0].responseHeaderModifier.add[1].name', 'value: "2"');
    const bad = route('  - filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier:\n        set: [{name: "x:y", value: "1"}]\n    backendRefs: [{name: a, port: 80}]\n');
    expectError(bad, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestHeaderModifier.set[0].name', 'set:', /HTTP header name/);
  });

  it('allows each filter type once per list, except RequestMirror', () => {
    const twice = route(`  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {remove: [a]}
    - type: RequestHeaderModifier
      requestHeaderModifier: {remove: [b]}
    backendRefs: [{name: a, port: 80}]
`);
    expectError(twice, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[1].type', lineOf(twice, 'type: RequestHeaderModifier', 2), /already at spec\.rules\[0\]\.filters\[0\]/);
    const backend = route(`  - backendRefs:
    - name: a
      port: 80
      filters:
      - type: URLRewrite
        urlRewrite: {hostname: a.example}
      - type: URLRewrite
        urlRewrite: {hostname: b.example}
`);
    expectError(backend, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].backendRefs[0].filters[1].type', lineOf(backend, 'type: URLRewrite', 2), /only RequestMirror may appear more than once/);
  });

  it('rejects a filter list with both RequestRedirect and URLRewrite', () => {
    const text = route(`  - filters:
    - type: URLRewrite
      urlRewrite: {hostname: a.example}
    - type: RequestRedirect
      requestRedirect: {statusCode: 301}
`);
    const e = expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[1].type', 'type: RequestRedirect', /redirect or rewrite, not both/);
    assert.match(e.message, /URLRewrite filter at spec\.rules\[0\]\.filters\[0\]/);
  });

  it('rejects backendRefs in a rule that redirects', () => {
    const text = route(`  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    backendRefs: [{name: a, port: 80}]
`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].backendRefs', 'backendRefs:', /RequestRedirect filter \(filters\[0\]\) must not have backendRefs/);
  });

  it('allows ReplacePrefixMatch only when every match of the rule is a PathPrefix', () => {
    const text = route(`  - matches:
    - path: {type: PathPrefix, value: /a}
    - path: {type: Exact, value: /b}
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /c}
    backendRefs: [{name: a, port: 80}]
`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].urlRewrite.path.type', 'path: {type: ReplacePrefixMatch', /matches\[1\] uses Exact/);
    const backendLevel = route(`  - matches:
    - path: {type: RegularExpression, value: "/a.*"}
    backendRefs:
    - name: a
      port: 80
      filters:
      - type: RequestRedirect
        requestRedirect:
          path: {type: ReplacePrefixMatch, replacePrefixMatch: /c}
`);
    expectError(backendLevel, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].backendRefs[0].filters[0].requestRedirect.path.type', 'path: {type: ReplacePrefixMatch', /uses RegularExpression/);
    // Several PathPrefix matches are fine, and so are the default match and ReplaceFullPath with an Exact match.
    one(route(`  - matches: [{path: {value: /a}}, {path: {value: /b}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [{name: a, port: 80}]
  - filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
  - matches: [{path: {type: Exact, value: /e}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /f}}}]
    backendRefs: [{name: a, port: 80}]
`));
  });

  it('requires the value of the path modifier type, and only that one', () => {
    const missing = route('  - filters:\n    - type: RequestRedirect\n      requestRedirect:\n        path: {type: ReplaceFullPath}\n');
    expectError(missing, 'TRELLIS_E_MISSING_FIELD', 'spec.rules[0].filters[0].requestRedirect.path.replaceFullPath', 'path: {type: ReplaceFullPath}');
    const other = route('  - filters:\n    - type: RequestRedirect\n      requestRedirect:\n        path:\n          type: ReplaceFullPath\n          replaceFullPath: /a\n          replacePrefixMatch: /b\n');
    expectError(other, 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestRedirect.path.replacePrefixMatch', 'replacePrefixMatch: /b');
  });

  it('checks redirect status code, scheme and hostname', () => {
    const redirect = (body: string) => route(`  - filters:\n    - type: RequestRedirect\n      requestRedirect:\n        ${body}\n`);
    expectError(redirect('statusCode: 304'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestRedirect.statusCode', 'statusCode: 304', /301, 302, 303, 307 or 308/);
    expectError(redirect('scheme: ftp'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestRedirect.scheme', 'scheme: ftp', /http or https/);
    expectError(redirect('hostname: "*.example.com"'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestRedirect.hostname', 'hostname:', /no wildcard/);
    expectError(redirect('port: 0'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestRedirect.port', 'port: 0');
  });

  it('checks mirror shares and the mirror backend', () => {
    const mirror = (body: string) => route(`  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n${body}    backendRefs: [{name: a, port: 80}]\n`);
    expectError(mirror('        percent: 10\n        fraction: {numerator: 1}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestMirror.fraction', 'fraction:', /percent or fraction, not both/);
    expectError(mirror('        fraction: {numerator: 3, denominator: 2}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestMirror.fraction.numerator', 'fraction:', /at most the denominator \(2\)/);
    expectError(mirror('        percent: 101\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestMirror.percent', 'percent: 101');
    expectError(mirror('        fraction: {numerator: 1, denominator: 0}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].filters[0].requestMirror.fraction.denominator', 'fraction:');
    const noPort = route('  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m}\n    backendRefs: [{name: a, port: 80}]\n');
    expectError(noPort, 'TRELLIS_E_MISSING_FIELD', 'spec.rules[0].filters[0].requestMirror.backendRef.port', 'backendRef:');
  });

  it('requires a port for Service backends and checks weights', () => {
    expectError(route('  - backendRefs:\n    - name: web-v1\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.rules[0].backendRefs[0].port', '- name: web-v1', /port is required for a Service backend/);
    expectError(route('  - backendRefs:\n    - {name: a, port: 80, weight: -1}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].backendRefs[0].weight', 'weight: -1', /0 to 1000000/);
    expectError(route('  - backendRefs:\n    - {name: a, port: 80, weight: 1000001}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].backendRefs[0].weight', 'weight: 1000001');
    expectError(route('  - backendRefs:\n    - {name: a, port: 80, weight: 1.5}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].backendRefs[0].weight', 'weight: 1.5');
  });

  it('rejects timeouts not in the Gateway API duration format, and a backendRequest longer than the request', () => {
    const t = (body: string) => route(`  - backendRefs: [{name: a, port: 80}]\n    timeouts:\n${body}`);
    expectError(t('      request: 1.5s\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].timeouts.request', 'request: 1.5s', /Gateway API duration/);
    expectError(t('      backendRequest: 10\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].timeouts.backendRequest', 'backendRequest: 10', /must be a string/);
    expectError(t('      request: 1s\n      backendRequest: 2s\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].timeouts.backendRequest', 'backendRequest: 2s', /must not be longer than request/);
  });

  it('reports every error of a document, each on its own line', () => {
    const text = route(`  - matches:
    - method: FETCH
    backendRefs:
    - name: no-port
  - backendRefs: [{name: a, port: 80}]
    timeouts: {request: soon}
`);
    const r = parseManifests(text, 'route.yaml');
    assert.deepEqual(
      r.errors.map((e) => [e.path, e.line]),
      [
        ['spec.rules[0].matches[0].method', lineOf(text, 'method: FETCH')],
        ['spec.rules[0].backendRefs[0].port', lineOf(text, '- name: no-port')],
        ['spec.rules[1].timeouts.request', lineOf(text, 'timeouts: {request: soon}')],
      ],
    );
    assert.equal(r.resources.length, 0);
  });
});
