// Connections to other sidecars: mTLS with the workload certificate, and a
// connect timeout that covers the TCP connect and the TLS handshake.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createCA, generateKeyPair, issueCertificate } from '../../src/identity/index.js';
import { Credentials } from '../../src/proxy/credentials.js';
import { UpstreamPool } from '../../src/proxy/upstream-pool.js';

describe('upstream pool', () => {
  let silent: net.Server;
  let port = 0;
  const accepted: net.Socket[] = [];
  let pool: UpstreamPool;

  before(async () => {
    // Accepts TCP and never answers the TLS ClientHello: a stuck peer.
    silent = net.createServer((s) => accepted.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as net.AddressInfo).port;
    const ca = await createCA({ trustDomain: 'cluster.local' });
    const key = generateKeyPair();
    const cert = await issueCertificate(ca, { spiffeId: 'spiffe://cluster.local/ns/a/sa/b', publicKeyPem: key.publicKeyPem, lifetimeMs: 60_000 });
    const credentials = new Credentials();
    credentials.install(key, cert.certPem, ca.certPem);
    pool = new UpstreamPool(credentials);
  });

  after(() => {
    for (const s of accepted) s.destroy();
    silent.close();
  });

  it('gives up on a handshake that does not finish within the connect timeout', async () => {
    const started = Date.now();
    const socket = pool.connect({ address: '127.0.0.1', port, identity: 'spiffe://cluster.local/ns/x/sa/y', instance: 'x/y-0' }, 200)!;
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => socket.on('error', resolve));
    assert.equal(err.code, 'ETIMEDOUT');
    assert.match(err.message, /connect timeout after 200 ms/);
    assert.ok(Date.now() - started < 2000);
  });
});
