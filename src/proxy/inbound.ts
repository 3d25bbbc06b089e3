// Inbound: connections from other proxies to this proxy's app. Each app port
// has a listener that requires a mesh certificate (STRICT) or also accepts
// plaintext (PERMISSIVE), takes the caller's identity from its SPIFFE ID,
// authorises, then forwards to the app on loopback.

import net from 'node:net';
import tls from 'node:tls';
import type { InboundListener, RateLimitConfig, Snapshot } from '../compiler/snapshot.js';
import { parseSpiffeId, spiffeIdFromPeerCertificate } from '../identity/spiffe.js';
import { compileAuthorizer, type Authorizer } from './authz.js';
import { TLS_OPTIONS } from './credentials.js';
import type { ByteStream } from './h1/byte-stream.js';
import type { RequestHead } from './h1/head.js';
import type { H1Pool } from './h1/pool.js';
import type { Decision, FailureKind, ForwardDecision } from './h1/decision.js';
import { serveH1 } from './h1/server.js';
import { compileMatcher, pathOf, type RequestMatcher } from './http-match.js';
import { MUX_ALPN } from './mux/frame.js';
import { MUX_LIMITS } from './mux/connector.js';
import { MuxSession } from './mux/session.js';
import { MuxStream } from './mux/stream.js';
import { RateLimiter } from './rate-limit.js';
import { LIMITS } from './limits.js';
import { pipeBoth } from './outbound.js';
import type { ProxyState } from './state.js';
import type { PeerInfo, RequestRecord } from './telemetry.js';
import { requestTraceHop, withTraceHeaders } from './trace-context.js';

/** What an inbound listener needs from the current snapshot; replaced on every update. */
export interface InboundConfig {
  listener: InboundListener;
  authorizer: Authorizer;
  mtlsMode: 'STRICT' | 'PERMISSIVE';
  destination: string;
}

interface InboundRateLimit {
  config: RateLimitConfig;
  /** The config as JSON: an unchanged limit keeps its buckets across updates. */
  key: string;
  limiter: RateLimiter;
  matchers: RequestMatcher[];
}

/** The listener's rate limiters for a config, reusing those whose config did not change. */
function rateLimitsFor(l: InboundListener, previous: readonly InboundRateLimit[]): InboundRateLimit[] {
  return (l.rateLimits ?? []).map((config) => {
    const key = JSON.stringify(config);
    const same = previous.find((p) => p.key === key);
    return same ?? { config, key, limiter: new RateLimiter(config), matchers: config.matches.map(compileMatcher) };
  });
}

/** The first limit that applies and has no token left, or undefined. */
function rateLimited(limits: readonly InboundRateLimit[], source: string | undefined, req: RequestHead | undefined, path: string): { limit: InboundRateLimit; retryAfter: number } | undefined {
  if (limits.length === 0) return undefined;
  const now = Date.now();
  for (const limit of limits) {
    if (req && limit.matchers.length > 0 && !limit.matchers.some((m) => m(req, path))) continue;
    const d = limit.limiter.take(source, now);
    if (!d.allowed) return { limit, retryAfter: d.retryAfterSeconds };
  }
  return undefined;
}

export function inboundConfig(l: InboundListener, mtlsMode: 'STRICT' | 'PERMISSIVE', namespace: string, serviceAccount: string): InboundConfig {
  const services = l.services.length > 0 ? l.services.join(', ') : `app port ${l.appPort}`;
  return {
    listener: l,
    authorizer: compileAuthorizer(l.authz),
    mtlsMode,
    destination: `${services} (service account ${namespace}/${serviceAccount})`,
  };
}

const kIdentity = Symbol('trellis.peerIdentity');
type IdentifiedSocket = net.Socket & { [kIdentity]?: string | null };

/** The caller's SPIFFE ID, read once per connection (or session). */
function peerIdentity(socket: ByteStream): string | undefined {
  if (socket instanceof MuxStream) return socket.peerIdentity;
  const s = socket as IdentifiedSocket;
  let id = s[kIdentity];
  if (id === undefined) {
    id = socket instanceof tls.TLSSocket ? spiffeIdFromPeerCertificate(socket.getPeerCertificate()) ?? null : null;
    s[kIdentity] = id;
  }
  return id ?? undefined;
}

const NO_PEER: PeerInfo = Object.freeze({});
/** Callers' record identities, parsed once per SPIFFE ID rather than per request (shared, never mutated). */
const sources = new Map<string, PeerInfo>();

function sourceInfo(source: string | undefined): PeerInfo {
  if (!source) return NO_PEER;
  let info = sources.get(source);
  if (!info) {
    if (sources.size >= 4096) sources.clear();
    const peer = parseSpiffeId(source);
    info = Object.freeze(peer ? { identity: source, namespace: peer.namespace, workload: peer.serviceAccount } : { identity: source });
    sources.set(source, info);
  }
  return info;
}

/** This proxy as the destination of a listener's records, rebuilt when the snapshot's node or the listener changes. */
interface DestinationCache {
  node: Snapshot['node'] | undefined;
  listener: InboundListener | undefined;
  info: PeerInfo;
  upstream: string;
}

function destinationInfo(cache: DestinationCache, node: Snapshot['node'] | undefined, listener: InboundListener): DestinationCache {
  if (cache.node === node && cache.listener === listener) return cache;
  const service = listener.services[0];
  cache.node = node;
  cache.listener = listener;
  cache.info = Object.freeze({
    ...(node ? { identity: node.identity, namespace: node.namespace, workload: node.workload } : {}),
    ...(service ? { service } : {}),
  });
  cache.upstream = `127.0.0.1:${listener.appPort}`;
  return cache;
}

/** The record of one inbound request or connection; the caller fills in how it ended. */
function inboundRecord(state: ProxyState, dest: DestinationCache, protocol: 'http' | 'tcp', source: string | undefined, listener: InboundListener, req?: RequestHead, path?: string): RequestRecord {
  const d = destinationInfo(dest, state.snapshot?.node, listener);
  // One object shape for every record: the sinks' property reads stay monomorphic.
  return {
    direction: 'inbound',
    protocol,
    start: Date.now(),
    durationMs: 0,
    method: req?.method,
    path,
    authority: req ? req.host ?? '' : undefined,
    status: 0,
    requestBytes: 0,
    responseBytes: 0,
    source: sourceInfo(source),
    destination: d.info,
    upstream: d.upstream,
    retries: 0,
  };
}

const DROP_FROM_PEER = new Set(['x-trellis-peer-identity']);

/** Counts an inbound request and emits its record (when telemetry is on). */
function requestEnded(state: ProxyState, count: (status: number) => void, record: RequestRecord | undefined, status: number, requestBytes: number, responseBytes: number, reason?: string): void {
  count(status);
  if (!record) return;
  if (reason) record.reason = reason;
  state.telemetry.end(record, status, requestBytes, responseBytes);
}

/** The header naming the caller to the app (the same array while the caller stays the same). */
let lastPeer: [string, string] | undefined;
function peerHeader(source: string): string[] {
  if (lastPeer?.[1] !== source) lastPeer = ['x-trellis-peer-identity', source];
  return lastPeer;
}

/** The engine's view of a request going on to the local app. */
class AppForward implements ForwardDecision {
  readonly kind = 'forward' as const;
  readonly pool: H1Pool;
  readonly key: string;
  // The caller's sidecar enforces the route's and policy's timeouts; this is only a backstop.
  readonly responseTimeoutMs = LIMITS.inboundResponseTimeoutMs;

  constructor(
    private readonly state: ProxyState,
    private readonly appPort: number,
    readonly path: string,
    readonly drop: ReadonlySet<string>,
    readonly add: string[] | undefined,
    private readonly count: (status: number) => void,
    private readonly record: RequestRecord | undefined,
  ) {
    this.pool = state.appPool;
    this.key = appPoolKey(appPort);
  }

  connect(): ByteStream {
    return net.connect({ host: '127.0.0.1', port: this.appPort });
  }

  done(status: number, requestBytes = 0, responseBytes = 0): void {
    requestEnded(this.state, this.count, this.record, status, requestBytes, responseBytes);
  }

  fail(kind: FailureKind, err: Error): { status: number; body: string } {
    return {
      status: kind === 'timeout' ? 504 : 503,
      body: `trellis: the local app on port ${this.appPort} did not answer: ${err.message}`,
    };
  }
}

const appKeys = new Map<number, string>();
function appPoolKey(port: number): string {
  let k = appKeys.get(port);
  if (k === undefined) appKeys.set(port, (k = `app:${port}`));
  return k;
}

export interface InboundServer {
  server: net.Server;
  setConfig(c: InboundConfig): void;
  /** Installs a rotated certificate. */
  setContext(opts: tls.SecureContextOptions): void;
}

export function createInboundServer(state: ProxyState, initial: InboundConfig, tlsOptions: tls.SecureContextOptions): InboundServer {
  let config = initial;
  const destination: DestinationCache = { node: undefined, listener: undefined, info: NO_PEER, upstream: '' };
  let limits = rateLimitsFor(initial.listener, []);
  const serverTls = { ...tlsOptions, ...TLS_OPTIONS, requestCert: true, rejectUnauthorized: true };

  const onRequest = (socket: ByteStream, req: RequestHead): Decision => {
    const source = peerIdentity(socket);
    const { listener, authorizer } = config;
    const path = pathOf(req.target);
    const transport = socket instanceof MuxStream || socket instanceof tls.TLSSocket ? 'mtls' : 'plaintext';
    const decision = authorizer.http(source, listener.appPort, req, path);
    const count = state.inboundCounter(source ?? 'unauthenticated', listener.appPort, transport);
    // This hop's span, a child of the caller's; the app gets it as its parent. Undefined when tracing is off.
    const trace = requestTraceHop(state.snapshot?.mesh.tracing, req);
    let record: RequestRecord | undefined;
    if (state.telemetry.active) {
      record = inboundRecord(state, destination, 'http', source, listener, req, path);
      if (trace) record.trace = trace.context;
    }
    if (!decision.allowed) {
      state.metrics.denied.inc({ source: source ?? 'unauthenticated', reason: 'rbac' });
      return {
        kind: 'reply',
        status: 403,
        body: `RBAC: access denied\nsource: ${source ?? '(no mesh identity)'}\ndestination: ${config.destination}\nreason: ${decision.reason}\n`,
        headers: [['x-trellis-denied', 'rbac']],
        done: (status) => requestEnded(state, count, record, status, 0, 0, 'rbac'),
      };
    }
    const limited = rateLimited(limits, source, req, path);
    if (limited) {
      state.metrics.resilience.inc({ event: 'rate_limited', cluster: limited.limit.config.service });
      return {
        kind: 'reply',
        status: 429,
        body: `trellis: rate limit of ${limited.limit.config.service} exceeded (TrafficPolicy ${limited.limit.config.name})`,
        headers: [
          ['retry-after', String(limited.retryAfter)],
          ['x-trellis-rate-limited', limited.limit.config.name],
        ],
        done: (status) => requestEnded(state, count, record, status, 0, 0, 'rate_limited'),
      };
    }
    const peer = source ? peerHeader(source) : undefined;
    const edits = trace ? withTraceHeaders(trace, DROP_FROM_PEER, peer) : { drop: DROP_FROM_PEER, add: peer };
    return new AppForward(state, listener.appPort, req.target, edits.drop, edits.add, count, record);
  };
  const serveHttp = (socket: ByteStream) => serveH1(socket, (req) => onRequest(socket, req), LIMITS);
  // Another sidecar that chose the multiplexing protocol: each stream is a connection.
  const serveSession = (socket: tls.TLSSocket) => {
    if (socket.alpnProtocol !== MUX_ALPN) return serveHttp(socket);
    new MuxSession(socket, 'server', {
      window: MUX_LIMITS.window,
      maxStreams: MUX_LIMITS.maxStreams,
      idleTimeoutMs: MUX_LIMITS.serverIdleTimeoutMs,
      onStream: serveHttp,
    });
  };

  // Open TCP connections and who opened them: a policy change re-checks them,
  // so revoking a TrafficTarget also ends the connections it allowed.
  const tcpOpen = new Map<net.Socket, string | undefined>();

  const onTcp = (socket: net.Socket) => {
    const source = peerIdentity(socket);
    const decision = config.authorizer.tcp(source, config.listener.appPort);
    const record = state.telemetry.active ? inboundRecord(state, destination, 'tcp', source, config.listener) : undefined;
    if (!decision.allowed) {
      state.metrics.denied.inc({ source: source ?? 'unauthenticated', reason: 'rbac' });
      if (record) {
        record.reason = 'rbac';
        state.telemetry.emit(record);
      }
      socket.destroy();
      return;
    }
    if (record) {
      // A connection is one record: bytes each way, emitted when it closes.
      socket.once('close', () => state.telemetry.end(record, record.status, socket.bytesRead, socket.bytesWritten));
    }
    const limited = rateLimited(limits, source, undefined, '');
    if (limited) {
      state.metrics.resilience.inc({ event: 'rate_limited', cluster: limited.limit.config.service });
      socket.destroy();
      return;
    }
    state.metrics.tcpConnections.inc({ direction: 'inbound', destination: `127.0.0.1:${config.listener.appPort}` });
    const app = net.connect({ host: '127.0.0.1', port: config.listener.appPort, allowHalfOpen: true });
    tcpOpen.set(socket, source);
    socket.once('close', () => tcpOpen.delete(socket));
    pipeBoth(socket, app, LIMITS.tcpIdleTimeoutMs);
  };

  const http1 = initial.listener.protocol === 'http';
  const tlsServer = tls.createServer(
    { ...serverTls, allowHalfOpen: !http1, handshakeTimeout: LIMITS.headersTimeoutMs, ...(http1 ? { ALPNProtocols: [MUX_ALPN, 'http/1.1'] } : {}) },
    http1 ? serveSession : onTcp,
  );
  tlsServer.on('tlsClientError', () => {
    state.metrics.denied.inc({ source: 'unauthenticated', reason: 'tls_handshake' });
  });

  // One port for both: the first byte tells a TLS ClientHello (0x16) from plaintext.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const tooSlow = () => socket.destroy();
    socket.setTimeout(LIMITS.headersTimeoutMs, tooSlow);
    socket.once('readable', () => {
      socket.setTimeout(0);
      socket.off('timeout', tooSlow);
      const first = socket.read(1) as Buffer | null;
      if (!first) return socket.destroy();
      socket.unshift(first);
      if (first[0] === 0x16) return tlsServer.emit('connection', socket);
      if (config.mtlsMode === 'PERMISSIVE') {
        if (http1) serveHttp(socket);
        else onTcp(socket);
        socket.resume();
        return;
      }
      state.metrics.denied.inc({ source: 'unauthenticated', reason: 'plaintext' });
      socket.destroy();
    });
    socket.on('error', () => socket.destroy());
  });
  server.maxConnections = LIMITS.maxConnections;
  return {
    server,
    setConfig: (c) => {
      config = c;
      limits = rateLimitsFor(c.listener, limits);
      for (const [socket, source] of tcpOpen) {
        if (!c.authorizer.tcp(source, c.listener.appPort).allowed) {
          state.metrics.denied.inc({ source: source ?? 'unauthenticated', reason: 'rbac_revoked' });
          socket.destroy();
        }
      }
    },
    setContext: (opts) => tlsServer.setSecureContext({ ...opts, ...TLS_OPTIONS }),
  };
}
