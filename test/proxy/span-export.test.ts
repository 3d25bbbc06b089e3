// Span export: batches reach a local collector in Zipkin and OTLP JSON (and
// the control plane's path); a dead, slow or removed collector costs spans
// (counted), never time on the request path.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TracingSettings } from '../../src/compiler/snapshot.js';
import { SpanPipeline, type SpanExportLimits } from '../../src/proxy/span-export.js';
import { createProxyMetrics } from '../../src/proxy/stats.js';
import type { RequestRecord } from '../../src/proxy/telemetry.js';
import { newSpanId } from '../../src/proxy/trace-context.js';
import { outboundRecord } from './record-fixtures.js';

const LIMITS: SpanExportLimits = { queueSize: 20, batchSize: 4, intervalMs: 50, timeoutMs: 300 };
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function record(sampled = true): RequestRecord {
  return outboundRecord({ trace: { traceId: TRACE, spanId: newSpanId(), sampled } });
}

/** Sum of a metric's series whose labels include `labels`. */
function metric(metrics: ReturnType<typeof createProxyMetrics>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of metrics.registry.render().split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Received {
  path: string;
  body: any;
}

describe('span export', () => {
  let server: http.Server;
  let base: string;
  const received: Received[] = [];
  let stall = false;

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (stall) return; // never answers
        received.push({ path: req.url ?? '', body: JSON.parse(body) });
        res.writeHead(req.url === '/rejects' ? 500 : 202).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('POSTs batches of Zipkin JSON, OTLP JSON and the control plane\'s copy', async () => {
    received.length = 0;
    const metrics = createProxyMetrics();
    const settings: TracingSettings = { samplingPercent: 100, zipkinUrl: `${base}/api/v2/spans`, otlpUrl: `${base}/v1/traces` };
    const p = new SpanPipeline({ counters: { exported: metrics.spansExported, dropped: metrics.spansDropped }, settings: () => settings, controlPlaneUrl: base, limits: LIMITS });
    for (let i = 0; i < 10; i++) p.sink(record());
    p.sink(record(false));
    const spans = (path: string) => received.filter((r) => r.path === path);
    await until(() => metric(metrics, 'trellis_spans_exported_total') === 30, 'every span exported to each collector');
    p.close();
    const zipkin = spans('/api/v2/spans').flatMap((r) => r.body);
    assert.equal(zipkin.length, 10);
    assert.ok(spans('/api/v2/spans').every((r) => r.body.length <= LIMITS.batchSize), 'batches of at most batchSize');
    assert.equal(zipkin[0].traceId, TRACE);
    assert.equal(zipkin[0].kind, 'CLIENT');
    assert.equal(spans('/v1/traces/spans').flatMap((r) => r.body).length, 10);
    const otlp = spans('/v1/traces').flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
    assert.equal(otlp.length, 10);
    assert.equal(otlp[0].traceId, TRACE);
    assert.equal(otlp[0].kind, 3);
    for (const c of ['zipkin', 'otlp', 'control-plane']) assert.equal(metric(metrics, 'trellis_spans_exported_total', { collector: c }), 10, c);
    assert.equal(metric(metrics, 'trellis_spans_dropped_total'), 0);
  });

  it('drops and counts spans when the collector is down, without slowing the sink', async () => {
    // A port nothing listens on.
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const metrics = createProxyMetrics();
    const settings: TracingSettings = { samplingPercent: 100, zipkinUrl: `http://127.0.0.1:${port}/api/v2/spans` };
    const p = new SpanPipeline({ counters: { exported: metrics.spansExported, dropped: metrics.spansDropped }, settings: () => settings, limits: LIMITS });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) p.sink(record());
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 50, `50 records took ${elapsed.toFixed(1)} ms`);
    // 20 queued, 30 over the queue's size.
    assert.equal(metric(metrics, 'trellis_spans_dropped_total', { collector: 'zipkin', reason: 'queue_full' }), 30);
    await until(() => metric(metrics, 'trellis_spans_dropped_total', { reason: 'export_failed' }) === 20, 'queued spans dropped as export_failed');
    assert.equal(metric(metrics, 'trellis_spans_exported_total'), 0);
    p.close();
  });

  it('gives up on a collector that does not answer within the timeout', async () => {
    const metrics = createProxyMetrics();
    stall = true;
    try {
      const settings: TracingSettings = { samplingPercent: 100, zipkinUrl: `${base}/stalls` };
      const p = new SpanPipeline({ counters: { exported: metrics.spansExported, dropped: metrics.spansDropped }, settings: () => settings, limits: LIMITS });
      for (let i = 0; i < 3; i++) p.sink(record());
      await until(() => metric(metrics, 'trellis_spans_dropped_total', { reason: 'export_timeout' }) === 3, 'spans dropped on timeout');
      p.close();
    } finally {
      stall = false;
    }
  });

  it('counts a collector\'s error answer as export_rejected', async () => {
    const metrics = createProxyMetrics();
    const settings: TracingSettings = { samplingPercent: 100, zipkinUrl: `${base}/rejects` };
    const p = new SpanPipeline({ counters: { exported: metrics.spansExported, dropped: metrics.spansDropped }, settings: () => settings, limits: LIMITS });
    for (let i = 0; i < 2; i++) p.sink(record());
    await until(() => metric(metrics, 'trellis_spans_dropped_total', { reason: 'export_rejected' }) === 2, 'spans dropped on a 500');
    p.close();
  });

  it('follows settings changes: a removed collector drops its queue', async () => {
    const metrics = createProxyMetrics();
    let settings: TracingSettings = { samplingPercent: 100, zipkinUrl: `${base}/api/v2/spans` };
    const p = new SpanPipeline({ counters: { exported: metrics.spansExported, dropped: metrics.spansDropped }, settings: () => settings, limits: { ...LIMITS, intervalMs: 60_000 } });
    p.sink(record());
    assert.deepEqual(p.collectors().map((c) => c.collector), ['zipkin']);
    settings = { samplingPercent: 100, otlpUrl: `${base}/v1/traces` };
    assert.deepEqual(p.collectors().map((c) => c.collector), ['otlp']);
    assert.equal(metric(metrics, 'trellis_spans_dropped_total', { collector: 'zipkin', reason: 'collector_removed' }), 1);
    settings = { samplingPercent: 100 };
    assert.deepEqual(p.collectors(), []);
    p.close();
  });
});
