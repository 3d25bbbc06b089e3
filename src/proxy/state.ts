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
  // Counting callbacks by their labels, in nested maps: a request looks its own up without building a key string.
  private readonly outboundCounters = new Map<string, Map<string, StatusCount>>();
  private readonly inboundCounters = { mtls: new Map<number, Map<string, StatusCount>>(), plaintext: new Map<number, Map<string, StatusCount>>() };
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

  /** The completion callback that counts an outbound request by status (one per virtual host and cluster, made once). */
  outboundCounter(destination: string, cluster: string): StatusCount {
    const byCluster = inner(this.outboundCounters, destination);
    let count = byCluster.get(cluster);
    if (!count) byCluster.set(cluster, (count = this.newStatusCounter(this.metrics.outboundRequests, (code) => ({ destination, cluster, code, tls: 'mtls' }))));
    return count;
  }

  /** The completion callback that counts an inbound request by status (one per caller, port and transport, made once). */
  inboundCounter(source: string, port: number, tls: 'mtls' | 'plaintext'): StatusCount {
    const bySource = inner(this.inboundCounters[tls], port);
    let count = bySource.get(source);
    if (!count) bySource.set(source, (count = this.newStatusCounter(this.metrics.inboundRequests, (code) => ({ source, port: String(port), code, tls }))));
    return count;
  }

  /** Series are resolved once per status: a request only looks its status up (rendering labels per request would cost more). */
  private newStatusCounter(counter: Counter, labels: (code: string) => Record<string, string>): StatusCount {
    const byStatus = new Map<number, (by?: number) => void>();
    const count = (status: number) => {
      let inc = byStatus.get(status);
      if (!inc) {
        inc = counter.handle(labels(String(status)));
        byStatus.set(status, inc);
      }
      inc();
    };
    return count;
  }
}

type StatusCount = (status: number) => void;

function inner<K, V>(outer: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let m = outer.get(key);
  if (!m) outer.set(key, (m = new Map()));
  return m;
}
