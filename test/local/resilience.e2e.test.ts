// Resilience policies end to end (policy.trellis.dev TrafficPolicy and
// FaultInjection) against echo backends that fail, stall or reset on demand:
// retries and their budget, timeouts, circuit breaking, outlier detection,
// rate limits, fault injection, ring hash, locality and health checks.
// Each case has its own Service so policies do not interfere.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { parseEcho } from '../support/conformance.js';
import { eventually, sleep, startMesh, viaProxy, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';

const echoApp = path.join(examplesDir, 'echo', 'echo.mjs');

const backend = (name: string, replicas: number, opts: { zone?: string; service?: string; labels?: string } = {}) => `
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: res, labels: { app: ${opts.service ?? name}${opts.labels ?? ''} } }
spec:
  serviceAccountName: backend
  replicas: ${replicas}
  command: ["node", ${JSON.stringify(echoApp)}]
  ports: [{ name: web }]
  ${opts.zone ? `zone: ${opts.zone}` : ''}
`;

const service = (name: string) => `
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: res }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 80, targetPort: web }]
`;

const SERVICES = ['retry', 'outage', 'timeout', 'breaker', 'outlier', 'limited', 'faults', 'hash', 'health'];

const manifests = `
apiVersion: v1
kind: Namespace
metadata: { name: res }
${backend('retry', 2)}${backend('outage', 2)}${backend('timeout', 1)}${backend('breaker', 1)}${backend('outlier', 3)}${backend('limited', 1)}${backend('faults', 1)}${backend('hash', 3)}${backend('health', 2)}
${backend('cache-a', 2, { zone: 'a', service: 'cache' })}${backend('cache-b', 2, { zone: 'b', service: 'cache' })}
${[...SERVICES, 'cache'].map(service).join('')}
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: client, namespace: res }
spec:
  serviceAccountName: client
  zone: a
  command: ["node", "-e", "setInterval(() => {}, 1 << 30)"]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: { name: everything, namespace: res }
spec:
  matches: [{ name: all, pathRegex: ".*", methods: ["*"] }]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: client-to-backends, namespace: res }
spec:
  destination: { kind: ServiceAccount, name: backend, namespace: res }
  rules: [{ kind: HTTPRouteGroup, name: everything }]
  sources: [{ kind: ServiceAccount, name: client, namespace: res }]
`;

const policy = (name: string, target: string, spec: string) => `apiVersion: policy.trellis.dev/v1alpha1
kind: TrafficPolicy
metadata: { name: ${name}, namespace: res }
spec:
  targetRef: { group: "", kind: Service, name: ${target} }
${spec}`;

/** A plain request to a local port (an instance's app port). */
function direct(port: number, p: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('resilience policies', { timeout: 600_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;
  let client: WorkloadInstanceResource;

  const send = (service: string, p = '/', opts: { headers?: Record<string, string>; method?: string; timeoutMs?: number } = {}) =>
    viaProxy(client.spec.outboundPort, `http://${service}.res${p}`, opts);

  const control = async (name: string, q: string) => {
    const inst = await mesh.instance('res', name);
    return JSON.parse((await direct(inst.spec.ports[0]!.port, `/echo-control${q}`)).body) as { requests: number; mode: string };
  };

  async function apply(yaml: string): Promise<void> {
    await mesh.client.apply({ files: [{ path: 'policy.yaml', content: yaml }] });
  }

  /** Waits until the client's sidecar runs a snapshot that carries `marker` (a policy source name). */
  async function converged(marker: string): Promise<void> {
    await eventually(
      async () => (await (await fetch(`http://127.0.0.1:${client.spec.adminPort}/config_dump`)).text()).includes(marker),
      30_000,
      `the client's sidecar runs ${marker}`,
    );
  }

  async function concurrently<T>(n: number, total: number, one: (i: number) => Promise<T>): Promise<T[]> {
    const out: T[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (next < total) {
          const i = next++;
          out[i] = await one(i);
        }
      }),
    );
    return out;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-resilience-'));
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), manifests);
    mesh = await startMesh(dir, { readyTimeoutMs: 120_000 });
    client = await mesh.instance('res', 'client-0');
  });

  after(async () => {
    await mesh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('retries turn a 30%-failing upstream into at least 99% success', async () => {
    await apply(policy('retry-policy', 'retry', `  retries: { attempts: 4, retryOn: [5xx], backoff: { baseInterval: 1ms, maxInterval: 5ms }, budget: { percent: 100, minRetriesPerSecond: 100 } }\n`));
    await converged('res/retry-policy');
    const replies = await concurrently(8, 600, () => send('retry', '/?fail=0.3'));
    const ok = replies.filter((r) => r.status === 200).length;
    assert.ok(ok / replies.length >= 0.99, `${ok}/${replies.length} succeeded`);
  });

  it('the retry budget caps retries during a full outage', async () => {
    await apply(policy('outage-policy', 'outage', `  retries: { attempts: 3, retryOn: [5xx], backoff: { baseInterval: 1ms, maxInterval: 2ms }, budget: { percent: 20, minRetriesPerSecond: 1 } }\n`));
    await converged('res/outage-policy');
    for (const i of [0, 1]) await control(`outage-${i}`, '?mode=fail&reset-count=1');
    try {
      const replies = await concurrently(8, 300, () => send('outage'));
      assert.ok(replies.every((r) => r.status === 503));
      const seen = (await control('outage-0', '')).requests + (await control('outage-1', '')).requests;
      // Without a budget this would be 4 × 300 = 1,200 tries. The budget allows 20 % of requests
      // in its 10 s window, at least 1 per second.
      assert.ok(seen >= 300 && seen <= 300 + 0.2 * 300 + 10 + 5, `the upstream saw ${seen} tries for 300 requests`);
    } finally {
      for (const i of [0, 1]) await control(`outage-${i}`, '?mode=normal');
    }
  });

  it('a request timeout answers 504 when the upstream is slower', async () => {
    await apply(policy('timeout-policy', 'timeout', `  timeouts: { request: 300ms }\n`));
    await converged('res/timeout-policy');
    const started = Date.now();
    const r = await send('timeout', '/?delay=2s');
    assert.equal(r.status, 504, r.body);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assert.equal((await send('timeout', '/?delay=10ms')).status, 200);
  });

  it('the circuit breaker sheds requests over the limit at once, with a header saying why', async () => {
    await apply(policy('breaker-policy', 'breaker', `  circuitBreaker: { maxConnections: 1, maxPendingRequests: 1 }\n`));
    await converged('res/breaker-policy');
    const replies = await Promise.all(Array.from({ length: 10 }, () => send('breaker', '/?delay=600ms')));
    const ok = replies.filter((r) => r.status === 200).length;
    const shed = replies.filter((r) => r.status === 503 && r.headers['x-trellis-overloaded'] === 'max-pending-requests').length;
    assert.equal(ok, 2, replies.map((r) => r.status).join(','));
    assert.equal(shed, 8);

    await apply(policy('breaker-policy', 'breaker', `  circuitBreaker: { maxRequests: 2 }\n`));
    await eventually(async () => {
      const rs = await Promise.all(Array.from({ length: 6 }, () => send('breaker', '/?delay=300ms')));
      return rs.filter((r) => r.headers['x-trellis-overloaded'] === 'max-requests').length === 4;
    }, 30_000, 'maxRequests 2 sheds 4 of 6');
  });

  it('outlier detection ejects a failing endpoint and readmits it after the ejection time', async () => {
    await apply(policy('outlier-policy', 'outlier', `  outlierDetection: { consecutive5xx: 3, interval: 500ms, baseEjectionTime: 3s, maxEjectionPercent: 50 }\n`));
    await converged('res/outlier-policy');
    await control('outlier-0', '?mode=fail');
    try {
      for (let i = 0; i < 30; i++) await send('outlier');
      await control('outlier-0', '?reset-count=1');
      const replies = [];
      for (let i = 0; i < 30; i++) replies.push(await send('outlier'));
      assert.equal((await control('outlier-0', '')).requests, 0, 'the ejected endpoint still got requests');
      assert.ok(replies.every((r) => r.status === 200));
    } finally {
      await control('outlier-0', '?mode=normal');
    }
    await sleep(3500);
    await control('outlier-0', '?reset-count=1');
    for (let i = 0; i < 30; i++) assert.equal((await send('outlier')).status, 200);
    assert.ok((await control('outlier-0', '')).requests > 0, 'the endpoint was not readmitted');
  });

  it('the rate limit admits the configured rate within ±10 %', async () => {
    await apply(policy('limit-policy', 'limited', `  rateLimit: { requestsPerUnit: 50, unit: second, burst: 10 }\n`));
    // The limit lives in the server's sidecar; wait until it answers 429.
    await eventually(async () => (await Promise.all(Array.from({ length: 30 }, () => send('limited')))).some((r) => r.status === 429), 30_000, 'rate limit active');
    await sleep(500); // refill the bucket
    const started = Date.now();
    let admitted = 0;
    let limited = 0;
    let retryAfter: string | undefined;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() - started < 3000) {
          const r = await send('limited');
          if (r.status === 200) admitted++;
          else if (r.status === 429) {
            limited++;
            retryAfter = r.headers['retry-after'] as string;
          }
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const expected = 10 + 50 * seconds;
    assert.ok(limited > 0);
    assert.equal(retryAfter, '1');
    assert.ok(Math.abs(admitted - expected) <= 0.1 * expected, `admitted ${admitted}, expected ${expected.toFixed(0)}`);
  });

  it('fault injection aborts 10 % ± 3 % of matching requests and delays others', async () => {
    await apply(`apiVersion: policy.trellis.dev/v1alpha1
kind: FaultInjection
metadata: { name: faults-policy, namespace: res }
spec:
  targetRef: { group: "", kind: Service, name: faults }
  rules:
  - match: { path: { type: PathPrefix, value: /api/list } }
    abort: { httpStatus: 500, percentage: 10 }
  - match: { path: { type: PathPrefix, value: /slow } }
    delay: { fixedDelay: 400ms, percentage: 100 }
`);
    await converged('res/faults-policy');
    const replies = await concurrently(16, 2000, () => send('faults', '/api/list'));
    const aborted = replies.filter((r) => r.status === 500).length;
    assert.ok(replies.every((r) => r.status === 200 || r.status === 500));
    assert.ok(Math.abs(aborted / 2000 - 0.1) <= 0.03, `${aborted}/2000 aborted`);
    assert.ok((await Promise.all(Array.from({ length: 20 }, () => send('faults', '/other')))).every((r) => r.status === 200));
    const started = Date.now();
    assert.equal((await send('faults', '/slow')).status, 200);
    assert.ok(Date.now() - started >= 400, `the delay was ${Date.now() - started} ms`);
  });

  it('ring hash keeps a key on one endpoint and moves few keys when an endpoint leaves', async () => {
    await apply(policy('hash-policy', 'hash', `  loadBalancer: { type: RingHash, hashOn: { header: x-user } }\n`));
    await converged('res/hash-policy');
    const placement = async () => {
      const out = new Map<string, string>();
      await concurrently(8, 200, async (i) => {
        const pods = new Set<string>();
        for (let k = 0; k < 3; k++) pods.add(parseEcho(await send('hash', '/', { headers: { 'x-user': `user-${i}` } }))!.pod);
        if (pods.size !== 1) {
          const dump = await (await fetch(`http://127.0.0.1:${client.spec.adminPort}/config_dump`)).json() as { endpoints: Record<string, unknown>; snapshot: { clusters: { name: string }[] } };
          console.log(JSON.stringify(dump.endpoints['res/hash:80']), JSON.stringify(dump.snapshot.clusters.find((c) => c.name === 'res/hash:80')));
        }
        assert.equal(pods.size, 1, `user-${i} went to ${[...pods].join(', ')}`);
        out.set(`user-${i}`, [...pods][0]!);
      });
      return out;
    };
    const before = await placement();
    assert.equal(new Set(before.values()).size, 3, 'keys spread over every endpoint');
    // One endpoint leaves the rotation (its health check fails), as if scaled down.
    await apply(
      policy('hash-policy', 'hash', `  loadBalancer: { type: RingHash, hashOn: { header: x-user } }\n  healthCheck: { type: http, path: /healthz, interval: 300ms, timeout: 250ms, healthyThreshold: 1, unhealthyThreshold: 2 }\n`),
    );
    await control('hash-2', '?health=503');
    try {
      await eventually(async () => parseEcho(await send('hash', '/', { headers: { 'x-user': [...before].find(([, p]) => p === 'hash-2')![0] } }))!.pod !== 'hash-2', 30_000, 'hash-2 left');
      const afterLeaving = await placement();
      let moved = 0;
      for (const [key, pod] of before) if (pod !== 'hash-2' && afterLeaving.get(key) !== pod) moved++;
      assert.equal(moved, 0, `${moved} keys of the remaining endpoints moved`);
      for (const [key, pod] of afterLeaving) assert.notEqual(pod, 'hash-2', key);
    } finally {
      await control('hash-2', '?health=200');
    }
  });

  it('locality keeps traffic in the caller zone and fails over when too few local endpoints are healthy', async () => {
    await apply(
      policy(
        'cache-policy',
        'cache',
        `  loadBalancer: { type: RoundRobin, locality: { enabled: true, minHealthyPercent: 60 } }
  healthCheck: { type: http, path: /healthz, interval: 300ms, timeout: 250ms, healthyThreshold: 1, unhealthyThreshold: 2 }
`,
      ),
    );
    await converged('res/cache-policy');
    const zones = async () => {
      const pods = await concurrently(4, 40, async () => {
        const r = await send('cache');
        const echo = parseEcho(r);
        if (!echo) throw new Error(`not an echo answer: ${r.status} ${r.body.slice(0, 200)}`);
        return echo.pod;
      });
      return new Set(pods.map((p) => p.replace(/-\d+$/, '')));
    };
    // The client sidecar's own view (config_dump) of each zone-a endpoint's health, so the
    // steps below wait on the health checks' state rather than on their timing.
    const zoneAHealth = async () => {
      const dump = (await (await fetch(`http://127.0.0.1:${client.spec.adminPort}/config_dump`)).json()) as { endpoints: Record<string, { instance: string; healthy: boolean }[]> };
      const local = (dump.endpoints['res/cache:80'] ?? []).filter((e) => e.instance.startsWith('res/cache-a-'));
      return new Map(local.map((e) => [e.instance, e.healthy]));
    };
    const zoneAHealthy = async () => {
      const health = await zoneAHealth();
      return health.size === 2 && [...health.values()].every((h) => h);
    };
    await eventually(zoneAHealthy, 60_000, 'both zone-a endpoints healthy');
    await eventually(async () => [...(await zones())].join() === 'cache-a', 30_000, 'only zone a serves a zone-a client');
    await control('cache-a-0', '?health=503');
    try {
      await eventually(async () => (await zoneAHealth()).get('res/cache-a-0') === false, 60_000, 'cache-a-0 marked unhealthy');
      // One of two local endpoints healthy is 50 % < 60 %: spill over to every zone.
      await eventually(async () => (await zones()).has('cache-b'), 30_000, 'fail over to zone b');
    } finally {
      await control('cache-a-0', '?health=200');
    }
    await eventually(zoneAHealthy, 60_000, 'both zone-a endpoints healthy again');
    await eventually(async () => [...(await zones())].join() === 'cache-a', 30_000, 'back in zone a');
  });

  it('active health checks take an endpoint out of rotation and bring it back', async () => {
    await apply(policy('health-policy', 'health', `  healthCheck: { type: http, path: /healthz, interval: 300ms, timeout: 250ms, healthyThreshold: 2, unhealthyThreshold: 2 }\n`));
    await converged('res/health-policy');
    await control('health-1', '?health=503');
    try {
      // The sidecar's own view (config_dump) says when the checks have taken it out.
      await eventually(
        async () => {
          const dump = (await (await fetch(`http://127.0.0.1:${client.spec.adminPort}/config_dump`)).json()) as { endpoints: Record<string, { instance: string; healthy: boolean }[]> };
          return dump.endpoints['res/health:80']?.find((e) => e.instance === 'res/health-1')?.healthy === false;
        },
        30_000,
        'health-1 marked unhealthy',
      );
      // While health-0 is healthy, health-1 gets nothing. On a loaded machine health-0's
      // probes (250 ms timeout) can fail too, and with no healthy endpoint left the balancer
      // panics and uses both, as it should: count only rounds where the sidecar saw health-0 up.
      await eventually(
        async () => {
          await control('health-1', '?reset-count=1');
          for (let i = 0; i < 20; i++) assert.equal((await send('health')).status, 200);
          const count = (await control('health-1', '')).requests;
          const dump = (await (await fetch(`http://127.0.0.1:${client.spec.adminPort}/config_dump`)).json()) as { endpoints: Record<string, { instance: string; healthy: boolean }[]> };
          const eps = dump.endpoints['res/health:80'] ?? [];
          const up = eps.find((e) => e.instance === 'res/health-0')?.healthy === true;
          const down = eps.find((e) => e.instance === 'res/health-1')?.healthy === false;
          return up && down && count === 0;
        },
        30_000,
        'no request reaches the unhealthy endpoint while the other one is healthy',
      );
    } finally {
      await control('health-1', '?health=200');
    }
    await eventually(
      async () => {
        await control('health-1', '?reset-count=1');
        for (let i = 0; i < 10; i++) await send('health');
        return (await control('health-1', '')).requests > 0;
      },
      30_000,
      'the endpoint is back',
    );
  });

  it('refuses a second policy that sets the same section for a Service', async () => {
    await assert.rejects(
      apply(policy('timeout-policy-2', 'timeout', `  timeouts: { request: 1s }\n`)),
      (err: Error) => /TrafficPolicy res\/timeout-policy already sets timeouts/.test(err.message + JSON.stringify((err as { body?: unknown }).body ?? '')),
    );
  });
});
