// The echo backend of the Gateway API conformance tests, for Trellis tests
// and demos: answers every request with 200 and JSON describing the request
// it saw, so a test can tell which backend answered and what reached it.
//
//   { path, host, method, proto, headers, namespace, pod, service }
//
// path keeps the query string; headers is an object with lower-case names
// and string values (repeated headers joined with ","; Host is in `host`, not
// in `headers`, as Go's echo-basic does).
// Controls:
//   ?delay=1s | 200ms | 1.5s | 300 (ms)  wait before answering (at most 60 s)
//   ?status=503                          answer with that status (still the JSON)
//   ?size=N                              answer N bytes, streamed with chunked encoding
//   (the JSON also says how many request body bytes arrived: bodyBytes)
//   X-Echo-Set-Header: Name:value,Other:v2   set those response headers
//   /healthz                             200 "ok"
// Env: PORT (default 8080), TRELLIS_NAMESPACE, TRELLIS_INSTANCE_NAME (pod),
// SERVICE_NAME (service; default TRELLIS_WORKLOAD).

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

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://echo');
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok\n');
  }
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
    service,
  };
  const status = Number.parseInt(url.searchParams.get('status') ?? '', 10);
  const delay = url.searchParams.has('delay') ? parseDuration(url.searchParams.get('delay')) : 0;
  const size = Number.parseInt(url.searchParams.get('size') ?? '', 10);
  const reply = () => {
    if (res.destroyed) return;
    if (size >= 0) {
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
    res.writeHead(status >= 200 && status <= 599 ? status : 200, out);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  let bodyBytes = 0;
  req.on('data', (c) => (bodyBytes += c.length));
  req.on('end', () => {
    if (delay > 0) setTimeout(reply, Math.min(delay, 60_000));
    else reply();
  });
});

server.on('error', (err) => {
  console.error(`echo: cannot listen on ${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => console.log(`echo (${service || 'no service'} ${namespace}/${pod}) listening on ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
