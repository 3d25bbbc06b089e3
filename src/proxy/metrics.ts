// Request metrics: a telemetry sink (telemetry.ts) that turns each
// RequestRecord into Prometheus series, plus gauges of upstream endpoint
// health read from the routing table when /stats is scraped. Names and labels
// are documented in docs/metrics.md; keep them in step.
//
// Per record the sink walks a tree of Maps keyed by the record's label
// values, one level per field, and increments numbers: each distinct label
// set is resolved (labels rendered and escaped, histogram series found) once,
// the first time it is seen. The values are mostly the same string objects
// every time (from the snapshot), whose hashes V8 keeps, so a walk costs
// about a tenth of building and hashing one long key string, and allocates
// nothing; a record with the same labels as the one before skips even the
// walk. Every label value comes from configuration (namespaces, workloads,
// service accounts, Service ports, route names) or a small fixed set (code,
// reason), never from the request itself (no paths, no hosts), so the number
// of series is bounded by the mesh's configuration.

import type { RoutingTable } from './routing.js';
import type { ProxyState } from './state.js';
import type { HistogramSeries, Registry } from './stats.js';
import type { RecordSink, RequestRecord } from './telemetry.js';

/** Request duration buckets, seconds. */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Body size buckets, bytes. */
export const BYTE_BUCKETS: readonly number[] = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/** `200` → `2xx`; 0 (no response: the exchange broke or the client went away) → `0xx`. */
export function codeClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

interface HttpSeries {
  requests: (by?: number) => void;
  duration: HistogramSeries;
  requestBytes: HistogramSeries;
  responseBytes: HistogramSeries;
}

interface TcpSeries {
  opened: (by?: number) => void;
  closed: (by?: number) => void;
  received: (by?: number) => void;
  sent: (by?: number) => void;
}

/** One level of the label-set tree: the next field's values, or (at the end) the series. */
class Level<Leaf> {
  readonly next = new Map<string, Level<Leaf>>();
  leaf: Leaf | undefined;
  /** HTTP: the last level is the status code. */
  byStatus: Map<number, Leaf> | undefined;
}

function step<Leaf>(level: Level<Leaf>, value: string): Level<Leaf> {
  let n = level.next.get(value);
  if (n === undefined) {
    n = new Level<Leaf>();
    level.next.set(value, n);
  }
  return n;
}

export interface RequestMetrics {
  /** Register with `state.telemetry.add`. */
  sink: RecordSink;
  /** Distinct label sets seen so far (HTTP, TCP). */
  readonly cacheSize: () => number;
}

/**
 * Adds the request metrics to `registry` and returns the sink that feeds
 * them. `table` is read at scrape time for the endpoint gauges.
 */
export function createRequestMetrics(registry: Registry, table: () => RoutingTable): RequestMetrics {
  const requests = registry.counter(
    'trellis_requests_total',
    'HTTP requests handled by this proxy, by direction, source and destination (namespace, workload, service, identity), route, response code and class, and the reason the proxy answered itself.',
  );
  const duration = registry.histogram(
    'trellis_request_duration_seconds',
    'Time from the request head arriving to the response ending, in seconds (millisecond resolution).',
    DURATION_BUCKETS,
  );
  const requestBytes = registry.histogram('trellis_request_bytes', 'HTTP request body sizes, in bytes.', BYTE_BUCKETS);
  const responseBytes = registry.histogram('trellis_response_bytes', 'HTTP response body sizes, in bytes.', BYTE_BUCKETS);
  const tcpOpened = registry.counter('trellis_tcp_connections_opened_total', 'TCP connections proxied (counted when they close).');
  const tcpClosed = registry.counter('trellis_tcp_connections_closed_total', 'TCP connections proxied that have closed.');
  const tcpReceived = registry.counter('trellis_tcp_received_bytes_total', 'Bytes received from the client of proxied TCP connections (counted when they close).');
  const tcpSent = registry.counter('trellis_tcp_sent_bytes_total', 'Bytes sent to the client of proxied TCP connections (counted when they close).');

  registry.computedGauge(
    'trellis_upstream_endpoint_healthy',
    '1 while active health checks find the endpoint healthy (always 1 without health checks), else 0.',
    (emit) => {
      for (const [name, c] of table().clusters) {
        if (c.invalid !== undefined) continue;
        for (const ep of c.endpoints) emit({ cluster: name, endpoint: endpointLabel(ep.config) }, ep.healthy ? 1 : 0);
      }
    },
  );
  registry.computedGauge('trellis_upstream_endpoint_ejected', '1 while outlier detection has ejected the endpoint, else 0.', (emit) => {
    const now = Date.now();
    for (const [name, c] of table().clusters) {
      if (c.invalid !== undefined) continue;
      for (const ep of c.endpoints) emit({ cluster: name, endpoint: endpointLabel(ep.config) }, ep.ejectedUntil > now ? 1 : 0);
    }
  });

  const http = new Level<HttpSeries>();
  const tcp = new Level<TcpSeries>();
  let labelSets = 0;

  const httpSeries = (r: RequestRecord): HttpSeries => {
    const s = r.source;
    const d = r.destination;
    const direction = r.direction;
    const sourceWorkload = s.workload ?? '';
    const destinationService = d.service ?? '';
    const cls = codeClass(r.status);
    const common = {
      direction,
      source_namespace: s.namespace ?? '',
      source_workload: sourceWorkload,
      destination_namespace: d.namespace ?? '',
      destination_workload: d.workload ?? '',
      destination_service: destinationService,
    };
    const route = r.route ?? '';
    const sizes = { direction, source_workload: sourceWorkload, destination_service: destinationService };
    return {
      requests: requests.handle({
        direction,
        source_namespace: common.source_namespace,
        source_workload: sourceWorkload,
        source_identity: s.identity ?? '',
        destination_namespace: common.destination_namespace,
        destination_workload: common.destination_workload,
        destination_service: destinationService,
        destination_identity: d.identity ?? '',
        route,
        code: String(r.status),
        code_class: cls,
        reason: r.reason ?? '',
      }),
      duration: duration.handle({ ...common, route, code_class: cls }),
      requestBytes: requestBytes.handle(sizes),
      responseBytes: responseBytes.handle(sizes),
    };
  };

  const tcpSeries = (r: RequestRecord): TcpSeries => {
    const labels = {
      direction: r.direction,
      source_workload: r.source.workload ?? '',
      source_namespace: r.source.namespace ?? '',
      destination_service: r.destination.service ?? '',
      destination_workload: r.destination.workload ?? '',
    };
    return { opened: tcpOpened.handle(labels), closed: tcpClosed.handle(labels), received: tcpReceived.handle(labels), sent: tcpSent.handle(labels) };
  };

  const lastHttp: LastHttpLabels = {
    series: undefined,
    status: 0,
    direction: 'outbound',
    sourceNamespace: undefined,
    sourceWorkload: undefined,
    sourceIdentity: undefined,
    destinationNamespace: undefined,
    destinationWorkload: undefined,
    destinationService: undefined,
    destinationIdentity: undefined,
    route: undefined,
    reason: undefined,
  };

  const sink: RecordSink = (r) => {
    const s = r.source;
    const d = r.destination;
    if (r.protocol === 'tcp') {
      let l = step(tcp, r.direction);
      l = step(l, s.workload ?? '');
      l = step(l, s.namespace ?? '');
      l = step(l, d.service ?? '');
      l = step(l, d.workload ?? '');
      let t = l.leaf;
      if (t === undefined) {
        t = l.leaf = tcpSeries(r);
        labelSets++;
      }
      // Records are emitted when a connection ends, so both counts move together (docs/metrics.md).
      t.opened();
      t.closed();
      t.received(r.requestBytes);
      t.sent(r.responseBytes);
      return;
    }
    // Under load most records repeat the last one's labels: eleven compares cost less than ten map lookups.
    const k = lastHttp;
    if (
      k.series !== undefined &&
      r.status === k.status &&
      r.direction === k.direction &&
      s.namespace === k.sourceNamespace &&
      s.workload === k.sourceWorkload &&
      s.identity === k.sourceIdentity &&
      d.namespace === k.destinationNamespace &&
      d.workload === k.destinationWorkload &&
      d.service === k.destinationService &&
      d.identity === k.destinationIdentity &&
      r.route === k.route &&
      r.reason === k.reason
    ) {
      observe(k.series, r);
      return;
    }
    let l = step(http, r.direction);
    l = step(l, s.namespace ?? '');
    l = step(l, s.workload ?? '');
    l = step(l, s.identity ?? '');
    l = step(l, d.namespace ?? '');
    l = step(l, d.workload ?? '');
    l = step(l, d.service ?? '');
    l = step(l, d.identity ?? '');
    l = step(l, r.route ?? '');
    l = step(l, r.reason ?? '');
    const byStatus = (l.byStatus ??= new Map());
    let h = byStatus.get(r.status);
    if (h === undefined) {
      h = httpSeries(r);
      byStatus.set(r.status, h);
      labelSets++;
    }
    k.series = h;
    k.status = r.status;
    k.direction = r.direction;
    k.sourceNamespace = s.namespace;
    k.sourceWorkload = s.workload;
    k.sourceIdentity = s.identity;
    k.destinationNamespace = d.namespace;
    k.destinationWorkload = d.workload;
    k.destinationService = d.service;
    k.destinationIdentity = d.identity;
    k.route = r.route;
    k.reason = r.reason;
    observe(h, r);
  };

  return { sink, cacheSize: () => labelSets };
}

/** The labels of the last HTTP record a request-metrics sink counted, and their series. */
interface LastHttpLabels {
  series: HttpSeries | undefined;
  status: number;
  direction: RequestRecord['direction'];
  sourceNamespace: string | undefined;
  sourceWorkload: string | undefined;
  sourceIdentity: string | undefined;
  destinationNamespace: string | undefined;
  destinationWorkload: string | undefined;
  destinationService: string | undefined;
  destinationIdentity: string | undefined;
  route: string | undefined;
  reason: string | undefined;
}

function observe(h: HttpSeries, r: RequestRecord): void {
  h.requests();
  h.duration.observe(r.durationMs / 1000);
  h.requestBytes.observe(r.requestBytes);
  h.responseBytes.observe(r.responseBytes);
}

/** The endpoint's instance (`ns/name-0`), or its address when it has none. */
function endpointLabel(ep: { instance: string; address: string; port: number }): string {
  return ep.instance || `${ep.address}:${ep.port}`;
}

/** Registers the request metrics on a proxy: its registry, its telemetry, its routing table. */
export function installRequestMetrics(state: ProxyState): RequestMetrics {
  const m = createRequestMetrics(state.metrics.registry, () => state.table);
  state.telemetry.add(m.sink);
  return m;
}
