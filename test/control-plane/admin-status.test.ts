import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildLocalCatalog } from '../../src/catalog/catalog.js';
import { computeStatuses } from '../../src/compiler/status.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { AdminClient } from '../../src/cli/admin-client.js';
import { startControlPlane } from '../../src/control-plane/control-plane.js';
import { writeMeshInfo } from '../../src/local/state-dir.js';
import { parseManifests } from '../../src/resources/parse.js';
import type { SecretResource, StatusCondition } from '../../src/resources/types.js';
import { repoRoot } from '../support/paths.js';
import { PROXIES, startAdmin, type RunningAdmin } from '../cli/fixtures.js';

const MANIFESTS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: trellis
spec:
  controllerName: trellis.dev/gateway-controller
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ingress
  namespace: shop
spec:
  gatewayClassName: trellis
  listeners:
  - name: http
    port: 8080
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: orphan
  namespace: shop
spec:
  gatewayClassName: missing
  listeners:
  - name: http
    port: 9090
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: shop
spec:
  parentRefs:
  - name: ingress
  - group: ""
    kind: Service
    name: web
  hostnames: [shop.example.com]
  rules:
  - backendRefs:
    - name: web
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: broken
  namespace: shop
spec:
  parentRefs:
  - name: ingress
    sectionName: https
  rules:
  - backendRefs:
    - name: gone
      port: 8080
`;

const cond = (status: unknown, type: string): StatusCondition | undefined =>
  ((status as { conditions?: StatusCondition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

/** An admin server whose statusOf computes from the store, as the control plane does after a compile. */
async function adminWithStatus(store: Store): Promise<RunningAdmin> {
  const statusOf = (kind: string, namespace: string, name: string) => {
    const resources = store.list();
    return computeStatuses(resources, buildLocalCatalog(resources)).get(`${kind}/${namespace}/${name}`);
  };
  return startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({}), statusOf });
}

describe('admin API: computed status', () => {
  test('GET /v1/resources returns Gateways, GatewayClasses and HTTPRoutes with status; the store holds none', async () => {
    const store = createMemoryStore();
    const admin = await adminWithStatus(store);
    try {
      const client = new AdminClient(admin.url, { timeoutMs: 5000 });
      await client.apply({ files: [{ path: 'gateway.yaml', content: MANIFESTS }] });

      const gateways = (await client.list('gateways', { namespace: 'shop' })).items;
      const ingress = gateways.find((g) => g.metadata.name === 'ingress')!;
      assert.equal(cond(ingress.status, 'Programmed')?.status, 'True');
      const listeners = (ingress.status as { listeners: { name: string; attachedRoutes: number }[] }).listeners;
      assert.deepEqual(listeners.map((l) => [l.name, l.attachedRoutes]), [['http', 1]]);
      const orphan = gateways.find((g) => g.metadata.name === 'orphan')!;
      assert.equal(cond(orphan.status, 'Accepted')?.reason, 'InvalidParameters');

      const [route] = (await client.list('httproutes', { namespace: 'shop', name: 'broken' })).items;
      const parents = (route!.status as { parents: { conditions: StatusCondition[] }[] }).parents;
      assert.deepEqual(
        parents[0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
        ['Accepted=False/NoMatchingParent', 'ResolvedRefs=False/BackendNotFound'],
      );

      const [gc] = (await client.list('gc')).items;
      assert.equal(cond(gc!.status, 'Accepted')?.status, 'True');
      // Kinds without a computed status come back as stored.
      const [svc] = (await client.list('services', { namespace: 'shop' })).items;
      assert.equal(svc!.status, undefined);
      // Status is never written to the store.
      for (const r of store.list()) assert.equal(r.status, undefined, `${r.kind} ${r.metadata.name}`);
    } finally {
      await admin.close();
      await store.close();
    }
  });

  test('without statusOf objects are returned as stored', async () => {
    const store = createMemoryStore();
    const admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({}) });
    try {
      const client = new AdminClient(admin.url, { timeoutMs: 5000 });
      await client.apply({ files: [{ path: 'gateway.yaml', content: MANIFESTS }] });
      for (const r of (await client.list('gateways', { namespace: 'shop' })).items) assert.equal(r.status, undefined);
    } finally {
      await admin.close();
      await store.close();
    }
  });

  test('the control plane serves the status of its latest compilation', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-status-'));
    const cp = await startControlPlane({ stateDir, log: () => {} });
    try {
      const client = new AdminClient(`http://127.0.0.1:${cp.adminPort}`, { timeoutMs: 5000 });
      await client.apply({ files: [{ path: path.join(stateDir, 'gateway.yaml'), content: MANIFESTS }] });
      await cp.settled();
      const [shop] = (await client.list('httproutes', { namespace: 'shop', name: 'shop' })).items;
      const parents = (shop!.status as { parents: { parentRef: { kind: string }; conditions: StatusCondition[] }[] }).parents;
      assert.deepEqual(parents.map((p) => p.parentRef.kind), ['Gateway', 'Service']);
      assert.deepEqual(parents.map((p) => cond(p, 'Accepted')?.status), ['True', 'True']);

      // A change is reflected after the next compilation.
      await client.delete({ refs: [{ kind: 'Service', namespace: 'shop', name: 'web' }] });
      await cp.settled();
      const [again] = (await client.list('httproutes', { namespace: 'shop', name: 'shop' })).items;
      const after = (again!.status as { parents: { conditions: StatusCondition[] }[] }).parents;
      assert.equal(cond(after[1], 'Accepted')?.reason, 'NoMatchingParent');
      assert.equal(cond(after[0], 'ResolvedRefs')?.reason, 'BackendNotFound');
    } finally {
      await cp.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('trellis get: status columns', () => {
  let tmp: string;
  let stateDir: string;
  let store: Store;
  let admin: RunningAdmin;

  function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_HOME: path.join(tmp, 'home') };
    delete env.TRELLIS_STATE_DIR;
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [path.join(repoRoot, 'bin/trellis.js'), ...args, '--state-dir', stateDir],
        { cwd: tmp, env, timeout: 30_000 },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: unknown }).code as number) : 0;
          resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
        },
      );
    });
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-get-status-'));
    stateDir = path.join(tmp, 'state');
    store = createMemoryStore();
    admin = await adminWithStatus(store);
    writeMeshInfo(stateDir, { runnerPid: process.pid, adminUrl: admin.url, xdsPort: 0, manifestDir: tmp, startedAt: new Date().toISOString() });
    await new AdminClient(admin.url, { timeoutMs: 5000 }).apply({ files: [{ path: 'gateway.yaml', content: MANIFESTS }] });
  });

  after(async () => {
    await admin.close();
    await store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('get gateways shows CLASS and PROGRAMMED', async () => {
    const r = await trellis(['get', 'gateways', '-n', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trim().split('\n');
    assert.match(header!, /^NAMESPACE\s+NAME\s+CLASS\s+PROGRAMMED\s+AGE$/);
    assert.match(rows[0]!, /^shop\s+ingress\s+trellis\s+True\s+\d+s$/);
    assert.match(rows[1]!, /^shop\s+orphan\s+missing\s+False\(Invalid\)\s+\d+s$/);
  });

  test('get httproutes shows HOSTNAMES and per-parent ACCEPTED and RESOLVED', async () => {
    const r = await trellis(['get', 'httproutes', '-n', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trim().split('\n');
    assert.match(header!, /^NAMESPACE\s+NAME\s+HOSTNAMES\s+PARENTS\s+ACCEPTED\s+RESOLVED\s+AGE$/);
    assert.match(rows[0]!, /^shop\s+broken\s+\*\s+Gateway\/ingress\/https\s+False\(NoMatchingParent\)\s+False\(BackendNotFound\)\s+\d+s$/);
    assert.match(rows[1]!, /^shop\s+shop\s+shop\.example\.com\s+Gateway\/ingress,Service\/web\s+True,True\s+True,True\s+\d+s$/);
  });

  test('get gatewayclasses shows CONTROLLER and ACCEPTED', async () => {
    const r = await trellis(['get', 'gc']);
    assert.equal(r.code, 0, r.stderr);
    const [header, row] = r.stdout.trim().split('\n');
    assert.match(header!, /^NAME\s+CONTROLLER\s+ACCEPTED\s+AGE$/);
    assert.match(row!, /^trellis\s+trellis\.dev\/gateway-controller\s+True\s+\d+s$/);
  });

  test('get secrets shows TYPE and DATA; -o yaml writes base64 data that applies back', async () => {
    const secret = `apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: shop
stringData:
  user: admin
  password: s3cret
`;
    await new AdminClient(admin.url, { timeoutMs: 5000 }).apply({ files: [{ path: 'secret.yaml', content: secret }] });
    const table = await trellis(['get', 'secrets', '-n', 'shop']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAMESPACE\s+NAME\s+TYPE\s+DATA\s+AGE\nshop\s+creds\s+Opaque\s+2\s+\d+s\n$/);
    assert.doesNotMatch(table.stdout, /s3cret/);
    const r = await trellis(['get', 'secret', 'creds', '-n', 'shop', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    const [doc] = parseAllDocuments(r.stdout).map((d) => d.toJS());
    assert.equal(doc.type, 'Opaque');
    assert.equal(doc.spec, undefined);
    assert.equal(Buffer.from(doc.data.password, 'base64').toString('utf8'), 's3cret');
    const parsed = parseManifests(r.stdout, 'roundtrip.yaml');
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual((parsed.resources[0] as SecretResource).spec, { type: 'Opaque', data: { user: 'admin', password: 's3cret' } });
  });

  test('get -o yaml shows the full status', async () => {
    const r = await trellis(['get', 'gtw', 'ingress', '-n', 'shop', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    const [doc] = parseAllDocuments(r.stdout).map((d) => d.toJS());
    assert.equal(doc.kind, 'Gateway');
    assert.deepEqual(
      doc.status.conditions.map((c: StatusCondition) => `${c.type}=${c.status}`),
      ['Accepted=True', 'Programmed=True'],
    );
    assert.equal(doc.status.listeners[0].attachedRoutes, 1);
    assert.deepEqual(doc.status.listeners[0].supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
  });
});
