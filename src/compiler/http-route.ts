// Gateway API HTTPRoutes → RouteConfig lists. Mesh routes (GAMMA: a Service
// parent) and, later, gateway routes share this one translation: matches are
// flattened into one RouteConfig per (rule, match) and ordered by the spec's
// precedence, so the proxy only walks a list and takes the first hit.

import type { Catalog } from '../catalog/catalog.js';
import type {
  BackendObjectReference,
  HTTPHeaderEdits,
  HTTPPathModifier,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteResource,
  HTTPRouteRule,
} from '../resources/types.js';
import type { Diagnostics } from './diagnostics.js';
import { anchor } from './http-match.js';
import { clusterName } from './outbound.js';
import type { HeaderEditsConfig, HttpMatchConfig, PathModifierConfig, RouteConfig, RouteFiltersConfig, WeightedCluster } from './snapshot.js';

/** Every HTTPRoute match as the proxy runs it. */
export function compileRouteMatch(name: string, m: HTTPRouteMatch): HttpMatchConfig {
  const out: HttpMatchConfig = { name, methods: m.method ? [m.method] : [], headers: [] };
  if (m.path.type === 'Exact') out.pathExact = m.path.value;
  else if (m.path.type === 'PathPrefix') {
    const p = m.path.value.replace(/\/+$/, '');
    if (p !== '') out.pathPrefix = p;
  } else out.pathRegex = anchor(m.path.value);
  const exact: [string, string][] = [];
  for (const h of m.headers) {
    if (h.type === 'Exact') exact.push([h.name, h.value]);
    else out.headers.push([h.name, anchor(h.value)]);
  }
  if (exact.length > 0) out.headersExact = exact;
  if (m.queryParams.length > 0) {
    out.query = m.queryParams.map((q): [string, 'exact' | 'regex', string] =>
      q.type === 'Exact' ? [q.name, 'exact', q.value] : [q.name, 'regex', anchor(q.value)],
    );
  }
  return out;
}

/** One attached rule match with everything that orders it. */
interface RankedMatch {
  route: HTTPRouteResource;
  ruleIndex: number;
  matchIndex: number;
  match: HTTPRouteMatch;
  config: RouteConfig;
}

function pathRank(m: HTTPRouteMatch): [number, number] {
  // Exact first, then regular expressions (implementation-specific in the
  // spec; longer patterns first), then prefixes, longest first.
  const len = m.path.value.replace(/\/+$/, '').length;
  if (m.path.type === 'Exact') return [0, -m.path.value.length];
  if (m.path.type === 'RegularExpression') return [1, -m.path.value.length];
  return [2, -len];
}

function created(r: HTTPRouteResource): string {
  return r.metadata.creationTimestamp ?? '';
}

/** Gateway API precedence between matches of all routes attached to one parent. */
export function comparePrecedence(a: RankedMatch, b: RankedMatch): number {
  const [ka, la] = pathRank(a.match);
  const [kb, lb] = pathRank(b.match);
  if (ka !== kb) return ka - kb;
  if (la !== lb) return la - lb;
  const ma = a.match.method ? 0 : 1;
  const mb = b.match.method ? 0 : 1;
  if (ma !== mb) return ma - mb;
  if (a.match.headers.length !== b.match.headers.length) return b.match.headers.length - a.match.headers.length;
  if (a.match.queryParams.length !== b.match.queryParams.length) return b.match.queryParams.length - a.match.queryParams.length;
  if (a.route !== b.route) {
    const ca = created(a.route);
    const cb = created(b.route);
    if (ca !== cb) return ca < cb ? -1 : 1;
    const na = `${a.route.metadata.namespace}/${a.route.metadata.name}`;
    const nb = `${b.route.metadata.namespace}/${b.route.metadata.name}`;
    if (na !== nb) return na < nb ? -1 : 1;
  }
  if (a.ruleIndex !== b.ruleIndex) return a.ruleIndex - b.ruleIndex;
  return a.matchIndex - b.matchIndex;
}

export interface RouteContext {
  catalog: Catalog;
  diagnostics: Diagnostics;
  /** The port calls arrive on; a backendRef without a port uses it (mesh routes). */
  parentPort?: number;
  /**
   * Mesh routes may name backends in other namespaces: the destination's
   * sidecar still authorises every call. Gateway routes need a grant.
   */
  crossNamespaceBackends?: boolean;
}

/** The route list for one parent: each (rule, match) of each route, in precedence order. */
export function compileHttpRoutes(routes: readonly HTTPRouteResource[], ctx: RouteContext): RouteConfig[] {
  const ranked: RankedMatch[] = [];
  for (const route of routes) {
    route.spec.rules.forEach((rule, ruleIndex) => {
      const base = compileRuleBody(route, rule, ruleIndex, ctx);
      rule.matches.forEach((match, matchIndex) => {
        const name = `httproute:${route.metadata.namespace}/${route.metadata.name}/${rule.name ?? ruleIndex}`;
        const config: RouteConfig = { name, matches: [compileRouteMatch(`${name}/${matchIndex}`, match)], ...base };
        ranked.push({ route, ruleIndex, matchIndex, match, config });
      });
    });
  }
  return ranked.sort(comparePrecedence).map((r) => r.config);
}

function compileRuleBody(route: HTTPRouteResource, rule: HTTPRouteRule, ruleIndex: number, ctx: RouteContext): Omit<RouteConfig, 'name' | 'matches'> {
  const where = `rule ${rule.name ?? ruleIndex}`;
  const filters = compileFilters(route, rule.filters, where, ctx);
  const out: Omit<RouteConfig, 'name' | 'matches'> = { action: { kind: 'respond', status: 500, body: '' } };
  if (filters) out.filters = filters;
  const t = rule.timeouts;
  if (t && (t.requestMs !== undefined || t.backendRequestMs !== undefined)) {
    out.timeouts = {};
    if (t.requestMs !== undefined) out.timeouts.requestMs = t.requestMs;
    if (t.backendRequestMs !== undefined) out.timeouts.backendRequestMs = t.backendRequestMs;
  }
  const redirect = rule.filters.find((f) => f.type === 'RequestRedirect');
  if (redirect && redirect.type === 'RequestRedirect') {
    out.action = {
      kind: 'redirect',
      status: redirect.statusCode,
      ...(redirect.scheme ? { scheme: redirect.scheme } : {}),
      ...(redirect.hostname ? { hostname: redirect.hostname } : {}),
      ...(redirect.port !== undefined ? { port: redirect.port } : {}),
      ...(redirect.path ? { path: pathModifier(redirect.path) } : {}),
    };
    return out;
  }
  if (rule.backendRefs.length === 0) {
    out.action = { kind: 'respond', status: 500, body: `HTTPRoute ${route.metadata.namespace}/${route.metadata.name} ${where} has no backends` };
    return out;
  }
  const clusters: WeightedCluster[] = [];
  const invalid: string[] = [];
  let invalidWeight = 0;
  for (const b of rule.backendRefs) {
    const resolved = resolveBackend(route, b, where, ctx);
    if (typeof resolved !== 'string' || resolved === '') {
      if (b.weight > 0) {
        invalidWeight += b.weight;
        invalid.push(resolved ? resolved.reason : `backend ${b.name} is invalid`);
      }
      continue;
    }
    if (b.weight === 0) continue;
    const wc: WeightedCluster = { cluster: resolved, weight: b.weight };
    const bf = compileFilters(route, b.filters, `${where} backend ${b.name}`, ctx);
    if (bf) wc.filters = bf;
    clusters.push(wc);
  }
  if (invalidWeight > 0) {
    // The share of requests meant for an invalid backend gets 500 (Gateway API), the rest flows.
    clusters.push({ cluster: '', weight: invalidWeight, invalid: invalid.join('; ') });
  }
  if (clusters.length === 0) {
    out.action = { kind: 'respond', status: 500, body: `HTTPRoute ${route.metadata.namespace}/${route.metadata.name} ${where}: every backend has weight 0` };
  } else if (clusters.length === 1 && clusters[0]!.cluster === '') {
    out.action = { kind: 'respond', status: 500, body: `HTTPRoute ${route.metadata.namespace}/${route.metadata.name} ${where}: ${invalid.join('; ')}` };
  } else {
    out.action = { kind: 'clusters', clusters };
  }
  return out;
}

/** A backend's cluster name, or why it cannot take traffic. */
export function resolveBackend(
  route: HTTPRouteResource,
  b: BackendObjectReference,
  where: string,
  ctx: RouteContext,
  mirror = false,
): string | { reason: string; condition: 'InvalidKind' | 'BackendNotFound' | 'RefNotPermitted' } {
  const id = `${route.metadata.namespace}/${route.metadata.name}`;
  if (b.group !== '' || b.kind !== 'Service') {
    const reason = `backend ${b.group ? `${b.group}/` : ''}${b.kind} ${b.name} is not a Service (InvalidKind)`;
    ctx.diagnostics.warn(route, `${where}: ${reason}`);
    return { reason, condition: 'InvalidKind' };
  }
  if (b.namespace !== route.metadata.namespace && !ctx.crossNamespaceBackends) {
    // Cross-namespace backends need a ReferenceGrant, which Trellis does not implement yet.
    const reason = `backend Service ${b.namespace}/${b.name} is in another namespace (RefNotPermitted)`;
    ctx.diagnostics.warn(route, `${where}: ${reason}`);
    return { reason, condition: 'RefNotPermitted' };
  }
  const svc = ctx.catalog.services.get(`${b.namespace}/${b.name}`);
  const port = b.port ?? ctx.parentPort;
  if (!svc || port === undefined || !svc.ports.some((p) => p.port.port === port)) {
    const reason = !svc ? `backend Service ${b.namespace}/${b.name} does not exist (BackendNotFound)` : `backend Service ${b.namespace}/${b.name} has no port ${port} (BackendNotFound)`;
    ctx.diagnostics.warn(route, `${where}: ${reason}; ${mirror ? 'no copy is sent' : `${id} answers 500 for its share`}`);
    return { reason, condition: 'BackendNotFound' };
  }
  return clusterName(b.namespace, b.name, port);
}

function headerEdits(e: HTTPHeaderEdits): HeaderEditsConfig {
  return {
    set: e.set.map((h): [string, string] => [h.name.toLowerCase(), h.value]),
    add: e.add.map((h): [string, string] => [h.name.toLowerCase(), h.value]),
    remove: e.remove.map((n) => n.toLowerCase()),
  };
}

function pathModifier(p: HTTPPathModifier): PathModifierConfig {
  return p.type === 'ReplaceFullPath' ? { kind: 'full', path: p.replaceFullPath } : { kind: 'prefix', prefix: p.replacePrefixMatch };
}

function compileFilters(route: HTTPRouteResource, filters: readonly HTTPRouteFilter[], where: string, ctx: RouteContext): RouteFiltersConfig | undefined {
  if (filters.length === 0) return undefined;
  const out: RouteFiltersConfig = {};
  for (const f of filters) {
    switch (f.type) {
      case 'RequestHeaderModifier':
        out.requestHeaders = headerEdits(f);
        break;
      case 'ResponseHeaderModifier':
        out.responseHeaders = headerEdits(f);
        break;
      case 'URLRewrite':
        out.rewrite = { ...(f.hostname ? { hostname: f.hostname } : {}), ...(f.path ? { path: pathModifier(f.path) } : {}) };
        break;
      case 'RequestMirror': {
        const resolved = resolveBackend(route, f.backendRef, `${where} mirror`, ctx, true);
        if (typeof resolved === 'string') (out.mirrors ??= []).push({ cluster: resolved, percent: f.percent });
        break;
      }
      case 'RequestRedirect':
        // The rule's action; as a backend filter it has no meaning.
        if (where.includes(' backend ')) ctx.diagnostics.warn(route, `${where}: RequestRedirect as a backend filter is ignored; put it on the rule`);
        break;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A route attached to a Service (GAMMA), on one port or (port undefined) all of them. */
export interface MeshRouteAttachment {
  route: HTTPRouteResource;
  port?: number;
  /** GAMMA: a Service parent's sectionName names one of its ports. */
  sectionName?: string;
}

/** HTTPRoutes whose parent is a Service, by Service (`ns/name`). */
export function meshRoutesByService(
  routes: readonly HTTPRouteResource[],
  servicePorts: (ns: string, name: string) => { port: number; name?: string; http: boolean }[] | undefined,
  diagnostics: Diagnostics,
): Map<string, MeshRouteAttachment[]> {
  const out = new Map<string, MeshRouteAttachment[]>();
  for (const route of routes) {
    for (const ref of route.spec.parentRefs) {
      if (ref.kind !== 'Service') continue;
      const ports = servicePorts(ref.namespace, ref.name);
      if (!ports) {
        diagnostics.warn(route, `parent Service ${ref.namespace}/${ref.name} does not exist (NoMatchingParent): the route applies once it does`);
        continue;
      }
      const chosen = ports.filter((p) => (ref.port === undefined || p.port === ref.port) && (ref.sectionName === undefined || p.name === ref.sectionName));
      if (chosen.length === 0) {
        const which = [ref.port !== undefined ? `port ${ref.port}` : '', ref.sectionName !== undefined ? `port named ${ref.sectionName}` : ''].filter(Boolean).join(' and ');
        diagnostics.warn(route, `parent Service ${ref.namespace}/${ref.name} has no ${which} (NoMatchingParent)`);
        continue;
      }
      if (!chosen.some((p) => p.http)) {
        diagnostics.warn(route, `parent Service ${ref.namespace}/${ref.name}: the chosen ports are TCP; an HTTPRoute does not apply to them`);
      }
      if (route.spec.hostnames.length > 0) diagnostics.warn(route, `hostnames are ignored for a Service parent (GAMMA)`);
      const key = `${ref.namespace}/${ref.name}`;
      const list = out.get(key) ?? [];
      list.push({ route, ...(ref.port !== undefined ? { port: ref.port } : {}), ...(ref.sectionName !== undefined ? { sectionName: ref.sectionName } : {}) });
      out.set(key, list);
    }
  }
  return out;
}
