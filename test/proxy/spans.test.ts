// Spans from telemetry records: Zipkin v2 JSON and OTLP/HTTP JSON.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isError, otlpExport, otlpSpan, zipkinSpan } from '../../src/proxy/spans.js';
import type { RequestRecord } from '../../src/proxy/telemetry.js';
import { outboundRecord } from './record-fixtures.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('Zipkin spans', () => {
  it('makes a CLIENT span of an outbound record with the hop\'s ids, times in µs and tags', () => {
    assert.deepEqual(zipkinSpan(outboundRecord()), {
      traceId: TRACE,
      id: '00f067aa0ba902b7',
      parentId: 'b7ad6b7169203331',
      name: 'GET /books',
      kind: 'CLIENT',
      timestamp: 1_700_000_000_123_000,
      duration: 12_000,
      localEndpoint: { serviceName: 'bookbuyer' },
      remoteEndpoint: { serviceName: 'bookstore-v1' },
      tags: {
        'trellis.direction': 'outbound',
        'trellis.protocol': 'http',
        'trellis.source.identity': 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer',
        'trellis.source.workload': 'bookbuyer',
        'trellis.destination.identity': 'spiffe://cluster.local/ns/bookstore/sa/bookstore',
        'trellis.destination.service': 'bookstore/bookstore:14001',
        'trellis.destination.workload': 'bookstore-v1',
        'trellis.route': 'default',
        'trellis.upstream': 'bookstore/bookstore-v1-0',
        'trellis.retries': '1',
        'trellis.request_bytes': '0',
        'trellis.response_bytes': '42',
        'http.method': 'GET',
        'http.path': '/books',
        'http.host': 'bookstore.bookstore:14001',
        'http.status_code': '200',
      },
    });
  });

  it('makes a SERVER span of an inbound record, named by the local workload, the caller as remote', () => {
    const s = zipkinSpan(
      outboundRecord({
        direction: 'inbound',
        source: { identity: 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer', namespace: 'bookbuyer', workload: 'bookbuyer' },
        destination: { identity: 'spiffe://cluster.local/ns/bookstore/sa/bookstore', namespace: 'bookstore', workload: 'bookstore-v1', service: 'bookstore/bookstore:14001' },
        status: 403,
        reason: 'rbac',
        durationMs: 0,
      }),
    )!;
    assert.equal(s.kind, 'SERVER');
    assert.equal(s.localEndpoint.serviceName, 'bookstore-v1');
    assert.equal(s.remoteEndpoint?.serviceName, 'bookbuyer');
    assert.equal(s.duration, 1, 'at least 1 µs');
    assert.equal(s.tags['trellis.reason'], 'rbac');
    assert.equal(s.tags.error, undefined, 'a 4xx is not an error on the server side');
  });

  it('marks errors as OpenTelemetry does: 5xx and broken exchanges, 4xx on the client side', () => {
    assert.equal(isError(outboundRecord({ status: 503 })), true);
    assert.equal(isError(outboundRecord({ status: 0 })), true);
    assert.equal(isError(outboundRecord({ status: 404 })), true);
    assert.equal(isError(outboundRecord({ status: 404, direction: 'inbound' })), false);
    assert.equal(isError(outboundRecord({ protocol: 'tcp', status: 0 })), false);
    assert.equal(isError(outboundRecord({ protocol: 'tcp', status: 0, reason: 'rbac' })), true);
    assert.equal(zipkinSpan(outboundRecord({ status: 504, reason: 'upstream_timeout' }))!.tags.error, 'upstream_timeout');
    assert.equal(zipkinSpan(outboundRecord({ status: 0 }))!.tags.error, 'no response');
  });

  it('makes no span of an unsampled or untraced record', () => {
    assert.equal(zipkinSpan(outboundRecord({ trace: { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: false } })), undefined);
    const { trace: _t, ...untraced } = outboundRecord();
    assert.equal(zipkinSpan(untraced as RequestRecord), undefined);
  });

  it('names a root span without parentId and a gateway span CLIENT', () => {
    const s = zipkinSpan(outboundRecord({ direction: 'gateway', trace: { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true } }))!;
    assert.equal(s.parentId, undefined);
    assert.equal(s.kind, 'CLIENT');
    assert.equal(s.tags['trellis.direction'], 'gateway');
  });
});

describe('OTLP spans', () => {
  it('converts ids, kind, times in ns, tags to typed attributes and error to status', () => {
    const z = zipkinSpan(outboundRecord({ status: 503, reason: 'upstream_connect' }))!;
    const o = otlpSpan(z);
    assert.equal(o.traceId, TRACE);
    assert.equal(o.spanId, '00f067aa0ba902b7');
    assert.equal(o.parentSpanId, 'b7ad6b7169203331');
    assert.equal(o.kind, 3);
    assert.equal(o.startTimeUnixNano, '1700000000123000000');
    assert.equal(o.endTimeUnixNano, '1700000000135000000');
    assert.deepEqual(o.status, { code: 2, message: 'upstream_connect' });
    const attr = (k: string) => o.attributes.find((a) => a.key === k)?.value;
    assert.deepEqual(attr('http.status_code'), { intValue: '503' });
    assert.deepEqual(attr('http.method'), { stringValue: 'GET' });
    assert.deepEqual(attr('peer.service'), { stringValue: 'bookstore-v1' });
    assert.equal(attr('error'), undefined);
    assert.equal(otlpSpan(zipkinSpan(outboundRecord({ direction: 'inbound' }))!).kind, 2);
    assert.deepEqual(otlpSpan(zipkinSpan(outboundRecord())!).status, { code: 0 });
  });

  it('groups spans by service into resourceSpans → scopeSpans → spans', () => {
    const a = zipkinSpan(outboundRecord())!;
    const b = zipkinSpan(outboundRecord({ direction: 'inbound', trace: { traceId: TRACE, spanId: '1111111111111111', parentSpanId: '00f067aa0ba902b7', sampled: true } }))!;
    const out = otlpExport([a, b]);
    assert.equal(out.resourceSpans.length, 2);
    assert.deepEqual(out.resourceSpans[0]!.resource.attributes, [{ key: 'service.name', value: { stringValue: 'bookbuyer' } }]);
    assert.equal(out.resourceSpans[0]!.scopeSpans[0]!.scope.name, 'trellis-proxy');
    assert.equal(out.resourceSpans[1]!.scopeSpans[0]!.spans[0]!.spanId, '1111111111111111');
  });
});
