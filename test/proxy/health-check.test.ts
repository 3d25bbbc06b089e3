// Active health checking: thresholds with a fake probe and short intervals,
// and the HTTP and TCP probes against real loopback servers.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { endpointState, type EndpointState } from '../../src/proxy/endpoint-state.js';
import { HealthChecker, httpProbe, tcpProbe, type HealthCheckConfig, type Probe, type ProbeResult } from '../../src/proxy/health-check.js';

function endpoint(port = 16000, i = 0): EndpointState {
  return endpointState({ address: '127.0.0.1', port, identity: 'spiffe://cluster.local/ns/shop/sa/web', instance: `shop/web-${i}` });
}

function hcConfig(extra: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return { type: 'http', path: '/healthz', intervalMs: 20, timeoutMs: 50, healthyThreshold: 2, unhealthyThreshold: 3, ...extra };
}

/** Ref'd sleep: keeps the event loop alive while the checker's unref'd timers run. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A probe answering from a per-endpoint script (the last answer repeats), counting calls. */
class FakeProbe {
  readonly calls = new Map<EndpointState, number>();
  readonly answers = new Map<EndpointState, ProbeResult>();
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly delayMs = 0) {}
  count(ep: EndpointState): number {
    return this.calls.get(ep) ?? 0;
  }
  readonly probe: Probe = async (ep) => {
    this.calls.set(ep, this.count(ep) + 1);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await sleep(this.delayMs);
      return this.answers.get(ep) ?? 'healthy';
    } finally {
      this.inFlight--;
    }
  };
}

describe('HealthChecker', () => {
  it('removes an endpoint after unhealthyThreshold failures and restores it after healthyThreshold successes', async () => {
    const a = endpoint(16000, 0);
    const b = endpoint(16001, 1);
    const fake = new FakeProbe();
    fake.answers.set(a, 'unhealthy');
    const changes: [EndpointState, boolean, number][] = [];
    const hc = new HealthChecker(hcConfig(), fake.probe, (ep, healthy) => changes.push([ep, healthy, fake.count(ep)]));
    try {
      hc.setEndpoints([a, b]);
      assert.equal(a.healthy, true, 'endpoints start healthy');
      await waitFor(() => !a.healthy, 'a to go unhealthy');
      assert.deepEqual(changes, [[a, false, 3]], 'exactly at the third failure');
      fake.answers.set(a, 'healthy');
      await waitFor(() => a.healthy, 'a to come back');
      assert.equal(changes.length, 2);
      assert.equal(changes[1]![1], true);
      assert.equal(changes[1]![2] - changes[0]![2], 2, 'after two successes');
      await waitFor(() => fake.count(b) >= 6, 'b to be checked repeatedly');
      assert.equal(b.healthy, true);
      assert.ok(changes.every(([ep]) => ep === a), 'b never changed');
    } finally {
      hc.stop();
    }
  });

  it('a success in between resets the failure count', async () => {
    const a = endpoint();
    let n = 0;
    // F F S F F S ...: never three failures in a row.
    const probe: Probe = async () => (++n % 3 === 0 ? 'healthy' : 'unhealthy');
    const hc = new HealthChecker(hcConfig(), probe);
    try {
      hc.setEndpoints([a]);
      await waitFor(() => n >= 12, '12 probes');
      assert.equal(a.healthy, true);
    } finally {
      hc.stop();
    }
  });

  it('keeps one probe in flight per endpoint', async () => {
    const a = endpoint();
    const fake = new FakeProbe(45); // slower than the 20 ms interval, within the 50 ms timeout
    const hc = new HealthChecker(hcConfig(), fake.probe);
    try {
      hc.setEndpoints([a]);
      await waitFor(() => fake.count(a) >= 4, '4 probes');
      assert.equal(fake.maxInFlight, 1);
    } finally {
      hc.stop();
    }
  });

  it('a probe that never settles counts as a failure', async () => {
    const a = endpoint();
    let calls = 0;
    const probe: Probe = () => {
      calls++;
      return new Promise<ProbeResult>(() => {});
    };
    let callsAtFlip = 0;
    const hc = new HealthChecker(hcConfig({ timeoutMs: 10, unhealthyThreshold: 2 }), probe, () => (callsAtFlip = calls));
    try {
      hc.setEndpoints([a]);
      await waitFor(() => !a.healthy, 'a to go unhealthy');
      assert.equal(callsAtFlip, 2);
    } finally {
      hc.stop();
    }
  });

  it('a probe that throws or rejects counts as a failure', async () => {
    const a = endpoint(16000, 0);
    const b = endpoint(16001, 1);
    const probe: Probe = (ep) => {
      if (ep === a) throw new Error('boom');
      return Promise.reject(new Error('boom'));
    };
    const hc = new HealthChecker(hcConfig({ unhealthyThreshold: 1 }), probe);
    try {
      hc.setEndpoints([a, b]);
      await waitFor(() => !a.healthy && !b.healthy, 'both unhealthy');
    } finally {
      hc.stop();
    }
  });

  it('setEndpoints keeps the state of endpoints that stay, checks new ones, forgets removed ones', async () => {
    const a = endpoint(16000, 0);
    const b = endpoint(16001, 1);
    const c = endpoint(16002, 2);
    const fake = new FakeProbe();
    fake.answers.set(a, 'unhealthy');
    const flippedAt: number[] = [];
    const hc = new HealthChecker(hcConfig({ intervalMs: 30 }), fake.probe, (ep) => ep === a && flippedAt.push(fake.count(a)));
    try {
      hc.setEndpoints([a, b]);
      await waitFor(() => fake.count(a) >= 2 && fake.count(b) >= 1, 'two probes of a');
      hc.setEndpoints([a, c]);
      const bCalls = fake.count(b);
      await waitFor(() => !a.healthy, 'a to go unhealthy');
      assert.deepEqual(flippedAt, [3], 'a kept its two failures across setEndpoints');
      await waitFor(() => fake.count(c) >= 2, 'c to be checked');
      await sleep(80);
      assert.equal(fake.count(b), bCalls, 'b is no longer checked');
    } finally {
      hc.stop();
    }
  });

  it('spreads first checks over one interval', async () => {
    const a = endpoint();
    const fake = new FakeProbe();
    const hc = new HealthChecker(hcConfig({ intervalMs: 300 }), fake.probe, undefined, { random: () => 0.5 });
    try {
      const start = Date.now();
      hc.setEndpoints([a]);
      await sleep(100);
      assert.equal(fake.count(a), 0, 'not before random × interval');
      await waitFor(() => fake.count(a) === 1, 'the first probe');
      assert.ok(Date.now() - start >= 140, `${Date.now() - start} ms`);
    } finally {
      hc.stop();
    }
  });

  it('stop() cancels every timer and ignores probes in flight', async () => {
    const eps = [endpoint(16000, 0), endpoint(16001, 1), endpoint(16002, 2)];
    const fake = new FakeProbe(30);
    for (const ep of eps) fake.answers.set(ep, 'unhealthy');
    const hc = new HealthChecker(hcConfig({ unhealthyThreshold: 1 }), fake.probe, undefined, { random: () => 0 });
    hc.setEndpoints(eps);
    await waitFor(() => fake.inFlight === 3, 'probes in flight');
    hc.stop();
    const calls = eps.map((ep) => fake.count(ep));
    await sleep(120);
    assert.deepEqual(
      eps.map((ep) => fake.count(ep)),
      calls,
      'no probe after stop',
    );
    assert.ok(
      eps.every((ep) => ep.healthy),
      'results that arrive after stop are ignored',
    );
    hc.setEndpoints(eps);
    await sleep(60);
    assert.deepEqual(
      eps.map((ep) => fake.count(ep)),
      calls,
      'setEndpoints after stop does nothing',
    );
  });
});

// ---- probes against loopback servers -----------------------------------------

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

function connectTo(port: number) {
  return (_ep: EndpointState) => net.connect(port, '127.0.0.1');
}

const host = (ep: EndpointState) => `web.shop:${ep.config.port}`;

describe('httpProbe', () => {
  it('200 → healthy; sends GET <path> with host, connection: close and the user agent', async () => {
    let seen: http.IncomingMessage | undefined;
    const port = await listen(
      http.createServer((req, res) => {
        seen = req;
        res.end('ok');
      }),
    );
    const probe = httpProbe(connectTo(port), '/healthz?full=1', host);
    assert.equal(await probe(endpoint(port), 1000), 'healthy');
    assert.ok(seen);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/healthz?full=1');
    assert.equal(seen.headers.host, `web.shop:${port}`);
    assert.equal(seen.headers.connection, 'close');
    assert.equal(seen.headers['user-agent'], 'trellis-health-check');
  });

  it('503 → unhealthy; 3xx healthy by default; expectedStatuses overrides', async () => {
    let status = 503;
    const port = await listen(
      http.createServer((_req, res) => {
        res.statusCode = status;
        res.end();
      }),
    );
    const ep = endpoint(port);
    const probe = httpProbe(connectTo(port), '/healthz', host);
    assert.equal(await probe(ep, 1000), 'unhealthy');
    status = 302;
    assert.equal(await probe(ep, 1000), 'healthy');
    status = 400;
    assert.equal(await probe(ep, 1000), 'unhealthy');
    status = 204;
    const only200 = httpProbe(connectTo(port), '/healthz', host, [200]);
    assert.equal(await only200(ep, 1000), 'unhealthy');
    const with204 = httpProbe(connectTo(port), '/healthz', host, [200, 204]);
    assert.equal(await with204(ep, 1000), 'healthy');
  });

  it('skips 1xx interim responses', async () => {
    const port = await listen(
      net.createServer((s) => {
        s.once('data', () => s.end('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
      }),
    );
    assert.equal(await httpProbe(connectTo(port), '/', host)(endpoint(port), 1000), 'healthy');
  });

  it('a server that never answers → unhealthy after the timeout', async () => {
    const port = await listen(net.createServer(() => {}));
    const start = Date.now();
    assert.equal(await httpProbe(connectTo(port), '/healthz', host)(endpoint(port), 100), 'unhealthy');
    const took = Date.now() - start;
    assert.ok(took >= 90 && took < 1000, `${took} ms`);
  });

  it('a server that closes, or answers garbage → unhealthy', async () => {
    const closes = await listen(net.createServer((s) => s.destroy()));
    assert.equal(await httpProbe(connectTo(closes), '/', host)(endpoint(closes), 1000), 'unhealthy');
    const garbage = await listen(net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.6\r\n')));
    assert.equal(await httpProbe(connectTo(garbage), '/', host)(endpoint(garbage), 1000), 'unhealthy');
  });

  it('a refused connection or a throwing connect → unhealthy', async () => {
    const port = await freePort();
    assert.equal(await httpProbe(connectTo(port), '/', host)(endpoint(port), 1000), 'unhealthy');
    const throwing = httpProbe(
      () => {
        throw new Error('no credentials');
      },
      '/',
      host,
    );
    assert.equal(await throwing(endpoint(port), 1000), 'unhealthy');
  });

  it('rejects paths that could inject into the request', () => {
    assert.throws(() => httpProbe(connectTo(1), '/a\r\nx: y', host), TypeError);
    assert.throws(() => httpProbe(connectTo(1), 'healthz', host), TypeError);
    assert.throws(() => httpProbe(connectTo(1), '/a b', host), TypeError);
  });
});

/** A port nothing listens on (listen, note, close). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('tcpProbe', () => {
  it('an accepting server → healthy', async () => {
    const port = await listen(net.createServer(() => {}));
    assert.equal(await tcpProbe(connectTo(port))(endpoint(port), 1000), 'healthy');
  });

  it('a server that accepts and immediately destroys → unhealthy', async () => {
    const port = await listen(net.createServer((s) => s.destroy()));
    assert.equal(await tcpProbe(connectTo(port))(endpoint(port), 1000), 'unhealthy');
  });

  it('a server that accepts and closes a little later → unhealthy', async () => {
    const port = await listen(net.createServer((s) => setTimeout(() => s.end(), 50)));
    assert.equal(await tcpProbe(connectTo(port))(endpoint(port), 1000), 'unhealthy');
  });

  it('a refused connection → unhealthy', async () => {
    const port = await freePort();
    assert.equal(await tcpProbe(connectTo(port))(endpoint(port), 1000), 'unhealthy');
  });

  it('a TLS socket waits for the handshake: a server that never answers → unhealthy after the timeout', async () => {
    const port = await listen(net.createServer(() => {}));
    const connect = () => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    const start = Date.now();
    assert.equal(await tcpProbe(connect)(endpoint(port), 100), 'unhealthy');
    const took = Date.now() - start;
    assert.ok(took >= 90 && took < 1000, `${took} ms`);
  });
});
