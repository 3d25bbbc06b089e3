// Traffic metrics end to end: a client calls echo through the mesh (and a
// stranger is denied); the control plane scrapes the sidecars and
// `trellis stat` shows echo with requests per second and 100 % success, while
// the service graph shows the denied edge.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServiceGraph, TrafficMetricsList } from '../../src/control-plane/admin-metrics.js';
import type { StatRow } from '../../src/cli/commands/stat.js';
import { echoMesh, type Upstream } from '../support/echo-mesh.js';
import { eventually, loadLoop, startMesh, viaProxy, type RunningMesh } from '../support/mesh.js';

const ECHO: Upstream = { service: 'echo', port: 8080 };

describe('trellis stat and the traffic metrics API on a running mesh', { timeout: 120_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-mesh-'));
    fs.writeFileSync(
      path.join(dir, 'mesh.yaml'),
      echoMesh({ clientServiceAccount: 'client-sa', clientUpstreams: [ECHO], strangerUpstreams: [ECHO] }),
    );
    mesh = await startMesh(dir);
  });

  after(async () => {
    await mesh?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('shows echo with requests per second and 100% success; the denied stranger appears in the graph', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const stranger = await mesh.instance('demo', 'stranger-0');
    const denied = await viaProxy(stranger.spec.outboundPort, 'http://echo.demo:8080/steal');
    assert.equal(denied.status, 403);
    const load = loadLoop(() => viaProxy(client.spec.outboundPort, 'http://echo.demo:8080/hello'), 2);
    let strangerCalls = 1;
    let row: StatRow | undefined;
    try {
      await eventually(
        async () => {
          await viaProxy(stranger.spec.outboundPort, 'http://echo.demo:8080/steal');
          strangerCalls++;
          const r = await mesh.cli('stat', 'workloads', '-n', 'demo', '-o', 'json');
          if (r.code !== 0) throw new Error(r.stderr);
          row = (JSON.parse(r.stdout) as { items: StatRow[] }).items.find((i) => i.name === 'echo');
          return row !== undefined && row.rps > 0 && row.successCount > 0;
        },
        30_000,
        'trellis stat shows traffic to echo',
      );
    } finally {
      const counts = await load.stop();
      assert.equal(counts.failed, 0, counts.failures.join(' | '));
    }
    assert.equal(row!.namespace, 'demo');
    assert.equal(row!.successRate, 1);
    assert.equal(row!.failureCount, 0);
    assert.deepEqual(row!.meshed, { connected: 1, total: 1 });
    assert.ok(row!.latencyMs.p50 !== null && row!.latencyMs.p50 > 0);

    // The table, as a user reads it.
    const table = await mesh.cli('stat', '-n', 'demo');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0], /^NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+TCP_CONN$/);
    const echoLine = lines.find((l) => l.startsWith('echo '));
    assert.ok(echoLine, table.stdout);
    assert.match(echoLine!, /^echo\s+1\/1\s+100\.00%\s+\d+\.\d+rps\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+/);

    // The same numbers through the API, and the graph with the denied edge.
    // The stranger's denials are counted by echo's sidecar, scraped every 2 s: wait for the next scrape.
    let api: TrafficMetricsList | undefined;
    await eventually(
      async () => {
        await viaProxy(stranger.spec.outboundPort, 'http://echo.demo:8080/steal');
        api = (await (await fetch(`${mesh.client.baseUrl}/v1/trafficmetrics?kind=workloads&namespace=demo&name=echo`)).json()) as TrafficMetricsList;
        return api.items.some((i) => i.edge?.resource.name === 'stranger');
      },
      15_000,
      'the stranger edge in the traffic metrics',
    );
    const fromStranger = api!.items.find((i) => i.edge?.resource.name === 'stranger');
    assert.ok(fromStranger, JSON.stringify(api!.items.map((i) => i.edge)));
    assert.ok((fromStranger!.metrics.find((m) => m.name === 'denied_count')?.value ?? 0) > 0);
    const graph = (await (await fetch(`${mesh.client.baseUrl}/v1/graph`)).json()) as ServiceGraph;
    const toEcho = graph.edges.find((e) => e.source === 'workload/demo/client' && e.target === 'service/demo/echo');
    assert.ok(toEcho && toEcho.requests > 0 && toEcho.successRate === 1, JSON.stringify(graph.edges));
    const deniedEdge = graph.edges.find((e) => e.source === 'workload/demo/stranger' && e.target === 'service/demo/echo');
    assert.ok(deniedEdge && deniedEdge.denied > 0 && (deniedEdge.deniedReasons.rbac ?? 0) > 0, JSON.stringify(graph.edges));
    assert.ok(strangerCalls >= deniedEdge!.denied);
    assert.equal(graph.nodes.find((n) => n.id === 'workload/demo/echo')?.health, 'healthy');
  });
});
