// Spans from telemetry records: one span per sampled record (one per hop),
// in Zipkin v2 JSON, and the same spans as OTLP/HTTP JSON. Conversion happens
// when a batch is exported, never on the request path.

import type { RequestRecord } from './telemetry.js';

/** A Zipkin v2 span (https://zipkin.io/zipkin-api/#/default/post_spans). */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: 'CLIENT' | 'SERVER';
  /** Microseconds since the epoch. */
  timestamp: number;
  /** Microseconds (at least 1). */
  duration: number;
  localEndpoint: { serviceName: string };
  remoteEndpoint?: { serviceName: string };
  tags: Record<string, string>;
}

/** What the span names its own side: the workload, else the service account or namespace. */
function serviceName(p: RequestRecord['source'] | undefined, fallback: string): string {
  return p?.workload ?? p?.service?.split('/')[1]?.split(':')[0] ?? fallback;
}

/**
 * Whether the outcome is an error, as OpenTelemetry's HTTP conventions say:
 * no status (the exchange broke) always; 4xx only on the client side; 5xx
 * always. A TCP connection is an error only when the proxy refused it.
 */
export function isError(r: RequestRecord): boolean {
  if (r.protocol === 'tcp') return r.reason !== undefined;
  if (r.status === 0 || r.status >= 500) return true;
  return r.direction !== 'inbound' && r.status >= 400;
}

/** The Zipkin span of one record; undefined when it is not sampled (or has no trace). */
export function zipkinSpan(r: RequestRecord, localService?: string): ZipkinSpan | undefined {
  const t = r.trace;
  if (!t?.sampled) return undefined;
  const server = r.direction === 'inbound';
  const local = server ? r.destination : r.source;
  const remote = server ? r.source : r.destination;
  const tags: Record<string, string> = { 'trellis.direction': r.direction, 'trellis.protocol': r.protocol };
  const tag = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '') tags[k] = String(v);
  };
  tag('trellis.source.identity', r.source.identity);
  tag('trellis.source.workload', r.source.workload);
  tag('trellis.destination.identity', r.destination.identity);
  tag('trellis.destination.service', r.destination.service);
  tag('trellis.destination.workload', r.destination.workload);
  tag('trellis.route', r.route);
  tag('trellis.upstream', r.upstream);
  tag('trellis.retries', r.retries);
  tag('trellis.reason', r.reason);
  tag('trellis.request_bytes', r.requestBytes);
  tag('trellis.response_bytes', r.responseBytes);
  if (r.protocol === 'http') {
    tag('http.method', r.method);
    tag('http.path', r.path);
    tag('http.host', r.authority);
    tag('http.status_code', r.status);
  }
  if (isError(r)) tags['error'] = r.reason ?? (r.status === 0 ? 'no response' : String(r.status));
  const name = r.protocol === 'http' ? `${r.method ?? 'HTTP'} ${r.path ?? '/'}` : `tcp ${r.destination.service ?? r.upstream ?? ''}`.trim();
  const span: ZipkinSpan = {
    traceId: t.traceId,
    id: t.spanId,
    name,
    kind: server ? 'SERVER' : 'CLIENT',
    timestamp: Math.round(r.start * 1000),
    duration: Math.max(1, Math.round(r.durationMs * 1000)),
    localEndpoint: { serviceName: localService ?? serviceName(local, 'unknown') },
    tags,
  };
  if (t.parentSpanId) span.parentId = t.parentSpanId;
  const remoteName = remote.workload ?? remote.service;
  if (remoteName) span.remoteEndpoint = { serviceName: serviceName(remote, remoteName) };
  return span;
}

// ---- OTLP/HTTP JSON ---------------------------------------------------------------

type OtlpValue = { stringValue: string } | { intValue: string };
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 2 = SERVER, 3 = CLIENT. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  /** 0 = unset, 2 = error. */
  status: { code: number; message?: string };
}

export interface OtlpExport {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { scope: { name: string; version?: string }; spans: OtlpSpan[] }[];
  }[];
}

const INT_TAGS = new Set(['http.status_code', 'trellis.retries', 'trellis.request_bytes', 'trellis.response_bytes']);

/** µs → ns as a decimal string (OTLP/JSON writes 64-bit integers as strings). */
function nanos(us: number): string {
  return (BigInt(Math.round(us)) * 1000n).toString();
}

/** The OTLP form of a Zipkin span (same ids, kind, times, tags as attributes, `error` as the status). */
export function otlpSpan(s: ZipkinSpan): OtlpSpan {
  const attributes: OtlpAttribute[] = [];
  let error: string | undefined;
  for (const [key, v] of Object.entries(s.tags)) {
    if (key === 'error') {
      error = v;
      continue;
    }
    attributes.push({ key, value: INT_TAGS.has(key) && /^\d+$/.test(v) ? { intValue: v } : { stringValue: v } });
  }
  if (s.remoteEndpoint) attributes.push({ key: 'peer.service', value: { stringValue: s.remoteEndpoint.serviceName } });
  const out: OtlpSpan = {
    traceId: s.traceId,
    spanId: s.id,
    name: s.name,
    kind: s.kind === 'SERVER' ? 2 : 3,
    startTimeUnixNano: nanos(s.timestamp),
    endTimeUnixNano: nanos(s.timestamp + s.duration),
    attributes,
    status: error === undefined ? { code: 0 } : { code: 2, message: error },
  };
  if (s.parentId) out.parentSpanId = s.parentId;
  return out;
}

/** One OTLP export request: a resource per local service (`service.name`), one scope. */
export function otlpExport(spans: readonly ZipkinSpan[]): OtlpExport {
  const byService = new Map<string, OtlpSpan[]>();
  for (const s of spans) {
    const name = s.localEndpoint.serviceName;
    let list = byService.get(name);
    if (!list) byService.set(name, (list = []));
    list.push(otlpSpan(s));
  }
  return {
    resourceSpans: [...byService].map(([service, list]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: 'trellis-proxy' }, spans: list }],
    })),
  };
}
