// apache: the rewrite tier of the segregation lab (namespace b), standing in
// for an Apache httpd with rewrite rules. Two rules:
//
//   /count/<path>           → http://counter.c/<path> (the counter app in
//                             namespace c): method, query, body and the answer
//                             passed on. Through the sidecar's HTTP proxy in
//                             process mode (HTTP_PROXY); plain counter.c:80 in
//                             isolated mode (the mesh captures it).
//   /redis/<CMD>/<arg>/...  → the Redis command `CMD arg ...` sent straight to
//                             Redis in namespace d (redis.d:6379: lib.mjs
//                             redisTarget() says how, per mode); Webdis-style
//                             answer {"<CMD>": <reply>}. /redis/GET/time = `GET time`.
//
// The mesh lets b call c (HTTP) but not Redis: d's sidecar closes b's
// connection, and this app answers 502 with the error. That is the point of
// the lab: only the counter app may talk to the database.
//
// Answers: /count/*: what the counter (or the mesh) answered, or 502/504
// {error} when the call failed; /redis/*: 200 {CMD: reply}, 400 {error} for a
// Redis error reply, 502 {error} when the connection was closed or refused,
// 504 {error} on timeout. GET / lists the rules; GET /healthz: ok.
//
// Env: PORT, COUNTER_URL (http://counter.c), HTTP_PROXY (process mode),
// UPSTREAM_REDIS_6379 (process mode), REDIS_SERVICE (redis.d:6379),
// REDIS_HOST + REDIS_PORT (without the mesh), REQUEST_TIMEOUT_MS (3000).

import http from 'node:http';
import { call, env, errorText, exitOnSignals, intEnv, listen, log, readBody, redisTarget, sendJson, sendText } from './lib.mjs';
import { redisCommand } from './resp.mjs';

const counterUrl = env('COUNTER_URL', 'http://counter.c').replace(/\/+$/, '');
const redis = redisTarget();
const redisName = `Redis at ${redis.name}`;
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 3000);
const instance = env('TRELLIS_INSTANCE_NAME', 'apache');

const RULES = `apache (${instance}): rewrite rules
  /count/<path>           -> ${counterUrl}/<path>
  /redis/<CMD>/<arg>/...  -> Redis command "CMD arg ..." on ${redisName}
`;

async function toCounter(req, res, rest, search) {
  const target = `${counterUrl}/${rest}${search}`;
  try {
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
    const r = await call(req.method ?? 'GET', target, {
      body: body || undefined,
      headers: req.headers['content-type'] && body ? { 'content-type': req.headers['content-type'] } : {},
      timeoutMs,
    });
    const headers = { 'content-type': r.headers['content-type'] ?? 'text/plain', 'x-apache-upstream': target };
    for (const h of ['x-trellis-denied']) if (r.headers[h]) headers[h] = r.headers[h];
    res.writeHead(r.status, headers);
    res.end(r.body);
  } catch (err) {
    const timedOut = /timeout/.test(String(err?.message));
    sendJson(res, timedOut ? 504 : 502, { error: `${target} failed: ${errorText(err)}` });
  }
}

async function toRedis(res, rest) {
  const args = rest.split('/').filter(Boolean).map(decodeURIComponent);
  if (args.length === 0) return sendJson(res, 400, { error: 'no command: use /redis/<CMD>/<arg>/..., e.g. /redis/GET/time' });
  const command = args[0].toUpperCase();
  try {
    const reply = await redisCommand(redis.host, redis.port, [command, ...args.slice(1)], { timeoutMs });
    if (reply && typeof reply === 'object' && 'error' in reply) return sendJson(res, 400, { error: `redis: ${reply.error}` });
    return sendJson(res, 200, { [command]: reply });
  } catch (err) {
    const status = err.code === 'ETIMEDOUT' ? 504 : 502;
    log(`${command} on ${redisName} failed: ${errorText(err)}`);
    return sendJson(res, status, { error: `${command} on ${redisName} failed: ${errorText(err)}` });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') return sendText(res, 200, 'ok\n');
  if (url.pathname === '/') return sendText(res, 200, RULES);
  let m = /^\/count\/(.*)$/.exec(url.pathname);
  if (m) return void toCounter(req, res, m[1], url.search);
  m = /^\/redis\/(.*)$/.exec(url.pathname);
  if (m) return void toRedis(res, m[1]);
  return sendJson(res, 404, { error: `no rewrite rule for ${url.pathname}` });
});

exitOnSignals(() => new Promise((resolve) => server.close(() => resolve())));
listen(server, `apache (count → ${counterUrl}, redis → ${redisName})`);
