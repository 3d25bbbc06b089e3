// Outlier detection (passive health checking), Envoy-like, for one cluster:
// consecutive 5xx and consecutive gateway errors eject an endpoint from load
// balancing for a time that grows with each ejection.
//
//  - consecutive5xx counts responses with status >= 500 and local failures
//    (connect failure, reset, timeout: the proxy answers those with 502/503/504,
//    so they are 5xx too).
//  - consecutiveGatewayErrors counts 502, 503, 504 and local failures; another
//    5xx (500, 501, …) resets it, as in Envoy: the run is no longer consecutive.
//  - Any response below 500 resets both counters.
//  - A threshold that is absent or 0 disables that detector.
//  - When a counter reaches its threshold the endpoint is ejected, unless
//    ejecting it would make the ejected share exceed maxEjectionPercent of all
//    the cluster's endpoints; ejecting one endpoint when none is ejected is
//    always allowed (as modern Envoy does, so small clusters and a
//    maxEjectionPercent of 0 still eject one). A refused ejection leaves the
//    counter at its threshold: the next failure tries again, so the endpoint is
//    ejected as soon as room frees up.
//  - Ejection time = baseEjectionTimeMs × ejections (counted after this
//    ejection), capped at max(MAX_EJECTION_TIME_MS, baseEjectionTimeMs)
//    (Envoy's max_ejection_time default of 300 s).
//  - Outcomes that arrive while the endpoint is ejected (requests that were in
//    flight) are ignored; counters are reset at ejection, so the endpoint comes
//    back with a clean slate when ejectedUntil passes (the balancer readmits it
//    then, without waiting for tick).
//  - tick (every intervalMs) clears ejectedUntil of endpoints whose time has
//    passed and, for endpoints that were not ejected, decrements `ejections`
//    by one: an endpoint that stays healthy gets back to short ejections.
//
// record() is on the request path: a success on an endpoint that never failed
// does one WeakMap lookup and nothing else; counters are allocated once per
// endpoint, on its first failure, and go away with the endpoint (WeakMap).

import type { ClusterPolicy } from '../compiler/snapshot.js';
import type { EndpointState } from './endpoint-state.js';

/** How one try against an upstream endpoint ended. */
export type UpstreamOutcome = { status: number } | { failure: 'connect' | 'reset' | 'timeout' };

export type OutlierDetectionConfig = NonNullable<ClusterPolicy['outlierDetection']>;

/** Ejection time cap (unless baseEjectionTimeMs is larger, which is then the cap). */
export const MAX_EJECTION_TIME_MS = 300_000;

interface Counters {
  consecutive5xx: number;
  consecutiveGateway: number;
}

export class OutlierDetector {
  private readonly counters = new WeakMap<EndpointState, Counters>();
  private readonly threshold5xx: number;
  private readonly thresholdGateway: number;
  private readonly maxEjectionMs: number;

  constructor(
    readonly config: OutlierDetectionConfig,
    private readonly endpoints: () => readonly EndpointState[],
  ) {
    this.threshold5xx = config.consecutive5xx !== undefined && config.consecutive5xx > 0 ? config.consecutive5xx : 0;
    this.thresholdGateway =
      config.consecutiveGatewayErrors !== undefined && config.consecutiveGatewayErrors > 0 ? config.consecutiveGatewayErrors : 0;
    this.maxEjectionMs = Math.max(MAX_EJECTION_TIME_MS, config.baseEjectionTimeMs);
  }

  /** Records one request's outcome; may eject `ep` (sets ep.ejectedUntil / ep.ejections). Returns true if it ejected now. */
  record(ep: EndpointState, outcome: UpstreamOutcome, now: number): boolean {
    if (this.threshold5xx === 0 && this.thresholdGateway === 0) return false;
    if (ep.ejectedUntil > now) return false;
    let gateway: boolean;
    if ('status' in outcome) {
      const s = outcome.status;
      if (s < 500) {
        const c = this.counters.get(ep);
        if (c !== undefined) c.consecutive5xx = c.consecutiveGateway = 0;
        return false;
      }
      gateway = s === 502 || s === 503 || s === 504;
    } else {
      gateway = true;
    }
    let c = this.counters.get(ep);
    if (c === undefined) {
      c = { consecutive5xx: 0, consecutiveGateway: 0 };
      this.counters.set(ep, c);
    }
    c.consecutive5xx++;
    // A 5xx that is not a gateway error breaks the run of gateway errors (as in Envoy).
    if (gateway) c.consecutiveGateway++;
    else c.consecutiveGateway = 0;
    const tripped =
      (this.threshold5xx > 0 && c.consecutive5xx >= this.threshold5xx) ||
      (this.thresholdGateway > 0 && c.consecutiveGateway >= this.thresholdGateway);
    if (!tripped || !this.mayEject(ep, now)) return false;
    ep.ejections++;
    const ms = this.config.baseEjectionTimeMs * ep.ejections;
    ep.ejectedUntil = now + (ms < this.maxEjectionMs ? ms : this.maxEjectionMs);
    c.consecutive5xx = c.consecutiveGateway = 0;
    return true;
  }

  /** Runs every intervalMs (the proxy calls it from a timer; tests call it directly): un-ejects expired endpoints and decays ejection counts of endpoints that stayed healthy. */
  tick(now: number): void {
    const eps = this.endpoints();
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      if (ep.ejectedUntil !== 0) {
        // Counters were reset at ejection and outcomes were ignored while
        // ejected; failures counted since ejectedUntil passed are real and kept.
        if (ep.ejectedUntil <= now) ep.ejectedUntil = 0;
      } else if (ep.ejections > 0) {
        ep.ejections--;
      }
    }
  }

  /** Would ejecting `ep` keep the ejected share within maxEjectionPercent (or is nothing ejected yet)? */
  private mayEject(ep: EndpointState, now: number): boolean {
    const eps = this.endpoints();
    let ejected = 0;
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!;
      if (e !== ep && e.ejectedUntil > now) ejected++;
    }
    if (ejected === 0) return true;
    return (ejected + 1) * 100 <= this.config.maxEjectionPercent * eps.length;
  }
}
