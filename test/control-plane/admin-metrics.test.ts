// GET /v1/trafficmetrics and GET /v1/graph against fake proxies: tiny HTTP
// servers serving /stats text that changes between two scrapes 10 s apart.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphEdge, ServiceGraph, TrafficMetrics, TrafficMetricsList } from '../../src/control-plane/admin-metrics.js';
import { instanceScrapeTargets, MetricsCollector, REQUEST_DURATION, REQUESTS_TOTAL } from '../../src/control-plane/metrics-collector.js';
import { parseManifests } from '../../src/resources/parse.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { startAdmin, type RunningAdmin } from '../cli/fixtures.js';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: demo }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec: { selector: { app: echo }, ports: [{ name: http, port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-v2, namespace: demo }
spec: { selector: { app: echo-v2 }, ports: [{ name: http, port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: demo }
spec: { selector: { app: db }, ports: [{ name: pg, port: 5432, appProtocol: tcp }] }
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: echo-split, namespace: demo }
spec: { service: echo, backends: [{ service: echo, weight: 1 }, { service: echo-v2, weight: 1 }] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: client, namespace: demo }
spec: { serviceAccountName: client-sa, command: ["true"] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: echo, namespace: demo, labels: { app: echo } }
spec: { serviceAccountName: echo, command: ["true"], ports: [{ name: http }] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: echo-v2, namespace: demo, labels: { app: echo-v2 } }
spec: { serviceAccountName: echo-v2, command: ["true"], ports: [{ name: http }] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: db, namespace: demo, labels: { app: db } }
spec: { serviceAccountName: db, command: ["true"], ports: [{ name: pg }] }
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: intruder, namespace: demo }
spec: { serviceAccountName: intruder, command: ["true"] }
`;

function instanceYaml(workload: string, sa: string, adminPort: number): string {
  return `apiVersion: trellis.dev/v1alpha1
kind: WorkloadInstance
metadata: { name: ${workload}-0, namespace: demo }
spec:
  workload: ${workload}
  index: 0
  serviceAccountName: ${sa}
  labels: { app: ${workload} }
  address: 127.0.0.1
  ports: []
  outboundPort: 1
  adminPort: ${adminPort}
  upstreams: []
  ready: true
`;
}

function labels(l: Record<string, string>): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
}

const BUCKETS = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

interface Call {
  direction: 'outbound' | 'inbound';
  src: string;
  dst: string;
  code: number;
  reason?: string;
  n: number;
  /** Cumulative count per bucket bound (`le`), the rest follow the last given. */
  latency?: Record<string, number>;
  route?: string;
}

/** One proxy's /stats in the contract's format. */
function stats(calls: Call[], tcp: { opened: number; closed: number }[] = []): string {
  const out = [`# TYPE ${REQUESTS_TOTAL} counter`];
  for (const c of calls) {
    const cc = `${Math.floor(c.code / 100)}xx`;
    const common = {
      direction: c.direction,
      source_namespace: 'demo',
      source_workload: c.src,
      destination_namespace: 'demo',
      destination_workload: c.dst,
      destination_service: `demo/${c.dst}:8080`,
    };
    out.push(
      `${REQUESTS_TOTAL}{${labels({
        ...common,
        source_identity: `spiffe://cluster.local/ns/demo/sa/${c.src}`,
        destination_identity: `spiffe://cluster.local/ns/demo/sa/${c.dst}`,
        route: c.route ?? '',
        code: String(c.code),
        code_class: cc,
        reason: c.reason ?? '',
      })}} ${c.n}`,
    );
    if (c.latency) {
      let last = 0;
      for (const le of BUCKETS) {
        last = c.latency[le] ?? last;
        out.push(`${REQUEST_DURATION}_bucket{${labels({ ...common, route: c.route ?? '', code_class: cc, le })}} ${last}`);
      }
      out.push(`${REQUEST_DURATION}_count{${labels({ ...common, route: c.route ?? '', code_class: cc })}} ${last}`);
    }
  }
  for (const t of tcp) {
    const l = labels({ direction: 'outbound', source_workload: 'client', source_namespace: 'demo', destination_service: 'demo/db:5432', destination_workload: 'db' });
    out.push(`trellis_tcp_connections_opened_total{${l}} ${t.opened}`, `trellis_tcp_connections_closed_total{${l}} ${t.closed}`);
    out.push(`trellis_tcp_received_bytes_total{${l}} ${t.opened * 100}`, `trellis_tcp_sent_bytes_total{${l}} ${t.opened * 1000}`);
  }
  return out.join('\n') + '\n';
}

const SPLIT = 'split:demo/echo-split';

/** First scrape: what the proxies counted before. */
const BEFORE: Record<string, string> = {
  client: stats(
    [
      { direction: 'outbound', src: 'client', dst: 'echo', code: 200, n: 100, route: SPLIT, latency: { '0.0025': 100 } },
      { direction: 'outbound', src: 'client', dst: 'echo-v2', code: 200, n: 50, route: SPLIT },
    ],
    [{ opened: 3, closed: 3 }],
  ),
  echo: stats([{ direction: 'inbound', src: 'client-sa', dst: 'echo', code: 200, n: 100, latency: { '0.001': 100 } }]),
  'echo-v2': stats([{ direction: 'inbound', src: 'client-sa', dst: 'echo-v2', code: 200, n: 50 }]),
};

/** 10 s later: client → echo 18 ok + 2 × 503, client → echo-v2 20 ok, intruder → echo 5 denied, one TCP connection open. */
const AFTER: Record<string, string> = {
  client: stats(
    [
      { direction: 'outbound', src: 'client', dst: 'echo', code: 200, n: 118, route: SPLIT, latency: { '0.0025': 110, '0.005': 118 } },
      { direction: 'outbound', src: 'client', dst: 'echo', code: 503, n: 2, route: SPLIT, latency: { '0.005': 2 } },
      { direction: 'outbound', src: 'client', dst: 'echo-v2', code: 200, n: 70, route: SPLIT },
    ],
    [{ opened: 7, closed: 6 }],
  ),
  echo: stats([
    { direction: 'inbound', src: 'client-sa', dst: 'echo', code: 200, n: 118, latency: { '0.001': 118 } },
    { direction: 'inbound', src: 'client-sa', dst: 'echo', code: 503, n: 2, latency: { '0.001': 2 } },
    { direction: 'inbound', src: 'intruder', dst: 'echo', code: 403, reason: 'rbac', n: 5, latency: { '0.001': 5 } },
  ]),
  'echo-v2': stats([{ direction: 'inbound', src: 'client-sa', dst: 'echo-v2', code: 200, n: 70 }]),
};

const metric = (item: TrafficMetrics, name: string) => item.metrics.find((m) => m.name === name)?.value;
const near = (a: number | null | undefined, b: number) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-6, `${a} ≈ ${b}`);

describe('traffic metrics API with fake proxies', () => {
  const T0 = 1_700_000_000_000;
  const clock = { t: T0 };
  const texts: Record<string, string> = {};
  const servers: http.Server[] = [];
  let store: Store;
  let collector: MetricsCollector;
  let admin: RunningAdmin;

  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(admin.url + path);
    return { status: res.status, body: (await res.json()) as T };
  };

  before(async () => {
    store = createMemoryStore();
    const instances: string[] = [];
    for (const [workload, sa] of [
      ['client', 'client-sa'],
      ['echo', 'echo'],
      ['echo-v2', 'echo-v2'],
    ]) {
      const server = http.createServer((req, res) => {
        assert.equal(req.url, '/stats');
        res.end(texts[workload] ?? '');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.push(server);
      instances.push(instanceYaml(workload, sa, (server.address() as AddressInfo).port));
    }
    const parsed = parseManifests([MANIFESTS, ...instances].join('---\n'), 'mesh.yaml');
    assert.deepEqual(parsed.errors, []);
    await store.apply(parsed.resources);
    collector = new MetricsCollector({ targets: () => instanceScrapeTargets(store.list({ kind: 'WorkloadInstance' })), now: () => clock.t });
    Object.assign(texts, BEFORE);
    await collector.scrapeOnce();
    clock.t = T0 + 10_000;
    Object.assign(texts, AFTER);
    await collector.scrapeOnce();
    assert.deepEqual(collector.targetStatus().map((t) => [t.id, t.lastError]).sort(), [
      ['demo/client-0', undefined],
      ['demo/echo-0', undefined],
      ['demo/echo-v2-0', undefined],
    ]);
    admin = await startAdmin({ store, getProxies: () => [], getMesh: () => ({}), metrics: collector });
  });

  after(async () => {
    await admin?.close();
    await collector?.stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await store?.close();
  });

  test('workloads: server-side totals per workload, every known workload listed', async () => {
    const { status, body } = await get<TrafficMetricsList>('/v1/trafficmetrics?kind=workloads&namespace=demo');
    assert.equal(status, 200);
    assert.equal(body.apiVersion, 'metrics.smi-spec.io/v1alpha1');
    assert.equal(body.kind, 'TrafficMetricsList');
    assert.deepEqual(body.resource, { kind: 'Workload', namespace: 'demo' });
    assert.equal(body.window, '30s');
    assert.deepEqual(
      body.items.map((i) => i.resource.name),
      ['client', 'db', 'echo', 'echo-v2', 'intruder'],
    );
    assert.ok(body.items.every((i) => i.kind === 'TrafficMetrics' && !i.edge && i.window === '30s' && i.timestamp === new Date(T0 + 10_000).toISOString()));
    const echo = body.items.find((i) => i.resource.name === 'echo')!;
    assert.deepEqual(echo.resource, { kind: 'Workload', namespace: 'demo', name: 'echo' });
    assert.deepEqual(
      echo.metrics.slice(0, 5).map((m) => [m.name, m.unit]),
      [
        ['p50_response_latency', 'ms'],
        ['p90_response_latency', 'ms'],
        ['p99_response_latency', 'ms'],
        ['success_count', undefined],
        ['failure_count', undefined],
      ],
    );
    assert.equal(metric(echo, 'success_count'), 18);
    assert.equal(metric(echo, 'failure_count'), 2);
    assert.equal(metric(echo, 'denied_count'), 5);
    // 25 requests in 10 s (the collector has run for 10 s of the 30 s window).
    assert.equal(metric(echo, 'requests_per_second'), 2.5);
    // 25 observations in (0.5, 1] ms: the median interpolates to 0.75 ms.
    near(metric(echo, 'p50_response_latency'), 0.75);
    near(metric(echo, 'p90_response_latency'), 0.95);
    near(metric(echo, 'p99_response_latency'), 0.995);
    const v2 = body.items.find((i) => i.resource.name === 'echo-v2')!;
    assert.equal(metric(v2, 'success_count'), 20);
    assert.equal(metric(v2, 'p50_response_latency'), null);
    const client = body.items.find((i) => i.resource.name === 'client')!;
    assert.equal(metric(client, 'success_count'), 0);
    assert.equal(metric(client, 'requests_per_second'), 0);
  });

  test("a workload's edges: callers seen by its server side (service accounts mapped to workloads), denied callers too", async () => {
    const { body } = await get<TrafficMetricsList>('/v1/trafficmetrics?kind=workloads&namespace=demo&name=echo');
    assert.deepEqual(body.resource, { kind: 'Workload', namespace: 'demo', name: 'echo' });
    assert.equal(body.items.length, 3);
    assert.equal(body.items[0].edge, undefined);
    const [fromClient, fromIntruder] = body.items.slice(1);
    assert.deepEqual(fromClient.edge, { direction: 'from', side: 'server', resource: { kind: 'Workload', namespace: 'demo', name: 'client' } });
    assert.equal(metric(fromClient, 'success_count'), 18);
    assert.equal(metric(fromClient, 'failure_count'), 2);
    assert.deepEqual(fromIntruder.edge, { direction: 'from', side: 'server', resource: { kind: 'Workload', namespace: 'demo', name: 'intruder' } });
    assert.equal(metric(fromIntruder, 'success_count'), 0);
    assert.equal(metric(fromIntruder, 'denied_count'), 5);
  });

  test("a caller's edges: the client side, per destination workload", async () => {
    const { body } = await get<TrafficMetricsList>('/v1/trafficmetrics?kind=workloads&namespace=demo&name=client&window=1m');
    assert.equal(body.window, '1m');
    const edges = body.items.filter((i) => i.edge);
    assert.deepEqual(
      edges.map((i) => [i.edge!.direction, i.edge!.side, i.edge!.resource.name]),
      [
        ['to', 'client', 'db'],
        ['to', 'client', 'echo'],
        ['to', 'client', 'echo-v2'],
      ],
    );
    const echo = edges[1];
    assert.equal(metric(echo, 'success_count'), 18);
    assert.equal(metric(echo, 'failure_count'), 2);
    // Deltas: 10 in (1, 2.5] ms, 10 in (2.5, 5] ms → p50 = 2.5 ms, p99 = 2.5 + 2.5 × 9.8/10.
    near(metric(echo, 'p50_response_latency'), 2.5);
    near(metric(echo, 'p99_response_latency'), 4.95);
    assert.equal(metric(edges[0], 'tcp_open_connections'), 1);
    assert.equal(metric(edges[0], 'tcp_connections_opened'), 4);
  });

  test('services: client-side totals, with the servers’ denials', async () => {
    const { body } = await get<TrafficMetricsList>('/v1/trafficmetrics?kind=svc&namespace=demo');
    assert.deepEqual(body.items.map((i) => i.resource.name), ['db', 'echo', 'echo-v2']);
    const [db, echo, v2] = body.items;
    assert.equal(metric(echo, 'success_count'), 18);
    assert.equal(metric(echo, 'failure_count'), 2);
    assert.equal(metric(echo, 'denied_count'), 5);
    near(metric(echo, 'p50_response_latency'), 2.5);
    assert.equal(metric(v2, 'success_count'), 20);
    assert.equal(metric(v2, 'requests_per_second'), 2);
    assert.equal(metric(db, 'tcp_open_connections'), 1);
    const one = await get<TrafficMetricsList>('/v1/trafficmetrics?kind=services&namespace=demo&name=echo');
    assert.deepEqual(
      one.body.items.filter((i) => i.edge).map((i) => [i.edge!.direction, i.edge!.side, i.edge!.resource.name, metric(i, 'success_count'), metric(i, 'denied_count')]),
      [
        ['from', 'client', 'client', 18, 0],
        ['from', 'client', 'intruder', 0, 5],
        ['to', 'client', 'echo', 18, 5],
      ],
    );
  });

  test('namespaces', async () => {
    const { body } = await get<TrafficMetricsList>('/v1/trafficmetrics?kind=namespaces');
    assert.deepEqual(body.resource, { kind: 'Namespace' });
    assert.deepEqual(body.items.map((i) => i.resource), [{ kind: 'Namespace', name: 'demo' }]);
    assert.equal(metric(body.items[0], 'success_count'), 38);
    assert.equal(metric(body.items[0], 'failure_count'), 2);
    assert.equal(metric(body.items[0], 'denied_count'), 5);
  });

  test('the service graph: nodes with health, edges with split weights, denied and TCP edges', async () => {
    const { status, body } = await get<ServiceGraph>('/v1/graph?window=30s');
    assert.equal(status, 200);
    assert.equal(body.window, '30s');
    assert.equal(body.generatedAt, new Date(T0 + 10_000).toISOString());
    const nodes = new Map(body.nodes.map((n) => [n.id, n]));
    assert.deepEqual([...nodes.keys()], [
      'service/demo/db',
      'service/demo/echo',
      'service/demo/echo-v2',
      'workload/demo/client',
      'workload/demo/db',
      'workload/demo/echo',
      'workload/demo/echo-v2',
      'workload/demo/intruder',
    ]);
    const echo = nodes.get('workload/demo/echo')!;
    assert.deepEqual(
      { kind: echo.kind, namespace: echo.namespace, name: echo.name, rps: echo.rps, successRate: echo.successRate, health: echo.health },
      { kind: 'workload', namespace: 'demo', name: 'echo', rps: 2.5, successRate: 0.9, health: 'degraded' },
    );
    near(echo.p95Ms, 0.975);
    assert.equal(nodes.get('workload/demo/echo-v2')!.health, 'healthy');
    assert.equal(nodes.get('workload/demo/client')!.health, 'idle');
    assert.equal(nodes.get('workload/demo/client')!.successRate, null);
    assert.equal(nodes.get('service/demo/echo')!.successRate, 0.9);

    const edge = (s: string, t: string) => body.edges.find((e) => e.source === s && e.target === t);
    const pick = (e: GraphEdge | undefined) => e && { rps: e.rps, successRate: e.successRate, requests: e.requests, failures: e.failures, denied: e.denied, deniedReasons: e.deniedReasons, protocol: e.protocol, splitWeight: e.splitWeight };
    assert.equal(body.edges.length, 7);
    assert.deepEqual(pick(edge('workload/demo/client', 'service/demo/echo')), {
      rps: 2, successRate: 0.9, requests: 20, failures: 2, denied: 0, deniedReasons: {}, protocol: 'http', splitWeight: 50,
    });
    near(edge('workload/demo/client', 'service/demo/echo')!.p95Ms, 4.75);
    assert.deepEqual(pick(edge('workload/demo/client', 'service/demo/echo-v2')), {
      rps: 2, successRate: 1, requests: 20, failures: 0, denied: 0, deniedReasons: {}, protocol: 'http', splitWeight: 50,
    });
    // Every request of intruder was denied: the edge comes from echo's inbound series alone.
    assert.deepEqual(pick(edge('workload/demo/intruder', 'service/demo/echo')), {
      rps: 0.5, successRate: null, requests: 5, failures: 0, denied: 5, deniedReasons: { rbac: 5 }, protocol: 'http', splitWeight: undefined,
    });
    assert.deepEqual(pick(edge('service/demo/echo', 'workload/demo/echo')), {
      rps: 2.5, successRate: 0.9, requests: 25, failures: 2, denied: 5, deniedReasons: { rbac: 5 }, protocol: 'http', splitWeight: undefined,
    });
    assert.ok(edge('service/demo/echo-v2', 'workload/demo/echo-v2'));
    const tcp = edge('workload/demo/client', 'service/demo/db')!;
    assert.equal(tcp.protocol, 'tcp');
    assert.equal(tcp.requests, 0);
    assert.deepEqual(tcp.tcp, { opened: 4, open: 1, receivedBytes: 400, sentBytes: 4000 });
    assert.equal(tcp.splitWeight, undefined);
    assert.ok(edge('service/demo/db', 'workload/demo/db'));

    const filtered = await get<ServiceGraph>('/v1/graph?namespace=elsewhere');
    assert.deepEqual(filtered.body.nodes, []);
    assert.deepEqual(filtered.body.edges, []);
  });

  test('bad parameters are 400, an unknown name 404', async () => {
    for (const q of ['kind=pods', 'window=10m', 'window=abc', 'window=0s']) {
      const { status, body } = await get<{ error: { code: string; message: string } }>(`/v1/trafficmetrics?${q}`);
      assert.equal(status, 400, q);
      assert.equal(body.error.code, 'TRELLIS_E_BAD_REQUEST');
    }
    assert.equal((await get('/v1/graph?window=6m')).status, 400);
    const missing = await get<{ error: { code: string } }>('/v1/trafficmetrics?kind=workloads&namespace=demo&name=nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'TRELLIS_E_RESOURCE_NOT_FOUND');
  });

  test('a control plane without a collector answers 503', async () => {
    const bare = await startAdmin({ store: createMemoryStore(), getProxies: () => [], getMesh: () => ({}) });
    try {
      const res = await fetch(bare.url + '/v1/graph');
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'TRELLIS_E_METRICS_UNAVAILABLE');
    } finally {
      await bare.close();
    }
  });
});
