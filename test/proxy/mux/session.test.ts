// Multiplexed sessions between sidecars, over real mTLS on loopback: the
// client side as the proxy uses it (UpstreamPool.connectHttp), the server
// side as the inbound listener runs it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import tls from 'node:tls';
import { createCA, generateKeyPair, issueCertificate } from '../../../src/identity/index.js';
import { Credentials } from '../../../src/proxy/credentials.js';
import { NOTHING_SENT } from '../../../src/proxy/h1/byte-stream.js';
import { MUX_ALPN } from '../../../src/proxy/mux/frame.js';
import { MUX_LIMITS } from '../../../src/proxy/mux/connector.js';
import { MuxSession } from '../../../src/proxy/mux/session.js';
import type { MuxStream } from '../../../src/proxy/mux/stream.js';
import { UpstreamPool } from '../../../src/proxy/upstream-pool.js';

const CLIENT_ID = 'spiffe://cluster.local/ns/a/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';

interface Peer {
  port: number;
  /** TLS connections accepted. */
  connections: tls.TLSSocket[];
  streams: MuxStream[];
  server: tls.Server;
}

describe('mux sessions', () => {
  let pool: UpstreamPool;
  let serverTls: tls.SecureContextOptions;
  const peers: Peer[] = [];

  /** A peer whose streams are handed to `onStream` (or, with mux off, plain connections to `onPlain`). */
  async function startPeer(onStream: (s: MuxStream) => void, opts: { mux?: boolean; onPlain?: (s: tls.TLSSocket) => void } = {}): Promise<Peer> {
    const peer: Peer = { port: 0, connections: [], streams: [], server: undefined as unknown as tls.Server };
    peer.server = tls.createServer({ ...serverTls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ...(opts.mux === false ? {} : { ALPNProtocols: [MUX_ALPN, 'http/1.1'] }) }, (socket) => {
      peer.connections.push(socket);
      if (socket.alpnProtocol !== MUX_ALPN) return opts.onPlain?.(socket);
      new MuxSession(socket, 'server', {
        window: MUX_LIMITS.window,
        maxStreams: 8,
        idleTimeoutMs: 0,
        onStream: (s) => {
          peer.streams.push(s);
          s.on('error', () => {}); // resets are part of these tests
          onStream(s);
        },
      });
    });
    peer.server.listen(0, '127.0.0.1');
    await once(peer.server, 'listening');
    peer.port = (peer.server.address() as { port: number }).port;
    peers.push(peer);
    return peer;
  }

  const endpoint = (p: Peer, identity = SERVER_ID) => ({ address: '127.0.0.1', port: p.port, identity, instance: 'b/server-0' });

  /** Everything a stream receives until it ends. */
  const readAll = (s: MuxStream) =>
    new Promise<string>((resolve, reject) => {
      let text = '';
      s.on('data', (b: Buffer) => (text += b.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });

  before(async () => {
    const ca = await createCA({ trustDomain: 'cluster.local' });
    const issue = async (spiffeId: string) => {
      const key = generateKeyPair();
      const cert = await issueCertificate(ca, { spiffeId, publicKeyPem: key.publicKeyPem, lifetimeMs: 600_000 });
      return { key, cert };
    };
    const client = await issue(CLIENT_ID);
    const server = await issue(SERVER_ID);
    const credentials = new Credentials();
    credentials.install(client.key, client.cert.certPem, ca.certPem);
    pool = new UpstreamPool(credentials);
    serverTls = { key: server.key.privateKeyPem, cert: server.cert.certPem, ca: ca.certPem };
  });

  after(() => {
    for (const p of peers) {
      for (const c of p.connections) c.destroy();
      p.server.close();
    }
  });

  it('carries concurrent exchanges as streams of one connection, with the caller identity on each', async () => {
    const identities: (string | undefined)[] = [];
    const peer = await startPeer((s) => {
      identities.push(s.peerIdentity);
      let got = '';
      s.on('data', (b: Buffer) => (got += b.toString()));
      s.on('end', () => s.end(`echo:${got}`));
    });
    const replies = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const s = pool.connectHttp(endpoint(peer)) as MuxStream;
        const reply = readAll(s);
        s.write(`request ${i} `);
        s.end('done');
        return reply;
      }),
    );
    replies.forEach((r, i) => assert.equal(r, `echo:request ${i} done`));
    assert.equal(peer.connections.length, 1, 'one TLS connection for 50 streams');
    const seen = pool.describeSessions().sessions.find((s) => s.endpoint === `127.0.0.1:${peer.port}`);
    assert.deepEqual(seen, { endpoint: `127.0.0.1:${peer.port}`, identity: SERVER_ID, streams: 0, connected: true });
    assert.deepEqual(new Set(identities), new Set([CLIENT_ID]));
  });

  it('opens streams in order on the wire, whichever writes first', async () => {
    const peer = await startPeer((s) => {
      let got = '';
      s.on('data', (b: Buffer) => (got += b.toString()));
      s.on('end', () => s.end(`echo:${got}`));
    });
    const first = pool.connectHttp(endpoint(peer)) as MuxStream;
    const second = pool.connectHttp(endpoint(peer)) as MuxStream;
    const secondReply = readAll(second);
    second.end('second');
    await new Promise((r) => setTimeout(r, 50));
    const firstReply = readAll(first);
    first.end('first');
    assert.equal(await secondReply, 'echo:second');
    assert.equal(await firstReply, 'echo:first');
  });

  it('holds at most one window of a stream whose reader is paused, and resumes in order', async () => {
    let server!: MuxStream;
    const peer = await startPeer((s) => {
      server = s;
      s.pause();
    });
    const s = pool.connectHttp(endpoint(peer)) as MuxStream;
    const total = 4 * MUX_LIMITS.window;
    const payload = Buffer.alloc(total);
    for (let i = 0; i < total; i++) payload[i] = i % 251;
    const accepted = s.write(payload);
    assert.equal(accepted, false, 'write beyond the window asks the writer to wait');
    await new Promise((r) => setTimeout(r, 200));
    // The paused reader's stream holds what flow control let through: one window.
    const buffered = (server as unknown as { inbox?: Buffer[] }).inbox?.reduce((n, b) => n + b.length, 0) ?? 0;
    assert.ok(buffered > 0 && buffered <= MUX_LIMITS.window, `buffered ${buffered}`);
    const chunks: Buffer[] = [];
    server.on('data', (b: Buffer) => chunks.push(b));
    const drained = once(s, 'drain');
    server.resume();
    await drained;
    s.end();
    await once(server, 'end');
    assert.ok(Buffer.concat(chunks).equals(payload), 'every byte, in order');
  });

  it('a reset ends one stream with an error and leaves the others alone', async () => {
    const peer = await startPeer((s) => {
      s.once('data', (b: Buffer) => (b.toString() === 'reset me' ? s.destroy() : s.end('fine')));
    });
    const a = pool.connectHttp(endpoint(peer)) as MuxStream;
    const b = pool.connectHttp(endpoint(peer)) as MuxStream;
    const aErr = once(a, 'error');
    const bText = readAll(b);
    a.write('reset me');
    b.write('hello');
    const [err] = (await aErr) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(await bText, 'fine');
  });

  it('refuses streams beyond the peer limit', async () => {
    const peer = await startPeer(() => {});
    const streams = Array.from({ length: 9 }, () => pool.connectHttp(endpoint(peer)) as MuxStream);
    const ninth = once(streams[8]!, 'error');
    for (const s of streams) s.write('x');
    const [err] = (await ninth) as [Error];
    assert.match(err.message, /too many streams/);
    for (const s of streams) s.destroy();
  });

  it('fails every stream when the connection between the sidecars dies', async () => {
    const peer = await startPeer(() => {});
    const streams = [0, 1, 2].map(() => pool.connectHttp(endpoint(peer)) as MuxStream);
    for (const s of streams) s.write('x');
    while (peer.streams.length < 3) await new Promise((r) => setTimeout(r, 10));
    const errors = streams.map((s) => once(s, 'error'));
    peer.connections[0]!.destroy();
    for (const e of await Promise.all(errors)) assert.equal((e[0] as NodeJS.ErrnoException).code, 'ECONNRESET');
  });

  it('does not reach a peer with another identity', async () => {
    const peer = await startPeer(() => assert.fail('no stream may open'));
    const s = pool.connectHttp(endpoint(peer, 'spiffe://cluster.local/ns/b/sa/impostor')) as MuxStream;
    s.write('secret');
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'TRELLIS_E_PEER_IDENTITY');
  });

  it('falls back to plain HTTP/1.1 connections with a peer that does not multiplex', async () => {
    const peer = await startPeer(() => assert.fail('no stream'), {
      mux: false,
      onPlain: (socket) => socket.once('data', () => socket.end('plain')),
    });
    const first = pool.connectHttp(endpoint(peer)) as MuxStream;
    first.write('GET / HTTP/1.1\r\n\r\n');
    const [err] = (await once(first, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, NOTHING_SENT, 'the first stream fails before any byte left, so it can be sent again');
    const second = pool.connectHttp(endpoint(peer))!;
    assert.ok(second instanceof tls.TLSSocket, 'later connections are plain TLS');
    let text = '';
    second.on('data', (b: Buffer) => (text += b.toString()));
    second.write('GET / HTTP/1.1\r\n\r\n');
    await once(second, 'end');
    assert.equal(text, 'plain');
    second.destroy();
  });
});
