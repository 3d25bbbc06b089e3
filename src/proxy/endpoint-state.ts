// The runtime state of one upstream endpoint that the balancer, outlier
// detection, active health checks and circuit breaking share. One object per
// endpoint per cluster, kept across snapshot updates while the endpoint stays.

import type { EndpointConfig } from '../compiler/snapshot.js';

export interface EndpointState {
  readonly config: EndpointConfig;
  /** `address:port`: the engine's connection pool key (made once, not per request). */
  readonly poolKey: string;
  /** Requests in flight to this endpoint (LeastRequest reads it). */
  active: number;
  /** Active health checking's verdict; true until a check says otherwise. */
  healthy: boolean;
  /** Outlier detection: ejected until this time (ms since epoch); 0 = not ejected. */
  ejectedUntil: number;
  /** Outlier detection: how many times it has been ejected (ejection time grows with it). */
  ejections: number;
}

export function endpointState(config: EndpointConfig): EndpointState {
  return { config, poolKey: `${config.address}:${config.port}`, active: 0, healthy: true, ejectedUntil: 0, ejections: 0 };
}

/** Usable for new requests at `now`. */
export function isAvailable(ep: EndpointState, now: number): boolean {
  return ep.healthy && ep.ejectedUntil <= now;
}
