// The control plane's trace store: every proxy sends its spans here (Zipkin v2
// JSON, besides any collector MeshConfig names), and the store keeps the most
// recent traces for the dashboard and `curl`: bounded in traces and spans,
// least recently updated trace out first. Routes (docs/admin-api.md):
//   POST /v1/traces/spans          Zipkin v2 JSON array of spans → 202 { accepted, rejected }
//   GET  /v1/traces?service=&limit= summaries, most recent first
//   GET  /v1/traces/<trace id>      the trace's spans in waterfall order

import type http from 'node:http';
import { AdminError, intParam, readBody, sendJson } from './admin-http.js';

/** A span as stored and served (Zipkin v2 fields; `depth` is added when a trace is read). */
export interface StoredSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';
  /** µs since the epoch. */
  timestamp: number;
  /** µs. */
  duration: number;
  localEndpoint?: { serviceName?: string };
  remoteEndpoint?: { serviceName?: string };
  tags: Record<string, string>;
}

export interface TraceSummary {
  traceId: string;
  /** Service of the root span (the earliest span whose parent is not in the trace). */
  rootService: string;
  rootName: string;
  /** µs since the epoch, and the same as ISO 8601. */
  start: number;
  startTime: string;
  durationUs: number;
  spanCount: number;
  services: string[];
  /** Some span carries the `error` tag. */
  error: boolean;
}

export interface TraceDetail {
  traceId: string;
  start: number;
  durationUs: number;
  /** Parents before children, siblings by start time; depth 0 = a root. */
  spans: (StoredSpan & { depth: number })[];
}

export interface TraceStoreLimits {
  maxTraces: number;
  maxSpans: number;
  /** Spans beyond this in one trace are refused. */
  maxSpansPerTrace: number;
}

export const TRACE_STORE_LIMITS: TraceStoreLimits = { maxTraces: 1000, maxSpans: 50_000, maxSpansPerTrace: 5000 };

/** Largest POST /v1/traces/spans body. */
export const MAX_SPANS_BODY_BYTES = 4 * 1024 * 1024;

interface Trace {
  spans: Map<string, StoredSpan>;
  summary?: TraceSummary;
}

const HEX = /^[0-9a-f]+$/;

/** A trace id as 32 lower-case hex digits (64-bit ids left-padded), or undefined. */
export function normaliseTraceId(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const id = raw.toLowerCase();
  if ((id.length !== 16 && id.length !== 32) || !HEX.test(id) || /^0+$/.test(id)) return undefined;
  return id.length === 16 ? '0000000000000000' + id : id;
}

function spanId(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const id = raw.toLowerCase();
  return id.length === 16 && HEX.test(id) ? id : undefined;
}

const KINDS = new Set(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']);

function serviceOf(e: unknown): { serviceName?: string } | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const name = (e as { serviceName?: unknown }).serviceName;
  return typeof name === 'string' ? { serviceName: name.slice(0, 256) } : {};
}

/** A Zipkin v2 span checked and copied (only known fields), or undefined when it is not one. */
export function parseZipkinSpan(raw: unknown): StoredSpan | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const s = raw as Record<string, unknown>;
  const traceId = normaliseTraceId(s.traceId);
  const id = spanId(s.id);
  if (!traceId || !id) return undefined;
  if (typeof s.timestamp !== 'number' || !Number.isFinite(s.timestamp) || s.timestamp < 0) return undefined;
  const duration = typeof s.duration === 'number' && Number.isFinite(s.duration) && s.duration >= 0 ? s.duration : 0;
  const out: StoredSpan = { traceId, id, name: typeof s.name === 'string' ? s.name.slice(0, 512) : '', timestamp: s.timestamp, duration, tags: {} };
  if (s.parentId !== undefined && s.parentId !== null) {
    const parent = spanId(s.parentId);
    if (!parent) return undefined;
    out.parentId = parent;
  }
  if (typeof s.kind === 'string' && KINDS.has(s.kind)) out.kind = s.kind as StoredSpan['kind'];
  const local = serviceOf(s.localEndpoint);
  if (local) out.localEndpoint = local;
  const remote = serviceOf(s.remoteEndpoint);
  if (remote) out.remoteEndpoint = remote;
  if (s.tags && typeof s.tags === 'object' && !Array.isArray(s.tags)) {
    let n = 0;
    for (const [k, v] of Object.entries(s.tags as Record<string, unknown>)) {
      if (++n > 64) break;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.tags[k.slice(0, 256)] = String(v).slice(0, 4096);
    }
  }
  return out;
}

/** The most recent traces, bounded; a Map in least-recently-updated-first order. */
export class TraceStore {
  private readonly traces = new Map<string, Trace>();
  private spanCount = 0;

  constructor(private readonly limits: TraceStoreLimits = TRACE_STORE_LIMITS) {}

  get size(): { traces: number; spans: number } {
    return { traces: this.traces.size, spans: this.spanCount };
  }

  /** Adds spans (a span with the same trace, id and kind replaces the earlier one); returns how many were kept. */
  add(spans: readonly StoredSpan[]): number {
    let kept = 0;
    for (const s of spans) {
      let t = this.traces.get(s.traceId);
      if (t) this.traces.delete(s.traceId);
      else t = { spans: new Map() };
      // Most recently updated last.
      this.traces.set(s.traceId, t);
      const key = `${s.id}/${s.kind ?? ''}`;
      if (!t.spans.has(key)) {
        if (t.spans.size >= this.limits.maxSpansPerTrace) continue;
        this.spanCount++;
      }
      t.spans.set(key, s);
      t.summary = undefined;
      kept++;
    }
    this.evict();
    return kept;
  }

  private evict(): void {
    for (const [id, t] of this.traces) {
      if (this.traces.size <= this.limits.maxTraces && this.spanCount <= this.limits.maxSpans) break;
      this.traces.delete(id);
      this.spanCount -= t.spans.size;
    }
  }

  /** Summaries, most recent start first; `service` keeps traces with a span of that service. */
  list(opts: { service?: string; limit?: number } = {}): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const [id, t] of this.traces) {
      const s = (t.summary ??= summarise(id, [...t.spans.values()]));
      if (opts.service !== undefined && !s.services.includes(opts.service)) continue;
      out.push(s);
    }
    out.sort((a, b) => b.start - a.start || a.traceId.localeCompare(b.traceId));
    return out.slice(0, opts.limit ?? 20);
  }

  get(traceId: string): TraceDetail | undefined {
    const id = normaliseTraceId(traceId);
    const t = id && this.traces.get(id);
    if (!t) return undefined;
    const spans = [...t.spans.values()];
    const s = (t.summary ??= summarise(id, spans));
    return { traceId: id, start: s.start, durationUs: s.durationUs, spans: waterfall(spans) };
  }
}

/** Spans without a parent in the trace (the earliest first). */
function roots(spans: readonly StoredSpan[]): StoredSpan[] {
  const ids = new Set(spans.map((s) => s.id));
  return spans.filter((s) => !s.parentId || !ids.has(s.parentId) || s.parentId === s.id).sort(byStart);
}

function byStart(a: StoredSpan, b: StoredSpan): number {
  // A client span before the server span of the same id (B3 shared spans).
  return a.timestamp - b.timestamp || (a.kind === 'CLIENT' ? -1 : b.kind === 'CLIENT' ? 1 : 0) || a.id.localeCompare(b.id);
}

export function summarise(traceId: string, spans: readonly StoredSpan[]): TraceSummary {
  let start = Infinity;
  let end = -Infinity;
  let error = false;
  const services = new Set<string>();
  for (const s of spans) {
    start = Math.min(start, s.timestamp);
    end = Math.max(end, s.timestamp + s.duration);
    if (s.tags.error !== undefined) error = true;
    const name = s.localEndpoint?.serviceName;
    if (name) services.add(name);
  }
  const root = roots(spans)[0] ?? spans[0];
  return {
    traceId,
    rootService: root?.localEndpoint?.serviceName ?? '',
    rootName: root?.name ?? '',
    start,
    startTime: new Date(start / 1000).toISOString(),
    durationUs: end - start,
    spanCount: spans.length,
    services: [...services].sort(),
    error,
  };
}

/** Depth-first from the roots, children by start time. */
export function waterfall(spans: readonly StoredSpan[]): (StoredSpan & { depth: number })[] {
  const children = new Map<string, StoredSpan[]>();
  for (const s of spans) {
    if (!s.parentId || s.parentId === s.id) continue;
    let list = children.get(s.parentId);
    if (!list) children.set(s.parentId, (list = []));
    list.push(s);
  }
  const out: (StoredSpan & { depth: number })[] = [];
  const seen = new Set<StoredSpan>();
  const visit = (s: StoredSpan, depth: number) => {
    if (seen.has(s)) return;
    seen.add(s);
    out.push({ ...s, depth });
    for (const c of (children.get(s.id) ?? []).sort(byStart)) visit(c, depth + 1);
  };
  for (const r of roots(spans)) visit(r, 0);
  // Cycles (malformed input) still show every span.
  for (const s of [...spans].sort(byStart)) visit(s, 0);
  return out;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

/** The route key of `GET /v1/traces/<id>`. */
export const TRACE_BY_ID_ROUTE = '/v1/traces/{id}';

/** `/v1/traces/<hex id>` → the route key of the trace route; '' for any other path. */
export function traceRouteOf(pathname: string): string {
  return /^\/v1\/traces\/[0-9a-fA-F]+$/.test(pathname) ? TRACE_BY_ID_ROUTE : '';
}

/** The admin API routes of the trace store: [method, path, handler]. */
export function traceRoutes(store: TraceStore): [string, string, Handler][] {
  return [
    [
      'POST',
      '/v1/traces/spans',
      async (req, res) => {
        const body = await readBody(req, MAX_SPANS_BODY_BYTES);
        let value: unknown;
        try {
          value = JSON.parse(body.toString('utf8'));
        } catch (err) {
          throw new AdminError(400, 'TRELLIS_E_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
        }
        if (!Array.isArray(value)) throw new AdminError(400, 'TRELLIS_E_BAD_REQUEST', 'request body must be a JSON array of Zipkin v2 spans');
        const spans: StoredSpan[] = [];
        for (const raw of value) {
          const s = parseZipkinSpan(raw);
          if (s) spans.push(s);
        }
        const accepted = store.add(spans);
        sendJson(res, 202, { accepted, rejected: value.length - accepted });
      },
    ],
    [
      'GET',
      '/v1/traces',
      (_req, res, url) => {
        const limit = Math.min(intParam(url, 'limit') ?? 20, 1000);
        const service = url.searchParams.get('service') || undefined;
        sendJson(res, 200, { traces: store.list({ limit, ...(service !== undefined ? { service } : {}) }) });
      },
    ],
    [
      'GET',
      TRACE_BY_ID_ROUTE,
      (_req, res, url) => {
        const id = url.pathname.slice('/v1/traces/'.length);
        const trace = store.get(id);
        if (!trace) throw new AdminError(404, 'TRELLIS_E_TRACE_NOT_FOUND', `no trace ${id} (it may never have arrived, or be older than the ${TRACE_STORE_LIMITS.maxTraces} kept)`);
        sendJson(res, 200, trace);
      },
    ],
  ];
}
