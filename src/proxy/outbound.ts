// Outbound: calls from the local app into the mesh. The HTTP listener takes
// absolute-form requests (the app uses it as HTTP_PROXY) and origin-form
// requests routed by Host; explicit upstream ports send everything to one
// Service port (HTTP with the same routing, TCP passed through).
// Stack: virtual host → route → split (cluster) → endpoint → mTLS pool.

import http from 'node:http';
import net from 'node:net';
import { endToEndHeaders, forward, localReply } from './forward.js';
import { pathOf } from './http-match.js';
import { applyServerLimits, LIMITS } from './limits.js';
import { pickCluster, pickEndpoint, selectRoute, type RuntimeVirtualHost } from './routing.js';
import type { ProxyState } from './state.js';

/** Absolute-form target (`http://host:port/path`) → [host, path]; undefined for origin-form. */
export function splitAbsoluteUrl(url: string): [string, string] | undefined {
  if (!url.startsWith('http://')) return undefined;
  const slash = url.indexOf('/', 7);
  return slash < 0 ? [url.slice(7), '/'] : [url.slice(7, slash), url.slice(slash)];
}

const DROP_ON_OUTBOUND = new Set(['x-trellis-peer-identity']);

export function handleOutboundHttp(
  state: ProxyState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  fixed: RuntimeVirtualHost | undefined,
): void {
  let host: string;
  let path: string;
  const abs = splitAbsoluteUrl(req.url ?? '/');
  if (abs) [host, path] = abs;
  else {
    host = req.headers.host ?? '';
    path = req.url ?? '/';
  }
  const vh = fixed ?? state.table.byDomain.get(host.toLowerCase());
  if (!vh) {
    state.metrics.localReplies.inc({ reason: 'no_route' });
    localReply(res, 404, `trellis: no service in the mesh answers to "${host}"; use <service>.<namespace>:<port>`);
    return;
  }
  const route = selectRoute(vh, req, pathOf(path));
  if (!route) {
    state.metrics.localReplies.inc({ reason: 'no_route' });
    localReply(res, 404, `trellis: no route of ${vh.config.name} matches ${req.method} ${pathOf(path)}`);
    return;
  }
  if (route.respond) {
    state.metrics.localReplies.inc({ reason: 'route_response' });
    localReply(res, route.respond.status, `trellis: ${route.respond.body}`);
    return;
  }
  const cluster = pickCluster(route);
  const ep = cluster && pickEndpoint(cluster);
  const target = ep && state.pool.requestOptions(ep);
  if (!cluster || !ep || !target) {
    state.metrics.localReplies.inc({ reason: 'no_endpoint' });
    localReply(res, 503, `trellis: no ready endpoint for ${cluster?.config.name ?? vh.config.name}`);
    return;
  }
  const count = state.outboundCounter(vh.config.name, cluster.config.name);
  forward(req, res, {
    target,
    secure: true,
    path,
    headers: endToEndHeaders(req.rawHeaders, DROP_ON_OUTBOUND),
    responseTimeoutMs: LIMITS.upstreamResponseTimeoutMs,
    done: count,
    fail: (kind, err) => {
      state.metrics.localReplies.inc({ reason: `upstream_${kind}` });
      const status = kind === 'timeout' ? 504 : 503;
      return { status, body: `trellis: upstream ${cluster.config.name} (${ep.instance}) failed: ${err.message}\n` };
    },
  });
}

export function createOutboundHttpServer(state: ProxyState, fixed?: () => RuntimeVirtualHost | undefined): http.Server {
  const server = http.createServer({ maxHeaderSize: LIMITS.maxHeaderBytes }, (req, res) => {
    if (fixed) {
      const vh = fixed();
      if (!vh) return localReply(res, 503, 'trellis: this upstream port has no service behind it');
      return handleOutboundHttp(state, req, res, vh);
    }
    handleOutboundHttp(state, req, res, undefined);
  });
  applyServerLimits(server);
  return server;
}

/** An explicit TCP upstream: each connection goes, whole, to one endpoint of the split's choice. */
export function createOutboundTcpServer(state: ProxyState, virtualHost: () => RuntimeVirtualHost | undefined): net.Server {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const vh = virtualHost();
    const route = vh?.routes[vh.routes.length - 1];
    const cluster = route && pickCluster(route);
    const ep = cluster && pickEndpoint(cluster);
    const upstream = ep && state.pool.connect(ep);
    if (!vh || !cluster || !ep || !upstream) {
      state.metrics.localReplies.inc({ reason: 'no_endpoint' });
      client.destroy();
      return;
    }
    state.metrics.tcpConnections.inc({ direction: 'outbound', destination: cluster.config.name });
    pipeBoth(client, upstream, LIMITS.tcpIdleTimeoutMs);
  });
  server.maxConnections = LIMITS.maxConnections;
  return server;
}

/** Joins two sockets both ways, passing half-closes through, with an idle timeout. */
export function pipeBoth(a: net.Socket, b: net.Socket, idleMs: number): void {
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close);
  b.on('error', close);
  a.on('close', () => b.destroySoon?.() ?? b.end());
  b.on('close', () => a.destroySoon?.() ?? a.end());
  a.setTimeout(idleMs, close);
  b.setTimeout(idleMs, close);
}
