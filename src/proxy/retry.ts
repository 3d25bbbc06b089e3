// Retries as the client sidecar runs them (TrafficPolicy.retries, RetryConfig):
// which outcomes are retriable, the back-off between tries, and a retry
// budget that keeps retries from multiplying load during an outage.

import type { RetryConfig } from '../compiler/snapshot.js';
import type { UpstreamOutcome } from './outlier.js';

export type { UpstreamOutcome } from './outlier.js';

/** RFC 9110 idempotent methods (safe ones included). */
function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}

/**
 * Is this outcome retriable under `config.retryOn`, for this method?
 *
 * retryOn conditions (Envoy's):
 *  - `5xx`: any status >= 500, and every local failure (connect, reset, timeout).
 *  - `gateway-error`: 502, 503, 504, and every local failure.
 *  - `reset`: the upstream did not respond at all: reset/disconnect, per-try
 *    or read timeout, and also a connect failure (Envoy's router treats a
 *    connection failure as a reset too).
 *  - `connect-failure`: a connect failure (a connect timeout is reported as
 *    `{ failure: 'connect' }`).
 *  - `retriable-status-codes`: the status is in `retriableStatusCodes`.
 *
 * Method: idempotent methods (GET HEAD OPTIONS PUT DELETE TRACE, exact
 * upper-case) are retried; others only with `retryNonIdempotent` — except
 * after a connect failure, where the request never left this proxy, so any
 * method is safe to retry.
 *
 * This does not count attempts; the caller stops after `config.attempts`
 * retries and asks the RetryBudget before each one.
 */
export function retryDecision(config: RetryConfig, method: string, outcome: UpstreamOutcome): boolean {
  if (!retriable(config, outcome)) return false;
  if (config.retryNonIdempotent || isIdempotent(method)) return true;
  return 'failure' in outcome && outcome.failure === 'connect';
}

function retriable(config: RetryConfig, outcome: UpstreamOutcome): boolean {
  const on = config.retryOn;
  const status = 'status' in outcome ? outcome.status : 0;
  const failure = 'failure' in outcome ? outcome.failure : undefined;
  for (let i = 0; i < on.length; i++) {
    switch (on[i]) {
      case '5xx':
        if (failure !== undefined || status >= 500) return true;
        break;
      case 'gateway-error':
        if (failure !== undefined || status === 502 || status === 503 || status === 504) return true;
        break;
      case 'reset':
        if (failure !== undefined) return true;
        break;
      case 'connect-failure':
        if (failure === 'connect') return true;
        break;
      case 'retriable-status-codes':
        if (failure === undefined && config.retriableStatusCodes.includes(status)) return true;
        break;
    }
  }
  return false;
}

/**
 * Fully jittered exponential back-off before retry number `retryIndex` (0 for
 * the first retry): uniform in [0, min(maxMs, baseMs × 2^retryIndex)), whole
 * milliseconds. (Envoy's own bound is (2^(retryIndex+1) − 1) × base; this one
 * grows slightly slower.)
 */
export function backoffMs(retryIndex: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  if (!(baseMs > 0) || !(maxMs > 0)) return 0;
  const exp = retryIndex > 0 ? Math.pow(2, Math.min(retryIndex, 52)) : 1;
  const scaled = baseMs * exp;
  const cap = scaled < maxMs ? scaled : maxMs;
  const ms = Math.floor(random() * cap);
  // Guards against a `random` that returns 1 (or more): stay below cap.
  return ms < cap ? (ms > 0 ? ms : 0) : Math.max(0, Math.ceil(cap) - 1);
}

const BUCKETS = 10;

/**
 * A retry budget: over a sliding window (default 10 s), retries may add at
 * most `percent` % of the requests, but always at least
 * `minRetriesPerSecond` × window seconds (so a quiet client can still retry):
 *
 *   allowed = max(minRetriesPerSecond × windowMs / 1000, percent / 100 × requests)
 *
 * Requests and retries are counted in 10 fixed time buckets of windowMs / 10
 * (two small typed arrays, no per-request allocation); the window is the
 * current bucket and the 9 before it, so it covers between 9/10 and all of
 * windowMs. Call onRequest once per downstream request (not per try), and
 * tryRetry before each retry.
 */
export class RetryBudget {
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private requestTotal = 0;
  private retryTotal = 0;
  /** Index (time / bucketMs) of the current bucket; -Infinity before the first call. */
  private current = -Infinity;
  private readonly bucketMs: number;
  private readonly floor: number;
  private readonly fraction: number;

  constructor(
    readonly percent: number,
    readonly minRetriesPerSecond: number,
    readonly windowMs = 10_000,
  ) {
    this.bucketMs = Math.max(1, windowMs / BUCKETS);
    this.floor = Math.max(0, minRetriesPerSecond) * (windowMs / 1000);
    this.fraction = Math.max(0, percent) / 100;
  }

  onRequest(now: number): void {
    const slot = this.advance(now);
    this.requests[slot]++;
    this.requestTotal++;
  }

  /** true and counts the retry if the budget allows one more now */
  tryRetry(now: number): boolean {
    const slot = this.advance(now);
    if (this.retryTotal + 1 > this.allowed()) return false;
    this.retries[slot]++;
    this.retryTotal++;
    return true;
  }

  /** Retries the window allows in total now (tests, stats). */
  allowed(): number {
    const byPercent = this.fraction * this.requestTotal;
    return byPercent > this.floor ? byPercent : this.floor;
  }

  /** Moves the window to `now`, zeroing buckets that fell out; returns the current slot. */
  private advance(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    if (index > this.current) {
      if (index - this.current >= BUCKETS) {
        this.requests.fill(0);
        this.retries.fill(0);
        this.requestTotal = this.retryTotal = 0;
      } else {
        for (let i = this.current + 1; i <= index; i++) {
          const s = ((i % BUCKETS) + BUCKETS) % BUCKETS;
          this.requestTotal -= this.requests[s];
          this.retryTotal -= this.retries[s];
          this.requests[s] = 0;
          this.retries[s] = 0;
        }
      }
      this.current = index;
    }
    // A clock that steps back counts into the current bucket.
    return ((this.current % BUCKETS) + BUCKETS) % BUCKETS;
  }
}
