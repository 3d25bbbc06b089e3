// The echo backend of the Gateway API conformance tests, for Trellis tests
// and demos: answers every request with 200 and JSON describing the request
// it saw, so a test can tell which backend answered and what reached it.
//
//   { path, host, method, proto, headers, namespace, pod, instance, service }
//
// path keeps the query string; headers is an object with lower-case names
// and string values (repeated headers joined with ","; Host is in `host`, not
// in `headers`, as Go's echo-basic does); pod and instance are both the
// instance name (TRELLIS_INSTANCE_NAME; pod is the conformance tests' name).
// Controls:
//   ?delay=1s | 200ms | 1.5s | 300 (ms)  wait before answering (at most 60 s)
//   ?status=503                          answer with that status (still the JSON)
//   ?size=N                              answer N bytes, streamed with chunked encoding
//   (the JSON also says how many request body bytes arrived: bodyBytes)
//   X-Echo-Set-Header: Name:value,Other:v2   set those response headers
//   /healthz                             200 "ok" (or the status set by /echo-control?health=)
// Failure controls, for resilience tests (retries, timeouts, outlier detection):
//   ?fail=0.3                            answer 503 (still the JSON) with that probability
//                                        (0–1; 1 = always), otherwise answer as usual
//   ?reset=1 | ?reset=0.3                destroy the connection (TCP RST) without answering,
//                                        always or with that probability (checked before ?fail)
// Per-instance controls, called on an instance's app port directly (GET; the
// answer is always the JSON { mode, health, requests } after the change):
//   /echo-control?mode=fail              every later request answers 503 (still the JSON)
//   /echo-control?mode=stall             every later request is never answered: the socket
//                                        stays open until the client gives up (closed after 10 min)
//   /echo-control?mode=reset             every later request's connection is destroyed (TCP RST)
//   /echo-control?mode=normal            back to normal (requests already stalled stay stalled)
//   /echo-control?health=503             /healthz answers that status from now on (health=200 restores)
//   /echo-control                        { mode, health, requests }: requests = requests that
//                                        arrived so far (whatever their answer), not counting
//                                        /echo-control and /healthz
//   /echo-control?reset-count=1          zero the requests count
//   Parameters combine (?mode=fail&health=503); a bad value answers 400 and changes nothing.
//   The modes and the per-request ?fail/?reset win over ?delay, ?status and ?size.
// Env: PORT (default 8080; PORT=0 picks a free port), TRELLIS_NAMESPACE,
// TRELLIS_INSTANCE_NAME (pod, instance), SERVICE_NAME (service; default TRELLIS_WORKLOAD).
// Prints one line `echo (<service> <namespace>/<pod>) listening on <port>` once listening.

import http from 'node:http';

const port = /^\d+$/.test(process.env.PORT ?? '') ? Number(process.env.PORT) : 8080; // PORT=0: any free port
const namespace = process.env.TRELLIS_NAMESPACE ?? '';
const pod = process.env.TRELLIS_INSTANCE_NAME ?? process.env.HOSTNAME ?? '';
const service = process.env.SERVICE_NAME ?? process.env.TRELLIS_WORKLOAD ?? '';

/** `1s`, `200ms`, `1.5s`, `2m`, `300` (ms) → milliseconds; NaN when unreadable. */
function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(s).trim());
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 'ms']);
}

/** `Name:value,Other:v2` → [['Name','value'],['Other','v2']]. */
function parseSetHeaders(v) {
  const out = [];
  for (const part of String(v).split(',')) {
    const i = part.indexOf(':');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) out.push([name, part.slice(i + 1).trim()]);
  }
  return out;
}

const MODES = ['normal', 'fail', 'stall', 'reset'];
const STALL_CAP_MS = 10 * 60_000;
// Per-instance state, changed through /echo-control.
const state = { mode: 'normal', health: 200, requests: 0 };

/** `0.3`, `1`, `0` → a probability in [0, 1]; values above 1 count as 1; anything else as 0. */
function parseProbability(v) {
  const p = Number(v);
  return Number.isFinite(p) && p > 0 ? Math.min(p, 1) : 0;
}

/** `?name=p` present and the dice say yes. */
function chance(url, name) {
  return url.searchParams.has(name) && Math.random() < parseProbability(url.searchParams.get(name));
}

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** /echo-control: validate every parameter first, then apply them all. */
function control(url, res) {
  const q = url.searchParams;
  const mode = q.get('mode');
  if (mode !== null && !MODES.includes(mode)) {
    return sendJson(res, 400, { error: `mode must be one of ${MODES.join(', ')}`, ...state });
  }
  const health = q.get('health');
  if (health !== null && !/^[2-5]\d\d$/.test(health)) {
    return sendJson(res, 400, { error: 'health must be an HTTP status (200-599)', ...state });
  }
  if (mode !== null) state.mode = mode;
  if (health !== null) state.health = Number(health);
  if (q.has('reset-count') && q.get('reset-count') !== '0') state.requests = 0;
  sendJson(res, 200, { ...state });
}

/** Close a connection with a TCP RST (ECONNRESET on the client) without answering. */
function resetConnection(req) {
  const socket = req.socket;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** Never answer; read the body so the request counts as received, close after STALL_CAP_MS. */
function stall(req, res) {
  req.resume();
  const timer = setTimeout(() => res.destroy(), STALL_CAP_MS);
  res.on('close', () => clearTimeout(timer));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://echo');
  if (url.pathname === '/echo-control') return control(url, res);
  if (url.pathname === '/healthz') {
    res.writeHead(state.health, { 'content-type': 'text/plain' });
    return res.end(state.health >= 200 && state.health < 400 ? 'ok\n' : `unhealthy (${state.health})\n`);
  }
  state.requests++;
  if (state.mode === 'reset') return resetConnection(req);
  if (state.mode === 'stall') return stall(req, res);
  if (chance(url, 'reset')) return resetConnection(req);
  const fail = state.mode === 'fail' || chance(url, 'fail');
  const headers = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (name !== 'host') headers[name] = values.join(',');
  }
  const answer = {
    path: req.url,
    host: req.headers.host ?? '',
    method: req.method,
    proto: `HTTP/${req.httpVersion}`,
    headers,
    namespace,
    pod,
    instance: pod,
    service,
  };
  const status = Number.parseInt(url.searchParams.get('status') ?? '', 10);
  const delay = url.searchParams.has('delay') ? parseDuration(url.searchParams.get('delay')) : 0;
  const size = Number.parseInt(url.searchParams.get('size') ?? '', 10);
  const reply = () => {
    if (res.destroyed) return;
    if (size >= 0 && !fail) {
      // ?size=N: N bytes of 'x', streamed with chunked encoding (no content-length).
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const piece = Buffer.alloc(64 * 1024, 'x');
      let left = size;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, piece.length);
          left -= n;
          if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) return res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    answer.bodyBytes = bodyBytes;
    const body = JSON.stringify(answer) + '\n';
    const out = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    for (const [name, value] of parseSetHeaders(req.headers['x-echo-set-header'] ?? '')) out[name] = value;
    res.writeHead(fail ? 503 : status >= 200 && status <= 599 ? status : 200, out);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  let bodyBytes = 0;
  req.on('data', (c) => (bodyBytes += c.length));
  req.on('end', () => {
    if (delay > 0 && !fail) setTimeout(reply, Math.min(delay, 60_000));
    else reply();
  });
});

server.on('error', (err) => {
  console.error(`echo: cannot listen on ${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => console.log(`echo (${service || 'no service'} ${namespace}/${pod}) listening on ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
