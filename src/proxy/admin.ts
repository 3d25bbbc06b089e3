// The proxy's admin listener (loopback only): readiness, Prometheus metrics,
// and the snapshot it runs, as Envoy's admin interface offers them.

import http from 'node:http';
import { applyServerLimits } from './limits.js';
import type { ProxyState } from './state.js';
import type { XdsState } from './xds-client.js';

function localReply(res: http.ServerResponse, status: number, body: string): void {
  const text = body + '\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createAdminServer(state: ProxyState, xds: XdsState): http.Server {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return localReply(res, 405, 'method not allowed');
    switch (path) {
      case '/ready':
        if (state.snapshot && state.credentials.material) return localReply(res, 200, 'LIVE');
        return localReply(res, 503, state.credentials.material ? 'waiting for the first snapshot' : 'waiting for a certificate');
      case '/healthz':
        return localReply(res, 200, 'ok');
      case '/stats':
      case '/metrics': {
        const body = state.metrics.registry.render();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        return res.end(body);
      }
      case '/config_dump': {
        const m = state.credentials.material;
        const body = JSON.stringify(
          {
            proxyId: state.proxyId,
            controlPlane: xds,
            certificate: m ? { notAfter: m.notAfter.toISOString() } : null,
            snapshot: state.snapshot ?? null,
            // What the snapshot cannot say: each endpoint's health, ejection and load now (Envoy's /clusters).
            endpoints: Object.fromEntries(
              [...state.table.clusters].map(([name, c]) => [
                name,
                c.endpoints.map((e) => ({
                  instance: e.config.instance,
                  healthy: e.healthy,
                  ejected: e.ejectedUntil > Date.now(),
                  ejections: e.ejections,
                  active: e.active,
                })),
              ]),
            ),
          },
          null,
          2,
        );
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        return res.end(body);
      }
      default:
        return localReply(res, 404, 'not found: try /ready, /stats, /config_dump');
    }
  });
  applyServerLimits(server);
  server.requestTimeout = 10_000;
  return server;
}
