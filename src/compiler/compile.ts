// compileSnapshots: the pure function at the centre of Trellis. From the
// resources in the store (and the catalog built from them) it produces one
// immutable, content-hashed snapshot per proxy. Nothing here does I/O.

import { createHash } from 'node:crypto';
import { buildLocalCatalog, type Catalog } from '../catalog/catalog.js';
import { spiffeId } from '../identity/spiffe.js';
import type { MeshConfigSpec, Resource, WorkloadInstanceResource } from '../resources/types.js';
import { compileAuthzRules } from './authz.js';
import { Diagnostics, type Diagnostic } from './diagnostics.js';
import { activeSplits, compileClusters, compileVirtualHosts, protocolOf } from './outbound.js';
import { byAgeThenName, ResourceIndex } from './resource-index.js';
import type { InboundListener, MeshSettings, Snapshot, VirtualHost } from './snapshot.js';

export const DEFAULT_MESH_CONFIG: MeshConfigSpec = {
  mtls: { mode: 'STRICT' },
  access: { mode: 'deny' },
  certificates: { lifetimeMs: 24 * 3600_000, rotateAt: 0.5 },
  trustDomain: 'cluster.local',
};

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

export function compileSnapshots(resources: readonly Resource[], catalog?: Catalog): CompileResult {
  const index = new ResourceIndex(resources);
  const diagnostics = new Diagnostics();
  const meshConfig = resolveMeshConfig(index, diagnostics);
  const cat = catalog ?? buildLocalCatalog(resources);
  const td = meshConfig.trustDomain;
  const mesh: MeshSettings = { trustDomain: td, mtlsMode: meshConfig.mtls.mode, accessMode: meshConfig.access.mode };

  // Shared by every proxy: computed once.
  const clusters = compileClusters(cat, td);
  const splits = activeSplits(index, diagnostics);
  const vhostsByNamespace = new Map<string, VirtualHost[]>();

  const snapshots = new Map<string, Snapshot>();
  for (const inst of index.list('WorkloadInstance')) {
    const ns = inst.metadata.namespace;
    let virtualHosts = vhostsByNamespace.get(ns);
    if (!virtualHosts) {
      virtualHosts = compileVirtualHosts(index, cat, splits, ns, diagnostics);
      vhostsByNamespace.set(ns, virtualHosts);
    }
    const sa = inst.spec.serviceAccountName;
    const rules = compileAuthzRules(index, td, ns, sa, diagnostics);
    const inbound: InboundListener[] = inst.spec.ports.map((p) => {
      const services: string[] = [];
      let protocol: 'http' | 'tcp' = 'http';
      for (const svc of cat.services.values()) {
        if (svc.namespace !== ns) continue;
        for (const sp of svc.ports) {
          if (sp.endpoints.some((e) => e.instance === `${ns}/${inst.metadata.name}` && e.appPort === p.port)) {
            services.push(`${ns}/${svc.name}:${sp.port.port}`);
            if (protocolOf(sp.port.appProtocol) === 'tcp') protocol = 'tcp';
          }
        }
      }
      services.sort();
      return {
        name: `inbound|${p.port}`,
        port: p.inboundPort,
        appPort: p.port,
        protocol,
        services,
        authz: { mode: mesh.accessMode, rules },
      };
    });
    const upstreams = inst.spec.upstreams.map((u) => ({
      port: u.localPort,
      virtualHost: `${u.namespace}/${u.service}:${u.port}`,
    }));
    for (const u of upstreams) {
      if (!virtualHosts.some((v) => v.name === u.virtualHost)) {
        diagnostics.warn(inst, `upstream ${u.virtualHost} is not a port of any Service: connections to local port ${u.port} are refused`);
      }
    }
    const body = {
      node: {
        id: proxyIdOf(inst),
        namespace: ns,
        workload: inst.spec.workload,
        serviceAccount: sa,
        identity: spiffeId(td, ns, sa),
        ...(inst.spec.zone ? { zone: inst.spec.zone } : {}),
      },
      mesh,
      inbound,
      outbound: { httpPort: inst.spec.outboundPort, virtualHosts, upstreams },
      clusters,
    };
    snapshots.set(body.node.id, { version: hashOf(body), ...body });
  }
  return { snapshots, mesh: meshConfig, diagnostics: diagnostics.items };
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
