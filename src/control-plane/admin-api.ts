// The control plane's admin API: a plain HTTP/JSON API on 127.0.0.1 that the
// CLI, the dashboard and the local runner use to apply, list, watch and
// delete resources and to read the mesh's status. See docs/admin-api.md.
//
// The server only routes and translates: parsing and validation live in
// src/resources (through admin-resources.ts), atomicity in the store.

import http from 'node:http';
import type { Resource, ResourceRef } from '../resources/types.js';
import { refOf } from '../resources/types.js';
import type { ListFilter, Store, WatchHandle } from '../store/types.js';
import { RevisionCompactedError } from '../store/types.js';
import { accessHandler, configDumpHandler, proxyIdOfPath } from './admin-access.js';
import { dashboardRoutes } from './admin-dashboard.js';
import { AdminError, intParam, readJsonObject, sendError, sendJson } from './admin-http.js';
import { registerMetricsRoutes, type TrafficMetricsSource } from './admin-metrics.js';
import { canonicalKind, parseRequestManifests, withStatus, type StatusLookup } from './admin-resources.js';
import { traceRouteOf, traceRoutes, type TraceStore } from './traces.js';
import { prometheusTargets } from './prometheus-sd.js';
import type {
  ApplyResponse,
  DeleteResponse,
  ListResponse,
  ProxyStatus,
  ResultLine,
  StatusResponse,
  WireManifestError,
} from './admin-types.js';

export type { ProxyStatus } from './admin-types.js';

export interface AdminServerDeps {
  store: Store;
  getProxies: () => ProxyStatus[];
  getMesh: () => unknown;
  /** Cross-resource checks (dangling references the compiler must reject); any error → 400, nothing applied. */
  validate?: (resources: Resource[], store: Store) => WireManifestError[];
  /**
   * The computed status (Gateway API conditions) of an object after the
   * latest compilation; GET /v1/resources returns objects with it as `status`.
   */
  statusOf?: StatusLookup;
  /** Interval of watch heartbeats; 10 s unless a test says otherwise. */
  heartbeatMs?: number;
  /** Recent traces sent by the proxies (POST /v1/traces/spans, GET /v1/traces, /v1/traces/<id>). */
  traces?: TraceStore;
  /** Traffic metrics collected from the proxies (GET /v1/trafficmetrics, /v1/graph); absent: those answer 503. */
  metrics?: TrafficMetricsSource;
}

/** How long a client may take to send its request (headers + body). Watch responses are not bounded by it. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** A watcher that lets this much output pile up unread is cut off. */
const MAX_WATCH_BUFFER = 16 * 1024 * 1024;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

export function createAdminServer(deps: AdminServerDeps): http.Server {
  const watchers = new Set<http.ServerResponse>();
  const routes = buildRoutes(deps, watchers);
  const server = http.createServer(
    {
      // requestTimeout bounds receiving the request only: long watch responses are unaffected.
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      void dispatch(routes, req, res);
    },
  );
  // server.close() waits for open connections; watch streams never end on
  // their own, so end them first.
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const res of watchers) res.end();
    watchers.clear();
    server.closeIdleConnections();
    return close(cb);
  }) as typeof server.close;
  return server;
}

async function dispatch(
  routes: Map<string, Map<string, Handler>>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    // /v1/proxies/<ns>/<instance>/config_dump carries the proxy id in the path.
    const byMethod = routes.get(url.pathname) ?? (proxyIdOfPath(url) !== undefined ? routes.get('/v1/proxies/config_dump') : undefined) ?? routes.get(traceRouteOf(url.pathname));
    if (!byMethod) throw new AdminError(404, 'TRELLIS_E_NOT_FOUND', `no route ${url.pathname}`);
    const handler = byMethod.get(req.method ?? 'GET');
    if (!handler) {
      res.setHeader('allow', [...byMethod.keys()].join(', '));
      throw new AdminError(405, 'TRELLIS_E_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`);
    }
    await handler(req, res, url);
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e =
      err instanceof AdminError
        ? err
        : new AdminError(500, 'TRELLIS_E_INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`);
    if (e.status === 413) {
      // Let the client finish sending (bounded by requestTimeout) so it reads the reply, then close.
      res.setHeader('connection', 'close');
      req.resume();
    }
    sendError(res, e);
  }
}

function buildRoutes(deps: AdminServerDeps, watchers: Set<http.ServerResponse>): Map<string, Map<string, Handler>> {
  const { store } = deps;
  const routes = new Map<string, Map<string, Handler>>();
  const add = (method: string, path: string, h: Handler) => {
    if (!routes.has(path)) routes.set(path, new Map());
    routes.get(path)!.set(method, h);
  };

  add('GET', '/healthz', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('ok');
  });

  add('POST', '/v1/apply', async (req, res) => {
    const body = await readJsonObject(req);
    const parsed = parseRequestManifests(body, { allowObjects: true });
    rejectIfErrors(parsed.errors, 'TRELLIS_E_INVALID_MANIFEST', 'the manifests have errors; nothing was applied');
    const crossErrors = deps.validate?.(parsed.resources, store) ?? [];
    rejectIfErrors(crossErrors, 'TRELLIS_E_VALIDATION_FAILED', 'the manifests do not fit together; nothing was applied');
    const dryRun = body.dryRun === true;
    const results = dryRun
      ? parsed.resources.map((r) => ({ ...refOf(r), action: dryRunAction(store, r) }))
      : (await store.apply(parsed.resources)).map((o) => ({ ...o.ref, action: o.action }));
    const reply: ApplyResponse = {
      revision: store.revision(),
      results: results as ResultLine[],
      warnings: parsed.warnings,
      foreign: parsed.foreign,
    };
    if (dryRun) reply.dryRun = true;
    sendJson(res, 200, reply);
  });

  add('POST', '/v1/delete', async (req, res) => {
    const body = await readJsonObject(req);
    const parsed = parseRequestManifests(body, { allowObjects: false });
    rejectIfErrors(parsed.errors, 'TRELLIS_E_INVALID_MANIFEST', 'the manifests have errors; nothing was deleted');
    const refs: ResourceRef[] = parsed.resources.map(refOf);
    if (body.refs !== undefined) {
      if (!Array.isArray(body.refs)) throw badRequest('refs must be an array of {kind, namespace, name}');
      for (const [i, raw] of body.refs.entries()) refs.push(parseRef(raw, i));
    }
    const outcomes = await store.delete(refs);
    const reply: DeleteResponse = {
      revision: store.revision(),
      results: outcomes.map((o) => ({ ...o.ref, action: o.action })),
    };
    sendJson(res, 200, reply);
  });

  add('GET', '/v1/resources', (_req, res, url) => {
    const filter = filterFrom(url);
    const name = url.searchParams.get('name') || undefined;
    let items = store.list(filter);
    if (name !== undefined) {
      items = items.filter((r) => r.metadata.name === name);
      if (items.length === 0) {
        const where = filter.namespace ? ` in namespace ${filter.namespace}` : '';
        throw new AdminError(404, 'TRELLIS_E_RESOURCE_NOT_FOUND', `${filter.kind ?? 'resource'} "${name}" not found${where}`);
      }
    }
    const reply: ListResponse = { revision: store.revision(), items: withStatus(items, deps.statusOf) };
    sendJson(res, 200, reply);
  });

  add('GET', '/v1/watch', (_req, res, url) => {
    const filter = filterFrom(url);
    const from = intParam(url, 'from') ?? store.revision();
    watch(deps, watchers, res, from, filter);
  });

  add('GET', '/v1/status', (_req, res) => {
    const reply: StatusResponse = {
      revision: store.revision(),
      mesh: deps.getMesh(),
      proxies: deps.getProxies(),
      instances: store.list({ kind: 'WorkloadInstance' }) as StatusResponse['instances'],
    };
    sendJson(res, 200, reply);
  });

  // Prometheus http_sd_configs: every proxy's /stats (docs/metrics.md).
  add('GET', '/v1/prometheus/targets', (_req, res) => sendJson(res, 200, prometheusTargets(store.list({ kind: 'WorkloadInstance' }))));

  // The dashboard (docs/dashboard.md): static files, the access explorer, sidecar config dumps.
  for (const [path, h] of dashboardRoutes()) add('GET', path, h);
  add('GET', '/v1/access', accessHandler(store));
  add('GET', '/v1/proxies/config_dump', configDumpHandler(store));

  // Recent traces (traces.ts, docs/admin-api.md).
  if (deps.traces) for (const [method, path, h] of traceRoutes(deps.traces)) add(method, path, h);

  // SMI TrafficMetrics and the service graph (admin-metrics.ts).
  registerMetricsRoutes(add, deps);

  return routes;
}

function watch(
  deps: AdminServerDeps,
  watchers: Set<http.ServerResponse>,
  res: http.ServerResponse,
  from: number,
  filter: ListFilter,
): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/x-ndjson');
  res.setHeader('cache-control', 'no-store');
  const write = (line: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(JSON.stringify(line) + '\n');
    if (res.writableLength > MAX_WATCH_BUFFER) res.destroy();
  };
  let handle: WatchHandle;
  try {
    // Events from before `from` are replayed synchronously inside watch().
    handle = deps.store.watch(from, write, filter);
  } catch (err) {
    if (err instanceof RevisionCompactedError && !res.headersSent) {
      res.removeHeader('content-type');
      throw new AdminError(410, err.code, err.message);
    }
    throw err;
  }
  // Send the headers now so the client knows the watch is established.
  res.flushHeaders();
  watchers.add(res);
  const heartbeat = setInterval(
    () => write({ type: 'heartbeat', revision: deps.store.revision() }),
    deps.heartbeatMs ?? 10_000,
  );
  heartbeat.unref();
  let closed = false;
  const stop = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    handle.close();
    watchers.delete(res);
  };
  // 'close' on the response fires when the client goes away (or we end it);
  // the request's own 'close' only means its (empty) body was read.
  res.on('close', stop);
}

function rejectIfErrors(errors: WireManifestError[], code: string, summary: string): void {
  if (errors.length === 0) return;
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const message = `${summary}: ${first.file}:${first.line}: ${first.path ? first.path + ': ' : ''}${first.message}${more}`;
  throw new AdminError(400, code, message, errors);
}

function badRequest(message: string): AdminError {
  return new AdminError(400, 'TRELLIS_E_BAD_REQUEST', message);
}

function parseRef(raw: unknown, i: number): ResourceRef {
  const r = raw as Partial<Record<string, unknown>> | null;
  if (!r || typeof r !== 'object' || typeof r.kind !== 'string' || typeof r.name !== 'string') {
    throw badRequest(`refs[${i}] must be {kind, namespace, name} with string kind and name`);
  }
  if (r.namespace !== undefined && typeof r.namespace !== 'string') throw badRequest(`refs[${i}].namespace must be a string`);
  const kind = kindOrThrow(r.kind);
  return { kind: kind.kind, namespace: kind.namespaced ? ((r.namespace as string) || 'default') : '', name: r.name };
}

function kindOrThrow(input: string): { kind: string; namespaced: boolean } {
  try {
    return canonicalKind(input);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'TRELLIS_E_UNKNOWN_KIND';
    throw new AdminError(400, code, (err as Error).message);
  }
}

function filterFrom(url: URL): ListFilter {
  const filter: ListFilter = {};
  const kind = url.searchParams.get('kind');
  if (kind) filter.kind = kindOrThrow(kind).kind;
  const namespace = url.searchParams.get('namespace');
  if (namespace) filter.namespace = namespace;
  return filter;
}

/** What apply would do to `r`, without changing anything. */
function dryRunAction(store: Store, r: Resource): ResultLine['action'] {
  const current = store.get(refOf(r));
  if (!current) return 'created';
  const same =
    stableJson(current.spec) === stableJson(r.spec) &&
    stableJson(current.metadata.labels) === stableJson(r.metadata.labels) &&
    stableJson(current.metadata.annotations) === stableJson(r.metadata.annotations) &&
    stableJson(current.status ?? null) === stableJson(r.status ?? null);
  return same ? 'unchanged' : 'configured';
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
}

