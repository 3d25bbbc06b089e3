// One outbound HTTP call as a stack of small steps (linkerd2-proxy style):
// route → fault injection → redirect / local answer → backend choice →
// URL rewrite and header filters → circuit breaker → endpoint (balancer) →
// try, with retries, timeouts, mirrors and outlier accounting around it.
// Everything configurable was compiled into the routing table; this file only
// reads it, so a call without policies costs what it cost before.

import type { HeaderEditsConfig, PathModifierConfig } from '../compiler/snapshot.js';
import type { EndpointState } from './endpoint-state.js';
import type { RequestHead } from './h1/head.js';
import type { ByteStream } from './h1/byte-stream.js';
import type { H1Pool } from './h1/pool.js';
import type { AttemptOutcome, Decision, FailureKind, ForwardDecision, MirrorTarget, ResponseEdits } from './h1/decision.js';
import { serializeHead } from './h1/head.js';
import { hashKeyOf } from './hash-key.js';
import { pathOf } from './http-match.js';
import { LIMITS } from './limits.js';
import type { UpstreamOutcome } from './outlier.js';
import { backoffMs, retryDecision } from './retry.js';
import { pickClusterIndex, pickEndpoint, selectRouteMatch, type RuntimeCluster, type RuntimeFilters, type RuntimeVirtualHost } from './routing.js';
import type { ProxyState } from './state.js';
import type { PeerInfo, RequestRecord } from './telemetry.js';
import { requestTraceHop, withTraceHeaders, type TraceHop } from './trace-context.js';

/** Node's timers cannot wait longer; a disabled timeout waits this long. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

export const DROP_ON_OUTBOUND: ReadonlySet<string> = new Set(['x-trellis-peer-identity']);
const NO_FILTERS: readonly RuntimeFilters[] = [];
const NO_EDITS: readonly HeaderEditsConfig[] = [];

export function localReply(state: ProxyState, reason: string, status: number, body: string, headers?: [string, string][]): Decision {
  state.metrics.localReplies.inc({ reason });
  return headers ? { kind: 'reply', status, body, headers, reason } : { kind: 'reply', status, body, reason };
}

/** Applies header edits in order (set, add, remove) to what the headers will be; returns what to drop and append. */
export function headerEdits(list: readonly HeaderEditsConfig[], headers: Readonly<Record<string, string>>, drop: Set<string>, add: string[]): void {
  const current = new Map<string, string | undefined>();
  const value = (name: string) => (current.has(name) ? current.get(name) : drop.has(name) ? undefined : headers[name]);
  for (const e of list) {
    for (const [name, v] of e.set) current.set(name, v);
    for (const [name, v] of e.add) {
      const prev = value(name);
      current.set(name, prev === undefined ? v : `${prev},${v}`);
    }
    for (const name of e.remove) current.set(name, undefined);
  }
  for (const [name, v] of current) {
    drop.add(name);
    if (v !== undefined) add.push(name, v);
  }
}

/** `/prefix/rest?q` with the matched prefix replaced (Gateway API ReplacePrefixMatch) or the path replaced. */
export function rewritePath(path: string, query: string, mod: PathModifierConfig, matchedPrefix: string | undefined): string {
  if (mod.kind === 'full') return mod.path + query;
  const rest = path.slice((matchedPrefix ?? '').length);
  let out = mod.prefix.endsWith('/') && (rest.startsWith('/') || rest === '') ? mod.prefix.slice(0, -1) + rest : mod.prefix + rest;
  if (out === '') out = '/';
  return out + query;
}

function splitTarget(path: string): [string, string] {
  const q = path.indexOf('?');
  return q < 0 ? [path, ''] : [path.slice(0, q), path.slice(q)];
}

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/** Gateway API RequestRedirect: the Location for this request. */
export function redirectLocation(
  action: { scheme?: string; hostname?: string; port?: number; path?: PathModifierConfig },
  req: { host: string; path: string; listenerPort: number; matchedPrefix?: string },
): string {
  const scheme = action.scheme ?? 'http';
  const colon = req.host.lastIndexOf(':');
  const host = action.hostname ?? (colon > 0 && !req.host.endsWith(']') ? req.host.slice(0, colon) : req.host);
  // Without a port: the scheme's port when the scheme changes, else the listener's.
  const port = action.port ?? (action.scheme ? DEFAULT_PORT[scheme] : req.listenerPort);
  const [p, q] = splitTarget(req.path);
  const path = action.path ? rewritePath(p, q, action.path, req.matchedPrefix) : req.path;
  const hostPort = port === undefined || port === DEFAULT_PORT[scheme] ? host : `${host}:${port}`;
  return `${scheme}://${hostPort}${path}`;
}

/** One outbound request across its tries: what every try shares, and how the request is counted when it ends. */
class Call {
  retries = 0;
  setCookie?: string;
  hashKey?: string;
  /** Endpoints tried so far; kept only when retries may happen. */
  tried?: Set<EndpointState>;
  /** ms since epoch; undefined = no overall timeout. */
  deadline?: number;
  /** The endpoint of the latest try. */
  endpoint?: EndpointState;

  constructor(
    readonly state: ProxyState,
    readonly req: RequestHead,
    readonly vh: RuntimeVirtualHost,
    readonly cluster: RuntimeCluster,
    readonly path: string,
    readonly drop: ReadonlySet<string>,
    readonly add: string[] | undefined,
    readonly responseEdits: readonly HeaderEditsConfig[],
    readonly tryTimeoutMs: number,
    private readonly count: (status: number) => void,
    private readonly record: RequestRecord | undefined,
  ) {}

  done(status: number, requestBytes = 0, responseBytes = 0): void {
    this.count(status);
    const record = this.record;
    if (!record) return;
    record.retries = this.retries;
    const ep = this.endpoint;
    if (ep) {
      record.upstream = ep.config.instance;
      record.destination.identity = ep.config.identity;
      record.destination.workload = ep.workload;
    }
    this.state.telemetry.end(record, status, requestBytes, responseBytes);
  }
}

/** The outcome as outlier detection and retries see it; overflow never reached the endpoint. */
function upstreamOutcome(o: AttemptOutcome): UpstreamOutcome | undefined {
  if ('status' in o) return o;
  if ('cancelled' in o) return undefined;
  if (o.failure === 'overflow') return undefined;
  return { failure: o.failure === 'identity' ? 'connect' : o.failure };
}

function event(state: ProxyState, name: string, cluster: string): void {
  state.metrics.resilience.inc({ event: name, cluster });
}

/** This proxy as the source of its calls: one object per snapshot's node, shared by the records (sinks only read them). */
let peerOf: { node: NonNullable<ProxyState['snapshot']>['node']; peer: PeerInfo } | undefined;
function nodePeer(node: NonNullable<ProxyState['snapshot']>['node']): PeerInfo {
  if (peerOf?.node !== node) peerOf = { node, peer: { identity: node.identity, namespace: node.namespace, workload: node.workload } };
  return peerOf.peer;
}

/** Telemetry of one outbound (or gateway) call, emitted when it ends. */
function outboundRecord(state: ProxyState, req: RequestHead, vh: RuntimeVirtualHost, host: string, path: string, start: number): RequestRecord {
  const node = state.snapshot?.node;
  return {
    direction: state.snapshot?.gateway ? 'gateway' : 'outbound',
    protocol: 'http',
    start,
    durationMs: 0,
    method: req.method,
    path,
    authority: host,
    status: 0,
    requestBytes: 0,
    responseBytes: 0,
    source: node ? nodePeer(node) : {},
    destination: { service: vh.config.name, namespace: vh.config.namespace },
    retries: 0,
  };
}

export function outboundCall(state: ProxyState, req: RequestHead, vh: RuntimeVirtualHost, host: string, target: string): Decision {
  // This hop's span (continuing the app's or the client's trace context); undefined when tracing is off.
  const trace = requestTraceHop(state.snapshot?.mesh.tracing, req);
  const path = pathOf(target);
  const query = target.slice(path.length);
  if (!state.telemetry.active) return routeCall(state, req, vh, host, target, path, query, undefined, trace);
  const start = Date.now();
  const record = outboundRecord(state, req, vh, host, path, start);
  if (trace) record.trace = trace.context;
  const d = routeCall(state, req, vh, host, target, path, query, record, trace);
  if (d.kind === 'reply') {
    if (d.reason) record.reason = d.reason;
    const inner = d.done;
    d.done = (status) => {
      inner?.(status);
      state.telemetry.end(record, status, 0, 0);
    };
  }
  return d;
}

function routeCall(state: ProxyState, req: RequestHead, vh: RuntimeVirtualHost, host: string, target: string, path: string, query: string, record: RequestRecord | undefined, trace: TraceHop | undefined): Decision {
  const sel = selectRouteMatch(vh, req, path);
  if (!sel) return localReply(state, 'no_route', 404, `trellis: no route of ${vh.config.name} matches ${req.method} ${path}`);
  const route = sel.route;
  if (record) record.route = route.name;

  // Fault injection (the first matching rule applies).
  let delayMs = 0;
  if (vh.faults) {
    for (const f of vh.faults) {
      if (f.matcher && !f.matcher(req, path)) continue;
      const { abort, delay } = f.config;
      if (abort && Math.random() * 100 < abort.percentage) {
        event(state, 'fault_abort', vh.config.name);
        return localReply(state, 'fault_abort', abort.status, 'trellis: fault injected (abort)', [['x-trellis-fault', 'abort']]);
      }
      if (delay && Math.random() * 100 < delay.percentage) {
        event(state, 'fault_delay', vh.config.name);
        delayMs = delay.delayMs;
      }
      break;
    }
  }

  if (route.respond) return localReply(state, 'route_response', route.respond.status, `trellis: ${route.respond.body}`);
  const matchedPrefix = sel.match >= 0 ? route.config.matches?.[sel.match]?.pathPrefix : undefined;
  const action = route.config.action;
  if (action.kind === 'redirect') {
    const location = redirectLocation(action, { host, path: target, listenerPort: vh.config.port, ...(matchedPrefix !== undefined ? { matchedPrefix } : {}) });
    return localReply(state, 'redirect', action.status, `trellis: redirect to ${location}`, [['location', location]]);
  }

  const ci = pickClusterIndex(route);
  const cluster = ci < 0 ? undefined : route.clusters[ci];
  if (!cluster) return localReply(state, 'no_endpoint', 503, `trellis: route ${route.name} of ${vh.config.name} has no backend`);
  if (cluster.invalid !== undefined) return localReply(state, 'invalid_backend', 500, `trellis: ${cluster.invalid}`);
  if (!state.credentials.material) return localReply(state, 'no_endpoint', 503, 'trellis: no workload certificate yet');

  // Filters: the route's, then the chosen backend's.
  const bf = route.backendFilters[ci];
  const filters: readonly RuntimeFilters[] = route.filters ? (bf ? [route.filters, bf] : [route.filters]) : bf ? [bf] : NO_FILTERS;
  let upstreamPath = target;
  let drop: ReadonlySet<string> = DROP_ON_OUTBOUND;
  let add: string[] | undefined;
  let responseEdits = NO_EDITS;
  if (filters.length > 0) {
    const d = new Set(DROP_ON_OUTBOUND);
    const a: string[] = [];
    const requestEdits: HeaderEditsConfig[] = [];
    const responses: HeaderEditsConfig[] = [];
    for (const f of filters) {
      const c = f.config;
      if (c.rewrite?.path) upstreamPath = rewritePath(path, query, c.rewrite.path, matchedPrefix);
      if (c.rewrite?.hostname) requestEdits.push({ set: [['host', c.rewrite.hostname]], add: [], remove: [] });
      if (c.requestHeaders) requestEdits.push(c.requestHeaders);
      if (c.responseHeaders) responses.push(c.responseHeaders);
    }
    responseEdits = responses;
    if (requestEdits.length > 0) headerEdits(requestEdits, req.headers, d, a);
    drop = d;
    add = a.length > 0 ? a : undefined;
  }
  // The upstream gets this hop's span as its parent, in place of the incoming trace headers.
  if (trace) ({ drop, add } = withTraceHeaders(trace, drop, add));

  const timeouts = route.config.timeouts;
  const requestMs = timeouts?.requestMs ?? vh.requestTimeoutMs;
  // The route's backendRequest is more specific than the policy's perTryTimeout.
  const perTry = timeouts?.backendRequestMs ?? vh.retries?.perTryTimeoutMs;
  const now = Date.now();
  // A request timeout (or `0s`, none) replaces the default per-try limit.
  const tryTimeoutMs = perTry === 0 ? NO_TIMEOUT_MS : perTry ?? (requestMs !== undefined ? NO_TIMEOUT_MS : LIMITS.upstreamResponseTimeoutMs);
  if (record) record.destination.service = cluster.config.name;
  const call = new Call(state, req, vh, cluster, upstreamPath, drop, add, responseEdits, tryTimeoutMs, state.outboundCounter(vh.config.name, cluster.config.name), record);
  if (requestMs) call.deadline = now + requestMs;
  if (vh.retries) call.tried = new Set();

  const hashOn = cluster.config.policy?.loadBalancer?.hashOn;
  if (hashOn) {
    const k = hashKeyOf(hashOn, req.headers, state.snapshot?.node.identity);
    if (k.key !== undefined) call.hashKey = k.key;
    if (k.setCookie) call.setCookie = k.setCookie;
  }

  // Circuit breaker: requests in flight to the cluster.
  const maxRequests = cluster.config.policy?.circuitBreaker?.maxRequests;
  if (maxRequests !== undefined && cluster.load.active >= maxRequests) {
    event(state, 'overflow_requests', cluster.config.name);
    return localReply(state, 'overflow', 503, `trellis: ${cluster.config.name} has ${cluster.load.active} requests in flight (circuit breaker maxRequests ${maxRequests})`, [
      ['x-trellis-overloaded', 'max-requests'],
    ]);
  }
  vh.budget?.onRequest(now);

  const first = tryOnce(call, delayMs, now);
  if (!first) return localReply(state, 'no_endpoint', 503, `trellis: no ready endpoint for ${cluster.config.name}`);
  if (filters.length > 0) {
    const mirrors = mirrorTargets(state, filters, req, call);
    if (mirrors) first.mirrors = mirrors;
  }
  return first;
}

function mirrorTargets(state: ProxyState, filters: readonly RuntimeFilters[], req: RequestHead, call: Call): MirrorTarget[] | undefined {
  let out: MirrorTarget[] | undefined;
  for (const f of filters) {
    for (const m of f.mirrors) {
      if (m.percent < 100 && Math.random() * 100 >= m.percent) continue;
      const ep = pickEndpoint(m.cluster);
      if (!ep) continue;
      const head = serializeHead(`${req.method} ${call.path} HTTP/1.1`, req, req.connection, call.drop, call.add);
      event(state, 'mirror', m.cluster.config.name);
      (out ??= []).push({
        pool: m.cluster.pool ?? state.meshPool,
        key: ep.poolKey,
        connect: () => state.pool.connectHttp(ep.config)!,
        head,
      });
    }
  }
  return out;
}

/** One try at an endpoint the balancer picks (another one than before, when it can). */
function tryOnce(call: Call, delayMs: number, now = Date.now()): ForwardDecision | undefined {
  const { cluster } = call;
  const tried = call.tried;
  const ep = pickEndpoint(cluster, call.hashKey, tried && tried.size > 0 ? tried : undefined, now);
  if (!ep) return undefined;
  const remaining = call.deadline === undefined ? NO_TIMEOUT_MS : call.deadline - now - delayMs;
  tried?.add(ep);
  call.endpoint = ep;
  const d = new Try(call, ep, Math.max(1, Math.min(call.tryTimeoutMs, remaining)));
  if (delayMs > 0) d.delayMs = delayMs;
  if (call.responseEdits.length > 0 || call.setCookie) d.onResponse = (_status, headers) => responseEditsFor(call, headers);
  if (call.vh.retries) d.retry = (outcome) => nextTry(call, outcome);
  return d;
}

/** The engine's view of one try (a ForwardDecision), with the endpoint's accounting while it runs. */
class Try implements ForwardDecision {
  readonly kind = 'forward' as const;
  readonly pool: H1Pool;
  readonly key: string;
  readonly path: string;
  readonly drop: ReadonlySet<string>;
  readonly add: string[] | undefined;
  delayMs?: number;
  mirrors?: MirrorTarget[];
  onResponse?: ForwardDecision['onResponse'];
  retry?: ForwardDecision['retry'];
  private readonly isRetry: boolean;
  private settled = false;

  constructor(
    private readonly call: Call,
    private readonly ep: EndpointState,
    readonly responseTimeoutMs: number,
  ) {
    const cluster = call.cluster;
    this.pool = cluster.pool ?? call.state.meshPool;
    this.key = ep.poolKey;
    this.path = call.path;
    this.drop = call.drop;
    this.add = call.add;
    this.isRetry = call.retries > 0;
    ep.active++;
    cluster.load.active++;
    if (this.isRetry) cluster.load.retrying++;
  }

  connect(): ByteStream {
    return this.call.state.pool.connectHttp(this.ep.config, this.call.cluster.config.policy?.connectTimeoutMs)!;
  }

  done(status: number, requestBytes?: number, responseBytes?: number): void {
    this.call.done(status, requestBytes, responseBytes);
  }

  attempt(outcome: AttemptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    const { ep, call } = this;
    const { cluster, state } = call;
    ep.active--;
    cluster.load.active--;
    if (this.isRetry) cluster.load.retrying--;
    if ('failure' in outcome && outcome.failure === 'timeout') event(state, 'timeout', cluster.config.name);
    const u = upstreamOutcome(outcome);
    if (u && cluster.outlier?.record(ep, u, Date.now())) event(state, 'outlier_ejection', cluster.config.name);
  }

  fail(kind: FailureKind, err: Error): { status: number; body: string; headers?: [string, string][] } {
    const { cluster, state } = this.call;
    state.metrics.localReplies.inc({ reason: `upstream_${kind}` });
    if (kind === 'overflow') event(state, 'overflow_pending', cluster.config.name);
    return {
      status: kind === 'timeout' ? 504 : 503,
      body: `trellis: upstream ${cluster.config.name} (${this.ep.config.instance}) failed: ${err.message}`,
      ...(kind === 'overflow' ? { headers: [['x-trellis-overloaded', 'max-pending-requests']] as [string, string][] } : {}),
    };
  }
}

function responseEditsFor(call: Call, headers: Readonly<Record<string, string>>): ResponseEdits {
  const drop = new Set<string>();
  const add: string[] = [];
  headerEdits(call.responseEdits, headers, drop, add);
  if (call.setCookie) add.push('set-cookie', call.setCookie);
  return { drop, add };
}

function nextTry(call: Call, outcome: AttemptOutcome): ForwardDecision | undefined {
  const policy = call.vh.retries!;
  if (call.retries >= policy.attempts) return undefined;
  const u = upstreamOutcome(outcome);
  if (!u || !retryDecision(policy, call.req.method, u)) return undefined;
  const now = Date.now();
  const delay = backoffMs(call.retries, policy.baseIntervalMs, policy.maxIntervalMs);
  if (call.deadline !== undefined && now + delay >= call.deadline) return undefined;
  const { cluster, state } = call;
  const maxRetries = cluster.config.policy?.circuitBreaker?.maxRetries;
  if (maxRetries !== undefined && cluster.load.retrying >= maxRetries) {
    event(state, 'overflow_retries', cluster.config.name);
    return undefined;
  }
  if (!call.vh.budget!.tryRetry(now)) {
    event(state, 'retry_budget_exhausted', cluster.config.name);
    return undefined;
  }
  call.retries++;
  event(state, 'retry', cluster.config.name);
  return tryOnce(call, delay);
}

