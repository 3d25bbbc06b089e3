// Applies a snapshot to the running proxy: builds the new routing table and
// inbound policies first (throwing = NACK, nothing changed), then binds new
// listeners, swaps the state, and closes listeners the snapshot no longer has.

import type net from 'node:net';
import type { GatewayListenerConfig, Snapshot } from '../compiler/snapshot.js';
import { createGatewayServer, gatewayTls, type GatewayTls } from './gateway.js';
import { createInboundServer, inboundConfig, type InboundServer } from './inbound.js';
import { createOutboundHttpServer, createOutboundTcpServer } from './outbound.js';
import { buildRoutingTable, disposeRoutingTable } from './routing.js';
import type { ProxyState } from './state.js';

interface Bound {
  /** What the listener is: a change of kind on the same port rebinds it. */
  kind: string;
  server: net.Server;
  inbound?: InboundServer;
  gatewayTls?: GatewayTls;
}

export class ListenerManager {
  private readonly bound = new Map<number, Bound>();

  constructor(private readonly state: ProxyState, private readonly host = '127.0.0.1') {
    state.credentials.onChange((m) => {
      for (const b of this.bound.values()) b.inbound?.setContext({ key: m.keyPem, cert: m.certPem, ca: m.rootsPem });
    });
  }


  async apply(snapshot: Snapshot): Promise<void> {
    const material = this.state.credentials.material;
    if (!material) throw new Error('no workload certificate yet');
    const table = buildRoutingTable(snapshot, this.state.table, {
      connect: (ep) => this.state.pool.connect(ep.config),
      connectHttp: (ep) => this.state.pool.connectHttp(ep.config),
      pool: this.state.meshPool,
    });
    const inbound = snapshot.inbound.map((l) => ({ l, config: inboundConfig(l, snapshot.mesh.mtlsMode, snapshot.node.namespace, snapshot.node.serviceAccount) }));

    const wanted = new Map<number, { kind: string; create: () => Bound; update?: (b: Bound) => void }>();
    for (const { l, config } of inbound) {
      wanted.set(l.port, {
        kind: `inbound:${l.protocol}`,
        create: () => {
          const ib = createInboundServer(this.state, config, { key: material.keyPem, cert: material.certPem, ca: material.rootsPem });
          return { kind: `inbound:${l.protocol}`, server: ib.server, inbound: ib };
        },
        update: (b) => b.inbound?.setConfig(config),
      });
    }
    wanted.set(snapshot.outbound.httpPort, {
      kind: 'outbound:http',
      create: () => ({ kind: 'outbound:http', server: createOutboundHttpServer(this.state) }),
    });
    for (const u of snapshot.outbound.upstreams) {
      const vh = snapshot.outbound.virtualHosts.find((v) => v.name === u.virtualHost);
      const protocol = vh?.protocol ?? 'tcp';
      const lookup = () => this.state.table.byName.get(u.virtualHost);
      wanted.set(u.port, {
        kind: `upstream:${protocol}:${u.virtualHost}`,
        create: () => ({
          kind: `upstream:${protocol}:${u.virtualHost}`,
          server: protocol === 'http' ? createOutboundHttpServer(this.state, lookup) : createOutboundTcpServer(this.state, lookup),
        }),
      });
    }

    // Gateway listeners, one server per port (listeners sharing a port differ by hostname).
    const gatewayByPort = new Map<number, GatewayListenerConfig[]>();
    for (const l of snapshot.gateway?.listeners ?? []) gatewayByPort.set(l.port, [...(gatewayByPort.get(l.port) ?? []), l]);
    for (const [port, ls] of gatewayByPort) {
      const https = ls.some((l) => l.protocol === 'https');
      const kind = `gateway:${https ? 'https' : 'http'}`;
      wanted.set(port, {
        kind,
        create: () => {
          const t = https ? gatewayTls(ls) : undefined;
          return { kind, server: createGatewayServer(this.state, port, t), ...(t ? { gatewayTls: t } : {}) };
        },
        // New certificates (a Secret changed) apply to new connections.
        update: (b) => b.gatewayTls?.update(ls),
      });
    }

    // Make before break: bind what is new, then switch, then close what is gone.
    const created: [number, Bound][] = [];
    try {
      for (const [port, w] of wanted) {
        const existing = this.bound.get(port);
        if (existing && existing.kind === w.kind) continue;
        if (existing) {
          // Stop accepting at once; connections it holds finish on their own.
          void close(existing.server);
          this.bound.delete(port);
        }
        const b = w.create();
        await listen(b.server, port, this.host);
        created.push([port, b]);
      }
    } catch (err) {
      for (const [, b] of created) b.server.close();
      throw err;
    }
    for (const [port, b] of created) this.bound.set(port, b);
    for (const [port, w] of wanted) w.update?.(this.bound.get(port)!);
    this.state.table = table;
    this.state.snapshot = snapshot;
    for (const [port, b] of this.bound) {
      if (!wanted.has(port)) {
        this.bound.delete(port);
        void close(b.server);
      }
    }
  }

  async closeAll(): Promise<void> {
    disposeRoutingTable(this.state.table);
    await Promise.all([...this.bound.values()].map((b) => close(b.server)));
    this.bound.clear();
  }
}

async function listen(server: net.Server, port: number, host: string): Promise<void> {
  // A listener replaced on the same port releases it a moment later: retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || attempt >= 20) throw new Error(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  });
}
