// The control plane: store → compiler → distribution, plus the admin API.
// Every store change schedules one recompilation (changes that arrive
// together are compiled together); proxies whose snapshot changed get it.

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { compileMesh, type CompiledMesh } from '../compiler/compile.js';
import { CompileCache } from '../compiler/memo.js';
import { computeStatuses, type ObjectStatus } from '../compiler/status.js';
import { buildLocalCatalog } from '../catalog/catalog.js';
import type { Resource } from '../resources/types.js';
import { loadOrCreateSecret } from '../identity/bootstrap.js';
import { loadOrCreateCA, type MeshCA } from '../identity/ca.js';
import { issueCertificate } from '../identity/issue.js';
import { generateKeyPair } from '../identity/keys.js';
import { spiffeId } from '../identity/spiffe.js';
import { statePaths } from '../local/state-dir.js';
import { openFileStore } from '../store/file.js';
import type { Store } from '../store/types.js';
import { createAdminServer } from './admin-api.js';
import { TraceStore } from './traces.js';
import { instanceScrapeTargets, MetricsCollector } from './metrics-collector.js';
import { policyConflicts } from '../compiler/policy.js';
import { CONTROL_PLANE_SERVER_NAME } from './protocol.js';
import { XdsServer } from './xds-server.js';

export interface ControlPlaneOptions {
  stateDir: string;
  host?: string;
  /** 0 = any free port. */
  adminPort?: number;
  xdsPort?: number;
  /** Fixed for the life of the mesh's CA. */
  trustDomain?: string;
  log?: (msg: string) => void;
  /** How often proxies' /stats are scraped for traffic metrics; 0 turns collection off. Default: $TRELLIS_METRICS_INTERVAL_MS, else 2000 ms. */
  metricsIntervalMs?: number;
}

export interface ControlPlane {
  store: Store;
  ca: MeshCA;
  adminPort: number;
  xdsPort: number;
  latest(): CompiledMesh;
  /** Resolves after the next compilation and push. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const SERVING_CERT_LIFETIME_MS = 30 * 24 * 3600_000;

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`control-plane: ${m}\n`));
  const host = opts.host ?? '127.0.0.1';
  const paths = statePaths(opts.stateDir);
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  const store = await openFileStore(paths.store);
  const ca = await loadOrCreateCA(paths.ca, trustDomain);
  // Proxies read the roots from here to verify the control plane before they have a certificate.
  fs.writeFileSync(path.join(paths.ca, 'roots.pem'), ca.rootsPem);
  const secret = loadOrCreateSecret(paths.secret);
  const servingKey = generateKeyPair();
  const serving = await issueCertificate(ca, {
    spiffeId: spiffeId(trustDomain, 'trellis-system', 'control-plane'),
    publicKeyPem: servingKey.publicKeyPem,
    lifetimeMs: SERVING_CERT_LIFETIME_MS,
    dnsNames: [CONTROL_PLANE_SERVER_NAME],
  });

  const cache = new CompileCache();
  // What the latest successful compilation read: statuses are computed from it.
  let compiledFrom: readonly Resource[] = [];
  let result = compile();
  function compile(): CompiledMesh {
    const resources = store.list();
    const r = compileMesh(resources, undefined, cache);
    compiledFrom = resources;
    if (r.mesh.trustDomain !== trustDomain) {
      r.diagnostics.push({
        severity: 'warning',
        kind: 'MeshConfig',
        namespace: '',
        name: '',
        message: `trust domain ${r.mesh.trustDomain} differs from the running CA's ${trustDomain}: restart the mesh to change it`,
      });
    }
    return r;
  }

  // Gateway API status of the latest compilation, computed on first read.
  let statuses: { of: CompiledMesh; map: Map<string, ObjectStatus> } | undefined;
  const statusOf = (kind: string, namespace: string, name: string): ObjectStatus | undefined => {
    if (statuses?.of !== result) statuses = { of: result, map: computeStatuses(compiledFrom, buildLocalCatalog(compiledFrom)) };
    return statuses.map.get(`${kind}/${namespace}/${name}`);
  };

  const xds = new XdsServer({
    ca,
    serving: { certPem: serving.certPem, keyPem: servingKey.privateKeyPem },
    secret,
    certificatePolicy: () => ({
      trustDomain,
      lifetimeMs: result.mesh.certificates.lifetimeMs,
      rotateAt: result.mesh.certificates.rotateAt,
    }),
    snapshotFor: (id) => result.snapshotFor(id),
    identityOf: (id) => {
      const [ns, name] = id.split('/');
      const inst = store.get({ kind: 'WorkloadInstance', namespace: ns ?? '', name: name ?? '' });
      return inst?.kind === 'WorkloadInstance' ? { namespace: inst.metadata.namespace, serviceAccount: inst.spec.serviceAccountName } : undefined;
    },
    log,
  });

  const logTimings = process.env.TRELLIS_LOG_TIMINGS === '1';
  let scheduled: Promise<void> | undefined;
  const schedule = (): Promise<void> => {
    scheduled ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        scheduled = undefined;
        try {
          const t0 = performance.now();
          result = compile();
          const t1 = performance.now();
          xds.push();
          if (logTimings) {
            const m = process.memoryUsage();
            const mb = (n: number) => (n / 1048576).toFixed(0);
            log(`compiled in ${(t1 - t0).toFixed(1)} ms, pushed in ${(performance.now() - t1).toFixed(1)} ms; rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB`);
          }
        } catch (err) {
          // The compiler must never throw on valid input; if it does, keep serving the last good result.
          log(`compilation failed, keeping the previous snapshots: ${(err as Error).stack ?? err}`);
        }
        resolve();
      }, 5);
    });
    return scheduled;
  };
  const watch = store.watch(store.revision(), () => void schedule());

  // Traffic metrics: every proxy's /stats, scraped every 2 s (metrics-collector.ts).
  const metricsIntervalMs = opts.metricsIntervalMs ?? (process.env.TRELLIS_METRICS_INTERVAL_MS ? Number(process.env.TRELLIS_METRICS_INTERVAL_MS) : undefined);
  const metrics = new MetricsCollector({
    targets: () => instanceScrapeTargets(store.list({ kind: 'WorkloadInstance' })),
    intervalMs: metricsIntervalMs || undefined,
    log,
  });
  if (metricsIntervalMs !== 0) metrics.start();

  const admin: http.Server = createAdminServer({
    store,
    metrics,
    getProxies: () => xds.statuses(),
    traces: new TraceStore(),
    getMesh: () => ({ ...result.mesh, trustDomain, diagnostics: result.diagnostics }),
    statusOf,
    validate: (incoming, st) =>
      policyConflicts(incoming, st.list({})).map(({ resource, message }) => ({
        code: 'TRELLIS_E_POLICY_CONFLICT',
        file: resource.source?.file ?? '',
        document: resource.source?.document ?? 0,
        line: resource.source?.line ?? 0,
        path: message.slice(0, message.indexOf(':')),
        message: `TrafficPolicy ${resource.metadata.namespace}/${resource.metadata.name}: ${message.slice(message.indexOf(':') + 2)}`,
      })),
  });

  const listen = (server: http.Server | XdsServer['server'], port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  const adminPort = await listen(admin, opts.adminPort ?? 0);
  const xdsPort = await listen(xds.server, opts.xdsPort ?? 0);

  return {
    store,
    ca,
    adminPort,
    xdsPort,
    latest: () => result,
    settled: () => schedule(),
    close: async () => {
      watch.close();
      xds.close();
      await metrics.stop();
      admin.closeAllConnections();
      await new Promise<void>((r) => admin.close(() => r()));
      await store.close();
    },
  };
}
