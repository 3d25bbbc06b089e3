// `trellis stat` against an admin server whose collector was fed by hand.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatMs, formatRps, type StatRow } from '../../src/cli/commands/stat.js';
import type { ProxyStatus } from '../../src/control-plane/admin-types.js';
import { MetricsCollector, REQUEST_DURATION, REQUESTS_TOTAL } from '../../src/control-plane/metrics-collector.js';
import { writeMeshInfo } from '../../src/local/state-dir.js';
import { parseManifests } from '../../src/resources/parse.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { repoRoot } from '../support/paths.js';
import { startAdmin, type RunningAdmin } from './fixtures.js';

const MANIFESTS = `
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec: { selector: { app: echo }, ports: [{ name: http, port: 8080 }] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: echo, namespace: demo, labels: { app: echo } }
spec: { serviceAccountName: echo, replicas: 2, command: ["true"], ports: [{ name: http }] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: client, namespace: demo }
spec: { serviceAccountName: client, command: ["true"] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: other, namespace: elsewhere }
spec: { serviceAccountName: other, command: ["true"] }
`;

const instance = (workload: string, index: number) => `apiVersion: trellis.dev/v1alpha1
kind: WorkloadInstance
metadata: { name: ${workload}-${index}, namespace: demo }
spec:
  workload: ${workload}
  index: ${index}
  serviceAccountName: ${workload}
  labels: { app: ${workload} }
  address: 127.0.0.1
  ports: []
  outboundPort: 1
  adminPort: 2
  upstreams: []
  ready: true
`;

const proxy = (id: string, connected: boolean): ProxyStatus => ({
  id,
  namespace: 'demo',
  workload: id.split('/')[1].replace(/-\d+$/, ''),
  identity: '',
  connected,
});

function stats(ok: number, failed: number, denied: number, fast: number): string {
  const l = (code: number, cc: string, reason = '') =>
    `direction="inbound",source_namespace="demo",source_workload="client",source_identity="",destination_namespace="demo",destination_workload="echo",destination_service="demo/echo:8080",destination_identity="",route="",code="${code}",code_class="${cc}",reason="${reason}"`;
  const h = 'direction="inbound",source_namespace="demo",source_workload="client",destination_namespace="demo",destination_workload="echo",destination_service="demo/echo:8080",route="",code_class="2xx"';
  return [
    `${REQUESTS_TOTAL}{${l(200, '2xx')}} ${ok}`,
    `${REQUESTS_TOTAL}{${l(500, '5xx')}} ${failed}`,
    `${REQUESTS_TOTAL}{${l(403, '4xx', 'rbac')}} ${denied}`,
    `${REQUEST_DURATION}_bucket{${h},le="0.01"} ${fast}`,
    `${REQUEST_DURATION}_bucket{${h},le="0.1"} ${ok}`,
    `${REQUEST_DURATION}_bucket{${h},le="+Inf"} ${ok}`,
  ].join('\n');
}

describe('trellis stat', () => {
  let tmp: string;
  let stateDir: string;
  let store: Store;
  let admin: RunningAdmin;
  let collector: MetricsCollector;

  const trellis = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_HOME: path.join(tmp, 'home') };
      delete env.TRELLIS_STATE_DIR;
      execFile(process.execPath, [path.join(repoRoot, 'bin/trellis.js'), ...args, '--state-dir', stateDir], { cwd: tmp, env, timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      });
    });

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-stat-'));
    stateDir = path.join(tmp, 'state');
    store = createMemoryStore();
    const parsed = parseManifests([MANIFESTS, instance('echo', 0), instance('echo', 1), instance('client', 0)].join('---\n'), 'mesh.yaml');
    assert.deepEqual(parsed.errors, []);
    await store.apply(parsed.resources);
    // 30 s apart: echo-0 answered 57 ok (50 fast) and 3 × 500, and denied 6.
    const clock = { t: 1_700_000_000_000 };
    collector = new MetricsCollector({ targets: () => [], now: () => clock.t });
    collector.ingest('demo/echo-0', stats(100, 0, 0, 100));
    clock.t += 30_000;
    collector.ingest('demo/echo-0', stats(157, 3, 6, 150));
    admin = await startAdmin({
      store,
      getProxies: () => [proxy('demo/echo-0', true), proxy('demo/echo-1', false), proxy('demo/client-0', true)],
      getMesh: () => ({}),
      metrics: collector,
    });
    writeMeshInfo(stateDir, { runnerPid: process.pid, adminUrl: admin.url, xdsPort: 0, manifestDir: tmp, startedAt: new Date().toISOString() });
  });

  after(async () => {
    await admin.close();
    await collector.stop();
    await store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('formats rates and latencies like linkerd', () => {
    assert.equal(formatRps(1.84), '1.8rps');
    assert.equal(formatRps(0.02), '0.02rps');
    assert.equal(formatRps(0), '0.0rps');
    assert.equal(formatMs(0.84), '0.8ms');
    assert.equal(formatMs(123.4), '123ms');
    assert.equal(formatMs(null), '-');
  });

  test('prints a table of workloads with MESHED, SUCCESS, RPS, latencies and TCP_CONN', async () => {
    const r = await trellis('stat', '-n', 'demo');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/));
    assert.deepEqual(lines[0], ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN']);
    assert.deepEqual(lines[1], ['client', '1/1', '-', '-', '-', '-', '-', '-']);
    // 57 ok of 60 (denials are neither): 95.00%; 66 requests in 30 s: 2.2 rps;
    // latencies: 50 of 57 in (0, 10] ms, 7 in (10, 100] ms → p50 5.7 ms, p95 63.4 ms, p99 92.7 ms.
    assert.deepEqual(lines[2], ['echo', '1/2', '95.00%', '2.2rps', '5.7ms', '63ms', '93ms', '0']);
  });

  test('-o json and -o wide', async () => {
    const json = await trellis('stat', 'wl', '-n', 'demo', '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as { kind: string; window: string; items: StatRow[] };
    assert.equal(body.kind, 'workloads');
    assert.equal(body.window, '30s');
    const echo = body.items.find((i) => i.name === 'echo')!;
    assert.deepEqual(
      { ...echo, latencyMs: undefined },
      {
        namespace: 'demo', name: 'echo', meshed: { connected: 1, total: 2 }, successRate: 0.95, rps: 2.2,
        latencyMs: undefined, successCount: 57, failureCount: 3, deniedCount: 6, tcpConnections: 0,
      },
    );
    const wide = await trellis('stat', '-n', 'demo', '-o', 'wide');
    assert.match(wide.stdout.split('\n')[0], /TCP_CONN\s+SUCCESSES\s+FAILURES\s+DENIED$/);
    assert.match(wide.stdout, /\becho\b.*\s57\s+3\s+6$/m);
  });

  test('services, namespaces, all namespaces, a window', async () => {
    const svc = await trellis('stat', 'svc', '-n', 'demo');
    assert.equal(svc.code, 0, svc.stderr);
    // No client-side series were fed: the service has only the denials its server counted.
    assert.match(svc.stdout, /^echo\s+1\/2\s+-\s+0\.2rps\s+-\s+-\s+-\s+0$/m);
    const ns = await trellis('stat', 'ns');
    assert.match(ns.stdout, /^NAME\s+MESHED/);
    assert.match(ns.stdout, /^demo\s+2\/3\s+95\.00%\s+2\.2rps/m);
    assert.match(ns.stdout, /^elsewhere\s+0\/0\s+-/m);
    const all = await trellis('stat', '-A', '--window', '1m');
    assert.match(all.stdout, /^NAMESPACE\s+NAME\s+MESHED/);
    assert.match(all.stdout, /^elsewhere\s+other\s+0\/1/m);
    const empty = await trellis('stat');
    assert.equal(empty.code, 0);
    assert.match(empty.stderr, /No resources found in default namespace/);
  });

  test('errors: an unknown kind, a bad window', async () => {
    const kind = await trellis('stat', 'pods');
    assert.equal(kind.code, 1);
    assert.match(kind.stderr, /unknown kind "pods": use workloads/);
    const window = await trellis('stat', '--window', '10m');
    assert.equal(window.code, 1);
    assert.match(window.stderr, /window must be between 1s and 5m/);
  });
});
