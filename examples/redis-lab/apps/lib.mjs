// Shared bits of the redis-lab apps: env helpers, where Redis is (by mode),
// HTTP calls through the sidecar's HTTP proxy (HTTP_PROXY) or directly, JSON
// answers, logging.
// Node 20 built-ins only (the counter app alone uses the `redis` client).

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

const NAME = env('TRELLIS_INSTANCE_NAME', (process.argv[1] ?? 'app').split('/').pop().replace(/\.mjs$/, ''));

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

/**
 * Where Redis in namespace d is, and how this app gets there. `name` (for
 * logs and errors) always starts with what the app asked for.
 *
 *   REDIS_HOST / REDIS_PORT set      exactly there (without the mesh: 127.0.0.1:6379 by default).
 *   HTTP_PROXY set (process mode)    the sidecar's explicit upstream port for redis.d:6379,
 *                                    $UPSTREAM_REDIS_6379 = 127.0.0.1:<port>. In process mode
 *                                    the runner gives every app HTTP_PROXY: the sidecar has to be
 *                                    named, and a TCP client can only name it by that port.
 *   neither (isolated mode)          the plain Service name redis.d:6379 (REDIS_SERVICE overrides):
 *                                    the mesh DNS answers the Service's virtual IP and iptables in
 *                                    the app's namespace hands the connection to its sidecar. The
 *                                    runner sets no HTTP_PROXY in that mode; it still sets
 *                                    UPSTREAM_REDIS_6379, which is ignored here on purpose.
 */
export function redisTarget() {
  if (env('REDIS_HOST') || env('REDIS_PORT')) {
    const t = { host: env('REDIS_HOST', '127.0.0.1'), port: intEnv('REDIS_PORT', 6379) };
    return { ...t, mode: 'direct', name: `${t.host}:${t.port}` };
  }
  const service = env('REDIS_SERVICE', 'redis.d:6379');
  const upstream = env('UPSTREAM_REDIS_6379');
  if (proxyFor('redis.d') && upstream) {
    const t = hostPort(upstream, 6379);
    return { ...t, mode: 'sidecar port', name: `${service} (sidecar upstream port ${t.host}:${t.port})` };
  }
  return { ...hostPort(service, 6379), mode: 'service name', name: service };
}

/** `host:port` → { host, port }. */
export function hostPort(s, defaultPort) {
  const i = s.lastIndexOf(':');
  return i < 0 ? { host: s, port: defaultPort } : { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
