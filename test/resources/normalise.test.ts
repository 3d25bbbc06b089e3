import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests, parseObject } from '../../src/resources/parse.js';
import { formatManifestError } from '../../src/resources/errors.js';
import { defaultMeshConfigSpec, parseDuration } from '../../src/resources/mesh-config.js';
import { quantityToMilli } from '../../src/resources/quantity.js';
import type {
  HTTPRouteGroupResource,
  MeshConfigResource,
  Resource,
  ServiceResource,
  TrafficSplitResource,
  TrafficTargetResource,
  WorkloadResource,
} from '../../src/resources/types.js';

function one<T extends Resource>(text: string): T {
  const r = parseManifests(text, 'test.yaml');
  assert.deepEqual(r.errors.map(formatManifestError), []);
  assert.equal(r.resources.length, 1);
  return r.resources[0] as T;
}

describe('normalisation', () => {
  it('derives Service appProtocol from appProtocol, then the port name, else http', () => {
    const svc = one<ServiceResource>(`apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  selector: {app: s}
  ports:
  - {name: web, port: 80, appProtocol: grpc}
  - {name: http-admin, port: 81}
  - {name: tcp-raw, port: 82}
  - {name: grpc-api, port: 83}
  - {name: mysql, port: 3306}
  - {name: postgresql, port: 5432}
  - {name: mongodb, port: 27017}
  - {name: redis, port: 6379}
  - {name: metrics, port: 9090, targetPort: metrics-port}
  - {port: 53, protocol: UDP}
`);
    assert.equal(svc.metadata.namespace, 'default');
    assert.deepEqual(svc.spec.ports.map((p) => p.appProtocol), ['grpc', 'http', 'tcp', 'grpc', 'tcp', 'tcp', 'tcp', 'tcp', 'http', 'tcp']);
    assert.equal(svc.spec.ports[0]!.targetPort, 80);
    assert.equal(svc.spec.ports[8]!.targetPort, 'metrics-port');
    assert.equal(svc.spec.ports[9]!.protocol, 'UDP');
  });

  it('defaults a Workload and accepts env as a map or as a Kubernetes-style list', () => {
    const base = `apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  command: [node, server.js]
  upstreams:
  - {service: db, port: 5432}
  - {service: auth, namespace: security, port: 80, localPort: 15001}
`;
    const w = one<WorkloadResource>(base + '  env: {PORT: 8080, MODE: prod}\n');
    assert.deepEqual(w.spec, {
      command: ['node', 'server.js'],
      env: { PORT: '8080', MODE: 'prod' },
      replicas: 1,
      serviceAccountName: 'default',
      ports: [],
      upstreams: [
        { service: 'db', namespace: 'shop', port: 5432 },
        { service: 'auth', namespace: 'security', port: 80, localPort: 15001 },
      ],
    });
    assert.deepEqual(w.metadata.labels, { app: 'web' });
    const listed = one<WorkloadResource>(base + '  env:\n  - name: PORT\n    value: "8080"\n  - name: EMPTY\n');
    assert.deepEqual(listed.spec.env, { PORT: '8080', EMPTY: '' });
  });

  it('rejects a Workload with an empty command', () => {
    const r = parseManifests('apiVersion: trellis.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec:\n  command: []\n', 'w.yaml');
    assert.deepEqual(r.errors.map((e) => [e.path, e.message]), [['spec.command', 'command must not be empty']]);
  });

  it('fills MeshConfig defaults and converts the certificate lifetime to milliseconds', () => {
    const empty = one<MeshConfigResource>('apiVersion: trellis.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n');
    assert.deepEqual(empty.spec, defaultMeshConfigSpec());
    assert.equal(empty.metadata.namespace, '');
    const set = one<MeshConfigResource>(`apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  mtls: {mode: PERMISSIVE}
  access: {mode: permissive}
  certificates: {lifetime: 1h30m, rotateAt: 0.8}
  trustDomain: example.org
`);
    assert.deepEqual(set.spec, {
      mtls: { mode: 'PERMISSIVE' },
      access: { mode: 'permissive' },
      certificates: { lifetimeMs: 5_400_000, rotateAt: 0.8 },
      trustDomain: 'example.org',
      tracing: { samplingPercent: 100 },
      accessLog: { enabled: true },
    });
  });

  it('parses MeshConfig tracing and access log settings', () => {
    const set = one<MeshConfigResource>(`apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  tracing:
    samplingPercent: 1.5
    zipkin: {url: "http://127.0.0.1:9411/api/v2/spans"}
    otlp: {url: "https://collector.example:4318"}
  accessLog: {enabled: false, file: /var/log/trellis/access.log}
`);
    assert.deepEqual(set.spec.tracing, { samplingPercent: 1.5, zipkin: { url: 'http://127.0.0.1:9411/api/v2/spans' }, otlp: { url: 'https://collector.example:4318' } });
    assert.deepEqual(set.spec.accessLog, { enabled: false, file: '/var/log/trellis/access.log' });
  });

  it('rejects a sampling percentage out of range, a collector URL that is not http(s) and a relative access log file', () => {
    for (const [yaml, path, re] of [
      ['tracing: {samplingPercent: 101}', 'spec.tracing.samplingPercent', /from 0 to 100/],
      ['tracing: {samplingPercent: -1}', 'spec.tracing.samplingPercent', /from 0 to 100/],
      ['tracing: {zipkin: {url: "ftp://x/"}}', 'spec.tracing.zipkin.url', /http/],
      ['tracing: {otlp: {url: "not a url"}}', 'spec.tracing.otlp.url', /http/],
      ['accessLog: {file: logs/access.log}', 'spec.accessLog.file', /absolute path/],
    ] as const) {
      const r = parseManifests(`apiVersion: trellis.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: m}\nspec:\n  ${yaml}\n`, 'm.yaml');
      assert.equal(r.errors.length, 1, yaml);
      assert.equal(r.errors[0]!.path, path);
      assert.match(r.errors[0]!.message, re);
    }
  });

  it('rejects a certificate lifetime under 2s and an unparsable one', () => {
    for (const [value, re] of [['1s', /at least 2s/], ['soon', /invalid duration/]] as const) {
      const r = parseManifests(`apiVersion: trellis.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: m}\nspec:\n  certificates:\n    lifetime: ${value}\n`, 'm.yaml');
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.path, 'spec.certificates.lifetime');
      assert.equal(r.errors[0]!.line, 6);
      assert.match(r.errors[0]!.message, re);
    }
  });

  it('parses Go-style durations', () => {
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('0'), 0);
    assert.throws(() => parseDuration('10'), /TRELLIS|invalid duration/);
    assert.throws(() => parseDuration('-5s'));
    assert.throws(() => parseDuration('5d'));
  });

  it('converts Kubernetes quantities to milli-units', () => {
    assert.equal(quantityToMilli('1'), 1000);
    assert.equal(quantityToMilli(1), 1000);
    assert.equal(quantityToMilli('100'), 100_000);
    assert.equal(quantityToMilli('500m'), 500);
    assert.equal(quantityToMilli('1500m'), 1500);
    assert.equal(quantityToMilli('0.5'), 500);
    assert.throws(() => quantityToMilli('0.0001'));
    assert.throws(() => quantityToMilli('-1'));
  });

  it('reduces every FQDN form of the root service to the bare name', () => {
    for (const fqdn of ['web', 'web.shop', 'web.shop.svc', 'web.shop.svc.cluster', 'web.shop.svc.cluster.local']) {
      const t = one<TrafficSplitResource>(
        `apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: s, namespace: shop}\nspec:\n  service: ${fqdn}\n  backends: [{service: web-v1, weight: 1}]\n`,
      );
      assert.equal(t.spec.service, 'web', fqdn);
    }
  });

  it('merges header maps given as a map and as a list into one lower-cased map, and upper-cases methods', () => {
    const asMap = one<HTTPRouteGroupResource>(`apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: g}
spec:
  matches:
  - name: m
    methods: [get, Post, "*"]
    headers: {User-Agent: ".*Firefox.*", X-Canary: "yes"}
`);
    const asList = one<HTTPRouteGroupResource>(`apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: g}
spec:
  matches:
  - name: m
    methods: [get, Post, "*"]
    headers:
    - User-Agent: ".*Firefox.*"
    - X-Canary: "yes"
`);
    assert.deepEqual(asMap.spec, asList.spec);
    assert.deepEqual(asMap.spec.matches[0], {
      name: 'm',
      methods: ['GET', 'POST', '*'],
      headers: { 'user-agent': '.*Firefox.*', 'x-canary': 'yes' },
    });
  });

  it('accepts a TrafficTarget destination port written as a numeric string', () => {
    const t = one<TrafficTargetResource>(`apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
metadata: {name: t, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: api, port: "8080"}
  rules: [{kind: TCPRoute, name: all}]
  sources: [{kind: ServiceAccount, name: web}]
`);
    assert.deepEqual(t.spec.destination, { kind: 'ServiceAccount', name: 'api', namespace: 'shop', port: 8080 });
    assert.deepEqual(t.spec.sources, [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }]);
  });

  it('parses a WorkloadInstance JSON object from the admin API', () => {
    const obj = {
      apiVersion: 'trellis.dev/v1alpha1',
      kind: 'WorkloadInstance',
      metadata: { name: 'web-0', namespace: 'shop', resourceVersion: '7' },
      spec: {
        workload: 'web',
        index: 0,
        serviceAccountName: 'web',
        labels: { app: 'web' },
        address: '127.0.0.1',
        ports: [{ name: 'http', port: 41000, inboundPort: 41001 }],
        outboundPort: 41002,
        adminPort: 41003,
        upstreams: [{ service: 'db', namespace: 'shop', port: 5432, localPort: 41004 }],
        ready: true,
      },
    };
    const r = parseObject(obj);
    assert.deepEqual(r.errors, []);
    assert.equal(r.resource?.kind, 'WorkloadInstance');
    assert.equal(r.resource?.metadata.resourceVersion, '7');
    assert.deepEqual(r.resource?.spec, obj.spec);
  });

  it('reports JSON object errors by field path', () => {
    const r = parseObject(
      { apiVersion: 'trellis.dev/v1alpha1', kind: 'WorkloadInstance', metadata: { name: 'w' }, spec: { workload: 'w' } },
      { file: 'api', document: 0, line: 1 },
    );
    assert.ok(r.errors.length > 0);
    assert.ok(r.errors.some((e) => e.path === 'spec.index' && e.code === 'TRELLIS_E_MISSING_FIELD'));
    assert.equal(r.resource, undefined);
  });
});
