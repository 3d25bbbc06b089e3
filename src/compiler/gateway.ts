// Gateway API Gateways → the listeners of a gateway proxy. Routes attach to
// listeners by parentRef (name, sectionName, port), allowedRoutes and
// hostname intersection (status.ts decides those, so the status a user reads
// and the routing the proxy does cannot disagree); the routes of each
// effective hostname are compiled by the same code as mesh routes.

import type { Catalog } from '../catalog/catalog.js';
import type { GatewayListener, GatewayResource, HTTPRouteResource } from '../resources/types.js';
import type { Diagnostics } from './diagnostics.js';
import { compileHttpRoutes } from './http-route.js';
import type { ResourceIndex } from './resource-index.js';
import type { GatewayConfig, GatewayListenerConfig, VirtualHost } from './snapshot.js';
import { intersectHostnames, listenerAcceptsRoute, TRELLIS_GATEWAY_CONTROLLER } from './status.js';

/** Does this parentRef name this Gateway listener? */
function refersTo(route: HTTPRouteResource, gw: GatewayResource, l: GatewayListener): boolean {
  return route.spec.parentRefs.some(
    (p) =>
      p.kind === 'Gateway' &&
      p.namespace === gw.metadata.namespace &&
      p.name === gw.metadata.name &&
      (p.sectionName === undefined || p.sectionName === l.name) &&
      (p.port === undefined || p.port === l.port),
  );
}

/** The HTTPRoutes a listener serves, grouped by effective hostname (`*` = any host). */
export function listenerRoutes(
  gw: GatewayResource,
  l: GatewayListener,
  routes: readonly HTTPRouteResource[],
  namespaceLabels: (name: string) => Record<string, string> | undefined,
): Map<string, HTTPRouteResource[]> {
  const byHost = new Map<string, HTTPRouteResource[]>();
  for (const route of routes) {
    if (!refersTo(route, gw, l)) continue;
    if (!listenerAcceptsRoute(gw, l, route, namespaceLabels).ok) continue;
    for (const host of intersectHostnames(l.hostname, route.spec.hostnames)) {
      const list = byHost.get(host) ?? [];
      list.push(route);
      byHost.set(host, list);
    }
  }
  return byHost;
}

export function compileGateway(
  gw: GatewayResource,
  index: ResourceIndex,
  catalog: Catalog,
  diagnostics: Diagnostics,
): GatewayConfig {
  const id = `${gw.metadata.namespace}/${gw.metadata.name}`;
  // Only Gateways of a class Trellis controls are served (status says Accepted=False otherwise).
  const cls = index.get('GatewayClass', '', gw.spec.gatewayClassName);
  if (cls?.spec.controllerName !== TRELLIS_GATEWAY_CONTROLLER) {
    diagnostics.warn(gw, `GatewayClass ${gw.spec.gatewayClassName} ${cls ? `belongs to ${cls.spec.controllerName}` : 'does not exist'}: the Gateway is not served`);
    return { name: id, listeners: [] };
  }
  const routes = index.list('HTTPRoute');
  const namespaceLabels = (name: string) => index.get('Namespace', '', name)?.metadata.labels;
  const listeners: GatewayListenerConfig[] = [];
  for (const l of gw.spec.listeners) {
    if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') continue; // status says UnsupportedProtocol
    const out: GatewayListenerConfig = {
      name: `${id}/${l.name}`,
      port: l.port,
      protocol: l.protocol === 'HTTP' ? 'http' : 'https',
      ...(l.hostname ? { hostname: l.hostname } : {}),
      virtualHosts: [],
    };
    if (l.protocol === 'HTTPS') {
      const tls = listenerTls(gw, l, index);
      if (!tls) {
        diagnostics.warn(gw, `listener ${l.name}: no usable certificate (see status): it is not served`);
        continue;
      }
      out.tls = tls;
    }
    const byHost = listenerRoutes(gw, l, routes, namespaceLabels);
    for (const host of [...byHost.keys()].sort()) {
      // A request the proxy sends to this host's virtual host is also covered by the
      // wildcard (and catch-all) routes: their rules compete by match precedence.
      const merged = new Set<HTTPRouteResource>();
      for (const [other, rs] of byHost) if (covers(other, host)) for (const r of rs) merged.add(r);
      const vh: VirtualHost = {
        name: `${id}/${l.name}/${host}`,
        service: gw.metadata.name,
        namespace: gw.metadata.namespace,
        port: l.port,
        protocol: 'http',
        domains: [host],
        routes: compileHttpRoutes([...merged], { catalog, diagnostics }),
      };
      out.virtualHosts.push(vh);
    }
    listeners.push(out);
  }
  return { name: id, listeners };
}

/** Does the route hostname `pattern` cover every request host that `host` stands for? */
export function covers(pattern: string, host: string): boolean {
  if (pattern === host || pattern === '*') return true;
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1); // `.com`
  const name = host.startsWith('*.') ? host.slice(1) : host;
  return name.endsWith(suffix) && name.length > suffix.length;
}

function listenerTls(gw: GatewayResource, l: GatewayListener, index: ResourceIndex): GatewayListenerConfig['tls'] | undefined {
  const tls = l.tls;
  if (!tls || tls.mode !== 'Terminate') return undefined;
  const ref = tls.certificateRefs[0];
  if (ref) {
    if (ref.group !== '' || ref.kind !== 'Secret' || ref.namespace !== gw.metadata.namespace) return undefined;
    const secret = index.get('Secret', ref.namespace, ref.name);
    const certPem = secret?.spec.data['tls.crt'];
    const keyPem = secret?.spec.data['tls.key'];
    return certPem && keyPem ? { certPem, keyPem } : undefined;
  }
  const certFile = tls.options['trellis.dev/cert-file'];
  const keyFile = tls.options['trellis.dev/key-file'];
  return certFile && keyFile ? { certFile, keyFile } : undefined;
}
