// What the example apps share: env helpers, HTTP calls through the sidecar's
// HTTP proxy (HTTP_PROXY) or directly, JSON and text answers, request bodies,
// listening, logging, clean exit. Node 20 built-ins only; each example's
// apps/lib.mjs re-exports it with what is particular to that example.

import http from 'node:http';

/** An env var, or a default when it is unset or empty. */
export function env(name, fallback = '') {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

export function intEnv(name, fallback) {
  const n = Number.parseInt(env(name, ''), 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

const NAME = env('TRELLIS_INSTANCE_NAME', env('IDENTITY', (process.argv[1] ?? 'app').split('/').pop().replace(/\.mjs$/, '')));

export function log(...args) {
  console.log(new Date().toISOString(), `[${NAME}]`, ...args);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A short, one-line description of a failed call's error. */
export function errorText(err) {
  const msg = String(err?.message ?? err);
  return err?.code && !msg.includes(err.code) ? `${err.code} ${msg}` : msg;
}

/** First ~300 characters of a body, on one line. */
export function snippet(body) {
  const s = String(body ?? '').replace(/\s+/g, ' ').trim();
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** The HTTP proxy for `host`, from HTTP_PROXY / NO_PROXY, or null to go direct. */
export function proxyFor(host) {
  const raw = env('HTTP_PROXY', env('http_proxy'));
  if (!raw) return null;
  const noProxy = env('NO_PROXY', env('no_proxy'))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const entry of noProxy) {
    if (entry === '*') return null;
    const e = entry.startsWith('.') ? entry.slice(1) : entry;
    if (h === e || h.endsWith(`.${e}`)) return null;
  }
  const u = new URL(raw);
  return { host: u.hostname, port: Number(u.port || 80) };
}

/**
 * One HTTP GET (or other method). Through the sidecar (HTTP_PROXY) unless
 * NO_PROXY says otherwise: the request goes to the proxy with the absolute URL
 * as its path, which is how the sidecar picks the Service. Resolves with
 * { status, headers, body } for any status; rejects on network errors and timeouts.
 */
export function call(method, url, { headers = {}, body, timeoutMs = 3000 } = {}) {
  const u = new URL(url);
  const proxy = proxyFor(u.hostname);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const opts = {
    method,
    host: proxy ? proxy.host : u.hostname.replace(/^\[|\]$/g, ''),
    port: proxy ? proxy.port : Number(u.port || 80),
    path: proxy ? u.href : u.pathname + u.search,
    agent: false,
    headers: {
      host: u.host,
      ...headers,
      ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
    },
  };
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (data += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

export function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

export function sendText(res, status, text, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** Read a request body (at most `limit` bytes; more rejects with err.status 413). */
export function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      data += c;
      if (data.length > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(Object.assign(new Error(`body larger than ${limit} bytes`), { status: 413 }));
      }
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** Listen on PORT (0 = any free port) on loopback. */
export function listen(server, title) {
  const port = intEnv('PORT', 0);
  server.on('error', (err) => {
    log(`cannot listen on port ${port}:`, errorText(err));
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => log(`${title} listening on http://127.0.0.1:${server.address().port}/`));
  return server;
}

/** Run `onExit` then exit 0 on SIGTERM / SIGINT. `onExit` may return a promise (awaited at most 2 s). */
export function exitOnSignals(onExit = () => {}) {
  let exiting = false;
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      if (exiting) return;
      exiting = true;
      const done = () => process.exit(0);
      setTimeout(done, 2000).unref();
      Promise.resolve()
        .then(onExit)
        .catch(() => {})
        .finally(done);
    });
  }
}

/** `host:port` → { host, port }. */
export function hostPort(s, defaultPort) {
  const i = s.lastIndexOf(':');
  return i < 0 ? { host: s, port: defaultPort } : { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
