// Proxy metrics in Prometheus text format. Counters are plain numbers and
// histograms arrays of bucket counts, keyed by a label string the caller
// built once (per listener, cluster, ...), so the per-request cost is a Map
// lookup and an increment. Label values are escaped when a series is created.

export type Labels = Record<string, string>;

/** A label value as the text format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `{a="x",b="y"}`, or '' for no labels. */
export function renderLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** HELP text: backslash and line feed escaped. */
function helpLine(name: string, help: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`;
}

/** A sample value: Go's float formatting for the special values. */
export function formatValue(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
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
    out.push(helpLine(this.name, this.help), `# TYPE ${this.name} counter`);
    for (const s of this.series.values()) out.push(`${this.name}${s.labels} ${formatValue(s.value)}`);
  }
}

export class Gauge {
  private readonly series = new Map<string, () => number>();
  constructor(readonly name: string, readonly help: string) {}
  set(labels: Labels, read: () => number): void {
    this.series.set(renderLabels(labels), read);
  }
  render(out: string[]): void {
    out.push(helpLine(this.name, this.help), `# TYPE ${this.name} gauge`);
    for (const [labels, read] of this.series) out.push(`${this.name}${labels} ${formatValue(read())}`);
  }
}

/** A gauge whose samples are computed at scrape time (e.g. from the routing table): `collect` calls `emit` once per series. */
export class ComputedGauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: (emit: (labels: Labels, value: number) => void) => void,
  ) {}
  render(out: string[]): void {
    out.push(helpLine(this.name, this.help), `# TYPE ${this.name} gauge`);
    this.collect((labels, value) => out.push(`${this.name}${renderLabels(labels)} ${formatValue(value)}`));
  }
}

/** One labelled series of a histogram: a count per bucket (not cumulative; the last one is +Inf), sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    private readonly bounds: readonly number[],
    /** Rendered labels, `{a="x"}` or ''. */
    readonly labels: string,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    // `le` is inclusive: v lands in the first bucket whose bound is >= v.
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export class Histogram {
  private readonly series = new Map<string, HistogramSeries>();
  readonly buckets: readonly number[];
  private readonly le: readonly string[];

  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) throw new Error(`histogram ${name}: buckets must be finite and distinct`);
    this.buckets = sorted;
    this.le = [...sorted.map(formatValue), '+Inf'];
  }

  /** The series for these labels; resolve it once, call observe() per event. */
  handle(labels: Labels): HistogramSeries {
    const key = renderLabels(labels);
    let s = this.series.get(key);
    if (!s) {
      s = new HistogramSeries(this.buckets, key);
      this.series.set(key, s);
    }
    return s;
  }

  observe(labels: Labels, v: number): void {
    this.handle(labels).observe(v);
  }

  render(out: string[]): void {
    const n = this.name;
    out.push(helpLine(n, this.help), `# TYPE ${n} histogram`);
    for (const s of this.series.values()) {
      const open = s.labels === '' ? `${n}_bucket{le="` : `${n}_bucket${s.labels.slice(0, -1)},le="`;
      let cumulative = 0;
      for (let i = 0; i < this.le.length; i++) {
        cumulative += s.counts[i];
        out.push(`${open}${this.le[i]}"} ${cumulative}`);
      }
      out.push(`${n}_sum${s.labels} ${formatValue(s.sum)}`, `${n}_count${s.labels} ${s.count}`);
    }
  }
}

type Metric = { render(out: string[]): void };

export class Registry {
  private readonly metrics: Metric[] = [];
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
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const h = new Histogram(name, help, buckets);
    this.metrics.push(h);
    return h;
  }
  /** A gauge computed when scraped. */
  computedGauge(name: string, help: string, collect: (emit: (labels: Labels, value: number) => void) => void): ComputedGauge {
    const g = new ComputedGauge(name, help, collect);
    this.metrics.push(g);
    return g;
  }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return out.join('\n') + '\n';
  }
}

/** The proxy's metrics (names documented in docs/metrics.md; the request metrics are added by metrics.ts). */
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
    spansExported: registry.counter('trellis_spans_exported_total', 'Trace spans delivered, by collector (control-plane, zipkin, otlp).'),
    spansDropped: registry.counter('trellis_spans_dropped_total', 'Trace spans dropped, by collector and reason (queue_full, export_failed, export_timeout, export_rejected, collector_removed).'),
  };
}
export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;
