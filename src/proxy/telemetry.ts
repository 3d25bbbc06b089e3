// One record per request (or TCP connection) the proxy handled, emitted once
// when it ends. Metrics, access logs and spans are all made from it, so they
// always agree; the request path builds the record and hands it to the sinks
// without waiting on any of them.

export interface PeerInfo {
  /** SPIFFE ID, when known. */
  identity?: string;
  namespace?: string;
  /** Workload (local mode) or service account name when that is all that is known. */
  workload?: string;
  /** `ns/name:port` of the Service called (destination only). */
  service?: string;
}

export interface TraceContext {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 hex digits: this hop's span. */
  spanId: string;
  parentSpanId?: string;
  sampled: boolean;
  /** W3C tracestate to pass on, as received. */
  tracestate?: string;
}

export interface RequestRecord {
  /** outbound: a call of the local app; inbound: a call to the local app; gateway: an ingress request. */
  direction: 'outbound' | 'inbound' | 'gateway';
  protocol: 'http' | 'tcp';
  /** ms since epoch when the request head (or connection) arrived. */
  start: number;
  durationMs: number;
  method?: string;
  /** Path without the query string. */
  path?: string;
  authority?: string;
  /** Status sent to the client; 0 = the exchange broke or the client went away. */
  status: number;
  /** Body bytes from the client (sent upstream) and to the client. */
  requestBytes: number;
  responseBytes: number;
  source: PeerInfo;
  destination: PeerInfo;
  /** Route name from the snapshot (`httproute:ns/name/rule`, `split:…`, `default`). */
  route?: string;
  /** Endpoint instance (`ns/name-0`) or app port that served it. */
  upstream?: string;
  retries: number;
  /** Why the proxy answered itself (no_route, rbac, fault_abort, rate_limited, overflow, …). */
  reason?: string;
  trace?: TraceContext;
}

export type RecordSink = (r: RequestRecord) => void;

/** Fan-out to every sink; a sink that throws is reported once and never breaks the request path. */
export class Telemetry {
  private readonly sinks: RecordSink[] = [];
  private failed = new WeakSet<RecordSink>();

  add(sink: RecordSink): void {
    this.sinks.push(sink);
  }

  get active(): boolean {
    return this.sinks.length > 0;
  }

  /** Completes a record (status, duration, body bytes each way) and emits it. */
  end(r: RequestRecord, status: number, requestBytes: number, responseBytes: number): void {
    r.status = status;
    r.durationMs = Date.now() - r.start;
    r.requestBytes = requestBytes;
    r.responseBytes = responseBytes;
    this.emit(r);
  }

  emit(r: RequestRecord): void {
    for (const sink of this.sinks) {
      try {
        sink(r);
      } catch (err) {
        if (!this.failed.has(sink)) {
          this.failed.add(sink);
          process.emitWarning(`telemetry sink failed: ${(err as Error).message}`);
        }
      }
    }
  }
}
