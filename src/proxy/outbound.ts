// Outbound: calls from the local app into the mesh. The HTTP listener takes
// absolute-form requests (the app uses it as HTTP_PROXY) and origin-form
// requests routed by Host; explicit upstream ports send everything to one
// Service port (HTTP with the same routing, TCP passed through).
// Stack: virtual host → route → split (cluster) → endpoint → mTLS pool.

import net from 'node:net';
import { localReply, outboundCall } from './call.js';
import type { RequestHead } from './h1/head.js';
import type { Decision } from './h1/decision.js';
import { serveH1 } from './h1/server.js';
import { LIMITS } from './limits.js';
import { pickCluster, pickEndpoint, type RuntimeVirtualHost } from './routing.js';
import type { ProxyState } from './state.js';

/** Absolute-form target (`http://host:port/path`) → [host, path]; undefined for origin-form. */
export function splitAbsoluteUrl(url: string): [string, string] | undefined {
  if (!url.startsWith('http://')) return undefined;
  const slash = url.indexOf('/', 7);
  return slash < 0 ? [url.slice(7), '/'] : [url.slice(7, slash), url.slice(slash)];
}

export function outboundDecision(state: ProxyState, req: RequestHead, fixed: RuntimeVirtualHost | undefined): Decision {
  let host: string;
  let target: string;
  const abs = splitAbsoluteUrl(req.target);
  if (abs) [host, target] = abs;
  else {
    host = req.host ?? '';
    target = req.target;
  }
  const vh = fixed ?? state.table.byDomain.get(host.toLowerCase());
  if (!vh) return localReply(state, 'no_route', 404, `trellis: no service in the mesh answers to "${host}"; use <service>.<namespace>:<port>`);
  return outboundCall(state, req, vh, host, target);
}

export function createOutboundHttpServer(state: ProxyState, fixed?: () => RuntimeVirtualHost | undefined): net.Server {
  const server = net.createServer({ noDelay: true }, (socket) => {
    serveH1(
      socket,
      (req) => {
        if (!fixed) return outboundDecision(state, req, undefined);
        const vh = fixed();
        if (!vh) return localReply(state, 'no_route', 503, 'trellis: this upstream port has no service behind it');
        return outboundDecision(state, req, vh);
      },
      LIMITS,
    );
  });
  server.maxConnections = LIMITS.maxConnections;
  return server;
}

/** An explicit TCP upstream: each connection goes, whole, to one endpoint of the split's choice. */
export function createOutboundTcpServer(state: ProxyState, virtualHost: () => RuntimeVirtualHost | undefined): net.Server {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const vh = virtualHost();
    const route = vh?.routes[vh.routes.length - 1];
    const cluster = route && pickCluster(route);
    const policy = cluster?.config.policy;
    const maxConnections = policy?.circuitBreaker?.maxConnections;
    if (cluster && maxConnections !== undefined && cluster.load.active >= maxConnections) {
      state.metrics.resilience.inc({ event: 'overflow_connections', cluster: cluster.config.name });
      client.destroy();
      return;
    }
    const ep = cluster && pickEndpoint(cluster, policy?.loadBalancer?.hashOn && 'sourceIdentity' in policy.loadBalancer.hashOn ? state.snapshot?.node.identity : undefined);
    const upstream = ep && state.pool.connect(ep.config, policy?.connectTimeoutMs);
    if (!vh || !cluster || !ep || !upstream) {
      state.metrics.localReplies.inc({ reason: 'no_endpoint' });
      client.destroy();
      return;
    }
    state.metrics.tcpConnections.inc({ direction: 'outbound', destination: cluster.config.name });
    // Connections count towards the circuit breaker and LeastRequest while they last.
    cluster.load.active++;
    ep.active++;
    upstream.once('close', () => {
      cluster.load.active--;
      ep.active--;
    });
    // Outlier detection sees each connection as one outcome: connected (a success) or not.
    let connected = false;
    upstream.once('secureConnect', () => {
      connected = true;
      cluster.outlier?.record(ep, { status: 200 }, Date.now());
    });
    upstream.once('error', () => {
      if (!connected && cluster.outlier?.record(ep, { failure: 'connect' }, Date.now())) {
        state.metrics.resilience.inc({ event: 'outlier_ejection', cluster: cluster.config.name });
      }
    });
    if (state.telemetry.active) {
      const node = state.snapshot?.node;
      const start = Date.now();
      client.once('close', () =>
        state.telemetry.emit({
          direction: 'outbound',
          protocol: 'tcp',
          start,
          durationMs: Date.now() - start,
          status: 0,
          requestBytes: client.bytesRead,
          responseBytes: client.bytesWritten,
          source: node ? { identity: node.identity, namespace: node.namespace, workload: node.workload } : {},
          destination: { service: cluster.config.name, namespace: cluster.config.namespace, identity: ep.config.identity, workload: ep.workload },
          upstream: ep.config.instance,
          retries: 0,
        }),
      );
    }
    // timeouts.idle: 0 turns the idle timeout off.
    pipeBoth(client, upstream, policy?.idleTimeoutMs ?? LIMITS.tcpIdleTimeoutMs);
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
