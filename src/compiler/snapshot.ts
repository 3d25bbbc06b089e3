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
}

/** One HTTP match, compiled from an SMI HTTPRouteGroup match. Regexes are full-match RE2 patterns. */
export interface HttpMatchConfig {
  /** `<namespace>/<group>/<match>`, for explanations and metrics. */
  name: string;
  /** Anchored pattern (`^(?:...)$`); undefined = any path. */
  pathRegex?: string;
  /** Upper-case; empty = any method. */
  methods: string[];
  /** [lower-case header name, anchored value pattern]. */
  headers: [string, string][];
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
}

export interface WeightedCluster {
  cluster: string;
  weight: number;
}

export type RouteAction =
  | { kind: 'clusters'; clusters: WeightedCluster[] }
  /** Answer locally (e.g. 503 when a split has no usable backend). */
  | { kind: 'respond'; status: number; body: string };

export interface RouteConfig {
  /** e.g. `split:bookstore/bookstore-split` or `default`. */
  name: string;
  /** Any of these matches selects the route; undefined = every request. */
  matches?: HttpMatchConfig[];
  action: RouteAction;
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
}

export interface Snapshot {
  /** Content hash of everything else; equal versions are equal snapshots. */
  version: string;
  node: ProxyNode;
  mesh: MeshSettings;
  inbound: InboundListener[];
  outbound: OutboundConfig;
  clusters: ClusterConfig[];
}
