// TrafficPolicy and FaultInjection in the compiler: where each section lands
// (client virtual host, client cluster, server inbound), how several policies
// on one Service merge, and how a conflict is reported and refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileSnapshots } from '../../src/compiler/compile.js';
import { policyConflicts } from '../../src/compiler/policy.js';
import type { Resource } from '../../src/resources/types.js';
import { createdAt, instance, manifests } from './support.js';

const base = `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: web}]
`;

const policy = (name: string, spec: string) => `
---
apiVersion: policy.trellis.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  targetRef: {group: "", kind: Service, name: api}
${spec}`;

function mesh(...extra: Resource[]): Resource[] {
  return [
    ...manifests(base),
    instance({ namespace: 'shop', workload: 'api', ports: [['web', 8081, 16001]] }),
    instance({ namespace: 'shop', workload: 'client', ports: [] }),
    ...extra,
  ];
}

const one = (yaml: string, created = '2026-01-01T00:00:00Z') => createdAt(manifests(yaml)[0]!, created);

describe('compiler: resilience policies', () => {
  it('puts timeouts and retries on the virtual host, the rest on the cluster, the rate limit on the inbound listener', () => {
    const p = one(
      policy(
        'all',
        `  timeouts: {request: 5s, connect: 1s, idle: 30s}
  retries: {attempts: 2, perTryTimeout: 1s, retryOn: [5xx]}
  circuitBreaker: {maxRequests: 10}
  outlierDetection: {consecutive5xx: 3}
  loadBalancer: {type: LeastRequest}
  healthCheck: {type: http, path: /healthz, interval: 2s, timeout: 500ms}
  rateLimit: {requestsPerUnit: 60, unit: minute, burst: 5}
`,
      ),
    );
    const snaps = compileSnapshots(mesh(p)).snapshots;
    const client = snaps.get('shop/client-0')!;
    const vh = client.outbound.virtualHosts.find((v) => v.name === 'shop/api:80')!;
    assert.equal(vh.policy?.requestTimeoutMs, 5000);
    assert.equal(vh.policy?.retries?.attempts, 2);
    assert.equal(vh.policy?.retries?.perTryTimeoutMs, 1000);
    const cluster = client.clusters.find((c) => c.name === 'shop/api:80')!;
    assert.equal(cluster.policy?.connectTimeoutMs, 1000);
    assert.deepEqual(cluster.policy?.circuitBreaker, { maxRequests: 10 });
    assert.equal(cluster.policy?.loadBalancer?.type, 'LeastRequest');
    assert.equal(cluster.policy?.healthCheck?.intervalMs, 2000);
    const api = snaps.get('shop/api-0')!;
    assert.deepEqual(api.inbound[0]!.rateLimits?.map((r) => [r.name, r.service, r.tokensPerSecond, r.burst]), [['shop/all', 'shop/api', 1, 5]]);
    assert.equal(client.inbound.length, 0);
  });

  it('merges sections of two policies, and the older one wins a section both set', () => {
    const older = one(policy('older', `  retries: {attempts: 1}\n`), '2026-01-01T00:00:00Z');
    const newer = one(policy('newer', `  retries: {attempts: 5}\n  timeouts: {request: 2s}\n`), '2026-01-02T00:00:00Z');
    const result = compileSnapshots(mesh(newer, older));
    const vh = result.snapshots.get('shop/client-0')!.outbound.virtualHosts.find((v) => v.name === 'shop/api:80')!;
    assert.equal(vh.policy?.retries?.attempts, 1);
    assert.equal(vh.policy?.requestTimeoutMs, 2000);
    assert.deepEqual(vh.policy?.sources, ['shop/newer', 'shop/older']);
    assert.ok(result.diagnostics.some((d) => d.severity === 'error' && d.name === 'newer' && /retries ignored: TrafficPolicy shop\/older/.test(d.message)));
  });

  it('refuses to apply a policy that sets a section another policy on the Service sets', () => {
    const existing = one(policy('older', `  retries: {attempts: 1}\n`));
    const incoming = one(policy('newer', `  retries: {attempts: 5}\n`));
    const conflicts = policyConflicts([incoming], [existing]);
    assert.equal(conflicts.length, 1);
    assert.match(conflicts[0]!.message, /spec\.retries: TrafficPolicy shop\/older already sets retries for Service shop\/api/);
    // Re-applying the same policy is not a conflict with itself.
    assert.deepEqual(policyConflicts([existing], [existing]), []);
    // Different sections do not conflict.
    assert.deepEqual(policyConflicts([one(policy('other', `  timeouts: {request: 1s}\n`))], [existing]), []);
  });

  it('concatenates fault rules of several FaultInjections, oldest first, with their matches', () => {
    const fault = (name: string, body: string, at: string) =>
      one(
        `
apiVersion: policy.trellis.dev/v1alpha1
kind: FaultInjection
metadata: {name: ${name}, namespace: shop}
spec:
  targetRef: {group: "", kind: Service, name: api}
  rules:
${body}`,
        at,
      );
    const a = fault('a', `  - match: {path: {type: PathPrefix, value: /api/list}}\n    abort: {httpStatus: 500, percentage: 10}\n`, '2026-01-01T00:00:00Z');
    const b = fault('b', `  - delay: {fixedDelay: 2s, percentage: 50}\n`, '2026-01-02T00:00:00Z');
    const vh = compileSnapshots(mesh(b, a)).snapshots.get('shop/client-0')!.outbound.virtualHosts.find((v) => v.name === 'shop/api:80')!;
    assert.deepEqual(
      vh.policy?.faults?.map((f) => [f.match?.pathPrefix, f.abort, f.delay]),
      [
        ['/api/list', { status: 500, percentage: 10 }, undefined],
        [undefined, undefined, { delayMs: 2000, percentage: 50 }],
      ],
    );
  });
});
