// Retries: which outcomes retryOn covers, idempotency, jittered back-off
// bounds and the retry budget's arithmetic. Time and randomness are injected.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RetryConfig } from '../../src/compiler/snapshot.js';
import { RetryBudget, backoffMs, retryDecision, type UpstreamOutcome } from '../../src/proxy/retry.js';

function config(retryOn: string[], extra: Partial<RetryConfig> = {}): RetryConfig {
  return {
    attempts: 2,
    retryOn,
    retriableStatusCodes: [],
    baseIntervalMs: 25,
    maxIntervalMs: 250,
    retryNonIdempotent: false,
    budgetPercent: 20,
    minRetriesPerSecond: 10,
    ...extra,
  };
}

const outcomes: Record<string, UpstreamOutcome> = {
  '200': { status: 200 },
  '404': { status: 404 },
  '409': { status: 409 },
  '500': { status: 500 },
  '501': { status: 501 },
  '502': { status: 502 },
  '503': { status: 503 },
  '504': { status: 504 },
  connect: { failure: 'connect' },
  reset: { failure: 'reset' },
  timeout: { failure: 'timeout' },
};

/** The outcome names `retryOn` retries for a GET. */
function retried(retryOn: string[], extra: Partial<RetryConfig> = {}): string[] {
  const c = config(retryOn, extra);
  return Object.entries(outcomes)
    .filter(([, o]) => retryDecision(c, 'GET', o))
    .map(([name]) => name);
}

describe('retryDecision', () => {
  it('5xx: any status >= 500 and every local failure', () => {
    assert.deepEqual(retried(['5xx']), ['500', '501', '502', '503', '504', 'connect', 'reset', 'timeout']);
  });

  it('gateway-error: 502, 503, 504 and every local failure', () => {
    assert.deepEqual(retried(['gateway-error']), ['502', '503', '504', 'connect', 'reset', 'timeout']);
  });

  it('reset: no response at all (reset, per-try timeout, and connect failure as in Envoy)', () => {
    assert.deepEqual(retried(['reset']), ['connect', 'reset', 'timeout']);
  });

  it('connect-failure: connect failures only', () => {
    assert.deepEqual(retried(['connect-failure']), ['connect']);
  });

  it('retriable-status-codes: the listed statuses only', () => {
    assert.deepEqual(retried(['retriable-status-codes'], { retriableStatusCodes: [409, 503] }), ['409', '503']);
    assert.deepEqual(retried(['retriable-status-codes']), []);
  });

  it('conditions combine; an empty retryOn retries nothing', () => {
    assert.deepEqual(retried(['connect-failure', 'retriable-status-codes'], { retriableStatusCodes: [409] }), ['409', 'connect']);
    assert.deepEqual(retried([]), []);
  });

  it('retries idempotent methods only, unless retryNonIdempotent', () => {
    const c = config(['5xx']);
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) assert.equal(retryDecision(c, m, { status: 503 }), true, m);
    for (const m of ['POST', 'PATCH', 'CONNECT']) assert.equal(retryDecision(c, m, { status: 503 }), false, m);
    assert.equal(retryDecision(c, 'POST', { failure: 'reset' }), false, 'a reset POST may have reached the app');
    assert.equal(retryDecision(c, 'POST', { failure: 'timeout' }), false);
    assert.equal(retryDecision(config(['5xx'], { retryNonIdempotent: true }), 'POST', { status: 503 }), true);
  });

  it('a connect failure is retriable for any method (the request never left)', () => {
    assert.equal(retryDecision(config(['connect-failure']), 'POST', { failure: 'connect' }), true);
    assert.equal(retryDecision(config(['retriable-status-codes'], { retriableStatusCodes: [503] }), 'POST', { failure: 'connect' }), false, 'still needs retryOn to cover it');
  });
});

describe('backoffMs', () => {
  it('is uniform in [0, min(max, base × 2^retryIndex))', () => {
    const base = 25;
    const max = 250;
    for (let i = 0; i < 8; i++) {
      const cap = Math.min(max, base * 2 ** i);
      assert.equal(backoffMs(i, base, max, () => 0), 0);
      const top = backoffMs(i, base, max, () => 0.999999);
      assert.ok(top < cap && top >= cap - 1, `retry ${i}: ${top} vs cap ${cap}`);
      assert.equal(backoffMs(i, base, max, () => 0.5), Math.floor(cap / 2));
    }
  });

  it('stays in bounds with Math.random and for huge retry indexes', () => {
    for (let i = 0; i < 1000; i++) {
      const ms = backoffMs(i % 12, 10, 1000);
      assert.ok(ms >= 0 && ms < Math.min(1000, 10 * 2 ** (i % 12)), `${ms}`);
    }
    const far = backoffMs(5000, 10, 1000, () => 0.999999);
    assert.ok(far >= 0 && far < 1000);
  });

  it('stays below the cap even if random returns 1', () => {
    assert.equal(backoffMs(0, 25, 250, () => 1), 24);
  });
});

describe('RetryBudget', () => {
  it('allows percent % of the requests in the window', () => {
    const b = new RetryBudget(20, 0);
    for (let i = 0; i < 1000; i++) b.onRequest(i * 5); // 1000 requests over 5 s
    let granted = 0;
    for (let i = 0; i < 1000; i++) if (b.tryRetry(5000)) granted++;
    assert.equal(granted, 200);
  });

  it('never below minRetriesPerSecond × window seconds', () => {
    const b = new RetryBudget(20, 10);
    for (let i = 0; i < 100; i++) b.onRequest(i); // 20 % of 100 = 20 < floor 100
    let granted = 0;
    for (let i = 0; i < 1000; i++) if (b.tryRetry(1000)) granted++;
    assert.equal(granted, 100);
    const quiet = new RetryBudget(20, 1);
    assert.equal(quiet.tryRetry(0), true, 'no requests yet: the floor still allows retries');
  });

  it('1000 requests, 30 % failing, percent 20: at most 200 retries', () => {
    const b = new RetryBudget(20, 1); // floor 10
    let granted = 0;
    for (let i = 0; i < 1000; i++) {
      const now = i * 9; // 1000 requests within 9 s
      b.onRequest(now);
      if (i % 10 < 3 && b.tryRetry(now)) granted++;
    }
    // 300 failures wanted a retry; the budget grows with requests, so the early ones
    // are limited by the floor and the total by 20 % of all requests.
    assert.ok(granted <= 200, `${granted}`);
    assert.ok(granted >= 190, `${granted}`);
  });

  it('a full outage cannot exceed the cap, window after window', () => {
    const b = new RetryBudget(20, 5);
    let granted = 0;
    let maxPerWindow = 0;
    let windowGranted = 0;
    // 100 requests/s for 60 s, each failing and retried up to 3 times.
    for (let ms = 0; ms < 60_000; ms += 10) {
      if (ms % 10_000 === 0) {
        maxPerWindow = Math.max(maxPerWindow, windowGranted);
        windowGranted = 0;
      }
      b.onRequest(ms);
      for (let r = 0; r < 3; r++) {
        if (!b.tryRetry(ms)) break;
        granted++;
        windowGranted++;
      }
    }
    maxPerWindow = Math.max(maxPerWindow, windowGranted);
    // Steady state: 20 % of the 1000 requests a 10 s window holds.
    assert.ok(maxPerWindow <= 200 + 5 * 10, `${maxPerWindow} in one window`);
    assert.ok(granted <= 6000 * 0.2 + 100, `${granted} retries for 6000 requests`);
    assert.ok(granted >= 6000 * 0.2 * 0.8, `${granted}: the budget is used`);
  });

  it('forgets requests and retries older than the window', () => {
    const b = new RetryBudget(50, 0, 10_000);
    for (let i = 0; i < 10; i++) b.onRequest(0);
    for (let i = 0; i < 5; i++) assert.equal(b.tryRetry(0), true);
    assert.equal(b.tryRetry(0), false);
    assert.equal(b.tryRetry(9_999), false, 'still in the window');
    assert.equal(b.allowed(), 5);
    // 10 s later the bucket of t=0 has left the window: no requests, no budget.
    assert.equal(b.tryRetry(10_000), false);
    assert.equal(b.allowed(), 0);
    for (let i = 0; i < 4; i++) b.onRequest(10_500);
    assert.equal(b.tryRetry(10_500), true);
    assert.equal(b.tryRetry(10_500), true);
    assert.equal(b.tryRetry(10_500), false);
    // A jump far ahead clears everything.
    b.onRequest(1e9);
    b.onRequest(1e9);
    assert.equal(b.tryRetry(1e9), true);
    assert.equal(b.tryRetry(1e9), false);
  });
});
