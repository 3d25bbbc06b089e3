// The runtime state of one upstream endpoint that the balancer, outlier
// detection, active health checks and circuit breaking share. One object per
// endpoint per cluster, kept across snapshot updates while the endpoint stays.

import type { EndpointConfig } from '../compiler/snapshot.js';

export interface EndpointState {
  readonly config: EndpointConfig;
  /** `address:port`: the engine's connection pool key (made once, not per request). */
  readonly poolKey: string;
  /** The workload its instance belongs to (for telemetry), made once. */
  readonly workload: string;
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
  return { config, poolKey: `${config.address}:${config.port}`, workload: workloadOfInstance(config.instance), active: 0, healthy: true, ejectedUntil: 0, ejections: 0 };
}

/** Usable for new requests at `now`. */
export function isAvailable(ep: EndpointState, now: number): boolean {
  return ep.healthy && ep.ejectedUntil <= now;
}

/** `ns/bookstore-v1-0` → `bookstore-v1` (local-mode instance names are `<workload>-<index>`). */
export function workloadOfInstance(instance: string): string {
  const name = instance.slice(instance.indexOf('/') + 1);
  const dash = name.lastIndexOf('-');
  return dash > 0 && /^\d+$/.test(name.slice(dash + 1)) ? name.slice(0, dash) : name;
}
