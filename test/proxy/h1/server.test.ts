// The HTTP/1.1 engine between a real client and a real upstream on loopback.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { H1Pool } from '../../../src/proxy/h1/pool.js';
import type { Decision } from '../../../src/proxy/h1/decision.js';
import { serveH1 } from '../../../src/proxy/h1/server.js';

const limits = { headersTimeoutMs: 500, keepAliveTimeoutMs: 5000 };

describe('HTTP/1.1 engine', () => {
  let upstream: http.Server;
  let proxy: net.Server;
  let proxyPort: number;
  const pool = new H1Pool({ idleTimeoutMs: 5000, maxConnections: 2, maxPending: 64 });
  const clientSockets: net.Socket[] = [];
  const statuses: number[] = [];
  let openUpstream = 0;
  let maxUpstream = 0;

  before(async () => {
    upstream = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        if (req.url === '/204') {
          res.writeHead(204).end();
          return;
        }
        res.end(JSON.stringify({ url: req.url, bytes: n, added: req.headers['x-added'] ?? null, dropped: req.headers['x-drop'] ?? null }));
      });
    });
    upstream.on('connection', (sock: net.Socket) => {
      openUpstream++;
      maxUpstream = Math.max(maxUpstream, openUpstream);
      sock.on('close', () => openUpstream--);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const upPort = (upstream.address() as net.AddressInfo).port;
    proxy = net.createServer((socket) => {
      clientSockets.push(socket);
      serveH1(
        socket,
        (req): Decision =>
          req.target === '/deny'
            ? { kind: 'reply', status: 403, body: 'no' }
            : {
                kind: 'forward',
                pool,
                key: 'up',
                connect: () => net.connect(upPort, '127.0.0.1'),
                path: req.target,
                drop: new Set(['x-drop']),
                add: ['x-added', 'yes'],
                responseTimeoutMs: 2000,
                fail: () => ({ status: 503, body: 'failed' }),
                done: (s) => statuses.push(s),
              },
        limits,
      );
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    proxyPort = (proxy.address() as net.AddressInfo).port;
  });

  after(async () => {
    pool.drain();
    for (const s of clientSockets) s.destroy();
    await new Promise((r) => proxy.close(r));
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('serves many requests on one kept-alive connection with one timeout listener on each side', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 200; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ agent, port: proxyPort, host: '127.0.0.1', path: `/r${i}`, headers: { 'x-drop': 'secret' } }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      const parsed = JSON.parse(body) as { url: string; added: string; dropped: string | null };
      assert.equal(parsed.url, `/r${i}`);
      assert.equal(parsed.added, 'yes');
      assert.equal(parsed.dropped, null);
    }
    agent.destroy();
    const last = clientSockets[clientSockets.length - 1]!;
    assert.ok(last.listenerCount('timeout') <= 1, `client side has ${last.listenerCount('timeout')} timeout listeners`);
    assert.equal(statuses.filter((s) => s === 200).length, 200);
  });

  it('streams a chunked request body and answers a body-less 204, then a local reply, on one connection', async () => {
    const replies = await new Promise<string>((resolve, reject) => {
      const s = net.connect(proxyPort, '127.0.0.1', () => {
        s.write('POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
        s.write('GET /204 HTTP/1.1\r\nHost: x\r\n\r\n');
        s.write('GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    assert.match(replies, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(replies, /"bytes":11/);
    assert.match(replies, /HTTP\/1\.1 204 No Content\r\n/);
    assert.match(replies, /HTTP\/1\.1 403 Forbidden\r\n[\s\S]*connection: close\r\n\r\nno\n$/);
  });

  it('queues requests beyond the connection cap instead of opening more connections', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new Promise<number>((resolve, reject) => {
          http.get({ port: proxyPort, host: '127.0.0.1', path: `/q${i}`, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          }).on('error', reject);
        }),
      ),
    );
    assert.deepEqual(new Set(answers), new Set([200]));
    assert.ok(maxUpstream <= 2, `${maxUpstream} upstream connections were open at once (cap 2)`);
  });

  it('answers 408 when a request head does not arrive in time, and 400 to a malformed one', async () => {
    const talk = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect(proxyPort, '127.0.0.1', () => s.write(text));
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('close', () => resolve(out));
      });
    assert.match(await talk('GET / HTTP/1.1\r\nHost: x\r\n'), /^HTTP\/1\.1 408 /);
    assert.match(await talk('GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'), /^HTTP\/1\.1 400 /);
  });
});
