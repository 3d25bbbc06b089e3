// Outbound configuration: one virtual host per Service port, its routes
// (SMI TrafficSplit → weighted backends, `matches` → A/B routes), and one
// cluster per Service port with its ready endpoints.

import type { Catalog, CatalogService } from '../catalog/catalog.js';
import { spiffeId } from '../identity/spiffe.js';
import type { HTTPRouteResource, TrafficSplitResource } from '../resources/types.js';
import type { Diagnostics } from './diagnostics.js';
import type { CompileCache } from './memo.js';
import { selectMatches } from './http-match.js';
import { compileHttpRoutes, type MeshRouteAttachment } from './http-route.js';
import { clusterPolicy, virtualHostPolicy, type ServicePolicy } from './policy.js';
import { byAgeThenName, type ResourceIndex } from './resource-index.js';
import type { ClusterConfig, HttpMatchConfig, Protocol, RouteConfig, VirtualHost } from './snapshot.js';

/** The DNS suffix of Services, as in Kubernetes. */
export const CLUSTER_DOMAIN = 'cluster.local';

export function clusterName(namespace: string, service: string, port: number): string {
  return `${namespace}/${service}:${port}`;
}

export function protocolOf(appProtocol: string): Protocol {
  return appProtocol === 'tcp' ? 'tcp' : 'http';
}

export function compileClusters(
  catalog: Catalog,
  trustDomain: string,
  policies: ReadonlyMap<string, ServicePolicy>,
  diagnostics: Diagnostics,
  cache: CompileCache,
): ClusterConfig[] {
  const out: ClusterConfig[] = [];
  for (const svc of sortedServices(catalog)) {
    const origins = svc.ports.flatMap((p) => p.endpoints.map((e) => e.origin ?? e));
    const policy = policies.get(`${svc.namespace}/${svc.name}`);
    out.push(
      ...cache.memo(`cl|${svc.namespace}/${svc.name}`, [svc.resource, trustDomain, ...(policy?.resources ?? []), ...origins], diagnostics, () =>
        serviceClusters(svc, trustDomain, clusterPolicy(policy)),
      ),
    );
  }
  return out;
}

function serviceClusters(svc: CatalogService, trustDomain: string, policy: ClusterConfig['policy']): ClusterConfig[] {
  const out: ClusterConfig[] = [];
  for (const { port, endpoints } of svc.ports) {
    out.push({
      ...(policy ? { policy } : {}),
      name: clusterName(svc.namespace, svc.name, port.port),
      service: svc.name,
      namespace: svc.namespace,
      port: port.port,
      protocol: protocolOf(port.appProtocol),
      endpoints: endpoints
        .filter((e) => e.ready)
        .map((e) => ({
          address: e.address,
          port: e.port,
          identity: spiffeId(trustDomain, e.namespace, e.serviceAccount),
          ...(e.zone ? { zone: e.zone } : {}),
          instance: e.instance,
        }))
        .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0)),
    });
  }
  return out;
}

/**
 * Host header values that address a Service port from any client:
 * `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`, each with `:port`,
 * and also without it when the port is 80. The bare `name` depends on the
 * client's namespace (the Kubernetes DNS search path): the proxy adds it for
 * services of its own namespace, so every proxy shares one compiled list.
 */
export function serviceDomains(name: string, namespace: string, port: number): string[] {
  const hosts = [`${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`];
  const out = hosts.map((h) => `${h}:${port}`);
  if (port === 80) out.push(...hosts);
  return out;
}

/** The TrafficSplit in force for each root Service (`ns/name`): the oldest wins a conflict. */
export function activeSplits(index: ResourceIndex, diagnostics: Diagnostics): Map<string, TrafficSplitResource> {
  const out = new Map<string, TrafficSplitResource>();
  for (const split of [...index.list('TrafficSplit')].sort(byAgeThenName)) {
    const key = `${split.metadata.namespace}/${split.spec.service}`;
    const winner = out.get(key);
    if (winner) {
      diagnostics.warn(
        split,
        `ignored: TrafficSplit ${winner.metadata.namespace}/${winner.metadata.name} already splits service ${key} (the oldest split wins)`,
      );
      continue;
    }
    out.set(key, split);
  }
  for (const [key, split] of out) {
    if (!index.get('Service', split.metadata.namespace, split.spec.service)) {
      diagnostics.warn(split, `root service ${key} does not exist: the split applies once it does`);
    }
  }
  return out;
}

/** What routes calls to one Service: its split, the HTTPRoutes attached to it, its policies. */
interface ServiceRouting {
  split?: TrafficSplitResource;
  meshRoutes: readonly MeshRouteAttachment[];
  policy?: ServicePolicy;
}

export function compileVirtualHosts(
  index: ResourceIndex,
  catalog: Catalog,
  routing: (svc: CatalogService) => ServiceRouting,
  diagnostics: Diagnostics,
  cache: CompileCache,
): VirtualHost[] {
  const out: VirtualHost[] = [];
  for (const svc of sortedServices(catalog)) {
    const r = routing(svc);
    const { split } = r;
    // Everything a service's virtual hosts depend on, as the objects the store holds.
    const inputs: unknown[] = [svc.resource, split, ...(r.policy?.resources ?? [])];
    if (split) {
      const ns = split.metadata.namespace;
      for (const b of split.spec.backends) inputs.push(catalog.services.get(`${ns}/${b.service}`)?.resource);
      for (const m of split.spec.matches) inputs.push(m.kind === 'HTTPRouteGroup' ? index.get('HTTPRouteGroup', ns, m.name) : index.get('TCPRoute', ns, m.name));
    }
    for (const a of r.meshRoutes) {
      inputs.push(a.route, a.port, a.sectionName);
      for (const b of referencedServices(a.route)) inputs.push(catalog.services.get(b)?.resource);
    }
    out.push(
      ...cache.memo(`vh|${svc.namespace}/${svc.name}`, inputs, diagnostics, () =>
        serviceVirtualHosts(index, catalog, svc, r, diagnostics),
      ),
    );
  }
  return out;
}

/** `ns/name` of every Service a route's backends and mirrors name. */
function referencedServices(route: HTTPRouteResource): string[] {
  const out = new Set<string>();
  for (const rule of route.spec.rules) {
    for (const b of rule.backendRefs) {
      out.add(`${b.namespace}/${b.name}`);
      for (const f of b.filters) if (f.type === 'RequestMirror') out.add(`${f.backendRef.namespace}/${f.backendRef.name}`);
    }
    for (const f of rule.filters) if (f.type === 'RequestMirror') out.add(`${f.backendRef.namespace}/${f.backendRef.name}`);
  }
  return [...out].sort();
}

function serviceVirtualHosts(
  index: ResourceIndex,
  catalog: Catalog,
  svc: CatalogService,
  routing: ServiceRouting,
  diagnostics: Diagnostics,
): VirtualHost[] {
  const out: VirtualHost[] = [];
  const { split } = routing;
  const policy = virtualHostPolicy(routing.policy);
  for (const { port } of svc.ports) {
    const protocol = protocolOf(port.appProtocol);
    const own = clusterName(svc.namespace, svc.name, port.port);
    const attached =
      protocol === 'http'
        ? routing.meshRoutes.filter((a) => (a.port === undefined || a.port === port.port) && (a.sectionName === undefined || a.sectionName === port.name))
        : [];
    const producer = attached.filter((a) => a.route.metadata.namespace === svc.namespace).map((a) => a.route);
    let routes: RouteConfig[];
    if (producer.length > 0) {
      // HTTPRoutes take precedence over a TrafficSplit of the same Service (docs/traffic-management.md).
      if (split) diagnostics.warn(split, `ignored on port ${port.port}: HTTPRoute ${producer.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ')} routes service ${svc.namespace}/${svc.name}`);
      routes = compileHttpRoutes(producer, { catalog, diagnostics, parentPort: port.port, crossNamespaceBackends: true });
    } else {
      routes = split
        ? splitRoutes(index, catalog, split, port.port, protocol, own, diagnostics)
        : [{ name: 'default', action: { kind: 'clusters', clusters: [{ cluster: own, weight: 1 }] } }];
    }
    const vh: VirtualHost = {
      name: own,
      service: svc.name,
      namespace: svc.namespace,
      port: port.port,
      protocol,
      domains: serviceDomains(svc.name, svc.namespace, port.port),
      routes,
    };
    const consumerNamespaces = [...new Set(attached.map((a) => a.route.metadata.namespace).filter((ns) => ns !== svc.namespace))].sort();
    if (consumerNamespaces.length > 0) {
      vh.consumerRoutes = {};
      for (const ns of consumerNamespaces) {
        const mine = attached.filter((a) => a.route.metadata.namespace === ns).map((a) => a.route);
        vh.consumerRoutes[ns] = compileHttpRoutes(mine, { catalog, diagnostics, parentPort: port.port, crossNamespaceBackends: true });
      }
    }
    if (policy) vh.policy = policy;
    out.push(vh);
  }
  return out;
}

function splitRoutes(
  index: ResourceIndex,
  catalog: Catalog,
  split: TrafficSplitResource,
  port: number,
  protocol: Protocol,
  rootCluster: string,
  diagnostics: Diagnostics,
): RouteConfig[] {
  const ns = split.metadata.namespace;
  const name = `split:${ns}/${split.metadata.name}`;
  const clusters: { cluster: string; weight: number }[] = [];
  const reasons: string[] = [];
  for (const b of split.spec.backends) {
    const backend = catalog.services.get(`${ns}/${b.service}`);
    if (!backend) {
      reasons.push(`backend service ${ns}/${b.service} does not exist`);
      diagnostics.warn(split, `backend service ${ns}/${b.service} does not exist: it receives no traffic`);
      continue;
    }
    if (!backend.ports.some((p) => p.port.port === port)) {
      reasons.push(`backend service ${ns}/${b.service} has no port ${port}`);
      diagnostics.warn(split, `backend service ${ns}/${b.service} does not serve port ${port} of the root service: it receives no traffic on that port`);
      continue;
    }
    if (b.weight > 0) clusters.push({ cluster: clusterName(ns, b.service, port), weight: b.weight });
  }
  const action: RouteConfig['action'] =
    clusters.length > 0
      ? { kind: 'clusters', clusters }
      : {
          kind: 'respond',
          status: 503,
          body:
            `TrafficSplit ${ns}/${split.metadata.name} has no backend that can take traffic` +
            ` (${(reasons.length > 0 ? [...reasons, 'every other weight is 0'] : ['every weight is 0']).join('; ')})`,
        };
  if (split.spec.matches.length === 0) return [{ name, action }];
  const fallback: RouteConfig = { name: 'default', action: { kind: 'clusters', clusters: [{ cluster: rootCluster, weight: 1 }] } };

  // TCP ports are split by connection when a TCPRoute of `matches` lists the port (or every port).
  if (protocol === 'tcp') {
    for (const m of split.spec.matches) {
      if (m.kind !== 'TCPRoute') continue;
      const route = index.get('TCPRoute', ns, m.name);
      if (!route) {
        diagnostics.warn(split, `matches refer to TCPRoute ${ns}/${m.name}, which does not exist`);
        continue;
      }
      if (route.spec.ports.length === 0 || route.spec.ports.includes(port)) return [{ name, action }];
    }
    if (split.spec.matches.some((m) => m.kind === 'HTTPRouteGroup')) {
      diagnostics.warn(split, `HTTPRouteGroup matches cannot select connections on TCP port ${port}: it goes to the root service`);
    }
    return [fallback];
  }

  // A/B routing: requests that satisfy a match are split; the rest go to the root service.
  const matches: HttpMatchConfig[] = [];
  for (const m of split.spec.matches) {
    if (m.kind !== 'HTTPRouteGroup') {
      diagnostics.warn(split, `matches of kind ${m.kind} do not apply to HTTP port ${port}`);
      continue;
    }
    const group = index.get('HTTPRouteGroup', ns, m.name);
    if (!group) {
      diagnostics.warn(split, `matches refer to HTTPRouteGroup ${ns}/${m.name}, which does not exist`);
      continue;
    }
    matches.push(...selectMatches(group, undefined, (msg) => diagnostics.warn(split, msg)));
  }
  if (matches.length === 0) return [fallback];
  return [{ name, matches, action }, fallback];
}

const sortedCache = new WeakMap<Catalog, CatalogService[]>();

/** Services ordered by `namespace/name` (catalog keys), sorted once per catalog. */
function sortedServices(catalog: Catalog): CatalogService[] {
  let sorted = sortedCache.get(catalog);
  if (!sorted) {
    sorted = [...catalog.services.keys()].sort().map((k) => catalog.services.get(k)!);
    sortedCache.set(catalog, sorted);
  }
  return sorted;
}
