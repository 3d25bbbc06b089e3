// Admin API routes over the metrics collector: SMI TrafficMetrics
// (metrics.smi-spec.io/v1alpha1) for workloads, services and namespaces, and
// the service graph the dashboard draws. Definitions (sides, success, denied,
// windows) are in docs/admin-api.md; the arithmetic is in metrics-collector.ts.

import type http from 'node:http';
import { parseSpiffeId } from '../identity/spiffe.js';
import { formatDuration, parseDuration } from '../resources/duration.js';
import type { TrafficSplitResource, WorkloadInstanceResource, WorkloadResource } from '../resources/types.js';
import type { Store } from '../store/types.js';
import { AdminError, sendJson } from './admin-http.js';
import {
  DEFAULT_WINDOW_MS,
  DENIED_REASONS,
  REQUEST_DURATION,
  REQUESTS_TOTAL,
  TrafficAccumulator,
  type WindowResult,
  type WindowSeries,
} from './metrics-collector.js';

export const TRAFFIC_METRICS_API_VERSION = 'metrics.smi-spec.io/v1alpha1';

/** What the routes need of the collector. */
export interface TrafficMetricsSource {
  readonly retentionMs: number;
  query(windowMs: number): WindowResult;
}

type ResourceKind = 'Workload' | 'Service' | 'Namespace';

export interface ObjectRef {
  kind: ResourceKind;
  /** Absent for a Namespace. */
  namespace?: string;
  name: string;
}

export interface TrafficMetricValue {
  name: string;
  unit?: string;
  /** null: no request in the window to measure a latency from. */
  value: number | null;
}

export interface TrafficMetrics {
  apiVersion: typeof TRAFFIC_METRICS_API_VERSION;
  kind: 'TrafficMetrics';
  resource: ObjectRef;
  edge?: { direction: 'from' | 'to'; side: 'client' | 'server'; resource: ObjectRef };
  timestamp: string;
  window: string;
  metrics: TrafficMetricValue[];
}

export interface TrafficMetricsList {
  apiVersion: typeof TRAFFIC_METRICS_API_VERSION;
  kind: 'TrafficMetricsList';
  resource: { kind: ResourceKind; namespace?: string; name?: string };
  timestamp: string;
  window: string;
  items: TrafficMetrics[];
}

export type Health = 'healthy' | 'degraded' | 'failing' | 'idle';

export interface GraphNode {
  /** `workload/<ns>/<name>` or `service/<ns>/<name>`. */
  id: string;
  kind: 'workload' | 'service';
  namespace: string;
  name: string;
  rps: number;
  successRate: number | null;
  p95Ms: number | null;
  requests: number;
  failures: number;
  denied: number;
  health: Health;
}

export interface GraphEdge {
  source: string;
  target: string;
  rps: number;
  successRate: number | null;
  p95Ms: number | null;
  requests: number;
  failures: number;
  denied: number;
  deniedReasons: Record<string, number>;
  protocol: 'http' | 'tcp';
  /** Percent of the source's calls for a TrafficSplit's root service that the split sends to this backend. */
  splitWeight?: number;
  /** TCP connections (client side) in the window, open now, and bytes in the window. */
  tcp?: { opened: number; open: number; receivedBytes: number; sentBytes: number };
}

export interface ServiceGraph {
  window: string;
  generatedAt: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

// ---------------------------------------------------------------------------
// Success-rate thresholds of a node's health.

/** At or above: healthy. */
export const HEALTHY_SUCCESS_RATE = 0.99;
/** At or above (and below healthy): degraded; below: failing. */
export const DEGRADED_SUCCESS_RATE = 0.9;

export function healthOf(acc: TrafficAccumulator): Health {
  const rate = acc.successRate;
  if (rate === undefined) return acc.tcpOpened > 0 || acc.tcpOpen > 0 ? 'healthy' : 'idle';
  if (rate >= HEALTHY_SUCCESS_RATE) return 'healthy';
  if (rate >= DEGRADED_SUCCESS_RATE) return 'degraded';
  return 'failing';
}

// ---------------------------------------------------------------------------
// From series to flows: who called whom, seen by which side.

interface Flow {
  s: WindowSeries;
  side: 'client' | 'server';
  srcNs: string;
  /** '' when unknown (an unauthenticated caller). */
  srcWorkload: string;
  dstNs: string;
  dstWorkload: string;
  /** Service namespace/name, without the port; undefined when the series has none. */
  svcNs?: string;
  svcName?: string;
  denied: boolean;
}

/** What the store says about workloads, for naming callers and listing resources. */
export class MeshIndex {
  /** `ns/serviceAccount` → workload names with that service account. */
  private readonly bySa = new Map<string, Set<string>>();
  readonly workloads = new Map<string, { namespace: string; name: string }>();
  readonly services = new Map<string, { namespace: string; name: string; selector: Record<string, string> }>();
  readonly namespaces = new Set<string>();
  readonly splits = new Map<string, TrafficSplitResource>();

  constructor(store: Pick<Store, 'list'>) {
    const addSa = (ns: string, sa: string, workload: string) => {
      const k = `${ns}/${sa}`;
      if (!this.bySa.has(k)) this.bySa.set(k, new Set());
      this.bySa.get(k)!.add(workload);
    };
    for (const r of store.list()) {
      const ns = r.metadata.namespace;
      switch (r.kind) {
        case 'Namespace':
          this.namespaces.add(r.metadata.name);
          break;
        case 'Workload': {
          const w = r as WorkloadResource;
          this.workloads.set(`${ns}/${w.metadata.name}`, { namespace: ns, name: w.metadata.name });
          addSa(ns, w.spec.serviceAccountName, w.metadata.name);
          this.namespaces.add(ns);
          break;
        }
        case 'WorkloadInstance': {
          const i = r as WorkloadInstanceResource;
          this.workloads.set(`${ns}/${i.spec.workload}`, { namespace: ns, name: i.spec.workload });
          addSa(ns, i.spec.serviceAccountName, i.spec.workload);
          this.namespaces.add(ns);
          break;
        }
        case 'Service':
          this.services.set(`${ns}/${r.metadata.name}`, { namespace: ns, name: r.metadata.name, selector: r.spec.selector });
          this.namespaces.add(ns);
          break;
        case 'TrafficSplit':
          this.splits.set(`${ns}/${r.metadata.name}`, r as TrafficSplitResource);
          break;
      }
    }
  }

  /**
   * The workload of a caller known by its service account (what a server
   * learns from the caller's SPIFFE ID): the Workload with that service
   * account in that namespace (the one named like it when several share it),
   * else the service account name itself.
   */
  workloadOfServiceAccount(namespace: string, serviceAccount: string): string {
    const names = this.bySa.get(`${namespace}/${serviceAccount}`);
    if (!names || names.size === 0) return serviceAccount;
    if (names.has(serviceAccount)) return serviceAccount;
    return [...names].sort()[0];
  }
}

function flowOf(s: WindowSeries, index: MeshIndex): Flow | undefined {
  const l = s.labels;
  const side = l.direction === 'inbound' ? 'server' : l.direction === 'outbound' || l.direction === 'gateway' ? 'client' : undefined;
  if (!side) return undefined;
  let srcNs = l.source_namespace ?? '';
  let srcWorkload = l.source_workload ?? '';
  if (side === 'server') {
    // The server knows its caller by SPIFFE ID: namespace and service account.
    if (!srcWorkload && l.source_identity) {
      const id = parseSpiffeId(l.source_identity);
      if (id) {
        srcNs = id.namespace;
        srcWorkload = id.serviceAccount;
      }
    }
    if (srcWorkload && srcNs) srcWorkload = index.workloadOfServiceAccount(srcNs, srcWorkload);
  }
  const f: Flow = {
    s,
    side,
    srcNs,
    srcWorkload,
    dstNs: l.destination_namespace ?? '',
    dstWorkload: l.destination_workload ?? '',
    denied: s.name === REQUESTS_TOTAL && side === 'server' && classifyDenied(l),
  };
  const svc = /^([^/]+)\/(.+?)(?::\d+)?$/.exec(l.destination_service ?? '');
  if (svc) {
    f.svcNs = svc[1];
    f.svcName = svc[2];
    if (!f.dstNs) f.dstNs = svc[1];
  }
  return f;
}

function classifyDenied(labels: Record<string, string>): boolean {
  return DENIED_REASONS.has(labels.reason ?? '');
}

function add(acc: TrafficAccumulator, f: Flow, external = false): void {
  const source = `${f.srcNs}/${f.srcWorkload}`;
  if (external) {
    if (f.s.name === REQUESTS_TOTAL) acc.addRequests(f.s, true, source);
    return;
  }
  if (f.s.name === REQUESTS_TOTAL) acc.addRequests(f.s, false, source);
  else if (f.s.name === REQUEST_DURATION) acc.addLatency(f.s);
  else acc.addTcp(f.s);
}

const refKey = (r: ObjectRef) => `${r.kind}/${r.namespace ?? ''}/${r.name}`;
const wl = (namespace: string, name: string): ObjectRef => ({ kind: 'Workload', namespace, name });
const svc = (namespace: string, name: string): ObjectRef => ({ kind: 'Service', namespace, name });
const nsRef = (name: string): ObjectRef => ({ kind: 'Namespace', name });

class Groups<K> {
  readonly map = new Map<string, { key: K; acc: TrafficAccumulator }>();
  constructor(private readonly keyOf: (k: K) => string) {}
  get(k: K): TrafficAccumulator {
    const s = this.keyOf(k);
    let g = this.map.get(s);
    if (!g) this.map.set(s, (g = { key: k, acc: new TrafficAccumulator() }));
    return g.acc;
  }
}

/** Adds each flow to the resource it counts for (totals: server side for workloads and namespaces, client side for services). */
function totals(kind: ResourceKind, flows: Flow[]): Groups<ObjectRef> {
  const g = new Groups<ObjectRef>(refKey);
  for (const f of flows) {
    if (kind === 'Workload' && f.side === 'server' && f.dstWorkload) add(g.get(wl(f.dstNs, f.dstWorkload)), f);
    else if (kind === 'Namespace' && f.side === 'server' && f.dstNs) add(g.get(nsRef(f.dstNs)), f);
    else if (kind === 'Service' && f.svcName) {
      if (f.side === 'client') add(g.get(svc(f.svcNs!, f.svcName)), f);
      else if (f.denied) add(g.get(svc(f.svcNs!, f.svcName)), f, true);
    }
  }
  return g;
}

type EdgeKey = { direction: 'from' | 'to'; side: 'client' | 'server'; peer: ObjectRef };

/** The edges of one resource: each peer it exchanged traffic with, from one side. */
function edgesOf(r: ObjectRef, flows: Flow[]): Groups<EdgeKey> {
  const g = new Groups<EdgeKey>((k) => `${k.direction}|${k.side}|${refKey(k.peer)}`);
  const to = (peer: ObjectRef) => g.get({ direction: 'to', side: 'client', peer });
  const from = (side: 'client' | 'server', peer: ObjectRef) => g.get({ direction: 'from', side, peer });
  for (const f of flows) {
    switch (r.kind) {
      case 'Workload': {
        const isSrc = f.srcNs === r.namespace && f.srcWorkload === r.name;
        if (isSrc && f.dstWorkload) {
          if (f.side === 'client') add(to(wl(f.dstNs, f.dstWorkload)), f);
          else if (f.denied) add(to(wl(f.dstNs, f.dstWorkload)), f, true);
        }
        if (f.side === 'server' && f.dstNs === r.namespace && f.dstWorkload === r.name && f.srcWorkload) {
          add(from('server', wl(f.srcNs, f.srcWorkload)), f);
        }
        break;
      }
      case 'Service': {
        if (f.svcNs !== r.namespace || f.svcName !== r.name) break;
        const external = f.side === 'server';
        if (external && !f.denied) break;
        if (f.srcWorkload) add(from('client', wl(f.srcNs, f.srcWorkload)), f, external);
        if (f.dstWorkload) add(to(wl(f.dstNs, f.dstWorkload)), f, external);
        break;
      }
      case 'Namespace': {
        if (f.srcNs === r.name && f.dstNs) {
          if (f.side === 'client') add(to(nsRef(f.dstNs)), f);
          else if (f.denied) add(to(nsRef(f.dstNs)), f, true);
        }
        if (f.side === 'server' && f.dstNs === r.name && f.srcNs) add(from('server', nsRef(f.srcNs)), f);
        break;
      }
    }
  }
  return g;
}

function active(acc: TrafficAccumulator): boolean {
  return acc.requests > 0 || acc.tcpOpened > 0 || acc.tcpOpen > 0;
}

const round = (v: number, digits = 3) => {
  const p = 10 ** digits;
  return Math.round(v * p) / p;
};
const orNull = (v: number | undefined, digits = 3) => (v === undefined ? null : round(v, digits));

function metricsOf(acc: TrafficAccumulator, spanSeconds: number): TrafficMetricValue[] {
  return [
    { name: 'p50_response_latency', unit: 'ms', value: orNull(acc.latencyMs(0.5)) },
    { name: 'p90_response_latency', unit: 'ms', value: orNull(acc.latencyMs(0.9)) },
    { name: 'p99_response_latency', unit: 'ms', value: orNull(acc.latencyMs(0.99)) },
    { name: 'success_count', value: Math.round(acc.success) },
    { name: 'failure_count', value: Math.round(acc.failures) },
    // Trellis additions, after the five of the SMI spec.
    { name: 'p95_response_latency', unit: 'ms', value: orNull(acc.latencyMs(0.95)) },
    { name: 'denied_count', value: Math.round(acc.denied) },
    { name: 'requests_per_second', unit: 'rps', value: rpsOf(acc, spanSeconds) },
    { name: 'tcp_open_connections', value: Math.max(0, Math.round(acc.tcpOpen)) },
    { name: 'tcp_connections_opened', value: Math.round(acc.tcpOpened) },
  ];
}

function rpsOf(acc: TrafficAccumulator, spanSeconds: number): number {
  return spanSeconds > 0 ? round(acc.requests / spanSeconds) : 0;
}

// ---------------------------------------------------------------------------
// Queries.

export interface TrafficMetricsQuery {
  kind: ResourceKind;
  namespace?: string;
  name?: string;
  windowMs: number;
}

function knownResources(kind: ResourceKind, index: MeshIndex, seen: Groups<ObjectRef>): ObjectRef[] {
  const refs = new Map<string, ObjectRef>();
  const put = (r: ObjectRef) => refs.set(refKey(r), r);
  if (kind === 'Workload') for (const w of index.workloads.values()) put(wl(w.namespace, w.name));
  if (kind === 'Service') for (const s of index.services.values()) put(svc(s.namespace, s.name));
  if (kind === 'Namespace') for (const n of index.namespaces) put(nsRef(n));
  for (const { key } of seen.map.values()) put(key);
  return [...refs.values()].sort((a, b) => (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name));
}

export function trafficMetricsList(q: TrafficMetricsQuery, result: WindowResult, store: Pick<Store, 'list'>): TrafficMetricsList {
  const index = new MeshIndex(store);
  const flows = result.series.map((s) => flowOf(s, index)).filter((f): f is Flow => f !== undefined);
  const groups = totals(q.kind, flows);
  const timestamp = new Date(result.now).toISOString();
  const window = formatDuration(result.windowMs);
  const item = (resource: ObjectRef, acc: TrafficAccumulator, edge?: TrafficMetrics['edge']): TrafficMetrics => ({
    apiVersion: TRAFFIC_METRICS_API_VERSION,
    kind: 'TrafficMetrics',
    resource,
    ...(edge ? { edge } : {}),
    timestamp,
    window,
    metrics: metricsOf(acc, result.spanSeconds),
  });
  const resources = knownResources(q.kind, index, groups).filter(
    (r) =>
      (q.kind === 'Namespace' ? q.namespace === undefined || r.name === q.namespace : q.namespace === undefined || r.namespace === q.namespace) &&
      (q.name === undefined || r.name === q.name),
  );
  if (q.name !== undefined && resources.length === 0) {
    const where = q.namespace && q.kind !== 'Namespace' ? ` in namespace ${q.namespace}` : '';
    throw new AdminError(404, 'TRELLIS_E_RESOURCE_NOT_FOUND', `${q.kind.toLowerCase()} "${q.name}" not found${where}`);
  }
  const items: TrafficMetrics[] = [];
  for (const r of resources) {
    items.push(item(r, groups.map.get(refKey(r))?.acc ?? new TrafficAccumulator()));
    if (q.name === undefined) continue;
    const edges = [...edgesOf(r, flows).map.values()]
      .filter((e) => active(e.acc))
      .sort(
        (a, b) =>
          a.key.direction.localeCompare(b.key.direction) ||
          (a.key.peer.namespace ?? '').localeCompare(b.key.peer.namespace ?? '') ||
          a.key.peer.name.localeCompare(b.key.peer.name),
      );
    for (const e of edges) items.push(item(r, e.acc, { direction: e.key.direction, side: e.key.side, resource: e.key.peer }));
  }
  const resource: TrafficMetricsList['resource'] = { kind: q.kind };
  if (q.namespace !== undefined && q.kind !== 'Namespace') resource.namespace = q.namespace;
  if (q.name !== undefined) resource.name = q.name;
  return { apiVersion: TRAFFIC_METRICS_API_VERSION, kind: 'TrafficMetricsList', resource, timestamp, window, items };
}

const nodeId = (kind: 'workload' | 'service', namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/**
 * The weight (percent of the split's total) a TrafficSplit gives `backend`
 * when the source's calls went through that split: the route label names the
 * split (`split:<ns>/<name>`). TCP connections carry no route: a TCP-only
 * edge takes the weight of the one split in the backend's namespace listing it.
 */
function splitWeightOf(acc: TrafficAccumulator, svcNs: string, svcName: string, index: MeshIndex): number | undefined {
  const candidates: TrafficSplitResource[] = [];
  for (const route of acc.routes) {
    if (!route.startsWith('split:')) continue;
    const split = index.splits.get(route.slice('split:'.length));
    if (split) candidates.push(split);
  }
  if (candidates.length === 0 && !acc.hasRequests && acc.hasTcp) {
    const listing = [...index.splits.values()].filter((s) => s.metadata.namespace === svcNs && s.spec.backends.some((b) => b.service === svcName));
    if (listing.length === 1) candidates.push(listing[0]);
  }
  for (const split of candidates) {
    if (split.metadata.namespace !== svcNs) continue;
    const backend = split.spec.backends.find((b) => b.service === svcName);
    const sum = split.spec.backends.reduce((n, b) => n + b.weight, 0);
    if (backend && sum > 0) return round((backend.weight / sum) * 100, 2);
  }
  return undefined;
}

export function serviceGraph(result: WindowResult, store: Pick<Store, 'list'>, namespace?: string): ServiceGraph {
  const index = new MeshIndex(store);
  const flows = result.series.map((s) => flowOf(s, index)).filter((f): f is Flow => f !== undefined);
  const span = result.spanSeconds;

  const nodes = new Map<string, GraphNode>();
  const node = (kind: 'workload' | 'service', ref: ObjectRef, acc: TrafficAccumulator) => {
    const id = nodeId(kind, ref.namespace!, ref.name);
    nodes.set(id, {
      id,
      kind,
      namespace: ref.namespace!,
      name: ref.name,
      rps: rpsOf(acc, span),
      successRate: orNull(acc.successRate, 4),
      p95Ms: orNull(acc.latencyMs(0.95)),
      requests: Math.round(acc.requests),
      failures: Math.round(acc.failures),
      denied: Math.round(acc.denied),
      health: healthOf(acc),
    });
  };
  const wlTotals = totals('Workload', flows);
  for (const r of knownResources('Workload', index, wlTotals)) node('workload', r, wlTotals.map.get(refKey(r))?.acc ?? new TrafficAccumulator());
  const svcTotals = totals('Service', flows);
  for (const r of knownResources('Service', index, svcTotals)) node('service', r, svcTotals.map.get(refKey(r))?.acc ?? new TrafficAccumulator());

  // workload → service (the caller's view, with the servers' denials) and service → workload (who served it).
  const edgeGroups = new Groups<{ source: string; target: string; svcNs: string; svcName: string; toService: boolean }>((k) => `${k.source}|${k.target}`);
  for (const f of flows) {
    if (!f.svcName) continue;
    const external = f.side === 'server';
    if (external && !f.denied) continue;
    const service = nodeId('service', f.svcNs!, f.svcName);
    if (f.srcWorkload && f.srcNs) {
      add(edgeGroups.get({ source: nodeId('workload', f.srcNs, f.srcWorkload), target: service, svcNs: f.svcNs!, svcName: f.svcName, toService: true }), f, external);
    }
    if (f.dstWorkload && f.dstNs) {
      add(edgeGroups.get({ source: service, target: nodeId('workload', f.dstNs, f.dstWorkload), svcNs: f.svcNs!, svcName: f.svcName, toService: false }), f, external);
    }
  }
  const edges: GraphEdge[] = [];
  for (const { key, acc } of edgeGroups.map.values()) {
    if (!active(acc)) continue;
    const e: GraphEdge = {
      source: key.source,
      target: key.target,
      rps: rpsOf(acc, span),
      successRate: orNull(acc.successRate, 4),
      p95Ms: orNull(acc.latencyMs(0.95)),
      requests: Math.round(acc.requests),
      failures: Math.round(acc.failures),
      denied: Math.round(acc.denied),
      deniedReasons: Object.fromEntries(Object.entries(acc.deniedReasons).map(([k, v]) => [k, Math.round(v)])),
      protocol: !acc.hasRequests && acc.hasTcp ? 'tcp' : 'http',
    };
    if (key.toService) {
      const w = splitWeightOf(acc, key.svcNs, key.svcName, index);
      if (w !== undefined) e.splitWeight = w;
    }
    if (acc.hasTcp) {
      e.tcp = {
        opened: Math.round(acc.tcpOpened),
        open: Math.max(0, Math.round(acc.tcpOpen)),
        receivedBytes: Math.round(acc.tcpReceivedBytes),
        sentBytes: Math.round(acc.tcpSentBytes),
      };
    }
    // A caller the store does not know (a service account without a Workload) still gets a node.
    for (const id of [e.source, e.target]) {
      if (nodes.has(id)) continue;
      const [kind, ns, name] = id.split('/') as ['workload' | 'service', string, string];
      node(kind, { kind: kind === 'workload' ? 'Workload' : 'Service', namespace: ns, name }, new TrafficAccumulator());
    }
    edges.push(e);
  }

  let nodeList = [...nodes.values()];
  let edgeList = edges;
  if (namespace !== undefined) {
    edgeList = edges.filter((e) => nodes.get(e.source)!.namespace === namespace || nodes.get(e.target)!.namespace === namespace);
    const keep = new Set(edgeList.flatMap((e) => [e.source, e.target]));
    nodeList = nodeList.filter((n) => n.namespace === namespace || keep.has(n.id));
  }
  nodeList.sort((a, b) => a.id.localeCompare(b.id));
  edgeList.sort((a, b) => a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
  return { window: formatDuration(result.windowMs), generatedAt: new Date(result.now).toISOString(), nodes: nodeList, edges: edgeList };
}

// ---------------------------------------------------------------------------
// Routes.

const KINDS: Record<string, ResourceKind> = {
  workloads: 'Workload',
  workload: 'Workload',
  wl: 'Workload',
  services: 'Service',
  service: 'Service',
  svc: 'Service',
  namespaces: 'Namespace',
  namespace: 'Namespace',
  ns: 'Namespace',
};

function badRequest(message: string): AdminError {
  return new AdminError(400, 'TRELLIS_E_BAD_REQUEST', message);
}

/** `window` as milliseconds: a duration (`30s`, `1m`, `90s`) or a number of seconds, from 1 s to the retention. */
export function windowParam(url: URL, retentionMs: number): number {
  const raw = url.searchParams.get('window');
  if (raw === null || raw === '') return DEFAULT_WINDOW_MS;
  let ms: number;
  try {
    ms = /^\d+$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw);
  } catch {
    throw badRequest(`query parameter window must be a duration such as 30s or 1m, got "${raw}"`);
  }
  if (!(ms >= 1000) || ms > retentionMs) {
    throw badRequest(`query parameter window must be between 1s and ${formatDuration(retentionMs)}, got "${raw}"`);
  }
  return ms;
}

type AddRoute = (
  method: string,
  path: string,
  handler: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void,
) => void;

/** Registers GET /v1/trafficmetrics and GET /v1/graph. */
export function registerMetricsRoutes(add: AddRoute, deps: { store: Store; metrics?: TrafficMetricsSource }): void {
  const source = (): TrafficMetricsSource => {
    if (!deps.metrics) throw new AdminError(503, 'TRELLIS_E_METRICS_UNAVAILABLE', 'this control plane does not collect traffic metrics');
    return deps.metrics;
  };

  add('GET', '/v1/trafficmetrics', (_req, res, url) => {
    const metrics = source();
    const kindRaw = (url.searchParams.get('kind') || 'workloads').toLowerCase();
    const kind = KINDS[kindRaw];
    if (!kind) throw badRequest(`query parameter kind must be workloads, services or namespaces, got "${kindRaw}"`);
    const windowMs = windowParam(url, metrics.retentionMs);
    const q: TrafficMetricsQuery = { kind, windowMs };
    const namespace = url.searchParams.get('namespace');
    if (namespace) q.namespace = namespace;
    const name = url.searchParams.get('name');
    if (name) q.name = name;
    sendJson(res, 200, trafficMetricsList(q, metrics.query(windowMs), deps.store));
  });

  add('GET', '/v1/graph', (_req, res, url) => {
    const metrics = source();
    const windowMs = windowParam(url, metrics.retentionMs);
    sendJson(res, 200, serviceGraph(metrics.query(windowMs), deps.store, url.searchParams.get('namespace') || undefined));
  });
}
