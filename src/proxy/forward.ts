// Streams one HTTP request to an upstream and its response back, without
// buffering bodies. Hop-by-hop headers are dropped in both directions.
// A request without a body that fails on a reused keep-alive connection
// before any response byte is retried once on a fresh one: the peer closed
// the idle connection as we wrote, and nothing reached the app.

import http from 'node:http';
import https from 'node:https';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Flat [name, value, ...] list without hop-by-hop headers (and without names listed in Connection). */
export function endToEndHeaders(raw: string[], drop?: ReadonlySet<string>): string[] {
  const out: string[] = [];
  let connectionTokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'connection') {
      for (const t of raw[i + 1]!.split(',')) (connectionTokens ??= new Set()).add(t.trim().toLowerCase());
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens?.has(lower) || drop?.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

export type ForwardFailure = 'connect' | 'timeout' | 'reset' | 'identity';

export interface ForwardOptions {
  /** http.request / https.request options (agent, host, port, TLS). */
  target: http.RequestOptions;
  secure: boolean;
  path: string;
  headers: string[];
  /** Time allowed until the upstream's response headers arrive. */
  responseTimeoutMs: number;
  /** Called once with the status sent to the client (or 0 when the client went away). */
  done(status: number): void;
  /** Builds the local reply when the upstream fails before responding. */
  fail(kind: ForwardFailure, err: Error): { status: number; body: string };
}

function setNoDelay(socket: { setNoDelay(v: boolean): unknown }): void {
  socket.setNoDelay(true);
}

function hasBody(req: http.IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

export function forward(req: http.IncomingMessage, res: http.ServerResponse, o: ForwardOptions): void {
  let finished = false;
  const finish = (status: number) => {
    if (finished) return;
    finished = true;
    o.done(status);
  };
  const attempt = (retried: boolean) => {
    const up = (o.secure ? https : http).request({
      ...o.target,
      method: req.method,
      path: o.path,
      headers: o.headers as unknown as http.OutgoingHttpHeaders,
    });
    // Small writes (headers, then body) must not wait for delayed ACKs (Nagle).
    up.once('socket', setNoDelay);
    const timer = setTimeout(() => up.destroy(Object.assign(new Error('upstream response timeout'), { code: 'TRELLIS_E_TIMEOUT' })), o.responseTimeoutMs);
    up.on('response', (ur) => {
      clearTimeout(timer);
      const status = ur.statusCode ?? 502;
      res.writeHead(status, ur.statusMessage, endToEndHeaders(ur.rawHeaders) as unknown as http.OutgoingHttpHeaders);
      ur.pipe(res);
      ur.on('end', () => finish(status));
      ur.on('error', () => res.destroy());
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (res.headersSent) {
        res.destroy();
        finish(0);
        return;
      }
      if (!retried && up.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && !hasBody(req)) {
        attempt(true);
        return;
      }
      const kind: ForwardFailure =
        err.code === 'TRELLIS_E_TIMEOUT' ? 'timeout'
        : err.code === 'TRELLIS_E_PEER_IDENTITY' ? 'identity'
        : err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset'
        : 'connect';
      const reply = o.fail(kind, err);
      if (!res.destroyed) {
        res.writeHead(reply.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(reply.body) });
        res.end(reply.body);
      }
      finish(reply.status);
    });
    if (retried) up.end();
    else req.pipe(up);
    res.on('close', () => {
      if (!res.writableFinished) {
        up.destroy();
        finish(0);
      }
    });
  };
  attempt(false);
}

export function localReply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const text = body.endsWith('\n') ? body : body + '\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
