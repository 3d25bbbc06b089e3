// The redis-lab apps' helpers: the example apps' kit (examples/lib), and
// where Redis is by mode. Node 20 built-ins only (the counter app alone uses
// the `redis` client).

import { env, hostPort, intEnv, proxyFor } from '../../lib/app-kit.mjs';

export * from '../../lib/app-kit.mjs';

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
