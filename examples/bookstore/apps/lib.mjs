// Shared bits of the bookstore demo apps: calls through the sidecar's HTTP
// proxy, a tiny server with a live counters page, logging and graceful exit.
// Node 20 built-ins only: no dependencies, no build step.

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

// ---- calls through the sidecar ---------------------------------------------

/** The HTTP proxy for `host`, from HTTP_PROXY / NO_PROXY, or null to go direct. */
function proxyFor(host) {
  const raw = env('HTTP_PROXY', env('http_proxy'));
  if (!raw) return null;
  const noProxy = env('NO_PROXY', env('no_proxy'))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const h = host.toLowerCase();
  for (const entry of noProxy) {
    if (entry === '*') return null;
    const e = entry.startsWith('.') ? entry.slice(1) : entry;
    if (h === e || h.endsWith(`.${e}`)) return null;
  }
  const u = new URL(raw);
  return { host: u.hostname, port: Number(u.port || 80) };
}

/**
 * One HTTP call. Through the sidecar (HTTP_PROXY) unless NO_PROXY says
 * otherwise: the request goes to the proxy with the absolute URL as its path.
 * Resolves with { status, headers, body } for any status; rejects only on
 * network errors and timeouts (err.message says which).
 */
export function call(method, url, { headers = {}, body, timeoutMs = 2000 } = {}) {
  const u = new URL(url);
  const port = Number(u.port || 80);
  const proxy = proxyFor(u.hostname);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const opts = {
    method,
    host: proxy ? proxy.host : u.hostname,
    port: proxy ? proxy.port : port,
    path: proxy ? u.href : u.pathname + u.search,
    agent: false, // one connection per call: no stale keep-alive sockets to trip over
    headers: {
      host: u.port ? `${u.hostname}:${u.port}` : u.hostname,
      ...headers,
      ...(payload !== undefined && {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
      }),
    },
  };
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (data.length < 64 * 1024) data += chunk;
      });
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

// ---- serving ---------------------------------------------------------------

export function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** A page that shows the /counters JSON and refreshes it every second. */
function page(title) {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em}h1{font-size:1.4em}
table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:.3em 1em .3em 0;vertical-align:top}
td:first-child{color:#555}td.n{font-size:1.5em;font-weight:600}pre{margin:0;white-space:pre-wrap;max-width:60em}</style>
</head><body><h1>${esc(title)}</h1><table id="t"><tr><td>loading…</td></tr></table>
<p><small>auto-refreshes every second from <a href="/counters">/counters</a></small></p>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
const cell = (v) => typeof v === 'number' ? '<td class="n">' + v + '</td>'
  : v && typeof v === 'object' ? '<td><pre>' + esc(Object.entries(v).map(([k, x]) => k + ': ' + x).join('\\n') || '—') + '</pre></td>'
  : '<td><pre>' + esc(v == null || v === '' ? '—' : v) + '</pre></td>';
async function tick() {
  try {
    const c = await (await fetch('/counters', { cache: 'no-store' })).json();
    document.getElementById('t').innerHTML = Object.entries(c).map(([k, v]) => '<tr><td>' + esc(k) + '</td>' + cell(v) + '</tr>').join('');
  } catch (e) { /* the app is restarting; try again next second */ }
}
tick(); setInterval(tick, 1000);
</script></body></html>
`;
}

/**
 * Serves `/` (live page), `/counters` (JSON of getCounters()), `/healthz`,
 * then `handler(req, res, url)`; a handler that returns false gives a 404.
 */
export function serve({ title, getCounters, handler = () => false }) {
  const html = page(title);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(html);
      }
      if (url.pathname === '/counters') return sendJson(res, 200, getCounters());
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('ok\n');
      }
    }
    Promise.resolve(handler(req, res, url))
      .then((handled) => {
        if (handled === false) sendJson(res, 404, { error: 'not found', path: url.pathname });
      })
      .catch((err) => {
        log('handler error:', errorText(err));
        if (!res.headersSent) sendJson(res, 500, { error: errorText(err) });
        else res.destroy();
      });
  });
  const port = intEnv('PORT', 0);
  server.on('error', (err) => {
    log(`cannot listen on port ${port}:`, errorText(err));
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => log(`${title} listening on http://127.0.0.1:${server.address().port}/`));
  return server;
}

/** Exit 0 at once on SIGTERM / SIGINT: the demo apps hold no state worth saving. */
export function exitOnSignals() {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      log(`${sig}: exiting`);
      process.exit(0);
    });
  }
}

/** Read a request body (up to 64 KiB). */
export function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      if (data.length < 64 * 1024) data += c;
    });
    req.on('end', () => resolve(data));
    req.on('error', () => resolve(data));
  });
}
