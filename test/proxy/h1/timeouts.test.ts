// The engine's connection timers: keep-alive and headers timeouts on the
// client side, the idle timeout of pooled upstream connections, and neither cutting
// a request that is being served, however long its upstream takes.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { H1Pool } from '../../../src/proxy/h1/pool.js';
import type { Decision } from '../../../src/proxy/h1/decision.js';
import { serveH1 } from '../../../src/proxy/h1/server.js';

const limits = { headersTimeoutMs: 200, keepAliveTimeoutMs: 300 };
const POOL_IDLE_MS = 300;
const SLOW_MS = 800; // longer than every timeout above

/** Reads from a raw client socket until `done` says the bytes so far are enough, or it closes. */
function readUntil(sock: net.Socket, done: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (closed: boolean) => {
      sock.off('data', onData);
      sock.off('close', onClose);
      resolve({ text, closed });
    };
    const onData = (c: Buffer) => {
      text += c.toString('latin1');
      if (done(text)) finish(false);
    };
    const onClose = () => finish(true);
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

const oneResponse = (t: string) => /\r\n\r\n/.test(t) && t.endsWith('done');

describe('engine timers', () => {
  let upstream: net.Server;
  let proxy: net.Server;
  let proxyPort: number;
  const pool = new H1Pool({ idleTimeoutMs: POOL_IDLE_MS, maxConnections: 4, maxPending: 16 });
  const upstreamSockets: net.Socket[] = [];

  before(async () => {
    // A minimal upstream: answers each request after ?ms=N milliseconds, keeps the connection.
    upstream = net.createServer((sock) => {
      upstreamSockets.push(sock);
      let buf = '';
      sock.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        let end: number;
        while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          const delay = Number(/ms=(\d+)/.exec(head)?.[1] ?? 0);
          setTimeout(() => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone'), delay);
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const upPort = (upstream.address() as net.AddressInfo).port;
    proxy = net.createServer((socket) =>
      serveH1(
        socket,
        (req): Decision => ({
          kind: 'forward',
          pool,
          key: 'up',
          connect: () => net.connect(upPort, '127.0.0.1'),
          path: req.target,
          responseTimeoutMs: 5000,
          fail: () => ({ status: 503, body: 'failed' }),
          done: () => {},
        }),
        limits,
      ),
    );
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    proxyPort = (proxy.address() as net.AddressInfo).port;
  });

  after(async () => {
    pool.drain();
    for (const s of upstreamSockets) s.destroy();
    await new Promise((r) => proxy.close(r));
    await new Promise((r) => upstream.close(r));
  });

  const connect = async () => {
    const sock = net.connect(proxyPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    return sock;
  };

  it('serves a request whose upstream takes longer than the keep-alive timeout, then keeps the connection until it idles out', async () => {
    const sock = await connect();
    sock.write(`GET /slow?ms=${SLOW_MS} HTTP/1.1\r\nhost: a\r\n\r\n`);
    const first = await readUntil(sock, oneResponse);
    assert.equal(first.closed, false);
    assert.match(first.text, /^HTTP\/1\.1 200 OK/);
    // Still open for the next request.
    sock.write('GET /fast HTTP/1.1\r\nhost: a\r\n\r\n');
    const second = await readUntil(sock, oneResponse);
    assert.equal(second.closed, false);
    // Then idle: closed by the keep-alive timeout.
    const started = Date.now();
    const idle = await readUntil(sock, () => false);
    assert.equal(idle.closed, true);
    assert.ok(Date.now() - started >= limits.keepAliveTimeoutMs - 50, `closed after ${Date.now() - started} ms`);
  });

  it('answers 408 to a head that does not complete in time, even after a request on the same connection', async () => {
    const sock = await connect();
    sock.write('GET /fast HTTP/1.1\r\nhost: a\r\n\r\n');
    await readUntil(sock, oneResponse);
    sock.write('GET /partial HTTP/1.1\r\nhost: a\r\n');
    const r = await readUntil(sock, () => false);
    assert.equal(r.closed, true);
    assert.match(r.text, /^HTTP\/1\.1 408 /);
  });

  it('answers 408 to a head trickled in byte by byte: the headers timeout runs from its first byte, not from the last', async () => {
    const sock = await connect();
    const started = Date.now();
    const head = 'GET /trickle HTTP/1.1\r\nhost: a\r\nx-slow: ' + 'y'.repeat(200);
    let i = 0;
    // One byte every 20 ms: each well inside the headers timeout, the whole far beyond it.
    const drip = setInterval(() => {
      if (i < head.length && !sock.destroyed) sock.write(head[i++]!);
    }, 20);
    const r = await readUntil(sock, () => false);
    clearInterval(drip);
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    const took = Date.now() - started;
    assert.ok(took >= limits.headersTimeoutMs - 50 && took < limits.headersTimeoutMs + 1000, `408 after ${took} ms`);
  });

  it('closes a pooled upstream connection idle longer than the pool idle timeout, but not one busy longer than it', async () => {
    const sock = await connect();
    const before = upstreamSockets.filter((s) => !s.destroyed).length;
    sock.write(`GET /slow?ms=${SLOW_MS} HTTP/1.1\r\nhost: a\r\n\r\n`);
    const r = await readUntil(sock, oneResponse);
    assert.equal(r.closed, false, 'the busy upstream connection was not cut at the pool idle timeout');
    assert.match(r.text, /^HTTP\/1\.1 200 OK/);
    sock.destroy();
    assert.ok(upstreamSockets.filter((s) => !s.destroyed).length >= 1);
    // Idle in the pool now: gone after the idle timeout.
    const deadline = Date.now() + POOL_IDLE_MS * 6;
    while (upstreamSockets.some((s) => !s.destroyed && !s.readableEnded) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.equal(upstreamSockets.filter((s) => !s.destroyed && !s.readableEnded).length, 0, `upstream connections open before: ${before}`);
  });
});
