// A real Prometheus scrapes a running mesh: it finds every proxy through the
// control plane's HTTP service discovery (GET /v1/prometheus/targets), scrapes
// their /stats every second, and its queries count exactly the requests this
// test sent. Needs the Debian package prometheus (skipped, saying so, without).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prometheusTargets } from '../../src/control-plane/prometheus-sd.js';
import { readMeshInfo } from '../../src/local/state-dir.js';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { eventually, sleep, startMesh, viaProxy, type RunningMesh } from '../support/mesh.js';
import { echoMesh } from '../support/echo-mesh.js';
import { findExecutable } from '../support/system.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

const prometheusBin = findExecutable('prometheus', ['/usr/bin', '/usr/local/bin']);

describe('Prometheus scrapes the mesh through HTTP service discovery', {
  timeout: 180_000,
  skip: prometheusBin ? false : 'prometheus is not installed (Debian package prometheus: apt-get install prometheus)',
}, () => {
  let mesh: RunningMesh;
  let dir: string;
  let promDir: string;
  let prom: ChildProcess | undefined;
  let promExit: Promise<void> | undefined;
  const promLog: string[] = [];
  let promUrl: string;
  let adminUrl: string;

  async function query(q: string): Promise<Sample[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error ?? res.status}`);
    return body.data.result;
  }

  /** The single value of a scalar-like query (sum(...)), or undefined while it has no result. */
  async function single(q: string): Promise<number | undefined> {
    const r = await query(q);
    return r.length === 0 ? undefined : Number(r[0]!.value[1]);
  }

  /** Polls until the query's value equals `want` (at most 30 s); reports the last value seen. */
  async function expectValue(q: string, want: number): Promise<void> {
    let last: number | undefined;
    await eventually(
      async () => {
        last = await single(q);
        return last === want;
      },
      30_000,
      `${q} == ${want} (last: ${last})`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last value ${last}\nprometheus log:\n${promLog.slice(-20).join('\n')}`);
    });
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-mesh-'));
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), echoMesh({ echoReplicas: 2 }));
    mesh = await startMesh(dir);
    adminUrl = readMeshInfo(mesh.stateDir)!.adminUrl;

    promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-prometheus-'));
    const config = path.join(promDir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: trellis',
        '    http_sd_configs:',
        `      - url: ${adminUrl}/v1/prometheus/targets`,
        '        refresh_interval: 2s',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      prometheusBin!,
      [`--config.file=${config}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { cwd: promDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    promExit = new Promise((resolve) => prom!.on('exit', () => resolve()));
    for (const s of [prom.stdout!, prom.stderr!]) s.on('data', (d: Buffer) => promLog.push(...d.toString().trimEnd().split('\n')));
    await eventually(
      async () => prom!.exitCode === null && (await fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok,
      30_000,
      'prometheus ready',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprometheus log:\n${promLog.slice(-30).join('\n')}`);
    });
  });

  after(async () => {
    if (prom && prom.exitCode === null && prom.signalCode === null) {
      prom.kill('SIGTERM');
      const stopped = await Promise.race([promExit!.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        prom.kill('SIGKILL');
        await promExit;
      }
    }
    await mesh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (promDir) fs.rmSync(promDir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('the control plane lists every proxy admin listener in http_sd format', async () => {
    const groups = (await (await fetch(`${adminUrl}/v1/prometheus/targets`)).json()) as { targets: string[]; labels: Record<string, string> }[];
    const byInstance = new Map(groups.map((g) => [g.labels.instance, g]));
    assert.deepEqual([...byInstance.keys()].sort(), ['client-0', 'echo-0', 'echo-1']);
    const echo = await mesh.instance('demo', 'echo-1');
    assert.deepEqual(byInstance.get('echo-1'), {
      targets: [`127.0.0.1:${echo.spec.adminPort}`],
      labels: { __metrics_path__: '/stats', namespace: 'demo', workload: 'echo', instance: 'echo-1', service_account: 'echo' },
    });
  });

  it('every target is up', async () => {
    await eventually(
      async () => {
        const up = await query('up{job="trellis"}');
        return up.length === 3 && up.every((s) => s.value[1] === '1');
      },
      30_000,
      'up{job="trellis"} == 1 for the three proxies',
    );
    const up = await query('up{job="trellis"}');
    assert.deepEqual(up.map((s) => `${s.metric.namespace}/${s.metric.workload}/${s.metric.instance}/${s.metric.service_account}`).sort(), [
      'demo/client/client-0/client',
      'demo/echo/echo-0/echo',
      'demo/echo/echo-1/echo',
    ]);
  });

  it('counts exactly the requests sent, on both sides of every edge, by code class', async () => {
    const client = await mesh.instance('demo', 'client-0');
    let sent = 0;
    for (let i = 0; i < 57; i++) {
      // 7 of the 57 answer 503 (the echo app's ?status=); the path differs per request and never becomes a label.
      const r = await viaProxy(client.spec.outboundPort, `http://echo.demo:8080/item/${i}${i % 8 === 7 ? '?status=503' : ''}`);
      assert.equal(r.status, i % 8 === 7 ? 503 : 200, r.body);
      sent++;
    }
    assert.equal(sent, 57);
    const edge = 'source_workload="client",destination_service="demo/echo:8080"';
    await expectValue(`sum(trellis_requests_total{direction="outbound",${edge}})`, 57);
    await expectValue(`sum(trellis_requests_total{direction="outbound",${edge},code_class="5xx"})`, 7);
    await expectValue(`sum(trellis_requests_total{direction="outbound",${edge},code="200",route="default"})`, 50);
    // The server side: the two echo sidecars together, caller known by its identity.
    await expectValue(
      `sum(trellis_requests_total{direction="inbound",source_identity="spiffe://cluster.local/ns/demo/sa/client",destination_workload="echo"})`,
      57,
    );
    await expectValue(`count(count by (instance) (trellis_requests_total{direction="inbound",destination_workload="echo"}))`, 2);
    await expectValue(`sum(trellis_request_duration_seconds_count{direction="outbound",${edge}})`, 57);
    await expectValue(`sum(trellis_response_bytes_count{direction="outbound",${edge}})`, 57);
    // The documented queries evaluate.
    const p99 = await single(
      `histogram_quantile(0.99, sum by (le) (rate(trellis_request_duration_seconds_bucket{direction="outbound",${edge}}[1m])))`,
    );
    assert.ok(p99 === undefined || (p99 >= 0 && p99 <= 10), `p99 ${p99}`);
    // No label carries a path.
    const series = await query(`trellis_requests_total`);
    assert.ok(series.length > 0);
    assert.ok(series.every((s) => !Object.values(s.metric).some((v) => v.includes('/item/'))));
    // Endpoint health, seen from the client.
    await expectValue(`sum(trellis_upstream_endpoint_healthy{workload="client",cluster="demo/echo:8080"})`, 2);
    await expectValue(`sum(trellis_upstream_endpoint_ejected{workload="client",cluster="demo/echo:8080"})`, 0);
  });
});

describe('prometheusTargets', () => {
  const instance = (name: string, spec: Partial<WorkloadInstanceResource['spec']>): WorkloadInstanceResource =>
    ({
      apiVersion: 'trellis.dev/v1alpha1',
      kind: 'WorkloadInstance',
      metadata: { name, namespace: 'shop', labels: {}, annotations: {} },
      spec: { workload: 'web', index: 0, serviceAccountName: 'web-sa', labels: {}, address: '127.0.0.1', ports: [], outboundPort: 1, adminPort: 40001, upstreams: [], ready: true, ...spec },
    }) as unknown as WorkloadInstanceResource;

  it('one target group per instance, gateways included and marked', () => {
    const groups = prometheusTargets([
      instance('web-0', {}),
      instance('edge-gateway-0', { workload: 'edge-gateway', serviceAccountName: 'edge', adminPort: 40002, gateway: 'shop/edge', address: '10.200.0.5' }),
    ]);
    assert.deepEqual(groups, [
      { targets: ['127.0.0.1:40001'], labels: { __metrics_path__: '/stats', namespace: 'shop', workload: 'web', instance: 'web-0', service_account: 'web-sa' } },
      {
        targets: ['10.200.0.5:40002'],
        labels: { __metrics_path__: '/stats', namespace: 'shop', workload: 'edge-gateway', instance: 'edge-gateway-0', service_account: 'edge', gateway: 'shop/edge' },
      },
    ]);
  });
});
