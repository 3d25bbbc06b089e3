// Outlier detection: consecutive 5xx / gateway errors eject an endpoint for a
// time that grows with its ejections, within maxEjectionPercent, and tick
// readmits and decays. Time is simulated.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointState, isAvailable, type EndpointState } from '../../src/proxy/endpoint-state.js';
import { MAX_EJECTION_TIME_MS, OutlierDetector, type OutlierDetectionConfig, type UpstreamOutcome } from '../../src/proxy/outlier.js';

function endpoints(n: number): EndpointState[] {
  return Array.from({ length: n }, (_, i) =>
    endpointState({ address: '127.0.0.1', port: 16000 + i, identity: 'spiffe://cluster.local/ns/shop/sa/web', instance: `shop/web-${i}` }),
  );
}

function detector(config: Partial<OutlierDetectionConfig>, eps: EndpointState[]): OutlierDetector {
  return new OutlierDetector({ intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100, ...config }, () => eps);
}

const ok: UpstreamOutcome = { status: 200 };
const e500: UpstreamOutcome = { status: 500 };
const e503: UpstreamOutcome = { status: 503 };

/** Records `outcome` n times; returns the index (1-based) of the record that ejected, or 0. */
function fail(d: OutlierDetector, ep: EndpointState, outcome: UpstreamOutcome, n: number, now: number): number {
  let ejectedAt = 0;
  for (let i = 1; i <= n; i++) if (d.record(ep, outcome, now) && ejectedAt === 0) ejectedAt = i;
  return ejectedAt;
}

describe('OutlierDetector', () => {
  it('ejects after consecutive5xx responses >= 500', () => {
    const eps = endpoints(4);
    const d = detector({ consecutive5xx: 3 }, eps);
    const ep = eps[0]!;
    assert.equal(fail(d, ep, e500, 2, 1000), 0);
    assert.equal(d.record(ep, { status: 599 }, 1000), true);
    assert.equal(ep.ejections, 1);
    assert.equal(ep.ejectedUntil, 1000 + 30_000);
    assert.equal(isAvailable(ep, 1000), false);
  });

  it('local failures count as 5xx', () => {
    const eps = endpoints(4);
    const d = detector({ consecutive5xx: 3 }, eps);
    const ep = eps[0]!;
    d.record(ep, { failure: 'connect' }, 0);
    d.record(ep, { failure: 'reset' }, 0);
    assert.equal(d.record(ep, { failure: 'timeout' }, 0), true);
  });

  it('a success resets the counters', () => {
    const eps = endpoints(4);
    const d = detector({ consecutive5xx: 3, consecutiveGatewayErrors: 3 }, eps);
    const ep = eps[0]!;
    fail(d, ep, e503, 2, 0);
    d.record(ep, { status: 404 }, 0);
    assert.equal(fail(d, ep, e503, 2, 0), 0, 'needs 3 in a row again');
    assert.equal(d.record(ep, e503, 0), true);
  });

  it('consecutiveGatewayErrors counts only 502/503/504 and local failures', () => {
    const eps = endpoints(4);
    const d = detector({ consecutiveGatewayErrors: 3 }, eps);
    const ep = eps[0]!;
    assert.equal(fail(d, ep, e500, 10, 0), 0, '500 is not a gateway error');
    // A non-gateway 5xx breaks the run (Envoy).
    d.record(ep, { status: 502 }, 0);
    d.record(ep, { failure: 'reset' }, 0);
    d.record(ep, e500, 0);
    d.record(ep, { status: 502 }, 0);
    assert.equal(d.record(ep, { failure: 'timeout' }, 0), false, 'only 2 in a row since the 500');
    assert.equal(d.record(ep, { status: 504 }, 0), true);
  });

  it('an absent or zero threshold disables that detector', () => {
    const eps = endpoints(2);
    const d = detector({ consecutive5xx: 0 }, eps);
    assert.equal(fail(d, eps[0]!, e503, 100, 0), 0);
    assert.equal(eps[0]!.ejections, 0);
  });

  it('ejection time grows with ejections and is capped', () => {
    const eps = endpoints(1);
    const d = detector({ consecutive5xx: 1, baseEjectionTimeMs: 30_000 }, eps);
    const ep = eps[0]!;
    let now = 0;
    const durations: number[] = [];
    for (let i = 0; i < 12; i++) {
      assert.equal(d.record(ep, e500, now), true, `ejection ${i + 1}`);
      durations.push(ep.ejectedUntil - now);
      now = ep.ejectedUntil; // readmitted exactly when its time passes, fails again at once
    }
    assert.deepEqual(durations.slice(0, 4), [30_000, 60_000, 90_000, 120_000]);
    assert.equal(Math.max(...durations), MAX_EJECTION_TIME_MS);
    assert.equal(durations[11], MAX_EJECTION_TIME_MS);
  });

  it('a base ejection time above the cap is used as is', () => {
    const eps = endpoints(1);
    const d = detector({ consecutive5xx: 1, baseEjectionTimeMs: 600_000 }, eps);
    d.record(eps[0]!, e500, 0);
    assert.equal(eps[0]!.ejectedUntil, 600_000);
    d.record(eps[0]!, e500, 600_000);
    assert.equal(eps[0]!.ejectedUntil - 600_000, 600_000);
  });

  it('respects maxEjectionPercent', () => {
    const eps = endpoints(10);
    const d = detector({ consecutive5xx: 1, maxEjectionPercent: 30 }, eps);
    assert.equal(d.record(eps[0]!, e500, 0), true);
    assert.equal(d.record(eps[1]!, e500, 0), true);
    assert.equal(d.record(eps[2]!, e500, 0), true, '3 of 10 = 30 %');
    assert.equal(d.record(eps[3]!, e500, 0), false, '4 of 10 would exceed 30 %');
    assert.equal(eps[3]!.ejectedUntil, 0);
    assert.equal(eps[3]!.ejections, 0);
    // Once an ejection expires there is room again: the still-failing endpoint goes at its next failure.
    assert.equal(d.record(eps[3]!, e500, 30_000), true);
  });

  it('always allows ejecting one endpoint', () => {
    const two = endpoints(2);
    const d = detector({ consecutive5xx: 1, maxEjectionPercent: 10 }, two);
    assert.equal(d.record(two[0]!, e500, 0), true, '1 of 2 = 50 % > 10 %, but none was ejected');
    assert.equal(d.record(two[1]!, e500, 0), false);
    const zero = endpoints(3);
    const d0 = detector({ consecutive5xx: 1, maxEjectionPercent: 0 }, zero);
    assert.equal(d0.record(zero[0]!, e500, 0), true);
    assert.equal(d0.record(zero[1]!, e500, 0), false);
  });

  it('ignores outcomes of requests that finish while the endpoint is ejected', () => {
    const eps = endpoints(2);
    const d = detector({ consecutive5xx: 2 }, eps);
    const ep = eps[0]!;
    fail(d, ep, e500, 2, 0);
    assert.equal(ep.ejections, 1);
    assert.equal(fail(d, ep, e500, 5, 1), 0);
    assert.equal(ep.ejections, 1);
    assert.equal(ep.ejectedUntil, 30_000, 'not extended');
  });

  it('readmits when the ejection time passes, with fresh counters', () => {
    const eps = endpoints(2);
    const d = detector({ consecutive5xx: 2 }, eps);
    const ep = eps[0]!;
    fail(d, ep, e500, 2, 0);
    assert.equal(isAvailable(ep, 29_999), false);
    assert.equal(isAvailable(ep, 30_000), true, 'the balancer readmits without waiting for tick');
    d.tick(29_999);
    assert.equal(ep.ejectedUntil, 30_000, 'not yet');
    d.tick(30_000);
    assert.equal(ep.ejectedUntil, 0);
    assert.equal(ep.ejections, 1, 'the tick that readmits does not decay');
    assert.equal(d.record(ep, e500, 30_001), false, 'one failure after readmission is not enough');
    assert.equal(d.record(ep, e500, 30_002), true);
    assert.equal(ep.ejections, 2);
    assert.equal(ep.ejectedUntil, 30_002 + 60_000);
  });

  it('tick decays ejections of endpoints that stay healthy', () => {
    const eps = endpoints(2);
    const d = detector({ consecutive5xx: 1 }, eps);
    const ep = eps[0]!;
    let now = 0;
    for (let i = 0; i < 3; i++) {
      d.record(ep, e500, now);
      now = ep.ejectedUntil;
    }
    assert.equal(ep.ejections, 3);
    d.tick(now); // readmits
    assert.equal(ep.ejections, 3);
    d.tick(now + 10_000);
    assert.equal(ep.ejections, 2);
    d.tick(now + 20_000);
    d.tick(now + 30_000);
    d.tick(now + 40_000);
    assert.equal(ep.ejections, 0, 'never below 0');
    assert.equal(eps[1]!.ejections, 0);
    // Back to the base ejection time.
    d.record(ep, e500, now + 50_000);
    assert.equal(ep.ejectedUntil - (now + 50_000), 30_000);
  });

  it('ejected endpoints do not decay while ejected', () => {
    const eps = endpoints(2);
    const d = detector({ consecutive5xx: 1 }, eps);
    d.record(eps[0]!, e500, 0);
    d.tick(10_000);
    d.tick(20_000);
    assert.equal(eps[0]!.ejections, 1);
  });

  it('endpoints that come and go keep independent counters', () => {
    let eps = endpoints(3);
    const d = new OutlierDetector({ consecutive5xx: 2, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100 }, () => eps);
    fail(d, eps[0]!, e500, 1, 0);
    const fresh = endpoints(1)[0]!;
    eps = [eps[0]!, fresh];
    assert.equal(d.record(fresh, e500, 0), false, 'a new endpoint starts from zero');
    assert.equal(d.record(eps[0]!, e500, 0), true, 'a kept endpoint keeps its count');
  });
});
