// Gateway API status, computed: what a Kubernetes controller would write to
// `status` of each GatewayClass, Gateway and HTTPRoute, derived purely from
// the resources and the catalog. Nothing is stored (writing status would
// re-trigger compilation); the admin API decorates objects with it on read.
// The gateway compiler decides route attachment with the same two helpers
// (listenerAcceptsRoute, intersectHostnames), so what a user reads and what
// the proxy does cannot disagree.

import type { Catalog } from '../catalog/catalog.js';
import { TRELLIS_GATEWAY_CONTROLLER } from '../resources/gateway-class.js';
import { GATEWAY_API_GROUP } from '../resources/gateway-fields.js';
import { SECRET_TYPE_TLS } from '../resources/secret.js';
import type {
  BackendObjectReference,
  GatewayClassResource,
  GatewayListener,
  GatewayResource,
  HTTPRouteResource,
  ParentReference,
  Resource,
  SecretResource,
  StatusCondition,
} from '../resources/types.js';
import { keyOf } from '../resources/types.js';
import { protocolOf } from './outbound.js';

export { TRELLIS_GATEWAY_CONTROLLER };

/** The label Kubernetes puts on every namespace; listeners may select namespaces by it. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface RouteGroupKind {
  group: string;
  kind: string;
}

export interface ListenerStatus {
  name: string;
  supportedKinds: RouteGroupKind[];
  /** HTTPRoutes accepted on this listener. */
  attachedRoutes: number;
  conditions: StatusCondition[];
}

export interface RouteParentStatus {
  /** The parentRef as the route names it (defaults applied). */
  parentRef: { group: string; kind: string; namespace: string; name: string; sectionName?: string; port?: number };
  controllerName: string;
  conditions: StatusCondition[];
}

/** The `status` of one object: `conditions` (GatewayClass, Gateway), `listeners` (Gateway), `parents` (HTTPRoute). */
export interface ObjectStatus {
  conditions?: StatusCondition[];
  listeners?: ListenerStatus[];
  parents?: RouteParentStatus[];
}

export type RouteAcceptance =
  | { ok: true }
  | { ok: false; reason: 'NotAllowedByListeners' | 'NoMatchingListenerHostname'; message: string };

const HTTP_ROUTE_KIND: RouteGroupKind = { group: GATEWAY_API_GROUP, kind: 'HTTPRoute' };

// ---- hostnames -------------------------------------------------------------

/** Does wildcard `*.suffix` match `host` (an exact name or a narrower wildcard)? One or more labels must stand for `*`. */
function wildcardCovers(wildcard: string, host: string): boolean {
  const suffix = wildcard.slice(1); // `.example.com`
  const name = host.startsWith('*.') ? host.slice(1) : host;
  if (host.startsWith('*.')) return name === suffix || name.endsWith(suffix);
  return name.length > suffix.length && name.endsWith(suffix);
}

/** The intersection of one listener hostname and one route hostname, or undefined. */
function intersectOne(listener: string, route: string): string | undefined {
  const lw = listener.startsWith('*.');
  const rw = route.startsWith('*.');
  if (!lw && !rw) return listener === route ? route : undefined;
  if (lw && !rw) return wildcardCovers(listener, route) ? route : undefined;
  if (!lw && rw) return wildcardCovers(route, listener) ? listener : undefined;
  // Two wildcards: the more specific one, when one covers the other.
  if (wildcardCovers(listener, route)) return route;
  if (wildcardCovers(route, listener)) return listener;
  return undefined;
}

/**
 * The hostnames a route serves on a listener (Gateway API hostname
 * intersection), lower-case and without duplicates:
 * - a route without hostnames takes the listener's (`*` when it has none);
 * - a listener without a hostname takes the route's;
 * - otherwise each pair intersects: exact names must be equal; `*.example.com`
 *   matches names with one or more labels before `example.com` (not
 *   `example.com` itself); of two overlapping wildcards the narrower one is kept.
 * An empty result means the route does not attach (NoMatchingListenerHostname).
 */
export function intersectHostnames(listenerHost: string | undefined, routeHosts: readonly string[]): string[] {
  const listener = listenerHost?.toLowerCase();
  if (routeHosts.length === 0) return [listener ?? '*'];
  const out = new Set<string>();
  for (const raw of routeHosts) {
    const route = raw.toLowerCase();
    if (listener === undefined || listener === '' || listener === '*') out.add(route);
    else if (route === '*') out.add(listener);
    else {
      const h = intersectOne(listener, route);
      if (h !== undefined) out.add(h);
    }
  }
  return [...out];
}

// ---- attachment --------------------------------------------------------------

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  // A label selector with no requirements selects everything (Kubernetes semantics).
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function describeListener(l: GatewayListener): string {
  return `listener ${l.name} (${l.protocol} ${l.port}${l.hostname ? ` ${l.hostname}` : ''})`;
}

/**
 * Whether `listener` of `gateway` takes `route` (parentRef matching by name,
 * sectionName and port is the caller's business): an HTTP or HTTPS listener
 * whose allowedRoutes admit HTTPRoutes from the route's namespace, and whose
 * hostname intersects the route's. `namespaces` gives a namespace's labels
 * (undefined = not declared); `kubernetes.io/metadata.name` is always set.
 */
export function listenerAcceptsRoute(
  gateway: GatewayResource,
  listener: GatewayListener,
  route: HTTPRouteResource,
  namespaces: (name: string) => Record<string, string> | undefined,
): RouteAcceptance {
  const where = describeListener(listener);
  if (listener.protocol !== 'HTTP' && listener.protocol !== 'HTTPS') {
    return { ok: false, reason: 'NotAllowedByListeners', message: `${where} is ${listener.protocol}: HTTPRoutes attach to HTTP and HTTPS listeners` };
  }
  const kinds = listener.allowedRoutes.kinds;
  if (!kinds.some((k) => k.group === HTTP_ROUTE_KIND.group && k.kind === HTTP_ROUTE_KIND.kind)) {
    return { ok: false, reason: 'NotAllowedByListeners', message: `${where} allows only ${kinds.map((k) => k.kind).join(', ') || 'no'} routes, not HTTPRoute` };
  }
  const routeNs = route.metadata.namespace;
  const gwNs = gateway.metadata.namespace;
  const ns = listener.allowedRoutes.namespaces;
  if (ns.from === 'Same' && routeNs !== gwNs) {
    return {
      ok: false,
      reason: 'NotAllowedByListeners',
      message: `${where} allows routes from namespace ${gwNs} only (allowedRoutes.namespaces.from: Same), and the route is in ${routeNs}`,
    };
  }
  if (ns.from === 'Selector') {
    const selector = ns.selector?.matchLabels ?? {};
    const labels = { ...(namespaces(routeNs) ?? {}), [NAMESPACE_NAME_LABEL]: routeNs };
    if (!labelsMatch(selector, labels)) {
      const want = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
      return { ok: false, reason: 'NotAllowedByListeners', message: `${where} allows routes from namespaces labelled ${want}, and namespace ${routeNs} is not` };
    }
  }
  if (intersectHostnames(listener.hostname, route.spec.hostnames).length === 0) {
    return {
      ok: false,
      reason: 'NoMatchingListenerHostname',
      message: `none of the route's hostnames (${route.spec.hostnames.join(', ')}) matches ${where}`,
    };
  }
  return { ok: true };
}

// ---- conditions ----------------------------------------------------------------

function condition(
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
): StatusCondition {
  const c: StatusCondition = { type, status: ok ? 'True' : 'False', reason, message };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

interface ListenerEval {
  listener: GatewayListener;
  supportedKinds: RouteGroupKind[];
  accepted: { ok: boolean; reason: string; message: string };
  resolved: { ok: boolean; reason: string; message: string };
  conflicted?: { reason: string; message: string };
  /** Keys of the routes accepted on it. */
  routes: Set<string>;
}

interface GatewayEval {
  gateway: GatewayResource;
  /** Undefined when Trellis serves the Gateway's class; else why not. */
  classProblem?: string;
  listeners: ListenerEval[];
}

function classProblemOf(gw: GatewayResource, classes: Map<string, GatewayClassResource>): string | undefined {
  const cls = classes.get(gw.spec.gatewayClassName);
  if (!cls) return `GatewayClass "${gw.spec.gatewayClassName}" does not exist; create one with controllerName ${TRELLIS_GATEWAY_CONTROLLER}`;
  if (cls.spec.controllerName !== TRELLIS_GATEWAY_CONTROLLER) {
    return `GatewayClass "${cls.metadata.name}" belongs to controller ${cls.spec.controllerName}, not ${TRELLIS_GATEWAY_CONTROLLER}`;
  }
  return undefined;
}

function evaluateListeners(gw: GatewayResource, secrets: Map<string, SecretResource>): ListenerEval[] {
  const ns = gw.metadata.namespace;
  // Trellis serves one kind of connection per port: HTTP and HTTPS listeners may not share one.
  const servedProtocols = new Map<number, Set<string>>();
  for (const l of gw.spec.listeners) {
    if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') continue;
    const set = servedProtocols.get(l.port) ?? new Set<string>();
    set.add(l.protocol);
    servedProtocols.set(l.port, set);
  }
  return gw.spec.listeners.map((l): ListenerEval => {
    const served = l.protocol === 'HTTP' || l.protocol === 'HTTPS';
    const supportedKinds = served
      ? l.allowedRoutes.kinds.filter((k) => k.group === HTTP_ROUTE_KIND.group && k.kind === HTTP_ROUTE_KIND.kind).map((k) => ({ ...k }))
      : [];
    const accepted = served
      ? { ok: true, reason: 'Accepted', message: `${l.protocol} listener on port ${l.port}` }
      : {
          ok: false,
          reason: 'UnsupportedProtocol',
          message: `protocol ${l.protocol} is not supported: Trellis gateways serve HTTP and HTTPS listeners only for now`,
        };

    // ResolvedRefs: certificate references, then route kinds.
    const refNotPermitted: string[] = [];
    const invalidCert: string[] = [];
    if (l.tls && l.tls.mode === 'Terminate') {
      for (const ref of l.tls.certificateRefs) {
        const what = `certificateRef ${ref.group ? `${ref.group}/` : ''}${ref.kind} ${ref.namespace}/${ref.name}`;
        if (ref.group !== '' || ref.kind !== 'Secret') {
          invalidCert.push(`${what}: only core Secrets are supported`);
        } else if (ref.namespace !== ns) {
          refNotPermitted.push(`${what} is in another namespace than the Gateway (${ns}); Trellis has no ReferenceGrant yet`);
        } else {
          const secret = secrets.get(`${ref.namespace}/${ref.name}`);
          if (!secret) invalidCert.push(`${what} does not exist`);
          else if (secret.spec.type !== SECRET_TYPE_TLS) invalidCert.push(`${what} is of type ${secret.spec.type}, not ${SECRET_TYPE_TLS}`);
        }
      }
    }
    const badKinds = served
      ? l.allowedRoutes.kinds.filter((k) => !(k.group === HTTP_ROUTE_KIND.group && k.kind === HTTP_ROUTE_KIND.kind))
      : [];
    const kindProblems = badKinds.length > 0 ? [`route kinds ${badKinds.map((k) => `${k.group}/${k.kind}`).join(', ')} are not supported (HTTPRoute only)`] : [];
    const problems = [...refNotPermitted, ...invalidCert, ...kindProblems];
    const resolved =
      problems.length === 0
        ? { ok: true, reason: 'ResolvedRefs', message: 'all references resolved' }
        : {
            ok: false,
            reason: refNotPermitted.length > 0 ? 'RefNotPermitted' : invalidCert.length > 0 ? 'InvalidCertificateRef' : 'InvalidRouteKinds',
            message: problems.join('; '),
          };

    const protocols = served ? servedProtocols.get(l.port) : undefined;
    const conflicted =
      protocols && protocols.size > 1
        ? { reason: 'ProtocolConflict', message: `port ${l.port} has both HTTP and HTTPS listeners; one port serves one protocol` }
        : undefined;
    return { listener: l, supportedKinds, accepted, resolved, ...(conflicted ? { conflicted } : {}), routes: new Set() };
  });
}

function listenerProgrammed(gw: GatewayEval, l: ListenerEval): { ok: boolean; message: string } {
  if (gw.classProblem) return { ok: false, message: 'the Gateway is not accepted' };
  if (!l.accepted.ok) return { ok: false, message: `not accepted: ${l.accepted.message}` };
  if (l.conflicted) return { ok: false, message: `conflicted: ${l.conflicted.message}` };
  if (!l.resolved.ok) return { ok: false, message: `unresolved references: ${l.resolved.message}` };
  return { ok: true, message: 'served by the gateway proxy' };
}

function gatewayStatus(g: GatewayEval): ObjectStatus {
  const gen = g.gateway.metadata.generation;
  const listeners: ListenerStatus[] = g.listeners.map((l) => {
    const programmed = listenerProgrammed(g, l);
    return {
      name: l.listener.name,
      supportedKinds: l.supportedKinds,
      attachedRoutes: l.routes.size,
      conditions: [
        condition('Accepted', l.accepted.ok, l.accepted.reason, l.accepted.message, gen),
        condition('ResolvedRefs', l.resolved.ok, l.resolved.reason, l.resolved.message, gen),
        condition('Programmed', programmed.ok, programmed.ok ? 'Programmed' : 'Invalid', programmed.message, gen),
        l.conflicted
          ? condition('Conflicted', true, l.conflicted.reason, l.conflicted.message, gen)
          : condition('Conflicted', false, 'NoConflicts', 'no conflicts', gen),
      ],
    };
  });
  let conditions: StatusCondition[];
  if (g.classProblem) {
    conditions = [
      condition('Accepted', false, 'InvalidParameters', g.classProblem, gen),
      condition('Programmed', false, 'Invalid', 'the Gateway is not accepted', gen),
    ];
  } else {
    const valid = g.listeners.filter((l) => listenerProgrammed(g, l).ok).map((l) => l.listener.name);
    const invalid = g.listeners.filter((l) => !listenerProgrammed(g, l).ok).map((l) => l.listener.name);
    const accepted =
      invalid.length === 0
        ? condition('Accepted', true, 'Accepted', `accepted by ${TRELLIS_GATEWAY_CONTROLLER}`, gen)
        : condition(
            'Accepted',
            valid.length > 0,
            'ListenersNotValid',
            `listeners not valid: ${invalid.join(', ')}${valid.length > 0 ? `; served: ${valid.join(', ')}` : '; no listener can be served'}`,
            gen,
          );
    const programmed =
      valid.length > 0
        ? condition('Programmed', true, 'Programmed', `serving listeners ${valid.join(', ')}`, gen)
        : condition('Programmed', false, 'Invalid', 'no listener is valid (see status.listeners)', gen);
    conditions = [accepted, programmed];
  }
  return { conditions, listeners };
}

// ---- routes ------------------------------------------------------------------------

function wireParentRef(ref: ParentReference): RouteParentStatus['parentRef'] {
  const out: RouteParentStatus['parentRef'] = { group: ref.group, kind: ref.kind, namespace: ref.namespace, name: ref.name };
  if (ref.sectionName !== undefined) out.sectionName = ref.sectionName;
  if (ref.port !== undefined) out.port = ref.port;
  return out;
}

/** Every backend a route refers to: rule and backend-level mirror targets included. */
function backendsOf(route: HTTPRouteResource): BackendObjectReference[] {
  const out: BackendObjectReference[] = [];
  for (const rule of route.spec.rules) {
    for (const f of rule.filters) if (f.type === 'RequestMirror') out.push(f.backendRef);
    for (const b of rule.backendRefs) {
      out.push(b);
      for (const f of b.filters) if (f.type === 'RequestMirror') out.push(f.backendRef);
    }
  }
  return out;
}

function resolvedRefs(route: HTTPRouteResource, ref: ParentReference, catalog: Catalog, gen: number | undefined): StatusCondition {
  const problems: { reason: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const b of backendsOf(route)) {
    const id = `${b.group ? `${b.group}/` : ''}${b.kind} ${b.namespace}/${b.name}${b.port !== undefined ? `:${b.port}` : ''}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (b.group !== '' || b.kind !== 'Service') {
      problems.push({ reason: 'InvalidKind', message: `backend ${id} is not a core Service` });
      continue;
    }
    if (ref.kind === 'Gateway' && b.namespace !== route.metadata.namespace) {
      problems.push({ reason: 'RefNotPermitted', message: `backend ${id} is in another namespace than the route; Trellis has no ReferenceGrant yet` });
      continue;
    }
    const svc = catalog.services.get(`${b.namespace}/${b.name}`);
    const port = b.port ?? (ref.kind === 'Service' ? ref.port : undefined);
    if (!svc) problems.push({ reason: 'BackendNotFound', message: `backend Service ${b.namespace}/${b.name} does not exist` });
    else if (port !== undefined && !svc.ports.some((p) => p.port.port === port)) {
      problems.push({ reason: 'BackendNotFound', message: `backend Service ${b.namespace}/${b.name} has no port ${port}` });
    } else if (port === undefined && ref.kind === 'Gateway') {
      problems.push({ reason: 'BackendNotFound', message: `backend Service ${b.namespace}/${b.name} needs a port` });
    }
  }
  if (problems.length === 0) return condition('ResolvedRefs', true, 'ResolvedRefs', 'all backend references resolved', gen);
  return condition('ResolvedRefs', false, problems[0]!.reason, problems.map((p) => p.message).join('; '), gen);
}

function serviceParentAccepted(ref: ParentReference, catalog: Catalog, gen: number | undefined): StatusCondition {
  const svc = catalog.services.get(`${ref.namespace}/${ref.name}`);
  if (!svc) return condition('Accepted', false, 'NoMatchingParent', `parent Service ${ref.namespace}/${ref.name} does not exist`, gen);
  const chosen = svc.ports.filter(
    (p) => (ref.port === undefined || p.port.port === ref.port) && (ref.sectionName === undefined || p.port.name === ref.sectionName),
  );
  if (chosen.length === 0) {
    const which = [ref.port !== undefined ? `port ${ref.port}` : '', ref.sectionName !== undefined ? `a port named ${ref.sectionName}` : '']
      .filter(Boolean)
      .join(' and ');
    return condition('Accepted', false, 'NoMatchingParent', `parent Service ${ref.namespace}/${ref.name} has no ${which}`, gen);
  }
  if (!chosen.some((p) => protocolOf(p.port.appProtocol) === 'http')) {
    return condition(
      'Accepted',
      false,
      'UnsupportedValue',
      `the chosen ports of Service ${ref.namespace}/${ref.name} carry opaque TCP (appProtocol tcp): an HTTPRoute does not apply to them`,
      gen,
    );
  }
  return condition('Accepted', true, 'Accepted', `routes calls to Service ${ref.namespace}/${ref.name}`, gen);
}

function gatewayParentAccepted(
  route: HTTPRouteResource,
  ref: ParentReference,
  gateways: Map<string, GatewayEval>,
  namespaces: (name: string) => Record<string, string> | undefined,
  gen: number | undefined,
): StatusCondition {
  const g = gateways.get(`${ref.namespace}/${ref.name}`);
  if (!g) return condition('Accepted', false, 'NoMatchingParent', `parent Gateway ${ref.namespace}/${ref.name} does not exist`, gen);
  if (g.classProblem) {
    return condition('Accepted', false, 'NoMatchingParent', `parent Gateway ${ref.namespace}/${ref.name} is not accepted: ${g.classProblem}`, gen);
  }
  const candidates = g.listeners.filter(
    (l) => (ref.sectionName === undefined || l.listener.name === ref.sectionName) && (ref.port === undefined || l.listener.port === ref.port),
  );
  if (candidates.length === 0) {
    const which = [ref.sectionName !== undefined ? `named ${ref.sectionName}` : '', ref.port !== undefined ? `on port ${ref.port}` : '']
      .filter(Boolean)
      .join(' ');
    return condition('Accepted', false, 'NoMatchingParent', `parent Gateway ${ref.namespace}/${ref.name} has no listener ${which}`, gen);
  }
  const routeKey = keyOf({ kind: route.kind, namespace: route.metadata.namespace, name: route.metadata.name });
  const refusals: { reason: string; message: string }[] = [];
  const taken: string[] = [];
  for (const l of candidates) {
    const verdict = listenerAcceptsRoute(g.gateway, l.listener, route, namespaces);
    if (verdict.ok) {
      l.routes.add(routeKey);
      taken.push(l.listener.name);
    } else {
      refusals.push(verdict);
    }
  }
  if (taken.length > 0) {
    return condition('Accepted', true, 'Accepted', `attached to listener${taken.length > 1 ? 's' : ''} ${taken.join(', ')} of Gateway ${ref.namespace}/${ref.name}`, gen);
  }
  // Allowed somewhere but no hostname in common: the hostname is what to fix.
  const reason = refusals.some((r) => r.reason === 'NoMatchingListenerHostname') ? 'NoMatchingListenerHostname' : refusals[0]!.reason;
  return condition('Accepted', false, reason, refusals.map((r) => r.message).join('; '), gen);
}

// ---- everything ----------------------------------------------------------------------

/**
 * The Kubernetes-shaped `status` of every GatewayClass Trellis serves, every
 * Gateway and every HTTPRoute, keyed `Kind/namespace/name` (GatewayClass:
 * `GatewayClass//name`). Pure: the same resources and catalog give the same map.
 */
export function computeStatuses(resources: readonly Resource[], catalog: Catalog): Map<string, ObjectStatus> {
  const out = new Map<string, ObjectStatus>();
  const classes = new Map<string, GatewayClassResource>();
  const secrets = new Map<string, SecretResource>();
  const nsLabels = new Map<string, Record<string, string>>();
  const gatewayList: GatewayResource[] = [];
  const routes: HTTPRouteResource[] = [];
  for (const r of resources) {
    switch (r.kind) {
      case 'GatewayClass':
        classes.set(r.metadata.name, r);
        break;
      case 'Secret':
        secrets.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
        break;
      case 'Namespace':
        nsLabels.set(r.metadata.name, r.metadata.labels);
        break;
      case 'Gateway':
        gatewayList.push(r);
        break;
      case 'HTTPRoute':
        routes.push(r);
        break;
    }
  }
  const namespaces = (name: string) => nsLabels.get(name);

  for (const cls of classes.values()) {
    if (cls.spec.controllerName !== TRELLIS_GATEWAY_CONTROLLER) continue; // another controller's business
    out.set(keyOf({ kind: 'GatewayClass', namespace: '', name: cls.metadata.name }), {
      conditions: [condition('Accepted', true, 'Accepted', `served by ${TRELLIS_GATEWAY_CONTROLLER}`, cls.metadata.generation)],
    });
  }

  const gateways = new Map<string, GatewayEval>();
  for (const gw of gatewayList) {
    const classProblem = classProblemOf(gw, classes);
    gateways.set(`${gw.metadata.namespace}/${gw.metadata.name}`, {
      gateway: gw,
      ...(classProblem !== undefined ? { classProblem } : {}),
      listeners: evaluateListeners(gw, secrets),
    });
  }

  for (const route of routes) {
    const gen = route.metadata.generation;
    const parents: RouteParentStatus[] = route.spec.parentRefs.map((ref) => ({
      parentRef: wireParentRef(ref),
      controllerName: TRELLIS_GATEWAY_CONTROLLER,
      conditions: [
        ref.kind === 'Gateway' ? gatewayParentAccepted(route, ref, gateways, namespaces, gen) : serviceParentAccepted(ref, catalog, gen),
        resolvedRefs(route, ref, catalog, gen),
      ],
    }));
    out.set(keyOf({ kind: 'HTTPRoute', namespace: route.metadata.namespace, name: route.metadata.name }), { parents });
  }

  for (const g of gateways.values()) {
    out.set(keyOf({ kind: 'Gateway', namespace: g.gateway.metadata.namespace, name: g.gateway.metadata.name }), gatewayStatus(g));
  }
  return out;
}
