// Canonical, version-independent forms of every resource Trellis understands.
// Parsers in this folder accept every supported apiVersion and normalise into
// these shapes; everything downstream (store, compiler, CLI) reads only these.

/** Where a document came from, for error messages and `get -o yaml`. */
export interface SourceLocation {
  file: string;
  /** 0-based index of the document inside the file. */
  document: number;
  /** 1-based line of the document's first line. */
  line: number;
}

export interface ObjectMeta {
  name: string;
  /** '' for cluster-scoped kinds (Namespace, MeshConfig). */
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Set by the store: revision of the last change to this object. */
  resourceVersion?: string;
  /** Set by the store on first write. */
  uid?: string;
  /** Set by the store on first write (RFC 3339); Gateway API uses it to order routes. */
  creationTimestamp?: string;
  /** Set by the store: bumped whenever spec changes. */
  generation?: number;
}

export interface ResourceBase<K extends string, S> {
  /** The apiVersion the user wrote (kept for display; the spec is canonical). */
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: unknown;
  source?: SourceLocation;
}

// ---- core/v1 -------------------------------------------------------------

export type NamespaceResource = ResourceBase<'Namespace', Record<string, never>>;
export type ServiceAccountResource = ResourceBase<'ServiceAccount', Record<string, never>>;

/** Application protocol of a Service port, as the mesh treats it. */
export type AppProtocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface ServicePort {
  name?: string;
  port: number;
  /** A number, or the name of a Workload/container port. Defaults to `port`. */
  targetPort: number | string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** From appProtocol, else from the port name prefix (`http-`, `tcp-`, `grpc-`), else http. */
  appProtocol: AppProtocol;
}

export interface ServiceSpec {
  selector: Record<string, string>;
  ports: ServicePort[];
  clusterIP?: string;
}
export type ServiceResource = ResourceBase<'Service', ServiceSpec>;

// ---- trellis.dev/v1alpha1 --------------------------------------------------

export interface WorkloadPort {
  name: string;
  /** Fixed port in local process mode; omitted = the runner assigns one per instance. */
  port?: number;
  protocol?: 'TCP' | 'UDP';
}

export interface WorkloadUpstream {
  /** Service name. */
  service: string;
  /** Service namespace; defaults to the Workload's namespace. */
  namespace: string;
  /** Service port. */
  port: number;
  /** Local port the sidecar listens on for this upstream; omitted = assigned. */
  localPort?: number;
}

export interface WorkloadSpec {
  command: string[];
  env: Record<string, string>;
  replicas: number;
  serviceAccountName: string;
  ports: WorkloadPort[];
  zone?: string;
  upstreams: WorkloadUpstream[];
  /** Working directory, relative to the manifest's folder. */
  workingDir?: string;
}
export type WorkloadResource = ResourceBase<'Workload', WorkloadSpec>;

export interface MeshConfigSpec {
  mtls: { mode: 'STRICT' | 'PERMISSIVE' };
  access: { mode: 'deny' | 'permissive' };
  certificates: {
    /** Lifetime of proxy certificates, milliseconds. */
    lifetimeMs: number;
    /** Rotate when this fraction of the lifetime has passed (0 < x < 1). */
    rotateAt: number;
  };
  trustDomain: string;
  /** Distributed tracing (docs/observability.md). */
  tracing: {
    /** Share of new traces (requests arriving without a sampling decision) that are recorded, 0–100. */
    samplingPercent: number;
    /** Zipkin v2 JSON collector; a URL without a path gets /api/v2/spans. */
    zipkin?: { url: string };
    /** OTLP/HTTP JSON collector; a URL without a path gets /v1/traces. */
    otlp?: { url: string };
  };
  /** One JSON line per request or connection, by every proxy. */
  accessLog: {
    enabled: boolean;
    /** Absolute path every proxy also appends its lines to. */
    file?: string;
  };
}
export type MeshConfigResource = ResourceBase<'MeshConfig', MeshConfigSpec>;

// ---- access.smi-spec.io ----------------------------------------------------

export interface IdentityBinding {
  kind: 'ServiceAccount';
  name: string;
  namespace: string;
}

export interface TrafficTargetRule {
  kind: 'HTTPRouteGroup' | 'TCPRoute' | 'UDPRoute';
  name: string;
  /** Names of matches in the referenced HTTPRouteGroup; undefined = all of them. */
  matches?: string[];
}

export interface TrafficTargetSpec {
  destination: IdentityBinding & { port?: number };
  rules: TrafficTargetRule[];
  sources: IdentityBinding[];
}
export type TrafficTargetResource = ResourceBase<'TrafficTarget', TrafficTargetSpec>;

// ---- specs.smi-spec.io -----------------------------------------------------

export interface HTTPMatch {
  name: string;
  /** Regular expression over the path (RE2 syntax; anchoring: docs/smi.md). */
  pathRegex?: string;
  /** Upper-case method names; ['*'] or [] = any method. */
  methods: string[];
  /** Header name (lower-case) → value regular expression. */
  headers: Record<string, string>;
}
export interface HTTPRouteGroupSpec {
  matches: HTTPMatch[];
}
export type HTTPRouteGroupResource = ResourceBase<'HTTPRouteGroup', HTTPRouteGroupSpec>;

export interface TCPRouteSpec {
  /** Allowed destination ports; empty = every port. */
  ports: number[];
}
export type TCPRouteResource = ResourceBase<'TCPRoute', TCPRouteSpec>;
export type UDPRouteResource = ResourceBase<'UDPRoute', TCPRouteSpec>;

// ---- split.smi-spec.io -----------------------------------------------------

export interface TrafficSplitBackend {
  /** Service name in the TrafficSplit's namespace. */
  service: string;
  /** Relative integer weight (v1alpha1 quantities are converted: `500m` → 500, `1` → 1000). */
  weight: number;
}
export interface TrafficSplitSpec {
  /** Root service name (an FQDN such as `bookstore.bookstore` is reduced to `bookstore`). */
  service: string;
  backends: TrafficSplitBackend[];
  /** v1alpha3+: HTTPRouteGroup (or TCPRoute) references for A/B routing. */
  matches: { kind: 'HTTPRouteGroup' | 'TCPRoute'; name: string }[];
}
export type TrafficSplitResource = ResourceBase<'TrafficSplit', TrafficSplitSpec>;

// ---- gateway.networking.k8s.io (HTTPRoute) --------------------------------

/** A route's parent: a Service (GAMMA, mesh routing) or a Gateway (ingress). */
export interface ParentReference {
  /** '' for the core group (Service); `gateway.networking.k8s.io` for Gateway. */
  group: string;
  kind: 'Service' | 'Gateway';
  /** Defaults to the route's namespace. */
  namespace: string;
  name: string;
  port?: number;
  sectionName?: string;
}

export type StringMatchType = 'Exact' | 'RegularExpression';

export interface HTTPPathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  /** Exact/PathPrefix values start with `/`; regexes are RE2, matched against the whole path. */
  value: string;
}

export interface HTTPHeaderMatch {
  type: StringMatchType;
  /** Lower-case (header names are case-insensitive). */
  name: string;
  value: string;
}

export interface HTTPQueryParamMatch {
  type: StringMatchType;
  /** Case-sensitive. */
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  /** Defaults to PathPrefix `/`. */
  path: HTTPPathMatch;
  headers: HTTPHeaderMatch[];
  queryParams: HTTPQueryParamMatch[];
  /** Upper-case; undefined = any method. */
  method?: string;
}

export interface HTTPHeaderEdits {
  /** Header names as written (compared case-insensitively). */
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

export type HTTPPathModifier =
  | { type: 'ReplaceFullPath'; replaceFullPath: string }
  | { type: 'ReplacePrefixMatch'; replacePrefixMatch: string };

/** A reference to a backend (a Service port). */
export interface BackendObjectReference {
  /** '' for core Services; other groups/kinds are kept so the compiler can report InvalidKind. */
  group: string;
  kind: string;
  /** Defaults to the route's namespace. */
  namespace: string;
  name: string;
  port?: number;
}

export type HTTPRouteFilter =
  | ({ type: 'RequestHeaderModifier' } & HTTPHeaderEdits)
  | ({ type: 'ResponseHeaderModifier' } & HTTPHeaderEdits)
  | {
      type: 'RequestRedirect';
      scheme?: 'http' | 'https';
      hostname?: string;
      path?: HTTPPathModifier;
      port?: number;
      /** 301, 302 (default), 303, 307 or 308. */
      statusCode: number;
    }
  | { type: 'URLRewrite'; hostname?: string; path?: HTTPPathModifier }
  /** Fire and forget; `percent` (0–100, fractions allowed) of requests are copied, default 100. */
  | { type: 'RequestMirror'; backendRef: BackendObjectReference; percent: number };

export interface HTTPBackendRef extends BackendObjectReference {
  /** Relative weight, default 1; 0 receives nothing. */
  weight: number;
  filters: HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  name?: string;
  /** ORed; defaults to one match: PathPrefix `/`. */
  matches: HTTPRouteMatch[];
  filters: HTTPRouteFilter[];
  backendRefs: HTTPBackendRef[];
  /** Milliseconds; 0 disables the timeout; undefined = the mesh default. */
  timeouts?: { requestMs?: number; backendRequestMs?: number };
}

export interface HTTPRouteSpec {
  parentRefs: ParentReference[];
  /** Lower-case; may start with `*.`; empty = any. */
  hostnames: string[];
  rules: HTTPRouteRule[];
}
export type HTTPRouteResource = ResourceBase<'HTTPRoute', HTTPRouteSpec>;

// ---- gateway.networking.k8s.io (Gateway, GatewayClass) and core Secret -----

export interface GatewayClassSpec {
  /** Trellis accepts classes whose controllerName is `trellis.dev/gateway-controller`. */
  controllerName: string;
  description?: string;
}
export type GatewayClassResource = ResourceBase<'GatewayClass', GatewayClassSpec>;

export interface SecretObjectReference {
  group: string;
  /** `Secret` (core) is the only kind Trellis resolves; others are kept for status (InvalidCertificateRef). */
  kind: string;
  namespace: string;
  name: string;
}

export interface GatewayTLSConfig {
  mode: 'Terminate' | 'Passthrough';
  certificateRefs: SecretObjectReference[];
  /**
   * Implementation-specific options. Trellis reads `trellis.dev/cert-file` and
   * `trellis.dev/key-file` (PEM files; relative paths are relative to the
   * manifest's folder and are made absolute when the manifest is parsed).
   */
  options: Record<string, string>;
}

export interface GatewayListener {
  name: string;
  /** Lower-case; may start with `*.`; undefined = any host. */
  hostname?: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS' | 'TCP' | 'TLS';
  tls?: GatewayTLSConfig;
  allowedRoutes: {
    namespaces: { from: 'Same' | 'All' | 'Selector'; selector?: { matchLabels: Record<string, string> } };
    /** Route kinds allowed; default [HTTPRoute]. */
    kinds: { group: string; kind: string }[];
  };
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners: GatewayListener[];
  /** `spec.infrastructure.annotations["trellis.dev/service-account"]`, else the Gateway's name: the mesh identity the gateway proxy runs as. */
  serviceAccountName: string;
}
export type GatewayResource = ResourceBase<'Gateway', GatewaySpec>;

export interface SecretSpec {
  /** e.g. `kubernetes.io/tls`. */
  type: string;
  /** Decoded values (`data` is base64-decoded; `stringData` taken as is). */
  data: Record<string, string>;
}
/** core/v1 Secret; Trellis uses `kubernetes.io/tls` secrets for gateway certificates. */
export type SecretResource = ResourceBase<'Secret', SecretSpec>;

/** A Gateway API status condition, as Kubernetes users read them. */
export interface StatusCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

// ---- policy.trellis.dev/v1alpha1 -------------------------------------------

/** Gateway API policy attachment: a Service in the policy's namespace. */
export interface PolicyTargetReference {
  group: '';
  kind: 'Service';
  name: string;
}

export type RetryOn = '5xx' | 'gateway-error' | 'reset' | 'connect-failure' | 'retriable-status-codes';

export interface RetryPolicySpec {
  /** Retries after the first try (Envoy's num_retries, Istio's attempts). */
  attempts: number;
  perTryTimeoutMs?: number;
  retryOn: RetryOn[];
  /** For `retriable-status-codes`. */
  retriableStatusCodes: number[];
  backoff: { baseIntervalMs: number; maxIntervalMs: number };
  retryNonIdempotent: boolean;
  /** Retries may add at most `percent` % of the requests (over 10 s), but always `minRetriesPerSecond`. */
  budget: { percent: number; minRetriesPerSecond: number };
}

export interface CircuitBreakerSpec {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequests?: number;
  maxRetries?: number;
}

export interface OutlierDetectionSpec {
  consecutive5xx?: number;
  consecutiveGatewayErrors?: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

export type RateLimitUnit = 'second' | 'minute' | 'hour';

export interface RateLimitSpec {
  /** Requests (HTTP) or connections (TCP) per unit. */
  requestsPerUnit: number;
  unit: RateLimitUnit;
  /** Bucket size; defaults to requestsPerUnit. */
  burst: number;
  /** One bucket per source identity instead of one for all. */
  perSource: boolean;
  /** Only requests that satisfy one of these are limited (HTTP only); empty = all. */
  matches: HTTPRouteMatch[];
}

export type LoadBalancerType = 'RoundRobin' | 'LeastRequest' | 'Random' | 'RingHash' | 'Maglev';

export type HashSource =
  | { header: string }
  | { cookie: { name: string; ttlMs?: number; path?: string } }
  | { sourceIdentity: true };

export interface LoadBalancerSpec {
  type: LoadBalancerType;
  /** RingHash/Maglev only. */
  hashOn?: HashSource;
  /** RingHash: virtual nodes per endpoint (default 100). */
  ringSize?: number;
  locality?: {
    enabled: boolean;
    /** Fail over when fewer than this % of the caller's zone's endpoints are healthy (default 70). */
    minHealthyPercent: number;
  };
}

export interface HealthCheckSpec {
  type: 'http' | 'tcp';
  /** HTTP only; default `/healthz`. */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** HTTP statuses that count as healthy; default 200–399. */
  expectedStatuses?: number[];
}

export interface TrafficPolicySpec {
  targetRef: PolicyTargetReference;
  timeouts?: { requestMs?: number; idleMs?: number; connectMs?: number };
  retries?: RetryPolicySpec;
  circuitBreaker?: CircuitBreakerSpec;
  outlierDetection?: OutlierDetectionSpec;
  rateLimit?: RateLimitSpec;
  loadBalancer?: LoadBalancerSpec;
  healthCheck?: HealthCheckSpec;
}
export type TrafficPolicyResource = ResourceBase<'TrafficPolicy', TrafficPolicySpec>;

export interface FaultRule {
  /** undefined = every request. */
  match?: HTTPRouteMatch;
  abort?: { httpStatus: number; percentage: number };
  delay?: { fixedDelayMs: number; percentage: number };
}

export interface FaultInjectionSpec {
  targetRef: PolicyTargetReference;
  rules: FaultRule[];
}
export type FaultInjectionResource = ResourceBase<'FaultInjection', FaultInjectionSpec>;

// ---- internal: a running local-mode replica --------------------------------

export interface InstancePort {
  /** Workload port name. */
  name: string;
  /** Port the app listens on. */
  port: number;
  /** Port of the sidecar's inbound mTLS listener that fronts this app port. */
  inboundPort: number;
}

export interface WorkloadInstanceSpec {
  workload: string;
  index: number;
  serviceAccountName: string;
  labels: Record<string, string>;
  zone?: string;
  /** Address of the instance's sidecar (127.0.0.1 in process mode). */
  address: string;
  ports: InstancePort[];
  outboundPort: number;
  adminPort: number;
  upstreams: (WorkloadUpstream & { localPort: number })[];
  /** Both the app and the sidecar answer. */
  ready: boolean;
  /** Set for a gateway proxy instance (no app): `<namespace>/<gateway name>` of the Gateway it serves. */
  gateway?: string;
}
/** Written by the local runner (trellis.dev/v1alpha1 WorkloadInstance); the local catalog is built from these. */
export type WorkloadInstanceResource = ResourceBase<'WorkloadInstance', WorkloadInstanceSpec>;

/**
 * A document of a kind Trellis recognises but does not store in local mode:
 * Kubernetes workloads (Deployment, StatefulSet, ...) and other meshes' kinds
 * it does not translate. Parsing reports each with a warning saying what to use instead.
 */
export interface ForeignDocument {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  source: SourceLocation;
  /** What the user should do, e.g. "needs Kubernetes mode or a trellis.dev Workload". */
  advice: string;
}

export type Resource =
  | NamespaceResource
  | ServiceAccountResource
  | ServiceResource
  | WorkloadResource
  | MeshConfigResource
  | TrafficTargetResource
  | HTTPRouteGroupResource
  | TCPRouteResource
  | UDPRouteResource
  | TrafficSplitResource
  | HTTPRouteResource
  | GatewayClassResource
  | GatewayResource
  | SecretResource
  | TrafficPolicyResource
  | FaultInjectionResource
  | WorkloadInstanceResource;

export type ResourceKind = Resource['kind'];

/** Identifies one object independently of apiVersion. */
export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

export function refOf(r: { kind: string; metadata: { namespace: string; name: string } }): ResourceRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

export function keyOf(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}
