// The outbound routing table, built once per snapshot: Host → virtual host,
// precompiled route matchers and filters, cumulative weights for splits, and
// per cluster the endpoint state, balancer, outlier detection, health checks
// and circuit-breaker counters. The request path only reads it (and bumps
// counters). State that must survive a config push (endpoint health and
// ejections, balancer position, retry budgets) is carried over from the
// previous table when its configuration did not change.

import type net from 'node:net';
import type {
  ClusterConfig,
  FaultConfig,
  RetryConfig,
  RouteConfig,
  RouteFiltersConfig,
  Snapshot,
  VirtualHost,
} from '../compiler/snapshot.js';
import { createBalancer, type Balancer } from './balancer.js';
import { endpointState, type EndpointState } from './endpoint-state.js';
import type { ByteStream } from './h1/byte-stream.js';
import { H1Pool } from './h1/pool.js';
import { HealthChecker, httpProbe, tcpProbe, type Probe } from './health-check.js';
import { pooledHttpProbe } from './h1/mirror.js';
import { compileMatcher, type RequestHead, type RequestMatcher } from './http-match.js';
import { buildGatewayPorts, type GatewayPort } from './gateway.js';
import { OutlierDetector } from './outlier.js';
import { RetryBudget } from './retry.js';

export interface RuntimeCluster {
  readonly config: ClusterConfig;
  readonly endpoints: readonly EndpointState[];
  readonly balancer: Balancer;
  readonly outlier?: OutlierDetector;
  /** Runs the outlier detector's interval (readmission, decay of ejection counts). */
  readonly outlierTimer?: NodeJS.Timeout;
  readonly health?: HealthChecker;
  /** Its own keep-alive pool when a circuit breaker caps connections; otherwise the shared one. */
  readonly pool?: H1Pool;
  /** Requests and retries in flight, for circuit breaking; one object shared by every table the cluster is carried into. */
  readonly load: { active: number; retrying: number };
  /** Set on the stand-in for invalid Gateway API backends: requests that land here get 500. */
  readonly invalid?: string;
}

export interface RuntimeFilters {
  readonly config: RouteFiltersConfig;
  readonly mirrors: readonly { cluster: RuntimeCluster; percent: number }[];
}

export interface RuntimeRoute {
  readonly name: string;
  readonly config: RouteConfig;
  readonly matchers?: readonly RequestMatcher[];
  readonly respond?: { status: number; body: string };
  readonly clusters: readonly RuntimeCluster[];
  /** Backend-level filters, parallel to `clusters`. */
  readonly backendFilters: readonly (RuntimeFilters | undefined)[];
  /** Cumulative weights, parallel to `clusters`. */
  readonly cumulative: readonly number[];
  readonly totalWeight: number;
  readonly filters?: RuntimeFilters;
}

export interface RuntimeFault {
  readonly config: FaultConfig;
  readonly matcher?: RequestMatcher;
}

export interface RuntimeVirtualHost {
  readonly config: VirtualHost;
  readonly routes: readonly RuntimeRoute[];
  readonly retries?: RetryConfig;
  readonly budget?: RetryBudget;
  readonly faults?: readonly RuntimeFault[];
  readonly requestTimeoutMs?: number;
}

export interface RoutingTable {
  readonly byDomain: ReadonlyMap<string, RuntimeVirtualHost>;
  readonly byName: ReadonlyMap<string, RuntimeVirtualHost>;
  readonly clusters: ReadonlyMap<string, RuntimeCluster>;
  /** Gateway proxies: host tables per listener port. */
  readonly gatewayPorts: ReadonlyMap<number, GatewayPort>;
}

export interface RoutingDeps {
  /** An mTLS connection to an endpoint (health checks). */
  connect?: (ep: EndpointState) => net.Socket | undefined;
  /** A connection for HTTP exchanges with an endpoint's sidecar (pooled health checks). */
  connectHttp?: (ep: EndpointState) => ByteStream | undefined;
  /** The keep-alive pool HTTP health checks share with traffic. */
  pool?: H1Pool;
}

const json = (v: unknown) => JSON.stringify(v ?? null);

function endpointKey(e: { instance: string; address: string; port: number }): string {
  return `${e.instance}|${e.address}:${e.port}`;
}

function buildCluster(c: ClusterConfig, prev: RuntimeCluster | undefined, localZone: string | undefined, deps: RoutingDeps): RuntimeCluster {
  const policy = c.policy;
  const prevByKey = new Map(prev?.endpoints.map((e) => [endpointKey(e.config), e]));
  const endpoints = c.endpoints.map((e) => {
    const old = prevByKey.get(endpointKey(e));
    // Keep health, ejections and in-flight counts across config pushes.
    return old && json(old.config) === json(e) ? old : Object.assign(endpointState(e), old ? { active: old.active, healthy: old.healthy, ejectedUntil: old.ejectedUntil, ejections: old.ejections } : {});
  });
  const sameEndpoints = prev !== undefined && prev.endpoints.length === endpoints.length && prev.endpoints.every((e, i) => e === endpoints[i]);
  const sameLb = prev !== undefined && json(prev.config.policy?.loadBalancer) === json(policy?.loadBalancer);
  const balancer = sameEndpoints && sameLb ? prev!.balancer : createBalancer(endpoints, policy?.loadBalancer, localZone);

  let outlier: OutlierDetector | undefined;
  let outlierTimer: NodeJS.Timeout | undefined;
  const od = policy?.outlierDetection;
  if (od) {
    if (prev?.outlier && json(prev.config.policy?.outlierDetection) === json(od)) {
      outlier = prev.outlier;
      outlierTimer = prev.outlierTimer;
    } else {
      const detector = new OutlierDetector(od, () => current.endpoints);
      outlier = detector;
      outlierTimer = setInterval(() => detector.tick(Date.now()), od.intervalMs);
      outlierTimer.unref();
    }
  }

  let health: HealthChecker | undefined;
  const hc = policy?.healthCheck;
  if (hc && deps.connect) {
    if (prev?.health && json(prev.config.policy?.healthCheck) === json(hc)) health = prev.health;
    else {
      const connect = (ep: EndpointState) => {
        const s = deps.connect!(ep);
        if (!s) throw new Error('no workload certificate yet');
        return s;
      };
      const connectHttp = (ep: EndpointState) => {
        const s = (deps.connectHttp ?? deps.connect)!(ep);
        if (!s) throw new Error('no workload certificate yet');
        return s;
      };
      const host = `${c.service}.${c.namespace}:${c.port}`;
      const expected = hc.expectedStatuses ? new Set(hc.expectedStatuses) : undefined;
      const sharedPool = deps.pool;
      const probe: Probe =
        hc.type === 'tcp'
          ? tcpProbe(connect)
          : sharedPool
            ? (ep, timeoutMs) =>
                pooledHttpProbe(
                  { pool: current.pool ?? sharedPool, key: ep.poolKey, connect: () => connectHttp(ep) },
                  hc.path,
                  host,
                  timeoutMs,
                  (status) => (expected ? expected.has(status) : status >= 200 && status < 400),
                )
            : httpProbe(connect, hc.path, () => host, hc.expectedStatuses);
      health = new HealthChecker(hc, probe);
    }
    health.setEndpoints(endpoints);
  }

  const cb = policy?.circuitBreaker;
  let pool: H1Pool | undefined;
  // Its own pool when the breaker caps connections or the policy sets how long idle ones live.
  if ((cb && (cb.maxConnections !== undefined || cb.maxPendingRequests !== undefined)) || policy?.idleTimeoutMs !== undefined) {
    const n = Math.max(1, endpoints.length);
    const limits = {
      // Below the peer's keep-alive timeout (60 s), so a reused connection is rarely one it is closing.
      idleTimeoutMs: policy?.idleTimeoutMs ? Math.min(policy.idleTimeoutMs, 55_000) : 30_000,
      // Envoy caps these per cluster; Trellis splits them evenly across endpoints (docs/traffic-management.md).
      maxConnections: cb?.maxConnections !== undefined ? Math.max(1, Math.ceil(cb.maxConnections / n)) : 256,
      maxPending: cb?.maxPendingRequests !== undefined ? Math.ceil(cb.maxPendingRequests / n) : 4096,
    };
    pool =
      prev?.pool && json(prev.config.policy?.circuitBreaker) === json(cb) && prev.config.policy?.idleTimeoutMs === policy?.idleTimeoutMs && prev.endpoints.length === endpoints.length
        ? prev.pool
        : new H1Pool(limits);
  }

  const current: RuntimeCluster = {
    config: c,
    endpoints,
    balancer,
    ...(outlier ? { outlier } : {}),
    ...(outlierTimer ? { outlierTimer } : {}),
    ...(health ? { health } : {}),
    ...(pool ? { pool } : {}),
    load: prev?.load ?? { active: 0, retrying: 0 },
  };
  return current;
}

function invalidCluster(reason: string): RuntimeCluster {
  return {
    config: { name: '', service: '', namespace: '', port: 0, protocol: 'http', endpoints: [] },
    endpoints: [],
    balancer: { pick: () => undefined },
    load: { active: 0, retrying: 0 },
    invalid: reason,
  };
}

function runtimeFilters(f: RouteFiltersConfig | undefined, clusters: ReadonlyMap<string, RuntimeCluster>, where: string): RuntimeFilters | undefined {
  if (!f) return undefined;
  const mirrors = (f.mirrors ?? []).map((m) => {
    const cluster = clusters.get(m.cluster);
    if (!cluster) throw new Error(`${where} mirrors to unknown cluster ${m.cluster}`);
    return { cluster, percent: m.percent };
  });
  return { config: f, mirrors };
}

function buildRoute(vh: VirtualHost, r: RouteConfig, clusters: ReadonlyMap<string, RuntimeCluster>): RuntimeRoute {
  const matchers = r.matches?.map(compileMatcher);
  const where = `route ${vh.name}/${r.name}`;
  const filters = runtimeFilters(r.filters, clusters, where);
  const base = { name: r.name, config: r, ...(matchers ? { matchers } : {}), ...(filters ? { filters } : {}) };
  if (r.action.kind !== 'clusters') {
    const respond = r.action.kind === 'respond' ? { status: r.action.status, body: r.action.body } : undefined;
    return { ...base, ...(respond ? { respond } : {}), clusters: [], backendFilters: [], cumulative: [], totalWeight: 0 };
  }
  const rc: RuntimeCluster[] = [];
  const bf: (RuntimeFilters | undefined)[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (const wc of r.action.clusters) {
    let c: RuntimeCluster | undefined;
    if (wc.cluster === '' && wc.invalid !== undefined) c = invalidCluster(wc.invalid);
    else c = clusters.get(wc.cluster);
    if (!c) throw new Error(`${where} refers to unknown cluster ${wc.cluster}`);
    total += wc.weight;
    rc.push(c);
    bf.push(runtimeFilters(wc.filters, clusters, where));
    cumulative.push(total);
  }
  return { ...base, clusters: rc, backendFilters: bf, cumulative, totalWeight: total };
}

function buildVirtualHost(vh: VirtualHost, namespace: string, clusters: ReadonlyMap<string, RuntimeCluster>, prev: RuntimeVirtualHost | undefined): RuntimeVirtualHost {
  // GAMMA consumer routes of the proxy's own namespace replace the Service's own routes.
  const configs = vh.consumerRoutes?.[namespace] ?? vh.routes;
  const routes = configs.map((r) => buildRoute(vh, r, clusters));
  const p = vh.policy;
  const out: { -readonly [K in keyof RuntimeVirtualHost]: RuntimeVirtualHost[K] } = { config: vh, routes };
  if (p?.retries) {
    out.retries = p.retries;
    out.budget =
      prev?.budget && json(prev.retries) === json(p.retries) ? prev.budget : new RetryBudget(p.retries.budgetPercent, p.retries.minRetriesPerSecond);
  }
  if (p?.faults) out.faults = p.faults.map((f) => ({ config: f, ...(f.match ? { matcher: compileMatcher(f.match) } : {}) }));
  if (p?.requestTimeoutMs !== undefined) out.requestTimeoutMs = p.requestTimeoutMs;
  return out;
}

/**
 * Builds the table for a snapshot. Health checkers of clusters that went away
 * or changed are stopped: the previous table must not be used after this.
 */
export function buildRoutingTable(snapshot: Snapshot, previous?: RoutingTable, deps: RoutingDeps = {}): RoutingTable {
  const clusters = new Map<string, RuntimeCluster>();
  for (const c of snapshot.clusters) clusters.set(c.name, buildCluster(c, previous?.clusters.get(c.name), snapshot.node.zone, deps));
  const byDomain = new Map<string, RuntimeVirtualHost>();
  const byName = new Map<string, RuntimeVirtualHost>();
  for (const vh of snapshot.outbound.virtualHosts) {
    const rvh = buildVirtualHost(vh, snapshot.node.namespace, clusters, previous?.byName.get(vh.name));
    byName.set(vh.name, rvh);
    for (const d of vh.domains) byDomain.set(d, rvh);
    // The bare service name reaches services of the proxy's own namespace (the DNS search path).
    if (vh.namespace === snapshot.node.namespace) {
      byDomain.set(`${vh.service}:${vh.port}`, rvh);
      if (vh.port === 80) byDomain.set(vh.service, rvh);
    }
  }
  const gatewayPorts = buildGatewayPorts(snapshot, (vh) => buildVirtualHost(vh, snapshot.node.namespace, clusters, undefined));
  if (previous) {
    for (const [name, old] of previous.clusters) {
      const next = clusters.get(name);
      if (old.health && next?.health !== old.health) old.health.stop();
      if (old.outlierTimer && next?.outlierTimer !== old.outlierTimer) clearInterval(old.outlierTimer);
    }
  }
  return { byDomain, byName, clusters, gatewayPorts };
}

/** Stops everything a table runs in the background (health checks). */
export function disposeRoutingTable(table: RoutingTable): void {
  for (const c of table.clusters.values()) {
    c.health?.stop();
    if (c.outlierTimer) clearInterval(c.outlierTimer);
  }
}

export interface SelectedRoute {
  route: RuntimeRoute;
  /** Index of the match that selected it (URLRewrite of a prefix needs it). */
  match: number;
}

export function selectRoute(vh: RuntimeVirtualHost, req: RequestHead, path: string): RuntimeRoute | undefined {
  return selectRouteMatch(vh, req, path)?.route;
}

export function selectRouteMatch(vh: RuntimeVirtualHost, req: RequestHead, path: string): SelectedRoute | undefined {
  for (const r of vh.routes) {
    if (!r.matchers) return { route: r, match: -1 };
    for (let i = 0; i < r.matchers.length; i++) if (r.matchers[i]!(req, path)) return { route: r, match: i };
  }
  return undefined;
}

/** Weighted random choice among the route's clusters; returns the index. */
export function pickClusterIndex(route: RuntimeRoute, random = Math.random): number {
  const n = route.clusters.length;
  if (n === 1) return 0;
  if (n === 0 || route.totalWeight <= 0) return -1;
  const x = random() * route.totalWeight;
  for (let i = 0; i < n; i++) if (x < route.cumulative[i]!) return i;
  return n - 1;
}

export function pickCluster(route: RuntimeRoute): RuntimeCluster | undefined {
  const i = pickClusterIndex(route);
  return i < 0 ? undefined : route.clusters[i];
}

// One context object for every pick: picks are synchronous, and the request path allocates less.
const pickContext: { now: number; hashKey?: string; tried?: ReadonlySet<EndpointState> } = { now: 0 };

/** The balancer's choice among the cluster's endpoints. */
export function pickEndpoint(cluster: RuntimeCluster, hashKey?: string, tried?: ReadonlySet<EndpointState>, now = Date.now()): EndpointState | undefined {
  pickContext.now = now;
  pickContext.hashKey = hashKey;
  pickContext.tried = tried;
  return cluster.balancer.pick(pickContext);
}

