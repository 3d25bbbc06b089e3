// The ingress gateway: plain HTTP or TLS-terminating listeners for clients
// outside the mesh. A request picks its listener by port, its virtual host by
// Host header (exact, then the longest wildcard, then any host; a port in the
// header is ignored), and from there takes the same call stack as a
// sidecar's outbound calls (call.ts): routes, filters, policies and mTLS to
// the mesh with the gateway's own identity, so TrafficTargets must allow it.

import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { GatewayListenerConfig, Snapshot } from '../compiler/snapshot.js';
import { localReply, outboundCall } from './call.js';
import type { RequestHead } from './h1/head.js';
import type { Decision } from './h1/decision.js';
import { serveH1 } from './h1/server.js';
import { LIMITS } from './limits.js';
import type { RuntimeVirtualHost } from './routing.js';
import type { ProxyState } from './state.js';

/** The virtual hosts of every listener on one port, by host pattern. */
export interface GatewayPort {
  readonly port: number;
  readonly exact: ReadonlyMap<string, RuntimeVirtualHost>;
  /** [suffix including the leading dot, virtual host], longest suffix first. */
  readonly wildcards: readonly [string, RuntimeVirtualHost][];
  readonly any?: RuntimeVirtualHost;
}

/** Builds the per-port host tables; the first listener to claim a host on a port keeps it. */
export function buildGatewayPorts(snapshot: Snapshot, build: (vh: GatewayListenerConfig['virtualHosts'][number]) => RuntimeVirtualHost): Map<number, GatewayPort> {
  const out = new Map<number, { port: number; exact: Map<string, RuntimeVirtualHost>; wildcards: [string, RuntimeVirtualHost][]; any?: RuntimeVirtualHost }>();
  for (const l of snapshot.gateway?.listeners ?? []) {
    let p = out.get(l.port);
    if (!p) {
      p = { port: l.port, exact: new Map(), wildcards: [] };
      out.set(l.port, p);
    }
    for (const vh of l.virtualHosts) {
      const host = vh.domains[0]!;
      const rvh = build(vh);
      if (host === '*') p.any ??= rvh;
      else if (host.startsWith('*.')) {
        if (!p.wildcards.some(([s]) => s === host.slice(1))) p.wildcards.push([host.slice(1), rvh]);
      } else if (!p.exact.has(host)) p.exact.set(host, rvh);
    }
  }
  for (const p of out.values()) p.wildcards.sort((a, b) => b[0].length - a[0].length);
  return out;
}

/** `Host` header → host name without the port, lower-case. */
export function hostOf(header: string): string {
  const h = header.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export function selectGatewayHost(p: GatewayPort, host: string): RuntimeVirtualHost | undefined {
  const exact = p.exact.get(host);
  if (exact) return exact;
  // `*.example.com` matches `a.example.com` and `a.b.example.com`, never `example.com`.
  for (const [suffix, vh] of p.wildcards) if (host.length > suffix.length && host.endsWith(suffix)) return vh;
  return p.any;
}

export function gatewayDecision(state: ProxyState, port: number, req: RequestHead): Decision {
  const p = state.table.gatewayPorts.get(port);
  const hostHeader = req.host ?? '';
  const vh = p && selectGatewayHost(p, hostOf(hostHeader));
  if (!vh) return localReply(state, 'no_route', 404, `trellis gateway: no route for host "${hostHeader}" on port ${port}`);
  return outboundCall(state, req, vh, hostHeader, req.target);
}

type TlsMaterial = { certPem: string; keyPem: string } | { certFile: string; keyFile: string };

function contextFor(t: TlsMaterial): tls.SecureContext {
  const material = 'certPem' in t ? { cert: t.certPem, key: t.keyPem } : { cert: fs.readFileSync(t.certFile), key: fs.readFileSync(t.keyFile) };
  return tls.createSecureContext(material);
}

/** SNI → certificate for the HTTPS listeners of one port (exact hostname, then wildcard, then the first). */
export interface GatewayTls {
  update(listeners: readonly GatewayListenerConfig[]): void;
  options(): tls.TlsOptions;
}

export function gatewayTls(initial: readonly GatewayListenerConfig[]): GatewayTls {
  let contexts: { host: string; context: tls.SecureContext }[] = [];
  const update = (listeners: readonly GatewayListenerConfig[]) => {
    // Listener hostnames, not route hostnames, decide the certificate.
    contexts = listeners.filter((l) => l.tls).map((l) => ({ host: l.hostname ?? '*', context: contextFor(l.tls!) }));
  };
  update(initial);
  const pick = (servername: string): tls.SecureContext | undefined => {
    const name = servername.toLowerCase();
    return (
      contexts.find((c) => c.host === name)?.context ??
      contexts.find((c) => c.host.startsWith('*.') && name.endsWith(c.host.slice(1)) && name.length > c.host.length - 1)?.context ??
      contexts.find((c) => c.host === '*')?.context ??
      contexts[0]?.context
    );
  };
  return {
    update,
    options: () => ({
      SNICallback: (servername, cb) => cb(null, pick(servername)),
      // Clients without SNI get the first certificate.
      secureContext: contexts[0]?.context,
    }),
  };
}

export function createGatewayServer(state: ProxyState, port: number, tlsConfig?: GatewayTls): net.Server {
  const serve = (socket: net.Socket) => serveH1(socket, (req) => gatewayDecision(state, port, req), LIMITS);
  let server: net.Server;
  if (tlsConfig) {
    server = tls.createServer({ ...tlsConfig.options(), handshakeTimeout: LIMITS.headersTimeoutMs }, serve);
  } else {
    server = net.createServer({ noDelay: true }, serve);
  }
  server.maxConnections = LIMITS.maxConnections;
  return server;
}
