// Sidecar entry point. Started by the local runner (or a Kubernetes pod) with
// its bootstrap in the environment:
//   TRELLIS_PROXY_ID      <namespace>/<instance>
//   TRELLIS_XDS_ADDRESS   host:port of the control plane's distribution listener
//   TRELLIS_CA_FILE       mesh roots (PEM) that sign the control plane's certificate
//   TRELLIS_TOKEN         bootstrap token for the first certificate
//   TRELLIS_ADMIN_PORT    admin listener port (loopback)
//   TRELLIS_LOG_LEVEL     info | warn | error
//   TRELLIS_CONTROL_PLANE_URL  optional: the control plane's admin URL (spans go to its trace store)
//   TRELLIS_ACCESS_LOG_FILE    optional: access log path, or - (the default) for stdout

import fs from 'node:fs';
import { Credentials } from './credentials.js';
import { ListenerManager } from './listeners.js';
import { installRequestMetrics } from './metrics.js';
import { createLogger } from './log.js';
import { createAdminServer } from './admin.js';
import { AccessLog } from './access-log.js';
import { ProxyState } from './state.js';
import type { RequestRecord } from './telemetry.js';
import { createProxyMetrics } from './stats.js';
import { UpstreamPool } from './upstream-pool.js';
import { XdsClient } from './xds-client.js';

function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`trellis proxy: environment variable ${name} is required\n`);
    process.exit(2);
  }
  return v;
}

const proxyId = required('TRELLIS_PROXY_ID');
const [xdsHost, xdsPort] = required('TRELLIS_XDS_ADDRESS').split(':');
const rootsPem = fs.readFileSync(required('TRELLIS_CA_FILE'), 'utf8');
const token = required('TRELLIS_TOKEN');
const adminPort = Number(required('TRELLIS_ADMIN_PORT'));
const log = createLogger(`proxy ${proxyId}`, (process.env.TRELLIS_LOG_LEVEL as 'info' | 'warn' | 'error') ?? 'info');

const credentials = new Credentials();
const metrics = createProxyMetrics();
const state = new ProxyState(proxyId, credentials, new UpstreamPool(credentials), metrics, log);
const listeners = new ListenerManager(state);
installRequestMetrics(state);
const spanCounters = { exported: metrics.spansExported, dropped: metrics.spansDropped };
// The span pipeline (exporters, HTTP clients) loads with the first sampled record:
// a sidecar that never traces does not pay its memory. Records that arrive while
// it loads wait in a small buffer.
let spanSink: ((r: RequestRecord) => void) | undefined;
let spanWaiting: RequestRecord[] | undefined;
state.telemetry.add((r) => {
  if (spanSink) return spanSink(r);
  if (!r.trace?.sampled) return;
  if (spanWaiting) {
    if (spanWaiting.length < 256) spanWaiting.push(r);
    else spanCounters.dropped.inc({ collector: 'all', reason: 'queue_full' });
    return;
  }
  spanWaiting = [r];
  void import('./span-export.js').then(({ SpanPipeline }) => {
    const sink = new SpanPipeline({ counters: spanCounters, settings: () => state.snapshot?.mesh.tracing, controlPlaneUrl: process.env.TRELLIS_CONTROL_PLANE_URL, log }).sink;
    for (const w of spanWaiting ?? []) sink(w);
    spanWaiting = undefined;
    spanSink = sink;
  });
});
state.telemetry.add(new AccessLog({ target: process.env.TRELLIS_ACCESS_LOG_FILE, settings: () => state.snapshot?.mesh.accessLog, registry: metrics.registry, log }).sink);
credentials.onChange((m) => metrics.certificateExpiry.set({}, () => Math.floor(m.notAfter.getTime() / 1000)));

const xds = new XdsClient({
  host: xdsHost!,
  port: Number(xdsPort),
  proxyId,
  token,
  rootsPem,
  credentials,
  log,
  apply: async (snapshot) => {
    try {
      await listeners.apply(snapshot);
      metrics.snapshotUpdates.inc({ result: 'ack' });
    } catch (err) {
      metrics.snapshotUpdates.inc({ result: 'nack' });
      throw err;
    }
  },
});

const admin = createAdminServer(state, xds.state);
admin.listen(adminPort, '127.0.0.1', () => {
  log.info(`admin listening on 127.0.0.1:${adminPort}`);
  xds.start();
});
admin.on('error', (err) => {
  log.error(`admin listener: ${err.message}`);
  process.exit(1);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  xds.stop();
  admin.close();
  void listeners.closeAll().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The runner holds our stdin: when it goes away, so do we (no orphans).
if (process.env.TRELLIS_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
