// The proxy's admin listener (loopback only): readiness, Prometheus metrics,
// and the snapshot it runs, as Envoy's admin interface offers them.
//
// Memory: it speaks HTTP/1.1 itself on node:net. It was the only user of
// Node's `http` server in a sidecar, and loading that (its modules, the llhttp
// parser) plus a request/response object pair per runner probe (every 250 ms)
// cost an idle sidecar ~1–2 MB of RSS. The admin API is GET and HEAD of a few
// fixed paths, so the server needs no more than request heads (bodies are not
// read: the connection closes after the response instead), keep-alive,
// pipelining, and the limits Node's server had here (head within 10 s and
// 16 KiB, idle keep-alive connections closed after 60 s).

import net from 'node:net';
import { LIMITS } from './limits.js';
import { isoTimestamp } from './log.js';
import type { ProxyState } from './state.js';
import type { XdsState } from './xds-client.js';

export interface AdminReply {
  status: number;
  contentType: string;
  body: string;
}

const TEXT = 'text/plain; charset=utf-8';

function localReply(status: number, body: string): AdminReply {
  return { status, contentType: TEXT, body: body + '\n' };
}

/** The admin API: the reply to `method target`. */
export function adminReply(state: ProxyState, xds: XdsState, method: string, target: string): AdminReply {
  const path = target.split('?')[0];
  if (method !== 'GET' && method !== 'HEAD') return localReply(405, 'method not allowed');
  switch (path) {
    case '/ready':
      if (state.snapshot && state.credentials.material) return localReply(200, 'LIVE');
      return localReply(503, state.credentials.material ? 'waiting for the first snapshot' : 'waiting for a certificate');
    case '/healthz':
      return localReply(200, 'ok');
    case '/stats':
    case '/metrics':
      return { status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: state.metrics.registry.render() };
    case '/config_dump': {
      const m = state.credentials.material;
      const body = JSON.stringify(
        {
          proxyId: state.proxyId,
          controlPlane: xds,
          certificate: m ? { notAfter: isoTimestamp(m.notAfter.getTime()) } : null,
          snapshot: state.snapshot ?? null,
          // What the snapshot cannot say: each endpoint's health, ejection and load now (Envoy's /clusters).
          endpoints: Object.fromEntries(
            [...state.table.clusters].map(([name, c]) => [
              name,
              c.endpoints.map((e) => ({
                instance: e.config.instance,
                healthy: e.healthy,
                ejected: e.ejectedUntil > Date.now(),
                ejections: e.ejections,
                active: e.active,
              })),
            ]),
          ),
          // Multiplexed sessions to other sidecars (docs/proxy.md, "Between sidecars").
          upstreamSessions: state.pool.describeSessions(),
        },
        null,
        2,
      );
      return { status: 200, contentType: 'application/json', body };
    }
    default:
      return localReply(404, 'not found: try /ready, /stats, /config_dump');
  }
}

/** Node's http server defaults, which this listener had. */
const MAX_HEAD_BYTES = 16 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => (n < 10 ? '0' : '') + n;
let dateSecond = NaN;
let dateValue = '';

/** The Date header's value (IMF-fixdate, as `toUTCString()`; from the UTC fields for the reason in log.ts). */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateSecond) {
    const d = new Date(second * 1000);
    dateSecond = second;
    dateValue = `${DAYS[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} GMT`;
  }
  return dateValue;
}

interface AdminRequest {
  method: string;
  target: string;
  /** Close after the response: asked for, HTTP/1.0 without keep-alive, or a body we do not read. */
  close: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The request's head (without its blank line), or undefined when it is malformed. */
function parseHead(head: string): AdminRequest | undefined {
  const lines = head.split('\r\n');
  const parts = lines[0]!.split(' ');
  if (parts.length !== 3) return undefined;
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method) || target.length === 0) return undefined;
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
  let connection = '';
  let body = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'connection') connection += ',' + value.toLowerCase();
    else if (name === 'transfer-encoding') body = true;
    else if (name === 'content-length') {
      if (!/^\d+$/.test(value)) return undefined;
      if (Number(value) > 0) body = true;
    }
  }
  const tokens = connection.split(',').map((t) => t.trim());
  const close = tokens.includes('close') || (version === 'HTTP/1.0' && !tokens.includes('keep-alive')) || body;
  return { method, target, close };
}

function response(reply: AdminReply, headOnly: boolean, close: boolean): string {
  const head =
    `HTTP/1.1 ${reply.status} ${REASONS[reply.status] ?? 'Unknown'}\r\n` +
    `content-type: ${reply.contentType}\r\n` +
    `content-length: ${Buffer.byteLength(reply.body)}\r\n` +
    `Date: ${httpDate(Date.now())}\r\n` +
    (close ? 'Connection: close\r\n' : `Connection: keep-alive\r\nKeep-Alive: timeout=${LIMITS.keepAliveTimeoutMs / 1000}\r\n`) +
    '\r\n';
  // A response to HEAD carries the length of the body it would have had, not the body.
  return headOnly ? head : head + reply.body;
}

/** A bodiless error response that closes the connection (what Node's http server sends for a bad request). */
function errorResponse(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status]}\r\nConnection: close\r\n\r\n`;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Serves requests on one connection until either side closes it; returns what ends it (after its pending writes). */
function serve(socket: net.Socket, handle: (method: string, target: string) => AdminReply): () => void {
  let pending: Buffer | undefined;
  let done = false;
  /** Set while a head has started arriving: it must be complete within HEADERS_TIMEOUT_MS. */
  let headTimer: NodeJS.Timeout | undefined;
  const finish = (last: string) => {
    done = true;
    clearTimeout(headTimer);
    pending = undefined;
    socket.end(last);
  };
  // Between requests: idle keep-alive connections are closed.
  socket.setTimeout(LIMITS.keepAliveTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(headTimer));
  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    pending = pending ? Buffer.concat([pending, chunk]) : chunk;
    let out = '';
    for (;;) {
      // Empty lines before a request line are ignored (RFC 9112 section 2.2).
      let start = 0;
      while (pending.length >= start + 2 && pending[start] === 13 && pending[start + 1] === 10) start += 2;
      if (start > 0) pending = pending.subarray(start);
      if (pending.length === 0) break;
      const end = pending.indexOf(CRLFCRLF);
      if (end < 0 ? pending.length > MAX_HEAD_BYTES : end + 4 > MAX_HEAD_BYTES) return finish(out + errorResponse(431));
      if (end < 0) {
        headTimer ??= setTimeout(() => finish(errorResponse(408)), HEADERS_TIMEOUT_MS).unref();
        break;
      }
      clearTimeout(headTimer);
      headTimer = undefined;
      const req = parseHead(pending.toString('latin1', 0, end));
      if (!req) return finish(out + errorResponse(400));
      pending = pending.subarray(end + 4);
      out += response(handle(req.method, req.target), req.method === 'HEAD', req.close);
      if (req.close) return finish(out);
    }
    if (pending.length === 0) pending = undefined;
    if (out) socket.write(out);
  });
  return () => {
    if (!done) finish('');
  };
}

/** `close()` also ends the open connections once their responses are written, as Node's http server closes idle ones. */
class AdminServer extends net.Server {
  private readonly ending = new Set<() => void>();

  constructor(handle: (method: string, target: string) => AdminReply) {
    super((socket) => {
      const end = serve(socket, handle);
      this.ending.add(end);
      socket.on('close', () => this.ending.delete(end));
    });
    this.maxConnections = LIMITS.maxConnections;
  }

  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    for (const end of this.ending) end();
    return this;
  }
}

export function createAdminServer(state: ProxyState, xds: XdsState): net.Server {
  return new AdminServer((method, target) => adminReply(state, xds, method, target));
}
