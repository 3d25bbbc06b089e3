// A telemetry record to build spans and access log lines from.
import type { RequestRecord } from '../../src/proxy/telemetry.js';

export const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** An outbound call of bookbuyer to bookstore, traced and sampled; `overrides` replace fields. */
export function outboundRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    direction: 'outbound',
    protocol: 'http',
    start: 1_700_000_000_123,
    durationMs: 12,
    method: 'GET',
    path: '/books',
    authority: 'bookstore.bookstore:14001',
    status: 200,
    requestBytes: 0,
    responseBytes: 42,
    source: { identity: 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer', namespace: 'bookbuyer', workload: 'bookbuyer' },
    destination: { service: 'bookstore/bookstore:14001', namespace: 'bookstore', identity: 'spiffe://cluster.local/ns/bookstore/sa/bookstore', workload: 'bookstore-v1' },
    route: 'default',
    upstream: 'bookstore/bookstore-v1-0',
    retries: 1,
    trace: { traceId: TRACE, spanId: '00f067aa0ba902b7', parentSpanId: 'b7ad6b7169203331', sampled: true },
    ...overrides,
  };
}
