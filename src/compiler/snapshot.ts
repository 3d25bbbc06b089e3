// The compiled, immutable configuration of one proxy. The compiler produces it
// from resources and the catalog; the control plane pushes it; the proxy only
// executes it. Its shape follows Envoy's listener → route → cluster → endpoint.
// Everything here is plain JSON so it can be hashed, diffed and sent as is.

export type Protocol = 'http' | 'tcp';

export interface ProxyNode {
  /** Unique proxy id, e.g. `bookstore/bookstore-v1-0`. */
  id: string;
  namespace: string;
  workload: string;
  serviceAccount: string;
  /** SPIFFE ID of the proxy's identity. */
  identity: string;
  zone?: string;
}

export interface MeshSettings {
  trustDomain: string;
  mtlsMode: 'STRICT' | 'PERMISSIVE';
  accessMode: 'deny' | 'permissive';
  /** Always set by the compiler; absent = tracing off. */
  tracing?: TracingSettings;
  /** Always set by the compiler; absent = access logs off. */
  accessLog?: AccessLogSettings;
}

/** MeshConfig `spec.tracing`, as proxies use it (docs/observability.md). */
export interface TracingSettings {
  /** 0–100: share of new traces recorded; incoming sampling decisions are kept. */
  samplingPercent: number;
  /** Full collector URLs (the default path filled in). */
  zipkinUrl?: string;
  otlpUrl?: string;
}

/** MeshConfig `spec.accessLog`. */
export interface AccessLogSettings {
  enabled: boolean;
  /** Absolute path every proxy also appends to. */
  file?: string;
}

/**
 * One HTTP match, compiled from an SMI HTTPRouteGroup match or a Gateway API
 * HTTPRouteMatch (one engine for both). Every present condition must hold.
 * Regexes are full-match RE2 patterns.
 */
export interface HttpMatchConfig {
  /** `<namespace>/<group>/<match>` or `<namespace>/<route>/<rule>/<match>`, for explanations and metrics. */
  name: string;
  /** Anchored pattern (`^(?:...)$`); undefined = any path. */
  pathRegex?: string;
  /** Gateway API Exact: the path (without query) equals this. */
  pathExact?: string;
  /** Gateway API PathPrefix, without a trailing `/` (`/` itself becomes ''): whole segments only. */
  pathPrefix?: string;
  /** Upper-case; empty = any method. */
  methods: string[];
  /** [lower-case header name, anchored value pattern]. */
  headers: [string, string][];
  /** [lower-case header name, exact value]. */
  headersExact?: [string, string][];
  /** [name, 'exact' | 'regex', value or anchored pattern]; names and values case-sensitive. */
  query?: [string, 'exact' | 'regex', string][];
}

export type AuthzAllow =
  | { kind: 'http'; match: HttpMatchConfig }
  /** A TCPRoute: the listed destination ports (empty = all), for any protocol. */
  | { kind: 'tcp'; route: string; ports: number[] };

export interface AuthzRule {
  /** `<namespace>/<name>` of the TrafficTarget. */
  target: string;
  /** SPIFFE IDs allowed as sources. */
  sources: string[];
  /** TrafficTarget destination.port, when given: only this app port. */
  port?: number;
  allow: AuthzAllow[];
}

export interface AuthzPolicy {
  /** deny: only what a rule allows passes; permissive: everything from the mesh passes. */
  mode: 'deny' | 'permissive';
  rules: AuthzRule[];
}

export interface InboundListener {
  /** `inbound|<appPort>`. */
  name: string;
  /** Port the sidecar's mTLS listener binds. */
  port: number;
  /** Local app port traffic is forwarded to. */
  appPort: number;
  protocol: Protocol;
  /** Services (`ns/name:port`) whose targetPort lands here, for logs and metrics. */
  services: string[];
  authz: AuthzPolicy;
  rateLimits?: RateLimitConfig[];
}

/** Header edits in order: set (replace), add (append with `,`), remove. Names lower-case. */
export interface HeaderEditsConfig {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
}

export type PathModifierConfig = { kind: 'full'; path: string } | { kind: 'prefix'; prefix: string };

export interface RouteFiltersConfig {
  requestHeaders?: HeaderEditsConfig;
  responseHeaders?: HeaderEditsConfig;
  /** URLRewrite. A prefix rewrite replaces the matched match's `pathPrefix`. */
  rewrite?: { hostname?: string; path?: PathModifierConfig };
  /** Copies of the request, fire and forget. */
  mirrors?: { cluster: string; percent: number }[];
}

export interface WeightedCluster {
  /** '' with `invalid` set: the share of requests meant for an invalid backend, answered 500 (Gateway API). */
  cluster: string;
  weight: number;
  invalid?: string;
  /** Backend-level filters (Gateway API backendRefs[].filters). */
  filters?: RouteFiltersConfig;
}

export type RouteAction =
  | { kind: 'clusters'; clusters: WeightedCluster[] }
  /** Answer locally (e.g. 503 when a split has no usable backend). */
  | { kind: 'respond'; status: number; body: string }
  /** Gateway API RequestRedirect; absent parts keep the request's. */
  | { kind: 'redirect'; status: number; scheme?: string; hostname?: string; port?: number; path?: PathModifierConfig };

export interface RouteConfig {
  /** e.g. `split:bookstore/bookstore-split`, `httproute:ns/name/0` or `default`. */
  name: string;
  /** Any of these matches selects the route; undefined = every request. */
  matches?: HttpMatchConfig[];
  action: RouteAction;
  filters?: RouteFiltersConfig;
  /** Gateway API rule timeouts, milliseconds; 0 = none. */
  timeouts?: { requestMs?: number; backendRequestMs?: number };
}

/** Retries as the client sidecar runs them (TrafficPolicy.retries). */
export interface RetryConfig {
  attempts: number;
  perTryTimeoutMs?: number;
  /** 5xx, gateway-error, reset, connect-failure, retriable-status-codes. */
  retryOn: string[];
  retriableStatusCodes: number[];
  baseIntervalMs: number;
  maxIntervalMs: number;
  retryNonIdempotent: boolean;
  budgetPercent: number;
  minRetriesPerSecond: number;
}

export interface FaultConfig {
  match?: HttpMatchConfig;
  abort?: { status: number; percentage: number };
  delay?: { delayMs: number; percentage: number };
}

/** Client-side policy for calls to one Service port (TrafficPolicy, FaultInjection). */
export interface VirtualHostPolicy {
  /** `<namespace>/<name>` of the policies that apply, for config dumps. */
  sources: string[];
  requestTimeoutMs?: number;
  retries?: RetryConfig;
  faults?: FaultConfig[];
}

/** Calls addressed to one Service port. */
export interface VirtualHost {
  /** `<namespace>/<service>:<port>`. */
  name: string;
  service: string;
  namespace: string;
  port: number;
  protocol: Protocol;
  /**
   * Host header values that select this virtual host (lower-case, with and
   * without `:port`), namespace-qualified. A proxy also accepts the bare
   * `<service>[:port]` for virtual hosts of its own namespace.
   */
  domains: string[];
  /** First match wins. TCP virtual hosts use only the last route's action (connection-level split). */
  routes: RouteConfig[];
  /**
   * GAMMA consumer routes: HTTPRoutes in a client's namespace (other than the
   * Service's) replace `routes` for clients of that namespace only.
   */
  consumerRoutes?: Record<string, RouteConfig[]>;
  policy?: VirtualHostPolicy;
}

export interface UpstreamListener {
  /** Local port the sidecar binds for this explicit upstream. */
  port: number;
  /** Name of the VirtualHost this port sends to. */
  virtualHost: string;
}

export interface OutboundConfig {
  /** The HTTP proxy listener the app reaches through HTTP_PROXY. */
  httpPort: number;
  virtualHosts: VirtualHost[];
  upstreams: UpstreamListener[];
}

export interface EndpointConfig {
  /** Sidecar inbound address of the instance. */
  address: string;
  port: number;
  /** SPIFFE ID the endpoint's certificate must carry. */
  identity: string;
  zone?: string;
  /** WorkloadInstance `<namespace>/<name>`. */
  instance: string;
}

export interface ClusterConfig {
  /** `<namespace>/<service>:<port>`. */
  name: string;
  service: string;
  namespace: string;
  port: number;
  protocol: Protocol;
  /** Ready endpoints only. */
  endpoints: EndpointConfig[];
  policy?: ClusterPolicy;
}

export interface LoadBalancerConfig {
  type: 'RoundRobin' | 'LeastRequest' | 'Random' | 'RingHash' | 'Maglev';
  hashOn?: { header: string } | { cookie: { name: string; ttlMs?: number; path?: string } } | { sourceIdentity: true };
  ringSize?: number;
  locality?: { minHealthyPercent: number };
}

/** Client-side policy for one Service port's endpoints (TrafficPolicy). */
export interface ClusterPolicy {
  sources: string[];
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  circuitBreaker?: { maxConnections?: number; maxPendingRequests?: number; maxRequests?: number; maxRetries?: number };
  outlierDetection?: {
    consecutive5xx?: number;
    consecutiveGatewayErrors?: number;
    intervalMs: number;
    baseEjectionTimeMs: number;
    maxEjectionPercent: number;
  };
  loadBalancer?: LoadBalancerConfig;
  healthCheck?: {
    type: 'http' | 'tcp';
    path: string;
    intervalMs: number;
    timeoutMs: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    expectedStatuses?: number[];
  };
}

/** Server-side local rate limit (TrafficPolicy.rateLimit), enforced by each instance's inbound listener. */
export interface RateLimitConfig {
  /** `<namespace>/<policy>`. */
  name: string;
  /** Service `ns/name` it protects. */
  service: string;
  tokensPerSecond: number;
  burst: number;
  perSource: boolean;
  /** HTTP only: limit requests matching any of these; empty = all. */
  matches: HttpMatchConfig[];
}

/** One listener of a Gateway the proxy serves (ingress). */
export interface GatewayListenerConfig {
  /** `<namespace>/<gateway>/<listener>`. */
  name: string;
  /** Port to bind (on the instance's address). Listeners of one Gateway may share a port (different hostnames). */
  port: number;
  protocol: 'http' | 'https';
  /** The listener's hostname (HTTPS: chooses the certificate by SNI); undefined = any. */
  hostname?: string;
  /** HTTPS: PEM material from a Secret, or files the proxy reads itself. */
  tls?: { certPem: string; keyPem: string } | { certFile: string; keyFile: string };
  /**
   * Routes by request host: the exact host first, then the longest matching
   * wildcard (`*.example.com`), then `*` (any host). Each virtual host's
   * `domains` holds exactly one such pattern; routes are in precedence order.
   */
  virtualHosts: VirtualHost[];
}

export interface GatewayConfig {
  /** `<namespace>/<gateway>`. */
  name: string;
  listeners: GatewayListenerConfig[];
}

export interface Snapshot {
  /** Content hash of everything else; equal versions are equal snapshots. */
  version: string;
  node: ProxyNode;
  mesh: MeshSettings;
  inbound: InboundListener[];
  outbound: OutboundConfig;
  clusters: ClusterConfig[];
  /** Set when the proxy is a gateway (ingress) instead of a sidecar. */
  gateway?: GatewayConfig;
}
