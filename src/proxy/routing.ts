// The outbound routing table, built once per snapshot: Host → virtual host,
// precompiled route matchers, cumulative weights for splits, and endpoint
// round-robin state per cluster. The request path only reads it.

import type { ClusterConfig, EndpointConfig, Snapshot, VirtualHost } from '../compiler/snapshot.js';
import { compileMatcher, type RequestHead, type RequestMatcher } from './http-match.js';

export interface RuntimeCluster {
  readonly config: ClusterConfig;
  readonly endpoints: readonly EndpointConfig[];
  next: number;
}

export interface RuntimeRoute {
  readonly name: string;
  readonly matchers?: readonly RequestMatcher[];
  readonly respond?: { status: number; body: string };
  readonly clusters: readonly RuntimeCluster[];
  /** Cumulative weights, parallel to `clusters`. */
  readonly cumulative: readonly number[];
  readonly totalWeight: number;
}

export interface RuntimeVirtualHost {
  readonly config: VirtualHost;
  readonly routes: readonly RuntimeRoute[];
}

export interface RoutingTable {
  readonly byDomain: ReadonlyMap<string, RuntimeVirtualHost>;
  readonly byName: ReadonlyMap<string, RuntimeVirtualHost>;
  readonly clusters: ReadonlyMap<string, RuntimeCluster>;
}

export function buildRoutingTable(snapshot: Snapshot, previous?: RoutingTable): RoutingTable {
  const clusters = new Map<string, RuntimeCluster>();
  for (const c of snapshot.clusters) {
    // Keep the round-robin position across updates so a config push does not reset balance.
    clusters.set(c.name, { config: c, endpoints: c.endpoints, next: previous?.clusters.get(c.name)?.next ?? 0 });
  }
  const byDomain = new Map<string, RuntimeVirtualHost>();
  const byName = new Map<string, RuntimeVirtualHost>();
  for (const vh of snapshot.outbound.virtualHosts) {
    const routes = vh.routes.map((r): RuntimeRoute => {
      const matchers = r.matches?.map(compileMatcher);
      if (r.action.kind === 'respond') {
        return { name: r.name, matchers, respond: { status: r.action.status, body: r.action.body }, clusters: [], cumulative: [], totalWeight: 0 };
      }
      const rc: RuntimeCluster[] = [];
      const cumulative: number[] = [];
      let total = 0;
      for (const wc of r.action.clusters) {
        const c = clusters.get(wc.cluster);
        if (!c) throw new Error(`route ${vh.name}/${r.name} refers to unknown cluster ${wc.cluster}`);
        total += wc.weight;
        rc.push(c);
        cumulative.push(total);
      }
      return { name: r.name, matchers, clusters: rc, cumulative, totalWeight: total };
    });
    const rvh: RuntimeVirtualHost = { config: vh, routes };
    byName.set(vh.name, rvh);
    for (const d of vh.domains) byDomain.set(d, rvh);
    // The bare service name reaches services of the proxy's own namespace (the DNS search path).
    if (vh.namespace === snapshot.node.namespace) {
      byDomain.set(`${vh.service}:${vh.port}`, rvh);
      if (vh.port === 80) byDomain.set(vh.service, rvh);
    }
  }
  return { byDomain, byName, clusters };
}

export function selectRoute(vh: RuntimeVirtualHost, req: RequestHead, path: string): RuntimeRoute | undefined {
  for (const r of vh.routes) {
    if (!r.matchers) return r;
    for (const m of r.matchers) if (m(req, path)) return r;
  }
  return undefined;
}

/** Weighted random choice among the route's clusters. */
export function pickCluster(route: RuntimeRoute): RuntimeCluster | undefined {
  const n = route.clusters.length;
  if (n === 1) return route.clusters[0];
  if (n === 0 || route.totalWeight <= 0) return undefined;
  const x = Math.random() * route.totalWeight;
  for (let i = 0; i < n; i++) if (x < route.cumulative[i]!) return route.clusters[i];
  return route.clusters[n - 1];
}

/** Round robin over the cluster's endpoints. */
export function pickEndpoint(cluster: RuntimeCluster): EndpointConfig | undefined {
  const eps = cluster.endpoints;
  if (eps.length === 0) return undefined;
  const i = cluster.next % eps.length;
  cluster.next = i + 1;
  return eps[i];
}
