// The ingress gateway end to end: a Gateway with HTTP and HTTPS listeners
// started by `trellis up`, HTTPRoutes attached by listener and hostname
// (the conformance cases of ../shared/conformance/gateway-api.md), TLS
// termination with a Secret, the gateway's mesh identity under deny-by-default
// access control, and status conditions as a Kubernetes user reads them.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCA, generateKeyPair, issueCertificate } from '../../src/identity/index.js';
import { listenerPorts } from '../support/ports.js';
import { expectEventually, type Expectation } from '../support/conformance.js';
import { startMesh, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';
import http from 'node:http';

const echoApp = path.join(examplesDir, 'echo', 'echo.mjs');

const backend = (name: string, sa = 'backend') => `
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: gw, labels: { app: ${name} } }
spec:
  serviceAccountName: ${sa}
  command: ["node", ${JSON.stringify(echoApp)}]
  ports: [{ name: web }]
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: gw }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 8080, targetPort: web }]
`;

const route = (name: string, spec: string) => `
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: gw }
spec:
${spec}`;

function request(port: number, p: string, host: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('ingress gateway', { timeout: 300_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;
  let httpPort: number;
  let hostsPort: number;
  let httpsPort: number;
  let caPem: string;

  const check = (port: number, p: string, host: string, e: Expectation) =>
    expectEventually(() => request(port, p, host), e, `${host}:${port}${p}`);

  before(async () => {
    [httpPort, hostsPort, httpsPort] = await listenerPorts(3);
    // A certificate for secure.example.com from a CA only this test trusts.
    const ca = await createCA({ trustDomain: 'gateway.test' });
    const key = generateKeyPair();
    const cert = await issueCertificate(ca, { spiffeId: 'spiffe://gateway.test/ns/gw/sa/ingress', publicKeyPem: key.publicKeyPem, lifetimeMs: 3600_000, dnsNames: ['secure.example.com'] });
    caPem = ca.certPem;
    const manifests = `
apiVersion: v1
kind: Namespace
metadata: { name: gw }
${backend('v1')}${backend('v2')}${backend('v3')}${backend('private', 'private')}
---
apiVersion: v1
kind: Secret
metadata: { name: secure-cert, namespace: gw }
type: kubernetes.io/tls
stringData:
  tls.crt: ${JSON.stringify(cert.certPem)}
  tls.key: ${JSON.stringify(key.privateKeyPem)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: trellis }
spec: { controllerName: trellis.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ingress, namespace: gw }
spec:
  gatewayClassName: trellis
  listeners:
  - { name: http, port: ${httpPort}, protocol: HTTP }
  - { name: specific, port: ${hostsPort}, protocol: HTTP, hostname: very.specific.com }
  - { name: wildcard, port: ${hostsPort}, protocol: HTTP, hostname: "*.wildcard.io" }
  - { name: another, port: ${hostsPort}, protocol: HTTP, hostname: "*.anotherwildcard.io" }
  - name: https
    port: ${httpsPort}
    protocol: HTTPS
    hostname: secure.example.com
    tls: { mode: Terminate, certificateRefs: [{ kind: Secret, name: secure-cert }] }
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: { name: everything, namespace: gw }
spec:
  matches: [{ name: all, pathRegex: ".*", methods: ["*"] }]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: ingress-to-backends, namespace: gw }
spec:
  destination: { kind: ServiceAccount, name: backend, namespace: gw }
  rules: [{ kind: HTTPRouteGroup, name: everything }]
  sources: [{ kind: ServiceAccount, name: ingress, namespace: gw }]
${route(
  'matching',
  `  parentRefs: [{ name: ingress, sectionName: http }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /private } }]
    backendRefs: [{ name: private, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /missing } }]
    backendRefs: [{ name: does-not-exist, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /secure } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, port: ${httpsPort} } }]
`,
)}${route('specific', `  parentRefs: [{ name: ingress, port: ${hostsPort} }]\n  hostnames: [very.specific.com]\n  rules: [{ backendRefs: [{ name: v1, port: 8080 }] }]\n`)}${route(
  'wildcard',
  `  parentRefs: [{ name: ingress, port: ${hostsPort} }]\n  hostnames: ["*.wildcard.io"]\n  rules: [{ backendRefs: [{ name: v2, port: 8080 }] }]\n`,
)}${route('another', `  parentRefs: [{ name: ingress, port: ${hostsPort} }]\n  hostnames: [foo.anotherwildcard.io]\n  rules: [{ backendRefs: [{ name: v3, port: 8080 }] }]\n`)}${route(
  'no-match',
  `  parentRefs: [{ name: ingress, sectionName: specific }]\n  hostnames: [nomatch.example.org]\n  rules: [{ backendRefs: [{ name: v1, port: 8080 }] }]\n`,
)}${route('secure', `  parentRefs: [{ name: ingress, sectionName: https }]\n  rules: [{ backendRefs: [{ name: v3, port: 8080 }] }]\n`)}
`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-gateway-'));
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), manifests);
    mesh = await startMesh(dir);
  });

  after(async () => {
    await mesh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('routes by path and header on a listener without a hostname (the same engine as mesh routes)', async () => {
    for (const p of ['/', '/example', '/v2example']) await check(httpPort, p, 'anything.example', { backend: 'v1' });
    for (const p of ['/v2', '/v2/example']) await check(httpPort, p, 'anything.example', { backend: 'v2' });
  });

  it('matches listener and route hostnames: exact, wildcard, a port in Host ignored', async () => {
    await check(hostsPort, '/', 'very.specific.com', { backend: 'v1' });
    await check(hostsPort, '/', 'very.specific.com:1234', { backend: 'v1' });
    await check(hostsPort, '/', 'foo.wildcard.io', { backend: 'v2' });
    await check(hostsPort, '/', 'foo.bar.wildcard.io', { backend: 'v2' });
    await check(hostsPort, '/', 'wildcard.io', { status: 404 });
    await check(hostsPort, '/', 'foo.anotherwildcard.io', { backend: 'v3' });
    await check(hostsPort, '/', 'bar.anotherwildcard.io', { status: 404 });
    await check(hostsPort, '/', 'nomatch.example.org', { status: 404 });
  });

  it('terminates TLS with the certificate of a Secret', async () => {
    const get = () =>
      new Promise<Reply>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: httpsPort, path: '/', servername: 'secure.example.com', headers: { host: 'secure.example.com' }, ca: caPem, agent: false, timeout: 10_000 },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    await expectEventually(get, { backend: 'v3' }, 'https');
  });

  it('redirects HTTP to HTTPS', async () => {
    await check(httpPort, '/secure/page', 'secure.example.com', { status: 302, location: `https://secure.example.com:${httpsPort}/secure/page` });
  });

  it('is a mesh client like any other: a Service that does not allow the gateway answers 403', async () => {
    const r = await request(httpPort, '/private', 'x.example');
    assert.equal(r.status, 403, r.body);
    assert.match(r.body, /spiffe:\/\/cluster\.local\/ns\/gw\/sa\/ingress/);
  });

  it('answers 500 for a missing backend', async () => {
    await check(httpPort, '/missing', 'x.example', { status: 500 });
  });

  it('reports status conditions on the Gateway and its routes', async () => {
    const { items: gateways } = await mesh.client.list('Gateway', { namespace: 'gw' });
    const gw = gateways[0] as { status: { conditions: { type: string; status: string }[]; listeners: { name: string; attachedRoutes: number }[] } };
    assert.equal(gw.status.conditions.find((c) => c.type === 'Programmed')?.status, 'True');
    assert.equal(gw.status.listeners.find((l) => l.name === 'http')?.attachedRoutes, 1);
    const { items: routes } = await mesh.client.list('HTTPRoute', { namespace: 'gw' });
    const cond = (name: string, type: string) =>
      (routes as { metadata: { name: string }; status: { parents: { conditions: { type: string; status: string; reason: string }[] }[] } }[])
        .find((r) => r.metadata.name === name)!
        .status.parents[0]!.conditions.find((c) => c.type === type)!;
    assert.deepEqual([cond('specific', 'Accepted').status, cond('specific', 'ResolvedRefs').status], ['True', 'True']);
    assert.deepEqual([cond('no-match', 'Accepted').status, cond('no-match', 'Accepted').reason], ['False', 'NoMatchingListenerHostname']);
    assert.deepEqual([cond('matching', 'ResolvedRefs').status, cond('matching', 'ResolvedRefs').reason], ['False', 'BackendNotFound']);
    const yaml = await mesh.cli('get', 'httproutes', '-n', 'gw', 'no-match', '-o', 'yaml');
    assert.match(yaml.stdout, /NoMatchingListenerHostname/);
  });
});
