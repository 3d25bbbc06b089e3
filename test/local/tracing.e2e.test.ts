// Tracing and access logs end to end: a client → echo mesh whose MeshConfig
// sends spans to a fake Zipkin collector this test runs. A request with a
// traceparent yields one span per sidecar, linked parent to child, in the
// collector and in the control plane's /v1/traces; the app sees the server
// sidecar's span as its parent; B3 comes back as B3; the access log files have
// the trace id; with the collector stopped requests still succeed and
// trellis_spans_dropped_total rises.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshInfo } from '../../src/local/state-dir.js';
import { echoMesh } from '../support/echo-mesh.js';
import { eventually, metricValue, startMesh, viaProxy, type RunningMesh } from '../support/mesh.js';

interface Span {
  traceId: string;
  id: string;
  parentId?: string;
  kind: string;
  name: string;
  localEndpoint: { serviceName: string };
  tags: Record<string, string>;
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const APP_SPAN = '00f067aa0ba902b7';

describe('tracing and access logs', { timeout: 180_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;
  let collector: http.Server;
  let adminUrl: string;
  const collected: Span[] = [];

  before(async () => {
    collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/api/v2/spans') collected.push(...(JSON.parse(body) as Span[]));
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const port = (collector.address() as AddressInfo).port;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-tracing-'));
    // No path: the proxies add /api/v2/spans.
    fs.writeFileSync(
      path.join(dir, 'mesh.yaml'),
      echoMesh({
        meshConfig: { tracing: { samplingPercent: 100, zipkin: { url: `http://127.0.0.1:${port}` } } },
        clientUpstreams: [{ service: 'echo', port: 8080 }],
      }),
    );
    mesh = await startMesh(dir);
    adminUrl = readMeshInfo(mesh.stateDir)!.adminUrl;
  });

  after(async () => {
    collector?.closeAllConnections();
    collector?.close();
    await mesh?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('continues the app\'s traceparent through both sidecars: one span each, linked, in the collector and the control plane', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const r = await viaProxy(client.spec.outboundPort, 'http://echo.demo:8080/traced?x=1', {
      headers: { traceparent: `00-${TRACE}-${APP_SPAN}-01`, tracestate: 'congo=t61rcWkgMzE' },
    });
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };

    const spans = () => collected.filter((s) => s.traceId === TRACE);
    await eventually(() => spans().length >= 2, 10_000, 'both sidecars\' spans in the collector');
    const clientSpan = spans().find((s) => s.kind === 'CLIENT')!;
    const serverSpan = spans().find((s) => s.kind === 'SERVER')!;
    assert.ok(clientSpan && serverSpan, JSON.stringify(spans()));
    assert.equal(clientSpan.parentId, APP_SPAN, 'the client sidecar\'s span is a child of the app\'s');
    assert.equal(serverSpan.parentId, clientSpan.id, 'the server sidecar\'s span is a child of the client sidecar\'s');
    assert.equal(clientSpan.localEndpoint.serviceName, 'client');
    assert.equal(serverSpan.localEndpoint.serviceName, 'echo');
    assert.equal(clientSpan.tags['http.path'], '/traced');
    assert.equal(clientSpan.tags['http.status_code'], '200');
    assert.equal(clientSpan.tags['trellis.destination.service'], 'demo/echo:8080');
    assert.equal(clientSpan.tags['trellis.upstream'], 'demo/echo-0');
    assert.equal(serverSpan.tags['trellis.source.identity'], 'spiffe://cluster.local/ns/demo/sa/client');
    // The app sees the server sidecar's span as its parent, and the tracestate as sent.
    assert.equal(seen.headers['traceparent'], `00-${TRACE}-${serverSpan.id}-01`);
    assert.equal(seen.headers['tracestate'], 'congo=t61rcWkgMzE');

    // The control plane keeps the same trace.
    let trace: { spans: (Span & { depth: number })[] } | undefined;
    await eventually(
      async () => {
        const res = await fetch(`${adminUrl}/v1/traces/${TRACE}`);
        if (!res.ok) return false;
        trace = (await res.json()) as typeof trace;
        return trace!.spans.length >= 2;
      },
      10_000,
      'the trace in the control plane',
    );
    assert.deepEqual(trace!.spans.map((s) => [s.id, s.parentId, s.depth]), [
      [clientSpan.id, APP_SPAN, 0],
      [serverSpan.id, clientSpan.id, 1],
    ]);
    const list = (await (await fetch(`${adminUrl}/v1/traces?service=echo`)).json()) as { traces: { traceId: string; rootService: string; spanCount: number }[] };
    const summary = list.traces.find((t) => t.traceId === TRACE);
    assert.equal(summary?.rootService, 'client');
    assert.equal(summary?.spanCount, 2);
  });

  it('writes the trace id into both sidecars\' access log files', async () => {
    const logOf = (instance: string) => path.join(mesh.stateDir, 'logs', 'demo', `${instance}.access.log`);
    const lines = (instance: string) =>
      fs.existsSync(logOf(instance))
        ? fs.readFileSync(logOf(instance), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];
    await eventually(() => lines('client-0').some((l) => l.trace_id === TRACE) && lines('echo-0').some((l) => l.trace_id === TRACE), 10_000, 'access log lines');
    const out = lines('client-0').find((l) => l.trace_id === TRACE)!;
    assert.equal(out.direction, 'outbound');
    assert.equal(out.path, '/traced');
    assert.equal(out.status, 200);
    assert.equal(out.destination_service, 'demo/echo:8080');
    assert.equal(out.upstream, 'demo/echo-0');
    const inb = lines('echo-0').find((l) => l.trace_id === TRACE)!;
    assert.equal(inb.direction, 'inbound');
    assert.equal(inb.source_identity, 'spiffe://cluster.local/ns/demo/sa/client');
  });

  it('answers B3 with B3 and starts a trace for a request without context', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const b3 = await viaProxy(client.spec.outboundPort, 'http://echo.demo:8080/b3', { headers: { b3: `a3ce929d0e0e4736-${APP_SPAN}-1` } });
    const h = (JSON.parse(b3.body) as { headers: Record<string, string> }).headers;
    assert.match(h['b3']!, /^0000000000000000a3ce929d0e0e4736-[0-9a-f]{16}-1-[0-9a-f]{16}$/);
    assert.match(h['traceparent']!, /^00-0000000000000000a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    const fresh = await viaProxy(client.spec.outboundPort, 'http://echo.demo:8080/fresh');
    const tp = (JSON.parse(fresh.body) as { headers: Record<string, string> }).headers['traceparent'];
    assert.match(tp!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'sampling 100 %: a new sampled trace');
  });

  it('keeps serving when the collector is down, and counts the spans it drops', async () => {
    const client = await mesh.instance('demo', 'client-0');
    collector.closeAllConnections();
    await new Promise<void>((r) => collector.close(() => r()));
    const before = await metricValue(client.spec.adminPort, 'trellis_spans_dropped_total', { collector: 'zipkin' });
    for (let i = 0; i < 20; i++) {
      const r = await viaProxy(client.spec.outboundPort, `http://echo.demo:8080/down/${i}`);
      assert.equal(r.status, 200, r.body);
    }
    await eventually(
      async () => (await metricValue(client.spec.adminPort, 'trellis_spans_dropped_total', { collector: 'zipkin' })) >= before + 20,
      10_000,
      'spans dropped while the collector is down',
    );
    // The control plane still gets them.
    assert.ok((await metricValue(client.spec.adminPort, 'trellis_spans_exported_total', { collector: 'control-plane' })) >= 20);
  });
});
