// "Can A reach B on METHOD PATH?", answered by the compiler: the call is routed
// as A's sidecar would route it (virtual host, TrafficSplit, HTTPRoutes) and
// each destination is authorised with the rules its sidecar runs (the compiled
// AuthzRule list, evaluated by the proxy's own authorizer). Pure: no I/O, the
// same resources give the same answer. Used by GET /v1/access and
// `trellis check-access`.

import { buildLocalCatalog, selectorMatches, type Catalog } from '../catalog/catalog.js';
import { spiffeId } from '../identity/spiffe.js';
import { compileAuthorizer } from '../proxy/authz.js';
import { compileMatcher, pathOf, type RequestHead } from '../proxy/http-match.js';
import type { Resource, ServicePort, ServiceResource, WorkloadResource } from '../resources/types.js';
import { compileAuthzRules, targetsByDestination } from './authz.js';
import { resolveMeshConfig } from './compile.js';
import { Diagnostics } from './diagnostics.js';
import { meshRoutesByService } from './http-route.js';
import { CompileCache } from './memo.js';
import { activeSplits, compileVirtualHosts, protocolOf } from './outbound.js';
import { servicePolicies } from './policy.js';
import { ResourceIndex } from './resource-index.js';
import type { AuthzRule, HttpMatchConfig, Protocol, RouteConfig, VirtualHost } from './snapshot.js';

export interface AccessQuery {
  /** `ns/name` of a Workload, Gateway, Service or ServiceAccount (a bare name is in `namespace`). */
  from: string;
  /** `ns/name` of a Service (or of a Workload without one). */
  to: string;
  /** Service port; default: the Service's first port. */
  port?: number;
  /** Default GET. */
  method?: string;
  /** Request target (a query string is allowed); default `/`. */
  path?: string;
  /** Request headers (names case-insensitive). */
  headers?: Record<string, string>;
  /** Namespace of bare names; default `default`. */
  namespace?: string;
}

/** The rule that allowed a call. */
export interface AccessRule {
  /** `ns/name` of the TrafficTarget; absent when the access mode is permissive. */
  trafficTarget?: string;
  /** `ns/group/match` of the HTTPRouteGroup match (or `ns/name` of a TCPRoute). */
  match?: string;
  /** As the sidecar logs it, e.g. `bookstore/bookstore (bookstore/bookstore-service-routes/books-bought)`. */
  text: string;
}

/** One destination the call may land on, with its sidecar's decision. */
export interface AccessBackend {
  /** `ns/service:port` (the cluster). */
  service: string;
  /** `ns/service account` of the instances behind it. */
  serviceAccount: string;
  identity: string;
  /** Share of the calls that reach it, in percent (100 without a split). */
  percent: number;
  appPort?: number;
  allowed: boolean;
  rule?: AccessRule;
  reason?: string;
  /** Why each match of the TrafficTargets that name the source did not match. */
  details?: string[];
}

export interface AccessExplanation {
  allowed: boolean;
  /** The allowing rule (every backend allowed): that of the first backend. */
  rule?: AccessRule;
  /** Why not, when `allowed` is false. */
  reason?: string;
  /** Some backends allow, others deny (e.g. a split to a version without a TrafficTarget). */
  partial?: boolean;
  source: { namespace: string; name: string; kind: string; serviceAccount: string; identity: string };
  destination: { namespace: string; name: string; kind: 'Service' | 'Workload'; port?: number; protocol: Protocol };
  request: { method: string; path: string; headers: Record<string, string> };
  accessMode: 'deny' | 'permissive';
  /** The route of the client sidecar that takes the call (`split:ns/name`, `httproute:ns/name/0`, `default`). */
  route?: string;
  /** The client sidecar answers itself (no route, a split with no backend, a redirect). */
  localReply?: { status: number; body: string };
  backends: AccessBackend[];
  notes: string[];
}

/** A query that names something that does not exist, or is malformed. */
export class AccessQueryError extends Error {
  constructor(
    readonly code: 'TRELLIS_E_RESOURCE_NOT_FOUND' | 'TRELLIS_E_BAD_REQUEST',
    message: string,
  ) {
    super(message);
    this.name = 'AccessQueryError';
  }
}

function splitName(ref: string, defaultNs: string, what: string): [string, string] {
  const parts = ref.split('/');
  if (parts.length === 1 && parts[0]) return [defaultNs, parts[0]];
  if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
  throw new AccessQueryError('TRELLIS_E_BAD_REQUEST', `${what} must be NAMESPACE/NAME, got "${ref}"`);
}

/** Workloads of `ns` whose labels the selector matches (what the Service will select once they run). */
function selectedWorkloads(index: ResourceIndex, svc: ServiceResource): WorkloadResource[] {
  return index
    .list('Workload')
    .filter((w) => w.metadata.namespace === svc.metadata.namespace && selectorMatches(svc.spec.selector, w.metadata.labels));
}

function resolveSource(index: ResourceIndex, catalog: Catalog, ns: string, name: string): { kind: string; serviceAccount: string } {
  const w = index.get('Workload', ns, name);
  if (w) return { kind: 'Workload', serviceAccount: w.spec.serviceAccountName };
  const gw = index.get('Gateway', ns, name);
  if (gw) return { kind: 'Gateway', serviceAccount: gw.spec.serviceAccountName };
  const inst = index.get('WorkloadInstance', ns, name);
  if (inst) return { kind: 'WorkloadInstance', serviceAccount: inst.spec.serviceAccountName };
  const svc = index.get('Service', ns, name);
  if (svc) {
    const sas = new Set<string>();
    for (const p of catalog.services.get(`${ns}/${name}`)?.ports ?? []) for (const e of p.endpoints) sas.add(e.serviceAccount);
    for (const wl of selectedWorkloads(index, svc)) sas.add(wl.spec.serviceAccountName);
    if (sas.size === 1) return { kind: 'Service', serviceAccount: [...sas][0]! };
    if (sas.size > 1) {
      throw new AccessQueryError(
        'TRELLIS_E_BAD_REQUEST',
        `service ${ns}/${name} is backed by several service accounts (${[...sas].sort().join(', ')}): name a workload instead`,
      );
    }
    throw new AccessQueryError('TRELLIS_E_BAD_REQUEST', `service ${ns}/${name} selects no workload: its callers have no identity to check`);
  }
  if (index.get('ServiceAccount', ns, name)) return { kind: 'ServiceAccount', serviceAccount: name };
  throw new AccessQueryError('TRELLIS_E_RESOURCE_NOT_FOUND', `source ${ns}/${name} is not a Workload, Gateway, Service or ServiceAccount`);
}

/** The service accounts behind a Service port and the app port each lands on (instances first, else Workloads). */
function destinationsOf(
  index: ResourceIndex,
  catalog: Catalog,
  ns: string,
  service: string,
  port: number,
): { serviceAccount: string; appPort?: number }[] {
  const svc = catalog.services.get(`${ns}/${service}`);
  const sp = svc?.ports.find((p) => p.port.port === port);
  if (!svc || !sp) return [];
  const out = new Map<string, number | undefined>();
  for (const e of sp.endpoints) if (!out.has(e.serviceAccount)) out.set(e.serviceAccount, e.appPort);
  if (out.size === 0) {
    for (const w of selectedWorkloads(index, svc.resource)) {
      if (out.has(w.spec.serviceAccountName)) continue;
      // Before the runner starts instances, only a pinned Workload port is known.
      const target =
        typeof sp.port.targetPort === 'string'
          ? w.spec.ports.find((p) => p.name === sp.port.targetPort)
          : (w.spec.ports.find((p) => p.port === sp.port.targetPort) ?? (w.spec.ports.length === 1 ? w.spec.ports[0] : undefined));
      if (!target) continue;
      out.set(w.spec.serviceAccountName, target.port);
    }
  }
  return [...out].sort(([a], [b]) => a.localeCompare(b)).map(([serviceAccount, appPort]) => ({ serviceAccount, appPort }));
}

/** Every condition of `m` the request fails, in words; empty = it matches. */
export function whyNoMatch(m: HttpMatchConfig, req: RequestHead, path: string): string[] {
  const out: string[] = [];
  const base: HttpMatchConfig = { name: m.name, methods: [], headers: [] };
  if (m.methods.length > 0 && !m.methods.includes(req.method ?? '')) out.push(`method ${req.method} is not ${m.methods.join(' or ')}`);
  if (m.pathExact !== undefined && path !== m.pathExact) out.push(`path ${path} is not ${m.pathExact}`);
  if (m.pathPrefix !== undefined && !compileMatcher({ ...base, pathPrefix: m.pathPrefix })(req, path)) {
    out.push(`path ${path} is not under ${m.pathPrefix || '/'}`);
  }
  if (m.pathRegex !== undefined && !compileMatcher({ ...base, pathRegex: m.pathRegex })(req, path)) {
    out.push(`path ${path} does not match ${m.pathRegex}`);
  }
  for (const [name, value] of m.headersExact ?? []) {
    const v = req.headers[name];
    if (v === undefined) out.push(`header ${name} is missing (needs "${value}")`);
    else if (v !== value) out.push(`header ${name}: "${String(v)}" is not "${value}"`);
  }
  for (const h of m.headers) {
    const v = req.headers[h[0]];
    if (v === undefined) out.push(`header ${h[0]} is missing (needs to match ${h[1]})`);
    else if (!compileMatcher({ ...base, headers: [h] })(req, path)) out.push(`header ${h[0]}: "${String(v)}" does not match ${h[1]}`);
  }
  for (const q of m.query ?? []) {
    if (!compileMatcher({ ...base, query: [q] })(req, path)) out.push(`query parameter ${q[0]} does not ${q[1] === 'exact' ? 'equal' : 'match'} ${q[2]}`);
  }
  return out;
}

/** `target` or `target (match)`, as the proxy's authorizer words an allowing rule. */
function parseRule(text: string): AccessRule {
  if (text === 'access mode permissive') return { text };
  const m = /^(\S+)(?: \((.+)\))?$/.exec(text);
  if (!m) return { text };
  return { trafficTarget: m[1], ...(m[2] ? { match: m[2] } : {}), text };
}

function firstRoute(vh: VirtualHost, sourceNs: string, req: RequestHead, path: string): RouteConfig | undefined {
  const routes = vh.consumerRoutes?.[sourceNs] ?? vh.routes;
  if (vh.protocol === 'tcp') return routes[routes.length - 1];
  return routes.find((r) => r.matches === undefined || r.matches.some((m) => compileMatcher(m)(req, path)));
}

export function explainAccess(resources: readonly Resource[], q: AccessQuery, catalog?: Catalog): AccessExplanation {
  const index = new ResourceIndex(resources);
  const diagnostics = new Diagnostics();
  const cache = new CompileCache();
  const meshConfig = resolveMeshConfig(index, diagnostics);
  const td = meshConfig.trustDomain;
  const cat = catalog ?? buildLocalCatalog(resources);
  const defaultNs = q.namespace || 'default';
  const [srcNs, srcName] = splitName(q.from, defaultNs, 'from');
  const [dstNs, dstName] = splitName(q.to, defaultNs, 'to');
  const method = (q.method || 'GET').toUpperCase();
  const target = q.path || '/';
  if (!target.startsWith('/')) throw new AccessQueryError('TRELLIS_E_BAD_REQUEST', `path must start with "/", got "${target}"`);
  const path = pathOf(target);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(q.headers ?? {})) headers[k.toLowerCase()] = v;
  const req: RequestHead = { method, headers, target };
  const notes: string[] = [];

  const src = resolveSource(index, cat, srcNs, srcName);
  const identity = spiffeId(td, srcNs, src.serviceAccount);
  const source = { namespace: srcNs, name: srcName, kind: src.kind, serviceAccount: `${srcNs}/${src.serviceAccount}`, identity };
  if (src.kind === 'Gateway') notes.push('a gateway routes by its own listeners; this answer follows the mesh routes of the destination Service');

  // The destination: a Service port (routed), or a Workload without a Service (authorised directly).
  const svc = index.get('Service', dstNs, dstName);
  const workload = svc ? undefined : index.get('Workload', dstNs, dstName);
  if (!svc && !workload) throw new AccessQueryError('TRELLIS_E_RESOURCE_NOT_FOUND', `destination ${dstNs}/${dstName} is not a Service or a Workload`);

  const authzCache = new Map<string, AuthzRule[]>();
  const byDest = targetsByDestination(index);
  const rulesOf = (saKey: string) => {
    let rules = authzCache.get(saKey);
    if (!rules) {
      rules = compileAuthzRules(index, td, byDest.get(saKey) ?? [], diagnostics, cache);
      authzCache.set(saKey, rules);
    }
    return rules;
  };
  const decide = (ns: string, sa: string, appPort: number | undefined, protocol: Protocol, service: string, percent: number): AccessBackend => {
    const rules = rulesOf(`${ns}/${sa}`);
    const authorizer = compileAuthorizer({ mode: meshConfig.access.mode, rules });
    // An unknown app port (no instance yet, port not pinned) satisfies no port-scoped TrafficTarget.
    const port = appPort ?? -1;
    if (appPort === undefined && rules.some((r) => r.port !== undefined)) {
      notes.push(`the app port behind ${service} is assigned when the workload runs: TrafficTargets scoped to a port are not applied`);
    }
    const d = protocol === 'tcp' ? authorizer.tcp(identity, port) : authorizer.http(identity, port, req, path);
    const backend: AccessBackend = {
      service,
      serviceAccount: `${ns}/${sa}`,
      identity: spiffeId(td, ns, sa),
      percent,
      ...(appPort !== undefined ? { appPort } : {}),
      allowed: d.allowed,
    };
    if (d.allowed) backend.rule = parseRule(d.rule);
    else {
      backend.reason = d.reason;
      if (protocol === 'http') {
        const details: string[] = [];
        for (const r of rules) {
          if (!r.sources.includes(identity) || (r.port !== undefined && r.port !== port)) continue;
          for (const a of r.allow) {
            if (a.kind !== 'http') continue;
            const why = whyNoMatch(a.match, req, path);
            if (why.length > 0) details.push(`TrafficTarget ${r.target}, match ${a.match.name}: ${why.join('; ')}`);
          }
        }
        if (details.length > 0) backend.details = details;
      }
    }
    return backend;
  };

  const request = { method, path: target, headers };
  const accessMode = meshConfig.access.mode;
  const finish = (e: Omit<AccessExplanation, 'allowed' | 'rule' | 'reason' | 'notes' | 'source' | 'request' | 'accessMode'>): AccessExplanation => {
    const out: AccessExplanation = { allowed: false, source, ...e, request, accessMode, notes };
    const denied = e.backends.filter((b) => !b.allowed);
    if (e.localReply) {
      out.reason = `${source.name}'s sidecar answers ${e.localReply.status} itself: ${e.localReply.body}`;
    } else if (e.backends.length === 0) {
      out.reason = `no workload serves ${e.destination.namespace}/${e.destination.name}${e.destination.port !== undefined ? ':' + e.destination.port : ''}`;
    } else if (denied.length === 0) {
      out.allowed = true;
      out.rule = e.backends[0]!.rule;
    } else {
      const d = denied[0]!;
      out.reason = `${d.service} (service account ${d.serviceAccount}): ${d.reason}`;
      if (denied.length < e.backends.length) {
        out.partial = true;
        const pct = denied.reduce((n, b) => n + b.percent, 0);
        out.reason = `${Math.round(pct * 10) / 10}% of the calls are denied: ${out.reason}`;
      }
    }
    return out;
  };

  if (workload) {
    const wp = workload.spec.ports[0];
    const protocol: Protocol = 'http';
    notes.push(`${dstNs}/${dstName} is a Workload without a Service: its sidecar's rules are checked directly`);
    const inst = index.list('WorkloadInstance').find((i) => i.metadata.namespace === dstNs && i.spec.workload === dstName);
    const appPort = inst?.spec.ports[0]?.port ?? wp?.port;
    return finish({
      destination: { namespace: dstNs, name: dstName, kind: 'Workload', protocol },
      backends: [decide(dstNs, workload.spec.serviceAccountName, appPort, protocol, `${dstNs}/${dstName}`, 100)],
    });
  }

  const ports = svc!.spec.ports;
  let sp: ServicePort | undefined = ports[0];
  if (q.port !== undefined) {
    sp = ports.find((p) => p.port === q.port);
    if (!sp) {
      throw new AccessQueryError('TRELLIS_E_BAD_REQUEST', `service ${dstNs}/${dstName} has no port ${q.port} (ports: ${ports.map((p) => p.port).join(', ')})`);
    }
  } else if (ports.length > 1) {
    notes.push(`service ${dstNs}/${dstName} has several ports; checked port ${sp!.port} (use port= to choose)`);
  }
  if (!sp) throw new AccessQueryError('TRELLIS_E_BAD_REQUEST', `service ${dstNs}/${dstName} has no ports`);
  const protocol = protocolOf(sp.appProtocol);
  const destination = { namespace: dstNs, name: dstName, kind: 'Service' as const, port: sp.port, protocol };

  // Route as the client sidecar does: the same virtual hosts every proxy receives.
  const splits = activeSplits(index, diagnostics);
  const policies = servicePolicies(index, diagnostics);
  const meshRoutes = meshRoutesByService(
    index.list('HTTPRoute'),
    (ns, name) => cat.services.get(`${ns}/${name}`)?.ports.map((p) => ({ port: p.port.port, name: p.port.name, http: protocolOf(p.port.appProtocol) === 'http' })),
    diagnostics,
  );
  const vhosts = compileVirtualHosts(
    index,
    cat,
    (s) => {
      const key = `${s.namespace}/${s.name}`;
      return { split: splits.get(key), meshRoutes: meshRoutes.get(key) ?? [], policy: policies.get(key) };
    },
    diagnostics,
    cache,
  );
  const vh = vhosts.find((v) => v.name === `${dstNs}/${dstName}:${sp!.port}`);
  const route = vh ? firstRoute(vh, srcNs, req, path) : undefined;
  if (!route) {
    const body = `no route of ${dstNs}/${dstName}:${sp.port} matches ${method} ${path}`;
    return finish({ destination, backends: [], localReply: { status: 404, body } });
  }
  const routeName = route.name;
  const action = route.action;
  if (action.kind === 'respond') return finish({ destination, route: routeName, backends: [], localReply: { status: action.status, body: action.body } });
  if (action.kind === 'redirect') {
    const where = [action.scheme, action.hostname, action.port].filter((x) => x !== undefined).join(' ');
    return finish({ destination, route: routeName, backends: [], localReply: { status: action.status, body: `redirect${where ? ' to ' + where : ''}` } });
  }
  const clusters = action.clusters.filter((c) => c.weight > 0);
  const total = clusters.reduce((n, c) => n + c.weight, 0);
  const backends: AccessBackend[] = [];
  for (const c of clusters) {
    const percent = Math.round((c.weight / total) * 1000) / 10;
    if (c.invalid !== undefined || !c.cluster) {
      notes.push(`${percent}% of the calls go to an invalid backend and are answered 500: ${c.invalid ?? ''}`);
      continue;
    }
    const colon = c.cluster.lastIndexOf(':');
    const [cns, cname] = c.cluster.slice(0, colon).split('/') as [string, string];
    const cport = Number(c.cluster.slice(colon + 1));
    const dests = destinationsOf(index, cat, cns, cname, cport);
    if (dests.length === 0) notes.push(`${c.cluster} has no workload behind it: its ${percent}% of the calls get 503`);
    for (const d of dests) backends.push(decide(cns, d.serviceAccount, d.appPort, protocol, c.cluster, percent));
  }
  for (const c of clusters) {
    const colon = c.cluster.lastIndexOf(':');
    const endpoints = cat.services.get(c.cluster.slice(0, colon))?.ports.find((p) => p.port.port === Number(c.cluster.slice(colon + 1)))?.endpoints ?? [];
    if (endpoints.length > 0 && !endpoints.some((e) => e.ready)) notes.push(`${c.cluster} has no ready endpoint right now: calls routed to it get 503`);
  }
  return finish({ destination, route: routeName, backends });
}

/** One line saying what was decided, for the CLI and the dashboard. */
export function summariseAccess(e: AccessExplanation): string {
  const what = `${e.source.namespace}/${e.source.name} → ${e.destination.namespace}/${e.destination.name}${e.destination.port !== undefined ? ':' + e.destination.port : ''} ${e.request.method} ${e.request.path}`;
  if (e.allowed) {
    const r = e.rule;
    const by = r?.trafficTarget ? `TrafficTarget ${r.trafficTarget}${r.match ? `, match ${r.match}` : ''}` : (r?.text ?? 'allowed');
    return `allowed: ${what} (${by})`;
  }
  return `denied: ${what}: ${e.reason ?? 'denied'}`;
}
