// Request metrics (src/proxy/metrics.ts) and the Prometheus text output of
// src/proxy/stats.ts: records in, text out; histogram buckets; escaping;
// endpoint gauges read at scrape time; and `promtool check metrics` on a
// sample output when promtool is installed (Debian package prometheus).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { endpointState } from '../../src/proxy/endpoint-state.js';
import { createRequestMetrics, codeClass, DURATION_BUCKETS } from '../../src/proxy/metrics.js';
import type { RoutingTable } from '../../src/proxy/routing.js';
import { createProxyMetrics, Histogram, Registry } from '../../src/proxy/stats.js';
import type { RequestRecord } from '../../src/proxy/telemetry.js';
import { findExecutable } from '../support/system.js';

const CLIENT = { identity: 'spiffe://cluster.local/ns/demo/sa/client', namespace: 'demo', workload: 'client' };
const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';

function outbound(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    direction: 'outbound',
    protocol: 'http',
    start: 0,
    durationMs: 3,
    method: 'GET',
    path: '/items/12345',
    authority: 'echo.demo:8080',
    status: 200,
    requestBytes: 0,
    responseBytes: 512,
    source: { ...CLIENT },
    destination: { service: 'demo/echo:8080', namespace: 'demo', identity: ECHO_ID, workload: 'echo' },
    route: 'default',
    upstream: 'demo/echo-0',
    retries: 0,
    ...over,
  };
}

function inbound(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    ...outbound(),
    direction: 'inbound',
    source: { identity: CLIENT.identity, namespace: 'demo', workload: 'client' },
    destination: { identity: ECHO_ID, namespace: 'demo', workload: 'echo', service: 'demo/echo:8080' },
    upstream: '127.0.0.1:9000',
    ...over,
  } as RequestRecord;
}

const EMPTY_TABLE: RoutingTable = { byDomain: new Map(), byName: new Map(), clusters: new Map(), gatewayPorts: new Map() };

function setup(table: () => RoutingTable = () => EMPTY_TABLE) {
  const registry = new Registry();
  const m = createRequestMetrics(registry, table);
  return { registry, ...m };
}

/** Parses the text format into `name{labels}` → value, checking every sample line's shape. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed sample line: ${line}`);
    out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

/** Sum of the samples of `name` whose labels include every pair of `labels`. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const [series, v] of samples(text)) {
    const brace = series.indexOf('{');
    if ((brace < 0 ? series : series.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([k, val]) => series.includes(`${k}="${val}"`))) {
      total += v;
      found = true;
    }
  }
  assert.ok(found, `no sample ${name} ${JSON.stringify(labels)}`);
  return total;
}

describe('request metrics', () => {
  it('counts requests by source, destination, route, code and class, and never uses the path', () => {
    const { registry, sink } = setup();
    for (let i = 0; i < 57; i++) sink(outbound({ path: `/items/${i}` }));
    sink(outbound({ status: 503, responseBytes: 40, route: 'split:demo/echo-split' }));
    sink(outbound({ status: 404, reason: 'no_route', responseBytes: 60, route: undefined, destination: { service: 'demo/echo:8080', namespace: 'demo' } }));
    sink(inbound({ status: 403, reason: 'rbac' }));
    sink(inbound());
    const text = registry.render();
    const base = { direction: 'outbound', source_workload: 'client', destination_service: 'demo/echo:8080' };
    assert.equal(value(text, 'trellis_requests_total', base), 59);
    assert.equal(value(text, 'trellis_requests_total', { ...base, code: '200', code_class: '2xx', route: 'default' }), 57);
    assert.equal(value(text, 'trellis_requests_total', { ...base, code_class: '5xx', route: 'split:demo/echo-split' }), 1);
    assert.equal(value(text, 'trellis_requests_total', { ...base, code: '404', reason: 'no_route', route: '', destination_workload: '', destination_identity: '' }), 1);
    assert.equal(value(text, 'trellis_requests_total', { direction: 'inbound', reason: 'rbac', code: '403', source_identity: CLIENT.identity }), 1);
    assert.equal(value(text, 'trellis_requests_total', { direction: 'inbound', destination_workload: 'echo', destination_identity: ECHO_ID, code: '200' }), 1);
    // Every label, in every series, in the documented order.
    const line = text.split('\n').find((l) => l.startsWith('trellis_requests_total{') && l.includes('code="200"') && l.includes('"outbound"'))!;
    assert.equal(
      line,
      'trellis_requests_total{direction="outbound",source_namespace="demo",source_workload="client",source_identity="spiffe://cluster.local/ns/demo/sa/client",' +
        'destination_namespace="demo",destination_workload="echo",destination_service="demo/echo:8080",destination_identity="spiffe://cluster.local/ns/demo/sa/echo",' +
        'route="default",code="200",code_class="2xx",reason=""} 57',
    );
    assert.ok(!text.includes('/items/'), 'no path in any label');
    // Durations and sizes.
    assert.equal(value(text, 'trellis_request_duration_seconds_count', { ...base, code_class: '2xx' }), 57);
    assert.ok(Math.abs(value(text, 'trellis_request_duration_seconds_sum', { ...base, code_class: '2xx' }) - 57 * 0.003) < 1e-9);
    assert.equal(value(text, 'trellis_request_duration_seconds_bucket', { ...base, code_class: '2xx', le: '0.0025' }), 0);
    assert.equal(value(text, 'trellis_request_duration_seconds_bucket', { ...base, code_class: '2xx', le: '0.005' }), 57);
    assert.equal(value(text, 'trellis_response_bytes_count', base), 59);
    assert.equal(value(text, 'trellis_response_bytes_sum', base), 57 * 512 + 40 + 60);
    assert.equal(value(text, 'trellis_response_bytes_bucket', { ...base, le: '100' }), 2);
    assert.equal(value(text, 'trellis_request_bytes_bucket', { ...base, le: '100' }), 59);
  });

  it('resolves each label set once (the per-record cost is a walk of Maps and increments)', () => {
    const { sink, cacheSize } = setup();
    for (let i = 0; i < 1000; i++) sink(outbound({ durationMs: i % 7, path: `/p/${i}` }));
    assert.equal(cacheSize(), 1);
    sink(outbound({ status: 500 }));
    sink(inbound());
    assert.equal(cacheSize(), 3);
  });

  it('a record that differs from the one before in any single label goes to its own series', () => {
    const { registry, sink, cacheSize } = setup();
    const base = outbound();
    const variants: RequestRecord[] = [
      outbound({ status: 201 }),
      outbound({ direction: 'gateway' }),
      outbound({ source: { ...CLIENT, namespace: 'other' } }),
      outbound({ source: { ...CLIENT, workload: 'other' } }),
      outbound({ source: { ...CLIENT, identity: 'spiffe://cluster.local/ns/demo/sa/other' } }),
      outbound({ destination: { ...base.destination, namespace: 'other' } }),
      outbound({ destination: { ...base.destination, workload: 'other' } }),
      outbound({ destination: { ...base.destination, service: 'demo/other:8080' } }),
      outbound({ destination: { ...base.destination, identity: 'spiffe://cluster.local/ns/demo/sa/other' } }),
      outbound({ route: 'other' }),
      outbound({ reason: 'other' }),
    ];
    // Each variant right after the base record and again after itself.
    for (const v of variants) {
      sink(base);
      sink(v);
      sink(v);
    }
    assert.equal(cacheSize(), 1 + variants.length);
    const text = registry.render();
    assert.equal(value(text, 'trellis_requests_total', { direction: 'outbound', code: '200', route: 'default', reason: '', source_namespace: 'demo', source_workload: 'client', destination_workload: 'echo', destination_service: 'demo/echo:8080', destination_namespace: 'demo' }), variants.length + 2 * 2); // the base, and the two identity variants
    assert.equal(value(text, 'trellis_requests_total', { code: '201' }), 2);
    assert.equal(value(text, 'trellis_requests_total', { direction: 'gateway' }), 2);
    assert.equal(value(text, 'trellis_requests_total', { route: 'other' }), 2);
    assert.equal(value(text, 'trellis_requests_total', { reason: 'other' }), 2);
    assert.equal(value(text, 'trellis_requests_total', {}), 3 * variants.length);
  });

  it('code classes', () => {
    assert.equal(codeClass(200), '2xx');
    assert.equal(codeClass(302), '3xx');
    assert.equal(codeClass(429), '4xx');
    assert.equal(codeClass(504), '5xx');
    assert.equal(codeClass(0), '0xx');
  });

  it('counts TCP connections and bytes when they close, apart from HTTP requests', () => {
    const { registry, sink } = setup();
    const tcp = (requestBytes: number, responseBytes: number): RequestRecord =>
      outbound({ protocol: 'tcp', status: 0, requestBytes, responseBytes, route: undefined, destination: { service: 'demo/tcp-echo:9000', namespace: 'demo', workload: 'tcp-echo', identity: ECHO_ID } });
    sink(tcp(100, 200));
    sink(tcp(1, 2));
    sink({ ...tcp(0, 0), direction: 'inbound', reason: 'rbac' });
    const text = registry.render();
    const labels = { direction: 'outbound', source_workload: 'client', source_namespace: 'demo', destination_service: 'demo/tcp-echo:9000', destination_workload: 'tcp-echo' };
    assert.equal(value(text, 'trellis_tcp_connections_opened_total', labels), 2);
    assert.equal(value(text, 'trellis_tcp_connections_closed_total', labels), 2);
    assert.equal(value(text, 'trellis_tcp_received_bytes_total', labels), 101);
    assert.equal(value(text, 'trellis_tcp_sent_bytes_total', labels), 202);
    assert.equal(value(text, 'trellis_tcp_connections_opened_total', { direction: 'inbound' }), 1);
    assert.ok(!text.includes('trellis_requests_total{'), 'TCP connections are not HTTP requests');
  });

  it('reads endpoint health and ejection from the routing table at scrape time', () => {
    const ep = (instance: string) => endpointState({ address: '127.0.0.1', port: 1, identity: ECHO_ID, instance });
    const a = ep('demo/echo-0');
    const b = ep('demo/echo-1');
    let table: RoutingTable = {
      ...EMPTY_TABLE,
      clusters: new Map([['demo/echo:8080', { config: { name: 'demo/echo:8080' }, endpoints: [a, b] }]]) as unknown as RoutingTable['clusters'],
    };
    const { registry } = setup(() => table);
    let text = registry.render();
    assert.equal(value(text, 'trellis_upstream_endpoint_healthy', { cluster: 'demo/echo:8080', endpoint: 'demo/echo-0' }), 1);
    assert.equal(value(text, 'trellis_upstream_endpoint_ejected', { cluster: 'demo/echo:8080', endpoint: 'demo/echo-1' }), 0);
    a.healthy = false;
    b.ejectedUntil = Date.now() + 60_000;
    text = registry.render();
    assert.equal(value(text, 'trellis_upstream_endpoint_healthy', { endpoint: 'demo/echo-0' }), 0);
    assert.equal(value(text, 'trellis_upstream_endpoint_ejected', { endpoint: 'demo/echo-1' }), 1);
    assert.equal(value(text, 'trellis_upstream_endpoint_ejected', { endpoint: 'demo/echo-0' }), 0);
    // A new snapshot: series follow the table, none are left behind.
    table = EMPTY_TABLE;
    text = registry.render();
    assert.ok(!text.includes('trellis_upstream_endpoint_healthy{'));
    assert.match(text, /# TYPE trellis_upstream_endpoint_healthy gauge/);
  });
});

describe('histogram', () => {
  it('buckets are inclusive upper bounds, cumulative in the output, with _sum, _count and +Inf', () => {
    const r = new Registry();
    const h = r.histogram('x_seconds', 'help', [1, 0.1, 10]);
    assert.deepEqual(h.buckets, [0.1, 1, 10], 'sorted');
    const s = h.handle({ a: 'b' });
    for (const v of [0.05, 0.1, 0.5, 1, 1.0001, 9, 10, 11, 1000]) s.observe(v);
    assert.deepEqual([...s.counts], [2, 2, 3, 2]);
    assert.equal(s.count, 9);
    const text = r.render();
    assert.equal(
      text,
      [
        '# HELP x_seconds help',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{a="b",le="0.1"} 2',
        'x_seconds_bucket{a="b",le="1"} 4',
        'x_seconds_bucket{a="b",le="10"} 7',
        'x_seconds_bucket{a="b",le="+Inf"} 9',
        `x_seconds_sum{a="b"} ${0.05 + 0.1 + 0.5 + 1 + 1.0001 + 9 + 10 + 11 + 1000}`,
        'x_seconds_count{a="b"} 9',
        '',
      ].join('\n'),
    );
  });

  it('renders a series without labels, and the same labels resolve to one series', () => {
    const h = new Histogram('y', 'help', [1]);
    h.observe({}, 0.5);
    h.handle({}).observe(2);
    const out: string[] = [];
    h.render(out);
    assert.deepEqual(out.slice(2), ['y_bucket{le="1"} 1', 'y_bucket{le="+Inf"} 2', 'y_sum 2.5', 'y_count 2']);
  });

  it('refuses duplicate or infinite bounds', () => {
    assert.throws(() => new Histogram('z', 'h', [1, 1]));
    assert.throws(() => new Histogram('z', 'h', [1, Infinity]));
  });

  it('has the documented duration buckets', () => {
    assert.deepEqual(DURATION_BUCKETS, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });
});

describe('text format escaping', () => {
  it('escapes backslash, double quote and line feed in label values, and backslash and line feed in HELP', () => {
    const r = new Registry();
    r.counter('c_total', 'a \\ help\nwith two lines').inc({ v: 'a"b\\c\nd' });
    r.histogram('h', 'h', [1]).observe({ v: '"' }, 1);
    const text = r.render();
    assert.ok(text.includes('# HELP c_total a \\\\ help\\nwith two lines\n'));
    assert.ok(text.includes('c_total{v="a\\"b\\\\c\\nd"} 1\n'));
    assert.ok(text.includes('h_bucket{v="\\"",le="1"} 1\n'));
  });
});

/** A sample of everything a proxy exposes, with awkward label values. */
function sampleOutput(): string {
  const metrics = createProxyMetrics();
  const a = endpointState({ address: '127.0.0.1', port: 1, identity: ECHO_ID, instance: 'demo/echo-0' });
  const table = {
    ...EMPTY_TABLE,
    clusters: new Map([['demo/echo:8080', { config: { name: 'demo/echo:8080' }, endpoints: [a] }]]),
  } as unknown as RoutingTable;
  const { sink } = createRequestMetrics(metrics.registry, () => table);
  sink(outbound());
  sink(outbound({ status: 0, durationMs: 20_000, route: 'httproute:demo/r"\\x/0' }));
  sink(inbound({ status: 403, reason: 'rbac' }));
  sink({ ...outbound(), direction: 'gateway', source: { identity: 'spiffe://cluster.local/ns/gw/sa/edge', namespace: 'gw', workload: 'edge-gateway' } });
  sink(outbound({ protocol: 'tcp', status: 0, route: undefined, requestBytes: 5, responseBytes: 7 }));
  metrics.outboundRequests.inc({ destination: 'demo/echo:8080', cluster: 'demo/echo:8080', code: '200', tls: 'mtls' });
  metrics.denied.inc({ source: 'unauthenticated', reason: 'plaintext' });
  metrics.resilience.inc({ event: 'retry', cluster: 'demo/echo:8080' });
  metrics.certificateExpiry.set({}, () => 1_900_000_000);
  return metrics.registry.render();
}

describe('promtool check metrics', () => {
  const promtool = findExecutable('promtool', ['/usr/bin', '/usr/local/bin']);
  it(
    'accepts everything a proxy serves on /stats',
    { skip: promtool ? false : 'promtool is not installed (Debian package prometheus: apt-get install prometheus)' },
    () => {
      const text = sampleOutput();
      const r = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}${r.stderr}\n--- input ---\n${text}`);
      assert.equal((r.stdout + r.stderr).trim(), '', 'no lint findings');
    },
  );
});
