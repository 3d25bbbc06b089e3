// compileSnapshots: the pure function at the centre of Trellis. From the
// resources in the store (and the catalog built from them) it produces one
// immutable, content-hashed snapshot per proxy. Nothing here does I/O.

import { buildLocalCatalog, type Catalog } from '../catalog/catalog.js';
import { spiffeId } from '../identity/spiffe.js';
import type { MeshConfigSpec, Resource, WorkloadInstanceResource } from '../resources/types.js';
import { compileAuthzRules, targetsByDestination } from './authz.js';
import { CompileCache } from './memo.js';
import { Diagnostics, type Diagnostic } from './diagnostics.js';
import { compileGateway } from './gateway.js';
import { meshRoutesByService } from './http-route.js';
import { activeSplits, compileClusters, compileVirtualHosts, protocolOf } from './outbound.js';
import { rateLimitConfig, servicePolicies } from './policy.js';
import { byAgeThenName, ResourceIndex } from './resource-index.js';
import { hashOf, resourceHash } from './hash.js';
import type { AuthzRule, GatewayConfig, InboundListener, MeshSettings, RateLimitConfig, Snapshot } from './snapshot.js';

export const DEFAULT_MESH_CONFIG: MeshConfigSpec = {
  mtls: { mode: 'STRICT' },
  access: { mode: 'deny' },
  certificates: { lifetimeMs: 24 * 3600_000, rotateAt: 0.5 },
  trustDomain: 'cluster.local',
  tracing: { samplingPercent: 100 },
  accessLog: { enabled: true },
};

/** A collector URL without a path gets the collector's standard one. */
function collectorUrl(url: string | undefined, defaultPath: string): string | undefined {
  if (url === undefined) return undefined;
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = defaultPath;
  return u.toString();
}

export interface CompileResult {
  /** Keyed by proxy id (`<namespace>/<instance name>`). */
  snapshots: Map<string, Snapshot>;
  mesh: MeshConfigSpec;
  diagnostics: Diagnostic[];
}

/** The MeshConfig in force: the oldest, when several exist (the others are reported). */
export function resolveMeshConfig(index: ResourceIndex, diagnostics: Diagnostics): MeshConfigSpec {
  const configs = [...index.list('MeshConfig')].sort(byAgeThenName);
  for (const extra of configs.slice(1)) {
    diagnostics.warn(extra, `ignored: MeshConfig ${configs[0]!.metadata.name} is older and is the one in force`);
  }
  return configs[0]?.spec ?? DEFAULT_MESH_CONFIG;
}

export function proxyIdOf(instance: WorkloadInstanceResource): string {
  return `${instance.metadata.namespace}/${instance.metadata.name}`;
}

/**
 * The mesh compiled once: everything proxies share (clusters, virtual hosts
 * per client namespace, authorisation per service account) is built eagerly,
 * with every diagnostic; each proxy's snapshot is assembled on demand and
 * memoised, so a control plane serving a few proxies of a large mesh does not
 * pay for the rest.
 */
export interface CompiledMesh {
  mesh: MeshConfigSpec;
  diagnostics: Diagnostic[];
  proxyIds(): string[];
  snapshotFor(proxyId: string): Snapshot | undefined;
}

export function compileMesh(resources: readonly Resource[], catalog?: Catalog, cache = new CompileCache()): CompiledMesh {
  cache.begin();
  const index = new ResourceIndex(resources);
  const diagnostics = new Diagnostics();
  const meshConfig = resolveMeshConfig(index, diagnostics);
  // The local catalog depends only on Services and WorkloadInstances: the same objects, the same catalog.
  const cat =
    catalog ??
    cache.memo('catalog', [...index.list('Service'), ...index.list('WorkloadInstance')], diagnostics, () => buildLocalCatalog(resources));
  const td = meshConfig.trustDomain;
  const { tracing, accessLog } = meshConfig;
  const mesh: MeshSettings = cache.memo('mesh', [td, meshConfig.mtls.mode, meshConfig.access.mode, tracing, accessLog], diagnostics, () => ({
    trustDomain: td,
    mtlsMode: meshConfig.mtls.mode,
    accessMode: meshConfig.access.mode,
    tracing: {
      samplingPercent: tracing.samplingPercent,
      ...(tracing.zipkin ? { zipkinUrl: collectorUrl(tracing.zipkin.url, '/api/v2/spans') } : {}),
      ...(tracing.otlp ? { otlpUrl: collectorUrl(tracing.otlp.url, '/v1/traces') } : {}),
    },
    accessLog: { enabled: accessLog.enabled, ...(accessLog.file !== undefined ? { file: accessLog.file } : {}) },
  }));

  // Lists keep their identity while their elements do: hashes, diffs and JSON of them are reused.
  const stable = <T>(key: string, items: T[]): T[] => cache.memo(key, items, diagnostics, () => items);
  const policies = servicePolicies(index, diagnostics);
  const clusters = stable('clusters', compileClusters(cat, td, policies, diagnostics, cache));
  const targetsByDest = targetsByDestination(index);
  const clustersHash = resourceHash(clusters);
  const splits = activeSplits(index, diagnostics);
  const instances = new Map<string, WorkloadInstanceResource>();
  for (const inst of index.list('WorkloadInstance')) instances.set(proxyIdOf(inst), inst);

  // Which Service ports land on each instance's app ports.
  const targets = cache.memo('targets', [cat], diagnostics, () => {
    const out = new Map<string, { service: string; appPort: number; protocol: 'http' | 'tcp' }[]>();
    for (const svc of cat.services.values()) {
      for (const sp of svc.ports) {
        for (const e of sp.endpoints) {
          const list = out.get(e.instance) ?? [];
          list.push({ service: `${svc.namespace}/${svc.name}:${sp.port.port}`, appPort: e.appPort, protocol: protocolOf(sp.port.appProtocol) });
          out.set(e.instance, list);
        }
      }
    }
    return out;
  });

  // Shared by every proxy (the bare short names are resolved by the proxy itself).
  const meshRoutes = meshRoutesByService(
    index.list('HTTPRoute'),
    (ns, name) => cat.services.get(`${ns}/${name}`)?.ports.map((p) => ({ port: p.port.port, name: p.port.name, http: protocolOf(p.port.appProtocol) === 'http' })),
    diagnostics,
  );
  const vhostList = stable(
    'vhosts',
    compileVirtualHosts(
      index,
      cat,
      (svc) => {
        const key = `${svc.namespace}/${svc.name}`;
        return { split: splits.get(key), meshRoutes: meshRoutes.get(key) ?? [], policy: policies.get(key) };
      },
      diagnostics,
      cache,
    ),
  );
  // Inbound rate limits by Service (`ns/name`), memoised on the policies that make them.
  const rateLimits = new Map<string, RateLimitConfig>();
  for (const [key, p] of policies) {
    if (!p.spec.rateLimit) continue;
    rateLimits.set(key, cache.memo(`rl|${key}`, p.resources, diagnostics, () => rateLimitConfig(p)!));
  }
  const vhostNames = new Set(vhostList.map((v) => v.name));
  const vhostsHash = resourceHash(vhostList);
  const authzBySa = new Map<string, AuthzRule[]>();
  for (const inst of instances.values()) {
    const ns = inst.metadata.namespace;
    const saKey = `${ns}/${inst.spec.serviceAccountName}`;
    if (!authzBySa.has(saKey)) {
      authzBySa.set(saKey, stable(`authz|${saKey}`, compileAuthzRules(index, td, targetsByDest.get(saKey) ?? [], diagnostics, cache)));
    }
    for (const u of inst.spec.upstreams) {
      const name = `${u.namespace}/${u.service}:${u.port}`;
      if (!vhostNames.has(name)) {
        diagnostics.warn(inst, `upstream ${name} is not a port of any Service: connections to local port ${u.localPort} are refused`);
      }
    }
  }

  // A gateway's listeners depend on its routes, certificates, namespaces and the catalog.
  const gatewayFor = (key: string): GatewayConfig => {
    const [ns, name] = key.split('/') as [string, string];
    const gw = index.get('Gateway', ns, name);
    if (!gw) return { name: key, listeners: [] };
    const inputs = [gw, cat, ...index.list('GatewayClass'), ...index.list('HTTPRoute'), ...index.list('Secret'), ...index.list('Namespace')];
    return cache.memo(`gw|${key}`, inputs, diagnostics, () => compileGateway(gw, index, cat, diagnostics));
  };

  const assembled = new Map<string, Snapshot>();
  const assemble = (inst: WorkloadInstanceResource): Snapshot => {
    const ns = inst.metadata.namespace;
    const sa = inst.spec.serviceAccountName;
    const id = proxyIdOf(inst);
    const rules = authzBySa.get(`${ns}/${sa}`)!;
    const landing = targets.get(id) ?? [];
    const landingKey = landing.map((t) => `${t.service}>${t.appPort}/${t.protocol}`).join(',');
    const limits = [...new Set(landing.map((t) => serviceOfPort(t.service)))].sort().flatMap((s) => rateLimits.get(s) ?? []);
    // The proxy's own part (identity, inbound listeners, upstream ports), memoised like the shared ones.
    const own = cache.memo(`proxy|${id}`, [inst, td, mesh, rules, landingKey, ...limits], diagnostics, () => ({
      node: {
        id,
        namespace: ns,
        workload: inst.spec.workload,
        serviceAccount: sa,
        identity: spiffeId(td, ns, sa),
        ...(inst.spec.zone ? { zone: inst.spec.zone } : {}),
      },
      inbound: inst.spec.ports.map((p): InboundListener => {
        const mine = landing.filter((t) => t.appPort === p.port);
        const services = new Set(mine.map((t) => serviceOfPort(t.service)));
        const rl = limits.filter((l) => services.has(l.service));
        return {
          name: `inbound|${p.port}`,
          port: p.inboundPort,
          appPort: p.port,
          protocol: mine.some((t) => t.protocol === 'tcp') ? 'tcp' : 'http',
          services: mine.map((t) => t.service).sort(),
          authz: { mode: mesh.accessMode, rules },
          ...(rl.length > 0 ? { rateLimits: rl } : {}),
        };
      }),
      httpPort: inst.spec.outboundPort,
      upstreams: inst.spec.upstreams.map((u) => ({ port: u.localPort, virtualHost: `${u.namespace}/${u.service}:${u.port}` })),
    }));
    const gateway = inst.spec.gateway ? gatewayFor(inst.spec.gateway) : undefined;
    const version = hashOf(resourceHash(own) + vhostsHash + clustersHash + (gateway ? resourceHash(gateway) : ''));
    return {
      version,
      node: own.node,
      mesh,
      inbound: own.inbound,
      outbound: { httpPort: own.httpPort, virtualHosts: vhostList, upstreams: own.upstreams },
      clusters,
      ...(gateway ? { gateway } : {}),
    };
  };

  return {
    mesh: meshConfig,
    diagnostics: diagnostics.items,
    proxyIds: () => [...instances.keys()],
    snapshotFor(id) {
      let snap = assembled.get(id);
      if (!snap) {
        const inst = instances.get(id);
        if (!inst) return undefined;
        snap = assemble(inst);
        assembled.set(id, snap);
      }
      return snap;
    },
  };
}

/** `ns/name:port` → `ns/name`. */
function serviceOfPort(servicePort: string): string {
  return servicePort.slice(0, servicePort.lastIndexOf(':'));
}

/** Every proxy's snapshot at once (tests, golden files, small meshes). */
export function compileSnapshots(resources: readonly Resource[], catalog?: Catalog): CompileResult {
  const compiled = compileMesh(resources, catalog);
  const snapshots = new Map<string, Snapshot>();
  for (const id of compiled.proxyIds()) snapshots.set(id, compiled.snapshotFor(id)!);
  return { snapshots, mesh: compiled.mesh, diagnostics: compiled.diagnostics };
}
