// Proxy metrics in Prometheus text format. Counters are plain numbers keyed
// by a label string the caller built once (per listener, cluster, ...), so
// the per-request cost is a Map lookup and an increment.

type Labels = Record<string, string>;

function renderLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

export class Counter {
  private readonly series = new Map<string, { labels: string; value: number }>();

  constructor(readonly name: string, readonly help: string) {}

  /** Returns a function that increments one series; resolve it once, call it per event. */
  handle(labels: Labels): (by?: number) => void {
    const key = renderLabels(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: key, value: 0 };
      this.series.set(key, s);
    }
    const entry = s;
    return (by = 1) => {
      entry.value += by;
    };
  }

  inc(labels: Labels, by = 1): void {
    this.handle(labels)(by);
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const s of this.series.values()) out.push(`${this.name}${s.labels} ${s.value}`);
  }
}

export class Gauge {
  private readonly series = new Map<string, () => number>();
  constructor(readonly name: string, readonly help: string) {}
  set(labels: Labels, read: () => number): void {
    this.series.set(renderLabels(labels), read);
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const [labels, read] of this.series) out.push(`${this.name}${labels} ${read()}`);
  }
}

export class Registry {
  private readonly metrics: (Counter | Gauge)[] = [];
  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.metrics.push(c);
    return c;
  }
  gauge(name: string, help: string): Gauge {
    const g = new Gauge(name, help);
    this.metrics.push(g);
    return g;
  }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return out.join('\n') + '\n';
  }
}

/** The proxy's metrics (names documented in docs/proxy.md). */
export function createProxyMetrics() {
  const registry = new Registry();
  return {
    registry,
    outboundRequests: registry.counter(
      'trellis_outbound_requests_total',
      'HTTP requests this proxy sent to the mesh, by destination service, backend cluster, response code and transport security.',
    ),
    inboundRequests: registry.counter(
      'trellis_inbound_requests_total',
      'HTTP requests this proxy received from the mesh, by source identity, app port, response code and transport security.',
    ),
    denied: registry.counter('trellis_denied_total', 'Requests and connections refused by access control, by source identity and reason.'),
    tcpConnections: registry.counter('trellis_tcp_connections_total', 'TCP connections proxied, by direction and destination.'),
    localReplies: registry.counter('trellis_local_replies_total', 'Requests answered by the proxy itself (no route, no endpoint, upstream error), by reason.'),
    resilience: registry.counter(
      'trellis_resilience_events_total',
      'Retries, timeouts, circuit-breaker overflows, outlier ejections, rate limiting and injected faults, by event and cluster.',
    ),
    snapshotUpdates: registry.counter('trellis_snapshot_updates_total', 'Snapshots received from the control plane, by result (ack or nack).'),
    certificateExpiry: registry.gauge('trellis_certificate_expiry_seconds', 'Unix time at which the workload certificate expires.'),
  };
}
export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;
