// Everything a request handler reads, swapped as a whole when a snapshot is
// applied: the routing table and the compiled inbound policies. Handlers hold
// no config of their own, so an update never leaves a half-applied state.

import type { Snapshot } from '../compiler/snapshot.js';
import type { Credentials } from './credentials.js';
import { H1Pool } from './h1/pool.js';
import type { Logger } from './log.js';
import type { RoutingTable } from './routing.js';
import { Telemetry } from './telemetry.js';
import type { Counter, ProxyMetrics } from './stats.js';
import type { UpstreamPool } from './upstream-pool.js';

export class ProxyState {
  snapshot: Snapshot | undefined;
  /** Per-request records for metrics, access logs and traces. */
  readonly telemetry = new Telemetry();
  table: RoutingTable = { byDomain: new Map(), byName: new Map(), clusters: new Map(), gatewayPorts: new Map() };
  private readonly counters = new Map<string, (by?: number) => void>();
  /** Keep-alive mTLS connections to other sidecars (idle ones close before the peer's 60 s timeout). */
  readonly meshPool = new H1Pool({ idleTimeoutMs: 30_000, maxConnections: 256, maxPending: 4096 });
  /** Keep-alive connections to the local app (apps often time out idle connections after 5 s). */
  readonly appPool = new H1Pool({ idleTimeoutMs: 4_000, maxConnections: 256, maxPending: 4096 });

  constructor(
    readonly proxyId: string,
    readonly credentials: Credentials,
    readonly pool: UpstreamPool,
    readonly metrics: ProxyMetrics,
    readonly log: Logger,
  ) {
    // New connections use a rotated certificate; idle ones made with the old one go.
    credentials.onChange(() => this.meshPool.drain());
  }

  /** The per-request completion callback that counts an outbound request by status. */
  outboundCounter(destination: string, cluster: string): (status: number) => void {
    return (status) =>
      this.count(this.metrics.outboundRequests, `o|${destination}|${cluster}|${status}`, () => ({
        destination,
        cluster,
        code: String(status),
        tls: 'mtls',
      }));
  }

  /** The per-request completion callback that counts an inbound request by status. */
  inboundCounter(source: string, port: number, tls: 'mtls' | 'plaintext'): (status: number) => void {
    return (status) =>
      this.count(this.metrics.inboundRequests, `i|${source}|${port}|${status}|${tls}`, () => ({
        source,
        port: String(port),
        code: String(status),
        tls,
      }));
  }

  /** Increments one series, resolved once per key (rendering labels per request would cost more). */
  private count(counter: Counter, key: string, labels: () => Record<string, string>): void {
    let inc = this.counters.get(key);
    if (!inc) {
      inc = counter.handle(labels());
      this.counters.set(key, inc);
    }
    inc();
  }
}
