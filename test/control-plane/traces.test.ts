// The control plane's trace store: Zipkin spans in, bounded by traces and
// spans (least recently updated out first), summaries and waterfalls out,
// through the admin API routes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../src/store/memory.js';
import { normaliseTraceId, parseZipkinSpan, TraceStore, type StoredSpan } from '../../src/control-plane/traces.js';
import { PROXIES, startAdmin } from '../cli/fixtures.js';

const T1 = '4bf92f3577b34da6a3ce929d0e0e4736';
const T2 = '80f198ee56343ba864fe8b2a57d3eff7';

function span(traceId: string, id: string, over: Partial<StoredSpan> = {}): StoredSpan {
  return { traceId, id, name: 'get /', kind: 'CLIENT', timestamp: 1_700_000_000_000_000, duration: 1000, localEndpoint: { serviceName: 'client' }, tags: {}, ...over };
}

/** A client → server trace: app span a (not sent), client sidecar b, server sidecar c, and c's call out d. */
function trace(traceId: string, start: number): StoredSpan[] {
  return [
    span(traceId, 'cccccccccccccccc', { parentId: 'bbbbbbbbbbbbbbbb', kind: 'SERVER', timestamp: start + 200, duration: 600, localEndpoint: { serviceName: 'echo' } }),
    span(traceId, 'bbbbbbbbbbbbbbbb', { parentId: 'aaaaaaaaaaaaaaaa', timestamp: start, duration: 1000 }),
    span(traceId, 'dddddddddddddddd', { parentId: 'cccccccccccccccc', timestamp: start + 300, duration: 100, localEndpoint: { serviceName: 'echo' }, tags: { error: '503' } }),
  ];
}

describe('trace store', () => {
  it('parses Zipkin v2 spans, normalising ids and refusing what is not a span', () => {
    const s = parseZipkinSpan({ traceId: 'A3CE929D0E0E4736', id: '00F067AA0BA902B7', name: 'x', timestamp: 1, duration: 2, kind: 'SERVER', localEndpoint: { serviceName: 'a' }, tags: { n: 1, ok: true, obj: {} }, extra: 1 });
    assert.deepEqual(s, { traceId: '0000000000000000a3ce929d0e0e4736', id: '00f067aa0ba902b7', name: 'x', timestamp: 1, duration: 2, kind: 'SERVER', localEndpoint: { serviceName: 'a' }, tags: { n: '1', ok: 'true' } });
    for (const bad of [null, [], {}, { traceId: T1, id: 'short', timestamp: 1 }, { traceId: T1, id: 'bbbbbbbbbbbbbbbb' }, { traceId: 'zz', id: 'bbbbbbbbbbbbbbbb', timestamp: 1 }, { traceId: T1, id: 'bbbbbbbbbbbbbbbb', timestamp: 1, parentId: 'no' }]) {
      assert.equal(parseZipkinSpan(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(normaliseTraceId('0'.repeat(32)), undefined);
  });

  it('summarises traces, most recent first, filtered by service', () => {
    const store = new TraceStore();
    store.add(trace(T1, 1_000_000));
    store.add(trace(T2, 2_000_000));
    store.add([span('00000000000000001111111111111111', 'eeeeeeeeeeeeeeee', { timestamp: 3_000_000, localEndpoint: { serviceName: 'other' } })]);
    const all = store.list();
    assert.deepEqual(all.map((t) => t.traceId), ['00000000000000001111111111111111', T2, T1]);
    assert.deepEqual(all[1], {
      traceId: T2,
      rootService: 'client',
      rootName: 'get /',
      start: 2_000_000,
      startTime: new Date(2000).toISOString(),
      durationUs: 1000,
      spanCount: 3,
      services: ['client', 'echo'],
      error: true,
    });
    assert.deepEqual(store.list({ service: 'echo' }).map((t) => t.traceId), [T2, T1]);
    assert.deepEqual(store.list({ limit: 1 }).map((t) => t.traceId), ['00000000000000001111111111111111']);
  });

  it('gives a trace\'s spans parents first, children by start, with their depth', () => {
    const store = new TraceStore();
    store.add(trace(T1, 1_000_000));
    const t = store.get(T1.toUpperCase())!;
    assert.equal(t.traceId, T1);
    assert.deepEqual(t.spans.map((s) => [s.id[0], s.depth]), [['b', 0], ['c', 1], ['d', 2]]);
    assert.equal(store.get(T2), undefined);
  });

  it('replaces a span sent twice and keeps client and server halves of a shared span', () => {
    const store = new TraceStore();
    store.add([span(T1, 'bbbbbbbbbbbbbbbb')]);
    store.add([span(T1, 'bbbbbbbbbbbbbbbb', { duration: 5 })]);
    store.add([span(T1, 'bbbbbbbbbbbbbbbb', { kind: 'SERVER' })]);
    assert.equal(store.size.spans, 2);
    assert.deepEqual(store.get(T1)!.spans.map((s) => s.kind), ['CLIENT', 'SERVER']);
  });

  it('evicts the least recently updated traces beyond the trace and span limits', () => {
    const store = new TraceStore({ maxTraces: 3, maxSpans: 7, maxSpansPerTrace: 4 });
    const id = (i: number) => i.toString(16).padStart(32, '0');
    for (let i = 1; i <= 3; i++) store.add([span(id(i), 'aaaaaaaaaaaaaaaa')]);
    store.add([span(id(1), 'bbbbbbbbbbbbbbbb')]); // trace 1 is now the most recent
    store.add([span(id(4), 'aaaaaaaaaaaaaaaa')]);
    assert.equal(store.get(id(2)), undefined, 'trace 2 was the least recently updated');
    assert.deepEqual(store.size, { traces: 3, spans: 4 });
    // Span limit: trace 5 brings 4 spans (the 5th is over the per-trace limit).
    const many = ['1', '2', '3', '4', '5'].map((c) => span(id(5), c.repeat(16)));
    assert.equal(store.add(many), 4);
    assert.ok(store.size.spans <= 7);
    assert.equal(store.get(id(3)), undefined);
    assert.ok(store.get(id(5)));
  });
});

describe('trace routes of the admin API', () => {
  it('takes spans, lists traces and serves one trace', async () => {
    const traces = new TraceStore();
    const store = createMemoryStore();
    const admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({}), traces });
    try {
      const post = await fetch(admin.url + '/v1/traces/spans', { method: 'POST', body: JSON.stringify([...trace(T1, 1_000_000), { not: 'a span' }]) });
      assert.equal(post.status, 202);
      assert.deepEqual(await post.json(), { accepted: 3, rejected: 1 });
      const list = (await (await fetch(admin.url + '/v1/traces?service=echo&limit=5')).json()) as { traces: { traceId: string; spanCount: number }[] };
      assert.deepEqual(list.traces.map((t) => [t.traceId, t.spanCount]), [[T1, 3]]);
      assert.deepEqual(((await (await fetch(admin.url + '/v1/traces?service=nobody')).json()) as { traces: unknown[] }).traces, []);
      const one = (await (await fetch(admin.url + '/v1/traces/' + T1)).json()) as { spans: { id: string; depth: number }[] };
      assert.deepEqual(one.spans.map((s) => s.depth), [0, 1, 2]);
      const missing = await fetch(admin.url + '/v1/traces/' + T2);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'TRELLIS_E_TRACE_NOT_FOUND');
      const bad = await fetch(admin.url + '/v1/traces/spans', { method: 'POST', body: '{"not":"an array"}' });
      assert.equal(bad.status, 400);
      const notJson = await fetch(admin.url + '/v1/traces/spans', { method: 'POST', body: '[' });
      assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'TRELLIS_E_BAD_JSON');
      const big = await fetch(admin.url + '/v1/traces/spans', { method: 'POST', body: 'x'.repeat(5 * 1024 * 1024) });
      assert.equal(big.status, 413);
    } finally {
      await admin.close();
      await store.close();
    }
  });

  it('has no trace routes without a trace store', async () => {
    const store = createMemoryStore();
    const admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({}) });
    try {
      assert.equal((await fetch(admin.url + '/v1/traces')).status, 404);
      assert.equal((await fetch(admin.url + '/v1/traces/' + T1)).status, 404);
    } finally {
      await admin.close();
      await store.close();
    }
  });
});
