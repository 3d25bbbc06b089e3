// The proxy's admin listener (src/proxy/admin.ts): its replies, and HTTP/1.1
// on the wire (keep-alive, pipelining, HEAD, bodies it does not read, bad and
// oversized heads) as Node's http server answered before it.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { adminReply, createAdminServer, httpDate } from '../../src/proxy/admin.js';
import type { ProxyState } from '../../src/proxy/state.js';
import { createProxyMetrics } from '../../src/proxy/stats.js';
import type { XdsState } from '../../src/proxy/xds-client.js';

const NOT_AFTER = new Date('2031-05-06T07:08:09.010Z');

function fakeState(over: { snapshot?: unknown; material?: unknown } = {}) {
  const metrics = createProxyMetrics();
  metrics.snapshotUpdates.inc({ result: 'ack' });
  return {
    proxyId: 'demo/echo-0',
    snapshot: over.snapshot,
    credentials: { material: over.material },
    metrics,
    table: { clusters: new Map() },
    pool: { describeSessions: () => ({ sessions: [{ endpoint: '127.0.0.1:15001', identity: 'spiffe://cluster.local/ns/demo/sa/web', streams: 3, connected: true }], http1Peers: [] }) },
  } as unknown as ProxyState;
}

const xds: XdsState = { connected: true, appliedVersion: 'v1', reconnects: 0 };
const ready = () => fakeState({ snapshot: { version: 'v1' }, material: { notAfter: NOT_AFTER } });

describe('admin replies', () => {
  it('answers /ready 503 until there are a certificate and a snapshot', () => {
    assert.deepEqual(adminReply(fakeState(), xds, 'GET', '/ready'), { status: 503, contentType: 'text/plain; charset=utf-8', body: 'waiting for a certificate\n' });
    assert.equal(adminReply(fakeState({ material: { notAfter: NOT_AFTER } }), xds, 'GET', '/ready').body, 'waiting for the first snapshot\n');
    assert.deepEqual(adminReply(ready(), xds, 'GET', '/ready'), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'LIVE\n' });
    assert.equal(adminReply(ready(), xds, 'GET', '/ready?verbose=1').status, 200);
  });

  it('serves metrics in the Prometheus text format on /stats and /metrics', () => {
    const state = ready();
    for (const path of ['/stats', '/metrics']) {
      const r = adminReply(state, xds, 'GET', path);
      assert.equal(r.status, 200);
      assert.equal(r.contentType, 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(r.body, state.metrics.registry.render());
      assert.match(r.body, /trellis_snapshot_updates_total\{result="ack"\} 1/);
    }
  });

  it('dumps the configuration as JSON', () => {
    const r = adminReply(ready(), xds, 'GET', '/config_dump');
    assert.equal(r.contentType, 'application/json');
    const dump = JSON.parse(r.body) as Record<string, unknown>;
    assert.deepEqual(dump, {
      proxyId: 'demo/echo-0',
      controlPlane: xds,
      certificate: { notAfter: NOT_AFTER.toISOString() },
      snapshot: { version: 'v1' },
      endpoints: {},
      upstreamSessions: { sessions: [{ endpoint: '127.0.0.1:15001', identity: 'spiffe://cluster.local/ns/demo/sa/web', streams: 3, connected: true }], http1Peers: [] },
    });
    assert.equal(r.body, JSON.stringify(dump, null, 2));
  });

  it('refuses other methods and unknown paths', () => {
    assert.deepEqual(adminReply(ready(), xds, 'POST', '/ready'), { status: 405, contentType: 'text/plain; charset=utf-8', body: 'method not allowed\n' });
    assert.equal(adminReply(ready(), xds, 'GET', '/nope').status, 404);
    assert.equal(adminReply(ready(), xds, 'HEAD', '/healthz').status, 200);
  });

  it('formats the Date header as toUTCString does', () => {
    for (const ms of [0, 951782400000, 1700000000123, Date.now(), 4102444799999, 253402300799000]) {
      assert.equal(httpDate(ms), new Date(ms).toUTCString(), String(ms));
    }
  });
});

describe('admin listener', () => {
  const server = createAdminServer(ready(), xds);
  let port = 0;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Writes the chunks (one write each) and reads until the server closes, or until `until` matches. */
  function exchange(chunks: string[], until?: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        got += d;
        if (until?.test(got)) s.destroy();
      });
      s.on('close', () => resolve(got));
      s.on('error', reject);
      s.on('connect', async () => {
        for (const c of chunks) {
          s.write(c);
          await new Promise((r) => setTimeout(r, 5));
        }
      });
    });
  }

  it('answers fetch, with keep-alive and a Date', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(res.headers.get('content-length'), '5');
      assert.equal(res.headers.get('connection'), 'keep-alive');
      assert.ok(Math.abs(Date.parse(res.headers.get('date')!) - Date.now()) < 5000);
      assert.equal(await res.text(), 'LIVE\n');
    }
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await metrics.text(), /^# HELP /m);
    const missing = await fetch(`http://127.0.0.1:${port}/missing`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), 'not found: try /ready, /stats, /config_dump\n');
  });

  it('answers pipelined requests in order, and heads that arrive a few bytes at a time', async () => {
    const got = await exchange(['\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\nHEAD /ready HTTP/1.1\r\nHost: a\r\n\r\nGET /ready HTTP/1.1\r\nHo', 'st: a\r\n', '\r\n'], /LIVE\n$/);
    const responses = got.split(/(?=HTTP\/1\.1 )/);
    assert.equal(responses.length, 3, got);
    assert.match(responses[0]!, /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 3\r\n[^]*\r\n\r\nok\n$/);
    assert.match(responses[1]!, /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 5\r\n[^]*\r\n\r\n$/, 'HEAD: the length, no body');
    assert.match(responses[2]!, /\r\n\r\nLIVE\n$/);
  });

  it('closes after the response when asked to, for HTTP/1.0, and after a body it does not read', async () => {
    const close = await exchange(['GET /ready HTTP/1.1\r\nConnection: close\r\n\r\n']);
    assert.match(close, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n\r\nLIVE\n$/);
    const http10 = await exchange(['GET /ready HTTP/1.0\r\n\r\n']);
    assert.match(http10, /Connection: close\r\n\r\nLIVE\n$/);
    const post = await exchange(['POST /ready HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody']);
    assert.match(post, /^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*Connection: close\r\n\r\nmethod not allowed\n$/);
    const keepAlive10 = await exchange(['GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], /LIVE\n$/);
    assert.match(keepAlive10, /Connection: keep-alive\r\nKeep-Alive: timeout=60\r\n/);
  });

  it('answers 400 to a malformed head and 431 to an oversized one, and closes', async () => {
    assert.equal(await exchange(['GARBAGE\r\n\r\n']), 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    assert.equal(await exchange(['GET /ready HTTP/1.1\r\nBad Header : x\r\n\r\n']), 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    assert.equal(await exchange(['GET /ready HTTP/2.0\r\n\r\n']), 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    assert.equal(await exchange([`GET /ready HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]), 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n');
  });
});
