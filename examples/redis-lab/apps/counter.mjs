// counter: the application tier of the segregation lab (namespace c). A hit
// counter kept in Redis (namespace d, redis.d:6379), reached with the `redis`
// client: through the sidecar's explicit upstream port ($UPSTREAM_REDIS_6379)
// in process mode, at the plain Service name in isolated mode (lib.mjs
// redisTarget()). d's sidecar lets the connection in because TrafficTarget
// redis-allow-counter allows this service account.
//
// GET|POST /set[?value=N]  INCR counter (or SET counter N); also SET time <now> → { count, time }
// GET      /get            GET counter → { count } (0 when unset)
// GET|POST /reset          SET counter 0; SET time <now> → { count: 0, time }
// GET      /version        { version: VERSION, redis: <redis_version from INFO server> }
// GET      /healthz        { status: "ok", redis: "ready" | "connecting" } (200 either way)
// Redis unreachable: 503 { error }.
//
// Env: PORT, VERSION (counter-1.0), HTTP_PROXY + UPSTREAM_REDIS_6379 (process
// mode), REDIS_SERVICE (redis.d:6379), REDIS_HOST + REDIS_PORT (without the
// mesh), REDIS_TIMEOUT_MS (2000).

import http from 'node:http';
import { createClient } from 'redis';
import { env, errorText, exitOnSignals, intEnv, listen, log, redisTarget, sendJson } from './lib.mjs';

const version = env('VERSION', 'counter-1.0');
const instance = env('TRELLIS_INSTANCE_NAME', 'counter');
const target = redisTarget();
const redisName = `Redis at ${target.name}`;
const timeoutMs = intEnv('REDIS_TIMEOUT_MS', 2000);

const redis = createClient({
  socket: {
    host: target.host,
    port: target.port,
    connectTimeout: timeoutMs,
    // Keep trying (Redis may start after us, or the mesh may refuse us for a while).
    reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000),
  },
  // Fail at once while disconnected instead of queueing commands.
  disableOfflineQueue: true,
});
let lastError = '';
redis.on('error', (err) => {
  const text = errorText(err);
  if (text !== lastError) log(`${redisName}: ${text}`);
  lastError = text;
});
redis.on('ready', () => {
  lastError = '';
  log(`connected to ${redisName}`);
});
redis.connect().catch((err) => log(`cannot connect to ${redisName}: ${errorText(err)}`));

/** Runs `fn` against Redis with a deadline. */
function withRedis(fn) {
  if (!redis.isReady) return Promise.reject(new Error(`not connected to ${redisName}${lastError ? ` (${lastError})` : ''}`));
  return Promise.race([
    fn(redis),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${redisName} did not answer within ${timeoutMs} ms`)), timeoutMs).unref()),
  ]);
}

async function redisVersion(r) {
  const info = await r.info('server');
  return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const answer = (status, body) => sendJson(res, status, { instance, ...body });
  try {
    switch (url.pathname) {
      case '/healthz':
        return answer(200, { status: 'ok', redis: redis.isReady ? 'ready' : 'connecting' });
      case '/get': {
        const v = await withRedis((r) => r.get('counter'));
        return answer(200, { count: Number(v ?? 0) });
      }
      case '/set': {
        const raw = url.searchParams.get('value');
        if (raw !== null && !/^-?\d+$/.test(raw)) return answer(400, { error: 'value must be a whole number' });
        const time = new Date().toISOString();
        const count = await withRedis(async (r) => {
          await r.set('time', time);
          if (raw === null) return r.incr('counter');
          await r.set('counter', raw);
          return Number(raw);
        });
        return answer(200, { count, time });
      }
      case '/reset': {
        const time = new Date().toISOString();
        await withRedis((r) => r.mSet({ counter: '0', time }));
        return answer(200, { count: 0, time });
      }
      case '/version':
        return answer(200, { version, redis: await withRedis(redisVersion) });
      default:
        return answer(404, { error: `no route for ${req.method} ${url.pathname}` });
    }
  } catch (err) {
    return answer(503, { error: errorText(err) });
  }
});

exitOnSignals(async () => {
  server.close();
  await redis.quit().catch(() => {});
});
listen(server, `counter ${version} (${redisName})`);
