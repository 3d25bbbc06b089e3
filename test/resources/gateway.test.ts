import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadManifests, parseManifests, parseObject } from '../../src/resources/parse.js';
import { formatManifestError, formatManifestWarning, type ManifestError } from '../../src/resources/errors.js';
import { kindDescriptor, resolveKind } from '../../src/resources/kinds.js';
import type { GatewayClassResource, GatewayResource, Resource, SecretResource } from '../../src/resources/types.js';

function lineOf(text: string, needle: string, nth = 1): number {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`"${needle}" (${nth}) not in text`);
}

function one<T extends Resource>(text: string, file = 'gateway.yaml'): T {
  const r = parseManifests(text, file);
  assert.deepEqual(r.errors.map(formatManifestError), []);
  assert.equal(r.resources.length, 1);
  return r.resources[0] as T;
}

function onlyError(text: string): ManifestError {
  const r = parseManifests(text, 'gateway.yaml');
  assert.equal(r.errors.length, 1, r.errors.map(formatManifestError).join('\n') || 'no error');
  assert.equal(r.resources.length, 0);
  return r.errors[0]!;
}

function expectError(text: string, code: string, errPath: string, needle: string | number, message?: RegExp): ManifestError {
  const e = onlyError(text);
  const line = typeof needle === 'number' ? needle : lineOf(text, needle);
  assert.deepEqual([e.code, e.path, e.line], [code, errPath, line], formatManifestError(e));
  if (message) assert.match(e.message, message);
  return e;
}

const GW_HEAD = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
  namespace: shop
spec:
  gatewayClassName: trellis
`;
const gateway = (listeners: string, extra = '') => `${GW_HEAD}${extra}  listeners:\n${listeners}`;
const HTTP = `  - name: http
    port: 8080
    protocol: HTTP
`;

describe('kind registry', () => {
  it('knows Gateway (gtw), GatewayClass (gc, cluster-scoped) and Secret', () => {
    assert.equal(resolveKind('gtw'), 'Gateway');
    assert.equal(resolveKind('gateways'), 'Gateway');
    assert.equal(resolveKind('gc'), 'GatewayClass');
    assert.equal(resolveKind('gatewayclasses.gateway.networking.k8s.io'), 'GatewayClass');
    assert.equal(resolveKind('secrets'), 'Secret');
    assert.equal(kindDescriptor('GatewayClass')!.namespaced, false);
    assert.equal(kindDescriptor('Gateway')!.namespaced, true);
    assert.deepEqual(kindDescriptor('Gateway')!.versions, ['v1beta1', 'v1']);
  });
});

describe('GatewayClass', () => {
  it('parses controllerName and description, cluster-scoped', () => {
    const text = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: GatewayClass
metadata:
  name: trellis
spec:
  controllerName: trellis.dev/gateway-controller
  description: Trellis ingress
`;
    const gc = one<GatewayClassResource>(text);
    assert.equal(gc.apiVersion, 'gateway.networking.k8s.io/v1beta1');
    assert.equal(gc.metadata.namespace, '');
    assert.deepEqual(gc.spec, { controllerName: 'trellis.dev/gateway-controller', description: 'Trellis ingress' });
  });

  it('requires controllerName', () => {
    const text = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: trellis
spec:
  description: none
`;
    expectError(text, 'TRELLIS_E_MISSING_FIELD', 'spec.controllerName', 'spec:');
  });

  it('rejects a controllerName without a domain prefix', () => {
    const text = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: trellis
spec:
  controllerName: trellis
`;
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.controllerName', 'controllerName', /domain-prefixed path/);
  });
});

describe('Gateway defaults', () => {
  it('normalises listeners: allowedRoutes Same + HTTPRoute, hostname lower-cased, protocol upper-cased, service account = name', () => {
    const gw = one<GatewayResource>(
      gateway(`  - name: http
    port: 80
    protocol: http
    hostname: Shop.Example.COM
  - name: wild
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
`),
    );
    assert.equal(gw.spec.gatewayClassName, 'trellis');
    assert.equal(gw.spec.serviceAccountName, 'web');
    assert.deepEqual(gw.spec.listeners[0], {
      name: 'http',
      port: 80,
      protocol: 'HTTP',
      hostname: 'shop.example.com',
      allowedRoutes: { namespaces: { from: 'Same' }, kinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }] },
    });
    assert.equal(gw.spec.listeners[1]!.hostname, '*.example.com');
  });

  it('accepts v1beta1 with the same schema', () => {
    const gw = one<GatewayResource>(gateway(HTTP).replace('/v1\n', '/v1beta1\n'));
    assert.equal(gw.apiVersion, 'gateway.networking.k8s.io/v1beta1');
    assert.equal(gw.spec.listeners[0]!.port, 8080);
  });

  it('defaults TLS: mode Terminate, certificateRef group "", kind Secret, namespace the Gateway\'s', () => {
    const gw = one<GatewayResource>(
      gateway(`  - name: https
    port: 8443
    protocol: HTTPS
    tls:
      certificateRefs:
      - name: shop-cert
      - name: other
        namespace: certs
`),
    );
    assert.deepEqual(gw.spec.listeners[0]!.tls, {
      mode: 'Terminate',
      certificateRefs: [
        { group: '', kind: 'Secret', namespace: 'shop', name: 'shop-cert' },
        { group: '', kind: 'Secret', namespace: 'certs', name: 'other' },
      ],
      options: {},
    });
  });

  it('keeps Selector matchLabels and explicit route kinds (group defaulted)', () => {
    const gw = one<GatewayResource>(
      gateway(`  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            team: shop
      kinds:
      - kind: HTTPRoute
      - group: example.com
        kind: FooRoute
`),
    );
    assert.deepEqual(gw.spec.listeners[0]!.allowedRoutes, {
      namespaces: { from: 'Selector', selector: { matchLabels: { team: 'shop' } } },
      kinds: [
        { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
        { group: 'example.com', kind: 'FooRoute' },
      ],
    });
  });

  it('defaults the route kinds of TCP and TLS listeners from their protocol', () => {
    const gw = one<GatewayResource>(
      gateway(`  - name: tcp
    port: 5432
    protocol: TCP
  - name: tls
    port: 8443
    protocol: TLS
    tls:
      mode: Passthrough
`),
    );
    assert.deepEqual(gw.spec.listeners.map((l) => l.allowedRoutes.kinds[0]!.kind), ['TCPRoute', 'TLSRoute']);
  });

  it('takes the service account from spec.infrastructure.annotations', () => {
    const gw = one<GatewayResource>(gateway(HTTP, `  infrastructure:\n    annotations:\n      trellis.dev/service-account: ingress\n`));
    assert.equal(gw.spec.serviceAccountName, 'ingress');
  });

  it('ignores spec.addresses with a warning', () => {
    const text = gateway(HTTP, `  addresses:\n  - type: IPAddress\n    value: 10.0.0.1\n`);
    const r = parseManifests(text, 'gateway.yaml');
    assert.deepEqual(r.errors, []);
    assert.equal(r.resources.length, 1);
    const w = r.warnings.find((x) => x.path === 'spec.addresses');
    assert.ok(w, r.warnings.map(formatManifestWarning).join('\n'));
    assert.equal(w.code, 'TRELLIS_W_UNKNOWN_FIELD');
    assert.equal(w.line, lineOf(text, 'addresses:'));
  });
});

describe('Gateway validation', () => {
  it('requires gatewayClassName', () => {
    const text = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
spec:
  listeners:
${HTTP}`;
    expectError(text, 'TRELLIS_E_MISSING_FIELD', 'spec.gatewayClassName', 'spec:');
  });

  it('requires at least one listener', () => {
    expectError(`${GW_HEAD}  listeners: []\n`, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners', 'listeners:', /at least one listener/);
  });

  it('allows at most 64 listeners', () => {
    const many = Array.from({ length: 65 }, (_, i) => `  - name: l${i}\n    port: ${1000 + i}\n    protocol: HTTP\n`).join('');
    expectError(gateway(many), 'TRELLIS_E_INVALID_FIELD', 'spec.listeners', 'listeners:', /at most 64/);
  });

  it('rejects two listeners with one name', () => {
    const text = gateway(`${HTTP}  - name: http\n    port: 9090\n    protocol: HTTP\n`);
    expectError(text, 'TRELLIS_E_DUPLICATE_NAME', 'spec.listeners[1].name', lineOf(text, '- name: http', 2));
  });

  it('rejects a listener name that is not a DNS label', () => {
    const text = gateway(`  - name: Web_1\n    port: 80\n    protocol: HTTP\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].name', 'Web_1');
  });

  it('reports listeners with the same port, protocol and hostname at the second one', () => {
    const text = gateway(`  - name: a
    port: 80
    protocol: HTTP
    hostname: shop.example.com
  - name: b
    port: 80
    protocol: HTTP
    hostname: SHOP.example.com
`);
    const e = expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[1]', '- name: b', /conflicts with listeners\[0\] \("a"\).*port, protocol and hostname must be unique/);
    assert.match(e.message, /HTTP on port 80 with hostname shop\.example\.com/);
  });

  it('allows the same port and protocol with different hostnames, and the same port with no hostname once', () => {
    const gw = one<GatewayResource>(
      gateway(`  - name: a
    port: 80
    protocol: HTTP
    hostname: a.example.com
  - name: b
    port: 80
    protocol: HTTP
  - name: c
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
`),
    );
    assert.equal(gw.spec.listeners.length, 3);
    const dup = gateway(`  - name: a\n    port: 80\n    protocol: HTTP\n  - name: b\n    port: 80\n    protocol: HTTP\n`);
    expectError(dup, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[1]', '- name: b', /with no hostname/);
  });

  it('rejects a port out of range', () => {
    const text = gateway(`  - name: http\n    port: 70000\n    protocol: HTTP\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].port', 'port: 70000', /between 1 and 65535/);
  });

  it('rejects protocols other than HTTP, HTTPS, TCP and TLS', () => {
    const text = gateway(`  - name: dns\n    port: 53\n    protocol: UDP\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].protocol', 'UDP', /HTTP, HTTPS, TCP or TLS.*UDP/);
  });

  it('rejects an invalid hostname (IP, port, wildcard not first)', () => {
    for (const host of ['10.0.0.1', 'shop.example.com:80', 'shop.*.com', '*']) {
      const text = gateway(`  - name: http\n    port: 80\n    protocol: HTTP\n    hostname: "${host}"\n`);
      expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].hostname', 'hostname:');
    }
  });

  it('rejects a hostname on a TCP listener', () => {
    const text = gateway(`  - name: db\n    port: 5432\n    protocol: TCP\n    hostname: db.example.com\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].hostname', 'hostname:', /not be set for protocol TCP/);
  });

  it('rejects tls on an HTTP listener', () => {
    const text = gateway(`  - name: http\n    port: 80\n    protocol: HTTP\n    tls:\n      certificateRefs:\n      - name: cert\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].tls', 'tls:', /use protocol HTTPS/);
  });

  it('requires tls on an HTTPS listener', () => {
    const text = gateway(`  - name: https\n    port: 443\n    protocol: HTTPS\n`);
    expectError(text, 'TRELLIS_E_MISSING_FIELD', 'spec.listeners[0].tls', '- name: https', /tls is required for protocol HTTPS/);
  });

  it('rejects Passthrough on an HTTPS listener', () => {
    const text = gateway(`  - name: https\n    port: 443\n    protocol: HTTPS\n    tls:\n      mode: Passthrough\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].tls.mode', 'mode:', /Terminate for protocol HTTPS/);
  });

  it('requires a certificate for Terminate: certificateRefs or both file options', () => {
    const none = gateway(`  - name: https\n    port: 443\n    protocol: HTTPS\n    tls:\n      mode: Terminate\n`);
    expectError(none, 'TRELLIS_E_MISSING_FIELD', 'spec.listeners[0].tls', 'tls:', /certificateRefs.*trellis\.dev\/cert-file/);
    const half = gateway(`  - name: https\n    port: 443\n    protocol: HTTPS\n    tls:\n      options:\n        trellis.dev/cert-file: cert.pem\n`);
    expectError(half, 'TRELLIS_E_MISSING_FIELD', 'spec.listeners[0].tls.options', 'options:', /needs "trellis\.dev\/key-file"/);
  });

  it('requires a selector for from: Selector and rejects matchExpressions', () => {
    const noSel = gateway(`  - name: http\n    port: 80\n    protocol: HTTP\n    allowedRoutes:\n      namespaces:\n        from: Selector\n`);
    expectError(noSel, 'TRELLIS_E_MISSING_FIELD', 'spec.listeners[0].allowedRoutes.namespaces.selector', 'namespaces:');
    const expr = gateway(`  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchExpressions:
          - key: team
            operator: In
            values: [shop]
`);
    expectError(expr, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions', 'matchExpressions:', /matchLabels/);
  });

  it('rejects an invalid from', () => {
    const text = gateway(`  - name: http\n    port: 80\n    protocol: HTTP\n    allowedRoutes:\n      namespaces:\n        from: Everywhere\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.listeners[0].allowedRoutes.namespaces.from', 'from:', /Same, All or Selector/);
  });

  it('rejects a service-account annotation that is not a name', () => {
    const text = gateway(HTTP, `  infrastructure:\n    annotations:\n      trellis.dev/service-account: Not_A_Name\n`);
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'spec.infrastructure.annotations["trellis.dev/service-account"]', 'service-account');
  });
});

describe('Gateway TLS file options', () => {
  const withFiles = (cert: string, key: string) =>
    gateway(`  - name: https
    port: 8443
    protocol: HTTPS
    tls:
      options:
        trellis.dev/cert-file: ${cert}
        trellis.dev/key-file: ${key}
`);

  it('resolves relative paths against the manifest file\'s folder', () => {
    const gw = one<GatewayResource>(withFiles('certs/tls.crt', '../keys/tls.key'), path.join('conf', 'ingress', 'gateway.yaml'));
    const dir = path.resolve('conf', 'ingress');
    assert.deepEqual(gw.spec.listeners[0]!.tls!.options, {
      'trellis.dev/cert-file': path.join(dir, 'certs', 'tls.crt'),
      'trellis.dev/key-file': path.resolve(dir, '..', 'keys', 'tls.key'),
    });
    assert.equal(gw.spec.listeners[0]!.tls!.certificateRefs.length, 0);
  });

  it('keeps absolute paths', () => {
    const abs = path.resolve('/etc/trellis/tls.crt');
    const gw = one<GatewayResource>(withFiles(abs, abs.replace('crt', 'key')), 'conf/gateway.yaml');
    assert.equal(gw.spec.listeners[0]!.tls!.options['trellis.dev/cert-file'], abs);
  });

  it('keeps relative paths as given when the source is not a file (stdin, admin API objects)', () => {
    for (const file of ['<stdin>', 'objects[0]', 'files[2]']) {
      const gw = one<GatewayResource>(withFiles('tls.crt', 'tls.key'), file);
      assert.equal(gw.spec.listeners[0]!.tls!.options['trellis.dev/cert-file'], 'tls.crt');
    }
    const r = parseObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'web' },
      spec: {
        gatewayClassName: 'trellis',
        listeners: [{ name: 'https', port: 8443, protocol: 'HTTPS', tls: { options: { 'trellis.dev/cert-file': 'a.pem', 'trellis.dev/key-file': 'b.pem' } } }],
      },
    });
    assert.deepEqual(r.errors, []);
    assert.equal((r.resource as GatewayResource).spec.listeners[0]!.tls!.options['trellis.dev/key-file'], 'b.pem');
  });

  it('resolves against the folder of a file loaded from disk', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-gw-'));
    try {
      fs.mkdirSync(path.join(dir, 'ingress'));
      fs.writeFileSync(path.join(dir, 'ingress', 'gw.yaml'), withFiles('tls.crt', 'tls.key'));
      const r = await loadManifests(dir);
      assert.deepEqual(r.errors.map(formatManifestError), []);
      const gw = r.resources[0] as GatewayResource;
      assert.equal(gw.spec.listeners[0]!.tls!.options['trellis.dev/cert-file'], path.join(dir, 'ingress', 'tls.crt'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIBsecretcert\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEsecretkey\n-----END PRIVATE KEY-----\n';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('Secret', () => {
  it('decodes data, merges stringData over it, defaults type Opaque', () => {
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: shop
data:
  user: ${b64('admin')}
  password: ${b64('old')}
stringData:
  password: s3cret
`;
    const s = one<SecretResource>(text);
    assert.equal(s.apiVersion, 'v1');
    assert.deepEqual(s.spec, { type: 'Opaque', data: { user: 'admin', password: 's3cret' } });
  });

  it('reads a kubernetes.io/tls Secret written with data or with stringData', () => {
    const s = one<SecretResource>(`apiVersion: v1
kind: Secret
metadata:
  name: shop-cert
type: kubernetes.io/tls
data:
  tls.crt: ${b64(PEM_CERT)}
  tls.key: ${b64(PEM_KEY)}
`);
    assert.deepEqual(s.spec, { type: 'kubernetes.io/tls', data: { 'tls.crt': PEM_CERT, 'tls.key': PEM_KEY } });
    const t = one<SecretResource>(`apiVersion: v1
kind: Secret
metadata:
  name: shop-cert
type: kubernetes.io/tls
stringData:
  tls.crt: |
    -----BEGIN CERTIFICATE-----
    MIIB
    -----END CERTIFICATE-----
  tls.key: |
    -----BEGIN PRIVATE KEY-----
    MIIE
    -----END PRIVATE KEY-----
`);
    assert.match(t.spec.data['tls.key']!, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('accepts base64 folded over several lines and a Secret with no data', () => {
    const long = b64(PEM_CERT);
    const s = one<SecretResource>(`apiVersion: v1
kind: Secret
metadata:
  name: folded
data:
  blob: >-
    ${long.slice(0, 20)}
    ${long.slice(20)}
`);
    assert.equal(s.spec.data.blob, PEM_CERT);
    assert.deepEqual(one<SecretResource>('apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\n').spec, { type: 'Opaque', data: {} });
  });

  it('rejects invalid base64 at the field path without printing the value', () => {
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  password: not*base64!
`;
    const e = expectError(text, 'TRELLIS_E_INVALID_FIELD', 'data.password', 'password:', /not valid base64/);
    assert.doesNotMatch(formatManifestError(e), /not\*base64/);
  });

  it('rejects a non-string value without printing it', () => {
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  pin: 918273
`;
    const e = expectError(text, 'TRELLIS_E_INVALID_FIELD', 'stringData.pin', 'pin:', /must be a string, got a number/);
    assert.doesNotMatch(formatManifestError(e), /918273/);
  });

  it('requires tls.crt and tls.key in a kubernetes.io/tls Secret', () => {
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: shop-cert
type: kubernetes.io/tls
data:
  tls.crt: ${b64(PEM_CERT)}
`;
    expectError(text, 'TRELLIS_E_MISSING_FIELD', 'data', text.split('\n').indexOf('data:') + 1, /needs "tls\.key"/);
  });

  it('rejects tls.crt or tls.key that is not PEM, without printing it', () => {
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: shop-cert
type: kubernetes.io/tls
data:
  tls.crt: ${b64(PEM_CERT)}
  tls.key: ${b64('hunter2-private')}
`;
    const e = expectError(text, 'TRELLIS_E_INVALID_FIELD', 'data["tls.key"]', 'tls.key:', /not PEM/);
    assert.doesNotMatch(formatManifestError(e), /hunter2/);
    assert.doesNotMatch(formatManifestError(e), new RegExp(b64('hunter2-private')));
  });

  it('rejects an invalid data key', () => {
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  "bad key": x
`;
    expectError(text, 'TRELLIS_E_INVALID_FIELD', 'stringData["bad key"]', 'bad key', /letters, digits/);
  });
});
