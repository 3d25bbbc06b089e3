// The HTTP/1.1 engine over the sessions between sidecars, against a peer that
// does not multiplex (an older sidecar): the first request without a body goes
// through anyway, and later ones use plain HTTP/1.1 over TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { createCA, generateKeyPair, issueCertificate } from '../../../src/identity/index.js';
import { Credentials } from '../../../src/proxy/credentials.js';
import { H1Pool } from '../../../src/proxy/h1/pool.js';
import { serveH1 } from '../../../src/proxy/h1/server.js';
import { UpstreamPool } from '../../../src/proxy/upstream-pool.js';

const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';

describe('engine over sessions, peer without multiplexing', () => {
  let older: https.Server;
  let proxy: net.Server;
  let proxyPort = 0;
  const sockets: net.Socket[] = [];
  const statuses: number[] = [];
  let upstreams: UpstreamPool;

  before(async () => {
    const ca = await createCA({ trustDomain: 'cluster.local' });
    const issue = async (spiffeId: string) => {
      const key = generateKeyPair();
      return { key, cert: await issueCertificate(ca, { spiffeId, publicKeyPem: key.publicKeyPem, lifetimeMs: 600_000 }) };
    };
    const client = await issue('spiffe://cluster.local/ns/a/sa/client');
    const server = await issue(SERVER_ID);
    // An HTTP/1.1-only peer: no ALPN offered back.
    older = https.createServer({ key: server.key.privateKeyPem, cert: server.cert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (req, res) => {
      req.resume();
      req.on('end', () => res.end(`older peer: ${req.method} ${req.url}`));
    });
    older.listen(0, '127.0.0.1');
    await once(older, 'listening');
    const ep = { address: '127.0.0.1', port: (older.address() as net.AddressInfo).port, identity: SERVER_ID, instance: 'b/server-0' };
    const credentials = new Credentials();
    credentials.install(client.key, client.cert.certPem, ca.certPem);
    upstreams = new UpstreamPool(credentials);
    const pool = new H1Pool({ idleTimeoutMs: 5000, maxConnections: 8, maxPending: 64 });
    proxy = net.createServer((socket) => {
      sockets.push(socket);
      serveH1(
        socket,
        (req) => ({
          kind: 'forward',
          pool,
          key: 'older',
          connect: () => upstreams.connectHttp(ep)!,
          path: req.target,
          responseTimeoutMs: 5000,
          fail: (kind, err) => ({ status: 503, body: `${kind}: ${err.message}` }),
          done: (s) => statuses.push(s),
        }),
        { headersTimeoutMs: 2000, keepAliveTimeoutMs: 5000 },
      );
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    proxyPort = (proxy.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    proxy.close();
    older.closeAllConnections();
    older.close();
  });

  const request = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxyPort, method, path, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('sends the first body-less request again over plain HTTP/1.1, then keeps using it', async () => {
    const first = await request('GET', '/one');
    assert.deepEqual(first, { status: 200, text: 'older peer: GET /one' });
    const second = await request('POST', '/two', 'payload');
    assert.deepEqual(second, { status: 200, text: 'older peer: POST /two' });
    assert.deepEqual(statuses, [200, 200]);
    assert.equal(upstreams.sessions, 0, 'no multiplexed session is kept with that peer');
  });
});
