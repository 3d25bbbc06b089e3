// Access log: one JSON line per request or TCP connection, made from the
// telemetry record when it ends. Lines go through write streams (libuv does
// the I/O off the event loop; nothing synchronous per request); when a stream
// falls behind by more than MAX_PENDING_BYTES, lines are dropped and counted
// (`trellis_access_log_dropped_total{reason="backpressure"}`) rather than
// buffered without bound or blocking.
//
// Where: the sidecar's own log (`TRELLIS_ACCESS_LOG_FILE`: a path, or `-` for
// stdout; the local runner gives each instance
// `<state dir>/logs/<namespace>/<instance>.access.log`), and MeshConfig
// `spec.accessLog.file` when set. `spec.accessLog.enabled: false` turns both off.

import fs from 'node:fs';
import path from 'node:path';
import type { AccessLogSettings } from '../compiler/snapshot.js';
import { isoTimestamp, type Logger } from './log.js';
import type { Counter, Registry } from './stats.js';
import type { RecordSink, RequestRecord } from './telemetry.js';

/** A stream this far behind drops lines. */
export const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** The line's fields, in this order (absent values are left out). */
export interface AccessLogLine {
  /** Start of the request (or connection), ISO 8601 UTC. */
  time: string;
  direction: RequestRecord['direction'];
  protocol: RequestRecord['protocol'];
  source_identity?: string;
  source_workload?: string;
  source_namespace?: string;
  destination_service?: string;
  destination_workload?: string;
  destination_identity?: string;
  route?: string;
  method?: string;
  path?: string;
  /** HTTP status sent to the client; 0 = no response (or TCP). */
  status: number;
  duration_ms: number;
  request_bytes: number;
  response_bytes: number;
  upstream?: string;
  retries: number;
  trace_id?: string;
  span_id?: string;
  /** Why the proxy answered itself or refused (no_route, rbac, rate_limited, ...). */
  reason?: string;
}

let lastMs = NaN;
let lastIso = '';

/** ISO 8601 of a ms timestamp; requests of the same millisecond share one string. */
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = isoTimestamp(ms);
  }
  return lastIso;
}

export function accessLogLine(r: RequestRecord): AccessLogLine {
  return {
    time: isoTime(r.start),
    direction: r.direction,
    protocol: r.protocol,
    source_identity: r.source.identity,
    source_workload: r.source.workload,
    source_namespace: r.source.namespace,
    destination_service: r.destination.service,
    destination_workload: r.destination.workload,
    destination_identity: r.destination.identity,
    route: r.route,
    method: r.method,
    path: r.path,
    status: r.status,
    duration_ms: r.durationMs,
    request_bytes: r.requestBytes,
    response_bytes: r.responseBytes,
    upstream: r.upstream,
    retries: r.retries,
    trace_id: r.trace?.traceId,
    span_id: r.trace?.spanId,
    reason: r.reason,
  };
}

/** One JSON line, newline included (undefined fields are left out by JSON.stringify). */
export function formatAccessLog(r: RequestRecord): string {
  return JSON.stringify(accessLogLine(r)) + '\n';
}

/** A destination of lines: a file appended to, or stdout. Opening never blocks: lines wait (bounded) meanwhile. */
class LineWriter {
  private stream: fs.WriteStream | undefined;
  private state: 'new' | 'opening' | 'open' | 'failed' = 'new';
  private pending: string[] = [];
  private pendingBytes = 0;

  constructor(
    readonly target: string,
    /** Create the file's directory first (the sidecar's own log; MeshConfig's file must be in an existing one). */
    private readonly makeDir: boolean,
    private readonly dropped: (reason: string) => void,
    private readonly log?: Logger,
  ) {}

  private fail(err: Error): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.stream = undefined;
    for (let i = 0; i < this.pending.length; i++) this.dropped('write_error');
    this.pending = [];
    this.log?.warn(`access log ${this.target === '-' ? 'stdout' : this.target}: ${err.message}; its lines are dropped`);
  }

  private attach(s: fs.WriteStream): void {
    this.stream = s;
    this.state = 'open';
    s.on('error', (err) => this.fail(err));
    for (const line of this.pending) s.write(line);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private open(): void {
    if (this.target === '-') {
      // Its own stream on fd 1: writes go through the thread pool, never blocking like process.stdout on a pipe.
      this.attach(fs.createWriteStream('', { fd: 1, autoClose: false }));
      return;
    }
    this.state = 'opening';
    const dir = this.makeDir ? fs.promises.mkdir(path.dirname(this.target), { recursive: true }) : Promise.resolve(undefined);
    dir.then(
      () => {
        if (this.state === 'opening') this.attach(fs.createWriteStream(this.target, { flags: 'a' }));
      },
      (err: Error) => this.fail(err),
    );
  }

  write(line: string): void {
    if (this.state === 'new') this.open();
    if (this.state === 'open') {
      const s = this.stream!;
      if (s.writableLength > MAX_PENDING_BYTES) this.dropped('backpressure');
      else s.write(line);
    } else if (this.state === 'opening') {
      if (this.pendingBytes + line.length > MAX_PENDING_BYTES) this.dropped('backpressure');
      else {
        this.pending.push(line);
        this.pendingBytes += line.length;
      }
    } else this.dropped('write_error');
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    this.state = 'failed';
    this.pending = [];
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}

export interface AccessLogOptions {
  /** The sidecar's own log: a path, `-` for stdout, undefined for stdout. */
  target?: string;
  /** MeshConfig `spec.accessLog`, read per record. */
  settings: () => AccessLogSettings | undefined;
  /** Registers `trellis_access_log_dropped_total` here. */
  registry?: Registry;
  log?: Logger;
}

/** The access log sink; `close()` ends its streams. */
export class AccessLog {
  private readonly own: LineWriter;
  private shared: LineWriter | undefined;
  private readonly droppedCounter: Counter | undefined;
  private readonly drops = new Map<string, (by?: number) => void>();

  constructor(private readonly opts: AccessLogOptions) {
    this.droppedCounter = opts.registry?.counter('trellis_access_log_dropped_total', 'Access log lines dropped, by reason (backpressure: the log file or stdout fell behind; write_error).');
    const dropped = (reason: string) => this.dropped(reason);
    this.own = new LineWriter(opts.target ?? '-', true, dropped, opts.log);
  }

  private dropped(reason: string): void {
    if (!this.droppedCounter) return;
    let inc = this.drops.get(reason);
    if (!inc) {
      inc = this.droppedCounter.handle({ reason });
      this.drops.set(reason, inc);
    }
    inc();
  }

  readonly sink: RecordSink = (r) => {
    const s = this.opts.settings();
    if (!s?.enabled) return;
    const line = formatAccessLog(r);
    this.own.write(line);
    if (s.file !== undefined) {
      if (this.shared?.target !== s.file) {
        void this.shared?.close();
        this.shared = new LineWriter(s.file, false, (reason) => this.dropped(reason), this.opts.log);
      }
      this.shared.write(line);
    } else if (this.shared) {
      void this.shared.close();
      this.shared = undefined;
    }
  };

  async close(): Promise<void> {
    await Promise.all([this.own.close(), this.shared?.close()]);
  }
}
