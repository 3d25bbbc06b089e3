import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';
import { loadManifests, parseManifests } from '../../src/resources/parse.js';
import { formatManifestError, formatManifestWarning, type ManifestError } from '../../src/resources/errors.js';
import type { TrafficPolicyResource } from '../../src/resources/types.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'resources');

function lineOf(text: string, needle: string, nth = 1): number {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`"${needle}" (${nth}) not in text`);
}

/** A TrafficPolicy for Service bookstore with `body` under spec (after targetRef). */
const policy = (body: string, targetRef = '  targetRef: {group: "", kind: Service, name: bookstore}\n') => `apiVersion: policy.trellis.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: p
  namespace: bookstore
spec:
${targetRef}${body}`;

function one(text: string): TrafficPolicyResource {
  const r = parseManifests(text, 'policy.yaml');
  assert.deepEqual(r.errors.map(formatManifestError), []);
  assert.equal(r.resources.length, 1);
  return r.resources[0] as TrafficPolicyResource;
}

function expectError(text: string, code: string, errPath: string, needle: string | number, message?: RegExp): ManifestError {
  const r = parseManifests(text, 'policy.yaml');
  assert.equal(r.errors.length, 1, r.errors.map(formatManifestError).join('\n') || 'no error');
  assert.equal(r.resources.length, 0);
  const e = r.errors[0]!;
  const line = typeof needle === 'number' ? needle : lineOf(text, needle);
  assert.deepEqual([e.code, e.path, e.line], [code, errPath, line], formatManifestError(e));
  if (message) assert.match(e.message, message);
  return e;
}

describe('TrafficPolicy', () => {
  it('loads a policy with every section, converting durations to milliseconds', async () => {
    const r = await loadManifests(path.join(fixtures, 'policies.yaml'));
    assert.deepEqual(r.errors.map(formatManifestError), []);
    assert.deepEqual(r.warnings.map(formatManifestWarning), []);
    const p = r.resources.find((x) => x.kind === 'TrafficPolicy') as TrafficPolicyResource;
    assert.equal(p.apiVersion, 'policy.trellis.dev/v1alpha1');
    assert.deepEqual(p.spec, {
      targetRef: { group: '', kind: 'Service', name: 'bookstore' },
      timeouts: { requestMs: 5000, idleMs: 60_000, connectMs: 2000 },
      retries: {
        attempts: 3,
        perTryTimeoutMs: 1000,
        retryOn: ['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-status-codes'],
        retriableStatusCodes: [409],
        backoff: { baseIntervalMs: 25, maxIntervalMs: 250 },
        retryNonIdempotent: false,
        budget: { percent: 20, minRetriesPerSecond: 10 },
      },
      circuitBreaker: { maxConnections: 100, maxPendingRequests: 100, maxRequests: 100, maxRetries: 3 },
      outlierDetection: { consecutive5xx: 5, consecutiveGatewayErrors: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 },
      rateLimit: {
        requestsPerUnit: 100,
        unit: 'second',
        burst: 200,
        perSource: true,
        matches: [{ path: { type: 'PathPrefix', value: '/books' }, headers: [], queryParams: [], method: 'POST' }],
      },
      loadBalancer: { type: 'RingHash', hashOn: { header: 'x-user' }, ringSize: 1024, locality: { enabled: true, minHealthyPercent: 70 } },
      healthCheck: { type: 'http', path: '/healthz', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 3, expectedStatuses: [200, 204] },
    });
  });

  it('fills the documented defaults of each section', () => {
    const p = one(policy(`  retries: {attempts: 2}
  outlierDetection: {consecutive5xx: 3}
  rateLimit: {requestsPerUnit: 50, unit: minute}
  loadBalancer: {locality: {}}
  healthCheck: {type: tcp}
`, '  targetRef: {name: bookstore}\n'));
    assert.deepEqual(p.spec, {
      targetRef: { group: '', kind: 'Service', name: 'bookstore' },
      retries: {
        attempts: 2,
        retryOn: ['5xx', 'reset', 'connect-failure'],
        retriableStatusCodes: [],
        backoff: { baseIntervalMs: 25, maxIntervalMs: 250 },
        retryNonIdempotent: false,
        budget: { percent: 20, minRetriesPerSecond: 10 },
      },
      outlierDetection: { consecutive5xx: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 },
      rateLimit: { requestsPerUnit: 50, unit: 'minute', burst: 50, perSource: false, matches: [] },
      loadBalancer: { type: 'RoundRobin', locality: { enabled: true, minHealthyPercent: 70 } },
      healthCheck: { type: 'tcp', path: '/healthz', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 3 },
    });
  });

  it('defaults the backoff maximum to ten times the base, and RingHash to 100 virtual nodes', () => {
    const p = one(policy(`  retries: {attempts: 1, backoff: {baseInterval: 100ms}}
  loadBalancer: {type: RingHash, hashOn: {sourceIdentity: true}}
`));
    assert.deepEqual(p.spec.retries!.backoff, { baseIntervalMs: 100, maxIntervalMs: 1000 });
    assert.deepEqual(p.spec.loadBalancer, { type: 'RingHash', hashOn: { sourceIdentity: true }, ringSize: 100 });
  });

  it('reads each hash source: a header (lower-cased), a cookie with ttl and path, the source identity', () => {
    const lb = (hashOn: string) => one(policy(`  loadBalancer: {type: Maglev, hashOn: ${hashOn}}\n`)).spec.loadBalancer!.hashOn;
    assert.deepEqual(lb('{header: X-Session}'), { header: 'x-session' });
    assert.deepEqual(lb('{cookie: {name: session, ttl: 1h, path: /}}'), { cookie: { name: 'session', ttlMs: 3_600_000, path: '/' } });
    assert.deepEqual(lb('{cookie: {name: session}}'), { cookie: { name: 'session' } });
    assert.deepEqual(lb('{sourceIdentity: true}'), { sourceIdentity: true });
  });

  it('accepts 0s as "no timeout" for request and idle', () => {
    assert.deepEqual(one(policy('  timeouts: {request: 0s, idle: "0"}\n')).spec.timeouts, { requestMs: 0, idleMs: 0 });
  });

  it('warns when a try may last as long as the whole request', () => {
    const r = parseManifests(policy('  timeouts: {request: 1s}\n  retries: {attempts: 2, perTryTimeout: 1s}\n'), 'policy.yaml');
    assert.equal(r.resources.length, 1);
    assert.deepEqual(r.warnings.map((w) => [w.code, w.path]), [['TRELLIS_W_SUSPICIOUS_VALUE', 'spec.retries.perTryTimeout']]);
  });

  it('is listed under its plural and short name', async () => {
    const { resolveKind } = await import('../../src/resources/kinds.js');
    for (const name of ['trafficpolicies', 'trafficpolicy', 'tp', 'TrafficPolicy', 'trafficpolicies.policy.trellis.dev']) assert.equal(resolveKind(name), 'TrafficPolicy');
  });
});

describe('TrafficPolicy errors', () => {
  it('needs at least one policy section', () => {
    expectError(policy(''), 'TRELLIS_E_MISSING_FIELD', 'spec', 'spec:', /at least one of timeouts, retries, circuitBreaker, outlierDetection, rateLimit, loadBalancer, healthCheck/);
  });

  it('targets a Service of its own namespace only', () => {
    const body = '  timeouts: {request: 1s}\n';
    expectError(policy(body, '  targetRef: {kind: Deployment, name: bookstore}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.targetRef.kind', 'targetRef:', /kind must be Service/);
    expectError(policy(body, '  targetRef: {group: apps, name: bookstore}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.targetRef.group', 'targetRef:', /group must be ""/);
    expectError(policy(body, '  targetRef:\n    name: bookstore\n    namespace: other\n'), 'TRELLIS_E_NAMESPACE_MISMATCH', 'spec.targetRef.namespace', 'namespace: other', /own namespace "bookstore"/);
    expectError(policy(body, '  targetRef:\n    name: bookstore\n    sectionName: http\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.targetRef.sectionName', 'sectionName: http');
    expectError(policy(body, '  targetRef: {kind: Service}\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.targetRef.name', 'targetRef:');
    expectError(policy(body, ''), 'TRELLIS_E_MISSING_FIELD', 'spec.targetRef', 'spec:');
    // Its own namespace, written out, is accepted with a warning.
    const r = parseManifests(policy(body, '  targetRef:\n    name: bookstore\n    namespace: bookstore\n'), 'policy.yaml');
    assert.equal(r.resources.length, 1);
    assert.deepEqual(r.warnings.map((w) => w.path), ['spec.targetRef.namespace']);
  });

  it('rejects bad durations with the field and the value', () => {
    expectError(policy('  timeouts: {request: 5}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.timeouts.request', 'timeouts:', /must be a string/);
    expectError(policy('  timeouts:\n    idle: forever\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.timeouts.idle', 'idle: forever', /invalid duration "forever"/);
    expectError(policy('  timeouts:\n    connect: 0s\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.timeouts.connect', 'connect: 0s', /longer than 0/);
    expectError(policy('  timeouts: {}\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.timeouts', 'timeouts:', /at least one of request, idle, connect/);
  });

  it('checks retries: attempts 1 to 10, retryOn values, status codes iff retriable-status-codes, backoff order', () => {
    expectError(policy('  retries:\n    attempts: 0\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.retries.attempts', 'attempts: 0', /1 to 10/);
    expectError(policy('  retries:\n    attempts: 11\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.retries.attempts', 'attempts: 11');
    expectError(policy('  retries:\n    perTryTimeout: 1s\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.retries.attempts', 'retries:', /attempts is required/);
    expectError(policy('  retries:\n    attempts: 2\n    retryOn: [5xx, timeout]\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.retries.retryOn[1]', 'retryOn:', /one of 5xx, gateway-error, reset, connect-failure, retriable-status-codes/);
    expectError(policy('  retries:\n    attempts: 2\n    retryOn: []\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.retries.retryOn', 'retryOn:');
    expectError(
      policy('  retries:\n    attempts: 2\n    retryOn: [retriable-status-codes]\n'),
      'TRELLIS_E_MISSING_FIELD',
      'spec.retries.retriableStatusCodes',
      'retries:',
      /at least one status code/,
    );
    expectError(
      policy('  retries:\n    attempts: 2\n    retriableStatusCodes: [409]\n'),
      'TRELLIS_E_INVALID_FIELD',
      'spec.retries.retriableStatusCodes',
      'retriableStatusCodes:',
      /add it to retryOn/,
    );
    expectError(
      policy('  retries:\n    attempts: 2\n    retryOn: [retriable-status-codes]\n    retriableStatusCodes: [409, 600]\n'),
      'TRELLIS_E_INVALID_FIELD',
      'spec.retries.retriableStatusCodes[1]',
      'retriableStatusCodes:',
      /100 to 599/,
    );
    expectError(
      policy('  retries:\n    attempts: 2\n    backoff:\n      baseInterval: 1s\n      maxInterval: 100ms\n'),
      'TRELLIS_E_INVALID_FIELD',
      'spec.retries.backoff.maxInterval',
      'maxInterval: 100ms',
      /must not be shorter than baseInterval \(1s\)/,
    );
    expectError(policy('  retries:\n    attempts: 2\n    budget: {percent: 120}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.retries.budget.percent', 'budget:', /0 to 100/);
  });

  it('needs at least one limit in a circuit breaker, each a positive integer', () => {
    expectError(policy('  circuitBreaker: {}\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.circuitBreaker', 'circuitBreaker:', /at least one of maxConnections/);
    expectError(policy('  circuitBreaker:\n    maxRequests: 0\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.circuitBreaker.maxRequests', 'maxRequests: 0', /positive integer/);
  });

  it('needs a consecutive-error threshold in outlier detection', () => {
    expectError(policy('  outlierDetection:\n    interval: 5s\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.outlierDetection', 'outlierDetection:', /consecutive5xx, consecutiveGatewayErrors or both/);
    expectError(policy('  outlierDetection:\n    consecutive5xx: 5\n    maxEjectionPercent: 101\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.outlierDetection.maxEjectionPercent', 'maxEjectionPercent: 101');
  });

  it('checks the rate limit and its matches with the HTTPRoute match rules', () => {
    expectError(policy('  rateLimit:\n    requestsPerUnit: 0\n    unit: second\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rateLimit.requestsPerUnit', 'requestsPerUnit: 0');
    expectError(policy('  rateLimit:\n    requestsPerUnit: 10\n    unit: day\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rateLimit.unit', 'unit: day', /second, minute or hour/);
    expectError(policy('  rateLimit:\n    requestsPerUnit: 10\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.rateLimit.unit', 'rateLimit:');
    const badMatch = policy('  rateLimit:\n    requestsPerUnit: 10\n    unit: second\n    matches:\n    - path: {type: RegularExpression, value: "(x"}\n');
    expectError(badMatch, 'TRELLIS_E_INVALID_REGEX', 'spec.rateLimit.matches[0].path.value', '- path:');
    const badPath = policy('  rateLimit:\n    requestsPerUnit: 10\n    unit: second\n    matches:\n    - path: {value: books}\n');
    expectError(badPath, 'TRELLIS_E_INVALID_FIELD', 'spec.rateLimit.matches[0].path.value', '- path:', /start.* with "\/"/);
  });

  it('requires hashOn for RingHash and Maglev, exactly one source, and rejects it elsewhere', () => {
    expectError(policy('  loadBalancer:\n    type: Maglev\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.loadBalancer.hashOn', 'loadBalancer:', /required for type Maglev/);
    expectError(policy('  loadBalancer:\n    type: LeastRequest\n    hashOn: {header: x}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.hashOn', 'hashOn:', /only used by RingHash and Maglev/);
    expectError(policy('  loadBalancer:\n    type: RingHash\n    hashOn: {header: x, sourceIdentity: true}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.hashOn', 'hashOn:', /exactly one of header, cookie, sourceIdentity, got header and sourceIdentity/);
    expectError(policy('  loadBalancer:\n    type: RingHash\n    hashOn: {}\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.loadBalancer.hashOn', 'hashOn:', /exactly one/);
    expectError(policy('  loadBalancer:\n    type: RingHash\n    hashOn:\n      sourceIdentity: false\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.hashOn.sourceIdentity', 'sourceIdentity: false');
    expectError(policy('  loadBalancer:\n    type: RingHash\n    hashOn:\n      cookie: {name: "a b"}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.hashOn.cookie.name', 'cookie:', /cookie name/);
    expectError(policy('  loadBalancer:\n    type: RingHash\n    hashOn:\n      cookie: {name: s, path: app}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.hashOn.cookie.path', 'cookie:', /start with "\/"/);
    expectError(policy('  loadBalancer:\n    type: Random\n    ringSize: 10\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.ringSize', 'ringSize: 10', /only used by RingHash/);
    expectError(policy('  loadBalancer:\n    type: RingHash\n    hashOn: {header: x}\n    ringSize: 10001\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.ringSize', 'ringSize: 10001', /1 to 10000/);
    expectError(policy('  loadBalancer:\n    type: Fastest\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.loadBalancer.type', 'type: Fastest', /RoundRobin, LeastRequest, Random, RingHash, Maglev/);
  });

  it('checks health checks: timeout shorter than interval, path and statuses for http only', () => {
    expectError(policy('  healthCheck:\n    interval: 1s\n    timeout: 1s\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.timeout', 'timeout: 1s', /shorter than interval/);
    expectError(policy('  healthCheck:\n    timeout: 10s\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.timeout', 'timeout: 10s', /timeout \(10s\) must be shorter than interval \(5s\)/);
    expectError(policy('  healthCheck:\n    type: tcp\n    path: /ready\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.path', 'path: /ready', /only used by http/);
    expectError(policy('  healthCheck:\n    type: tcp\n    expectedStatuses: [200]\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.expectedStatuses', 'expectedStatuses:');
    expectError(policy('  healthCheck:\n    path: ready\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.path', 'path: ready');
    expectError(policy('  healthCheck:\n    expectedStatuses: []\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.expectedStatuses', 'expectedStatuses:');
    expectError(policy('  healthCheck:\n    healthyThreshold: 0\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.healthCheck.healthyThreshold', 'healthyThreshold: 0');
  });

  it('reports an unknown field as a warning, not an error', () => {
    const r = parseManifests(policy('  timeouts: {request: 1s}\n  retires: {attempts: 2}\n'), 'policy.yaml');
    assert.equal(r.resources.length, 1);
    assert.deepEqual(r.warnings.map((w) => [w.code, w.path]), [['TRELLIS_W_UNKNOWN_FIELD', 'spec.retires']]);
  });
});
