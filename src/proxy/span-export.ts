// Span export: sampled records queue per collector (bounded), are turned into
// spans and POSTed in batches, every second or every 256 spans, with a short
// timeout and at most one request in flight per collector. Nothing on the
// request path waits: a record is pushed onto an array, or dropped and
// counted when the queue is full; a collector that is down or slow loses its
// batches (counted) and never slows requests.
//
// Collectors: the control plane (always, when the proxy knows its URL: it
// keeps recent traces for `GET /v1/traces`), and MeshConfig
// `spec.tracing.zipkin.url` (Zipkin v2 JSON) and `spec.tracing.otlp.url`
// (OTLP/HTTP JSON), read from the snapshot in force.

import http from 'node:http';

// `https` costs the sidecar about 1.3 MB of memory: loaded only for an https:// collector.
const requireModule = createRequire(import.meta.url);
let httpsModule: typeof import('node:https') | undefined;
function https(): typeof import('node:https') {
  return (httpsModule ??= requireModule('node:https') as typeof import('node:https'));
}
import { createRequire } from 'node:module';
import type { TracingSettings } from '../compiler/snapshot.js';
import type { Logger } from './log.js';
import { otlpExport, zipkinSpan, type ZipkinSpan } from './spans.js';
import type { Counter } from './stats.js';
import type { RecordSink, RequestRecord } from './telemetry.js';

export type SpanFormat = 'zipkin' | 'otlp';

export interface SpanExportLimits {
  /** Records waiting per collector; beyond, new ones are dropped (`queue_full`). */
  queueSize: number;
  /** Spans per request. */
  batchSize: number;
  /** A partial batch goes after this long. */
  intervalMs: number;
  /** Whole export request, connect to response end. */
  timeoutMs: number;
}

export const SPAN_EXPORT_LIMITS: SpanExportLimits = { queueSize: 2048, batchSize: 256, intervalMs: 1000, timeoutMs: 2000 };

export interface SpanCounters {
  /** `trellis_spans_exported_total{collector}` */
  exported: Counter;
  /** `trellis_spans_dropped_total{collector,reason}` */
  dropped: Counter;
}

/** Why spans were dropped (the `reason` label). */
export type DropReason = 'queue_full' | 'export_failed' | 'export_timeout' | 'export_rejected' | 'collector_removed';

const spansOf = new WeakMap<RequestRecord, ZipkinSpan | null>();

/** The Zipkin span of a record, converted once however many collectors export it. */
function spanOf(r: RequestRecord): ZipkinSpan | undefined {
  let s = spansOf.get(r);
  if (s === undefined) {
    s = zipkinSpan(r) ?? null;
    spansOf.set(r, s);
  }
  return s ?? undefined;
}

/** The request body for a batch, in the collector's format. */
export function encodeBatch(format: SpanFormat, spans: readonly ZipkinSpan[]): string {
  return JSON.stringify(format === 'zipkin' ? spans : otlpExport(spans));
}

class ExportTimeout extends Error {}

/** One collector: its queue and its (single) request in flight. */
export class SpanExporter {
  private queue: RequestRecord[] = [];
  private inFlight = false;
  private closed = false;
  /** After a failure, the next try waits for the interval tick. */
  private backoffUntil = 0;
  private healthy = true;
  private scheduled = false;
  private readonly target: URL;
  private readonly agent: http.Agent;
  private readonly exported: (by?: number) => void;
  private readonly drops = new Map<DropReason, (by?: number) => void>();

  constructor(
    /** The `collector` label: `control-plane`, `zipkin` or `otlp`. */
    readonly collector: string,
    readonly url: string,
    readonly format: SpanFormat,
    private readonly counters: SpanCounters,
    private readonly log?: Logger,
    private readonly limits: SpanExportLimits = SPAN_EXPORT_LIMITS,
  ) {
    this.target = new URL(url);
    const Agent = this.target.protocol === 'https:' ? https().Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.exported = counters.exported.handle({ collector });
  }

  /** Records waiting. */
  get pending(): number {
    return this.queue.length;
  }

  dropped(reason: DropReason, n: number): void {
    if (n <= 0) return;
    let inc = this.drops.get(reason);
    if (!inc) {
      inc = this.counters.dropped.handle({ collector: this.collector, reason });
      this.drops.set(reason, inc);
    }
    inc(n);
  }

  /** Request path: O(1), never waits. */
  offer(r: RequestRecord): void {
    if (this.closed) return;
    if (this.queue.length >= this.limits.queueSize) {
      this.dropped('queue_full', 1);
      return;
    }
    this.queue.push(r);
    if (this.queue.length >= this.limits.batchSize && !this.scheduled && !this.inFlight) {
      // Not on the request's own tick.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Starts sending the next batch unless one is in flight (or the collector failed within the interval). */
  flush(now = Date.now()): void {
    if (this.inFlight || this.closed || this.queue.length === 0 || now < this.backoffUntil) return;
    const records = this.queue.splice(0, this.limits.batchSize);
    const spans: ZipkinSpan[] = [];
    for (const r of records) {
      const s = spanOf(r);
      if (s) spans.push(s);
    }
    if (spans.length === 0) return;
    this.inFlight = true;
    void this.post(encodeBatch(this.format, spans)).then(
      () => {
        this.inFlight = false;
        this.exported(spans.length);
        if (!this.healthy) {
          this.healthy = true;
          this.log?.info(`span export to ${this.collector} (${this.url}) works again`);
        }
        if (this.queue.length >= this.limits.batchSize) this.flush();
      },
      (err: Error) => {
        this.inFlight = false;
        this.backoffUntil = Date.now() + this.limits.intervalMs;
        const reason: DropReason = err instanceof ExportTimeout ? 'export_timeout' : /^HTTP \d/.test(err.message) ? 'export_rejected' : 'export_failed';
        this.dropped(reason, spans.length);
        if (this.healthy) {
          this.healthy = false;
          this.log?.warn(`span export to ${this.collector} (${this.url}) failed: ${err.message}; dropping spans until it works`);
        }
      },
    );
  }

  private post(body: string): Promise<void> {
    const mod = this.target.protocol === 'https:' ? https() : http;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const req = mod.request(
        this.target,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on('end', () => finish(status >= 200 && status < 300 ? undefined : new Error(`HTTP ${status}`)));
          res.on('error', (e) => finish(e));
        },
      );
      const timer = setTimeout(() => {
        finish(new ExportTimeout(`no answer within ${this.limits.timeoutMs} ms`));
        req.destroy();
      }, this.limits.timeoutMs);
      timer.unref();
      req.on('error', (e) => finish(e));
      req.end(body);
    });
  }

  /** Stops: what is queued is dropped (`reason`), idle connections close. */
  close(reason: DropReason = 'collector_removed'): void {
    if (this.closed) return;
    this.closed = true;
    this.dropped(reason, this.queue.length);
    this.queue = [];
    this.agent.destroy();
  }
}

export interface SpanPipelineOptions {
  counters: SpanCounters;
  /** The tracing settings in force (read per record; changes take effect at once). */
  settings: () => TracingSettings | undefined;
  /** The control plane's admin URL (`TRELLIS_CONTROL_PLANE_URL`): spans also go to `<url>/v1/traces/spans`. */
  controlPlaneUrl?: string;
  log?: Logger;
  limits?: SpanExportLimits;
}

/** Every collector of this proxy, fed by a telemetry sink. */
export class SpanPipeline {
  private exporters: SpanExporter[] = [];
  private readonly byKey = new Map<string, SpanExporter>();
  private settingsSeen: TracingSettings | undefined | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly controlPlane?: SpanExporter;

  constructor(private readonly opts: SpanPipelineOptions) {
    const limits = opts.limits ?? SPAN_EXPORT_LIMITS;
    if (opts.controlPlaneUrl) {
      const url = new URL('/v1/traces/spans', opts.controlPlaneUrl).toString();
      this.controlPlane = new SpanExporter('control-plane', url, 'zipkin', opts.counters, opts.log, limits);
    }
    this.timer = setInterval(() => this.flush(), limits.intervalMs);
    this.timer.unref();
  }

  /** The telemetry sink: sampled records are queued on every collector. */
  readonly sink: RecordSink = (r) => {
    if (!r.trace?.sampled) return;
    const list = this.collectors();
    for (let i = 0; i < list.length; i++) list[i]!.offer(r);
  };

  /** The exporters for the settings in force; rebuilt only when they change. */
  collectors(): readonly SpanExporter[] {
    const s = this.opts.settings();
    if (s === this.settingsSeen) return this.exporters;
    this.settingsSeen = s;
    const wanted: [string, string, SpanFormat][] = [];
    if (s?.zipkinUrl) wanted.push(['zipkin', s.zipkinUrl, 'zipkin']);
    if (s?.otlpUrl) wanted.push(['otlp', s.otlpUrl, 'otlp']);
    const next: SpanExporter[] = this.controlPlane ? [this.controlPlane] : [];
    const keep = new Set<string>();
    for (const [collector, url, format] of wanted) {
      const key = `${format} ${url}`;
      keep.add(key);
      let e = this.byKey.get(key);
      if (!e) {
        e = new SpanExporter(collector, url, format, this.opts.counters, this.opts.log, this.opts.limits ?? SPAN_EXPORT_LIMITS);
        this.byKey.set(key, e);
      }
      next.push(e);
    }
    for (const [key, e] of this.byKey) {
      if (keep.has(key)) continue;
      e.close('collector_removed');
      this.byKey.delete(key);
    }
    this.exporters = next;
    return next;
  }

  flush(): void {
    const now = Date.now();
    for (const e of this.collectors()) e.flush(now);
  }

  close(): void {
    clearInterval(this.timer);
    for (const e of this.collectors()) e.close('collector_removed');
  }
}
