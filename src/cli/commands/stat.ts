// trellis stat [KIND] [-n NS | -A] [--window 30s] [-o json|wide]: traffic of
// workloads, services or namespaces over a window, like `linkerd viz stat`,
// from the control plane's SMI TrafficMetrics (GET /v1/trafficmetrics).

import type { TrafficMetrics, TrafficMetricsList } from '../../control-plane/admin-metrics.js';
import type { ApiErrorBody, StatusResponse } from '../../control-plane/admin-types.js';
import type { Resource, ServiceResource, WorkloadInstanceResource, WorkloadResource } from '../../resources/types.js';
import { AdminApiError, type AdminClient } from '../admin-client.js';
import { CliError, connect, err, out, type GlobalOptions } from '../context.js';
import { table } from '../format.js';

export interface StatOptions extends GlobalOptions {
  namespace?: string;
  allNamespaces?: boolean;
  window?: string;
  output?: 'json' | 'wide';
}

type StatKind = 'workloads' | 'services' | 'namespaces';

const KINDS: Record<string, StatKind> = {
  workloads: 'workloads',
  workload: 'workloads',
  wl: 'workloads',
  services: 'services',
  service: 'services',
  svc: 'services',
  namespaces: 'namespaces',
  namespace: 'namespaces',
  ns: 'namespaces',
};

/** One row, as `-o json` prints it. */
export interface StatRow {
  namespace?: string;
  name: string;
  /** Instances whose sidecar is connected to the control plane / instances expected. */
  meshed: { connected: number; total: number };
  /** success / (success + failures), 0..1; null without such requests. */
  successRate: number | null;
  rps: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  successCount: number;
  failureCount: number;
  deniedCount: number;
  tcpConnections: number;
}

export async function stat(kindInput: string | undefined, opts: StatOptions): Promise<number> {
  const kind = KINDS[(kindInput ?? 'workloads').toLowerCase()];
  if (!kind) throw new CliError(`unknown kind "${kindInput}": use workloads (wl), services (svc) or namespaces (ns)`);
  if (opts.allNamespaces && opts.namespace) throw new CliError('give either -n NAMESPACE or -A, not both');
  // Namespaces are listed all unless -n names one; workloads and services look in `default` like kubectl.
  const namespace = opts.allNamespaces ? undefined : kind === 'namespaces' ? opts.namespace : (opts.namespace ?? 'default');
  const client = connect(opts);

  const params = new URLSearchParams({ kind });
  if (namespace) params.set('namespace', namespace);
  if (opts.window) params.set('window', opts.window);
  const [list, status, workloads, services] = await Promise.all([
    getJson<TrafficMetricsList>(client, `/v1/trafficmetrics?${params}`),
    client.status(),
    kind === 'workloads' ? client.list('Workload').then((r) => r.items) : Promise.resolve([] as Resource[]),
    kind === 'services' ? client.list('Service').then((r) => r.items) : Promise.resolve([] as Resource[]),
  ]);

  const meshedOf = meshCounter(kind, status, workloads as WorkloadResource[], services as ServiceResource[]);
  const rows: StatRow[] = list.items
    .filter((i) => !i.edge)
    .map((i) => {
      const row = rowOf(i, meshedOf(i.resource.namespace ?? '', i.resource.name));
      if (kind === 'namespaces') delete row.namespace;
      return row;
    });

  if (opts.output === 'json') {
    out(JSON.stringify({ kind, window: list.window, timestamp: list.timestamp, items: rows }, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    err(namespace && kind !== 'namespaces' ? `No resources found in ${namespace} namespace.` : 'No resources found.');
    return 0;
  }
  const showNs = kind !== 'namespaces' && namespace === undefined;
  const wide = opts.output === 'wide';
  const headers = [
    ...(showNs ? ['NAMESPACE'] : []),
    'NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN',
    ...(wide ? ['SUCCESSES', 'FAILURES', 'DENIED'] : []),
  ];
  out(
    table(
      headers,
      rows.map((r) => {
        const requests = r.successCount + r.failureCount + r.deniedCount;
        const none = requests === 0;
        return [
          ...(showNs ? [r.namespace ?? ''] : []),
          r.name,
          `${r.meshed.connected}/${r.meshed.total}`,
          r.successRate === null ? '-' : `${(r.successRate * 100).toFixed(2)}%`,
          none ? '-' : formatRps(r.rps),
          formatMs(r.latencyMs.p50),
          formatMs(r.latencyMs.p95),
          formatMs(r.latencyMs.p99),
          none && r.tcpConnections === 0 ? '-' : String(r.tcpConnections),
          ...(wide ? [String(r.successCount), String(r.failureCount), String(r.deniedCount)] : []),
        ];
      }),
    ),
  );
  return 0;
}

function metric(i: TrafficMetrics, name: string): number | null {
  const m = i.metrics.find((x) => x.name === name);
  return m === undefined ? null : m.value;
}

function rowOf(i: TrafficMetrics, meshed: StatRow['meshed']): StatRow {
  const success = metric(i, 'success_count') ?? 0;
  const failures = metric(i, 'failure_count') ?? 0;
  const row: StatRow = {
    namespace: i.resource.namespace,
    name: i.resource.name,
    meshed,
    successRate: success + failures > 0 ? success / (success + failures) : null,
    rps: metric(i, 'requests_per_second') ?? 0,
    latencyMs: { p50: metric(i, 'p50_response_latency'), p95: metric(i, 'p95_response_latency'), p99: metric(i, 'p99_response_latency') },
    successCount: success,
    failureCount: failures,
    deniedCount: metric(i, 'denied_count') ?? 0,
    tcpConnections: metric(i, 'tcp_open_connections') ?? 0,
  };
  return row;
}

/** `1.8rps`; two decimals below 0.1 so a trickle does not read as zero. */
export function formatRps(rps: number): string {
  if (rps > 0 && rps < 0.1) return `${rps.toFixed(2)}rps`;
  return `${rps.toFixed(1)}rps`;
}

/** `12ms`, `0.8ms` below 10 ms, `-` without a value. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** MESHED: instances whose sidecar is connected to the control plane, over the instances there should be. */
function meshCounter(kind: StatKind, status: StatusResponse, workloads: WorkloadResource[], services: ServiceResource[]) {
  const connected = new Set(status.proxies.filter((p) => p.connected).map((p) => p.id));
  const instances = status.instances as WorkloadInstanceResource[];
  const isConnected = (i: WorkloadInstanceResource) => connected.has(`${i.metadata.namespace}/${i.metadata.name}`);
  const count = (list: WorkloadInstanceResource[], total = list.length) => ({ connected: list.filter(isConnected).length, total });
  return (namespace: string, name: string): StatRow['meshed'] => {
    switch (kind) {
      case 'workloads': {
        const mine = instances.filter((i) => i.metadata.namespace === namespace && i.spec.workload === name);
        const w = workloads.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
        return count(mine, Math.max(w?.spec.replicas ?? 0, mine.length));
      }
      case 'services': {
        const s = services.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
        const selector = Object.entries(s?.spec.selector ?? {});
        // A Service without a selector selects nothing (as the catalog has it).
        const mine =
          selector.length === 0
            ? []
            : instances.filter((i) => i.metadata.namespace === namespace && selector.every(([k, v]) => i.spec.labels[k] === v));
        return count(mine);
      }
      case 'namespaces':
        return count(instances.filter((i) => i.metadata.namespace === name));
    }
  };
}

/** GET on the admin API, failing like AdminClient does. */
async function getJson<T>(client: AdminClient, path: string, timeoutMs = 30_000): Promise<T> {
  let res: Response;
  try {
    res = await fetch(client.baseUrl + path, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError') {
      throw new AdminApiError('TRELLIS_E_ADMIN_TIMEOUT', `the control plane at ${client.baseUrl} did not answer within ${timeoutMs} ms`);
    }
    const cause = (e as { cause?: { code?: string } }).cause;
    throw new AdminApiError(
      'TRELLIS_E_ADMIN_UNREACHABLE',
      `cannot reach the control plane at ${client.baseUrl} (${cause?.code ?? (e as Error).message}); is the mesh still running?`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let body: ApiErrorBody | undefined;
    try {
      body = JSON.parse(text) as ApiErrorBody;
    } catch {
      // not JSON
    }
    if (body?.error?.code) throw new AdminApiError(body.error.code, body.error.message, res.status);
    throw new AdminApiError('TRELLIS_E_ADMIN_HTTP', `control plane answered ${res.status}: ${text.slice(0, 200)}`, res.status);
  }
  return JSON.parse(text) as T;
}
