// The environment a workload instance runs with (process mode; isolated mode drops HTTP_PROXY). `trellis exec`
// uses the same function, so a command run "inside" a workload sees exactly
// what the workload sees.

import type { WorkloadInstanceResource } from '../resources/types.js';
import { ISOLATION_ANNOTATION } from './netns/constants.js';

/** `bookstore-v2` → `BOOKSTORE_V2`. */
export function envName(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export function instanceEnv(
  instance: WorkloadInstanceResource,
  extra: Record<string, string> = {},
): Record<string, string> {
  const spec = instance.spec;
  const proxy = `http://127.0.0.1:${spec.outboundPort}`;
  const env: Record<string, string> = {
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    // The app's own loopback calls (health checks, its own page) skip the sidecar.
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
    TRELLIS_WORKLOAD: spec.workload,
    TRELLIS_NAMESPACE: instance.metadata.namespace,
    TRELLIS_INSTANCE: String(spec.index),
    TRELLIS_INSTANCE_NAME: instance.metadata.name,
    TRELLIS_SERVICE_ACCOUNT: spec.serviceAccountName,
  };
  // Isolated mode (src/local/netns): iptables captures the app's traffic; there is no HTTP proxy to name.
  // TRELLIS_ISOLATION tells apps which mode they run in (plain Service names work only in netns).
  if (instance.metadata.annotations?.[ISOLATION_ANNOTATION] === 'netns') {
    for (const k of ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) delete env[k];
    env.TRELLIS_ISOLATION = 'netns';
  } else {
    env.TRELLIS_ISOLATION = 'process';
  }
  if (spec.zone) env.TRELLIS_ZONE = spec.zone;
  if (spec.ports.length > 0) env.PORT = String(spec.ports[0].port);
  for (const p of spec.ports) env[`PORT_${envName(p.name)}`] = String(p.port);
  for (const u of spec.upstreams) {
    env[`UPSTREAM_${envName(u.service)}_${u.port}`] = `127.0.0.1:${u.localPort}`;
    // Kubernetes-style names for the first upstream of each service.
    const host = `${envName(u.service)}_SERVICE_HOST`;
    if (!(host in env)) {
      env[host] = '127.0.0.1';
      env[`${envName(u.service)}_SERVICE_PORT`] = String(u.localPort);
    }
  }
  return { ...env, ...extra };
}
