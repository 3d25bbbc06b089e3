// The catalog: Services and the instances behind each of their ports. In
// local mode it is built from WorkloadInstances (written by the runner); in
// Kubernetes mode from Pods and EndpointSlices. The compiler reads only this.

import type {
  Resource,
  ServicePort,
  ServiceResource,
  WorkloadInstanceResource,
} from '../resources/types.js';

export interface CatalogEndpoint {
  /** `<namespace>/<instance name>`. */
  instance: string;
  /** Sidecar inbound address and port fronting the app port. */
  address: string;
  port: number;
  /** The app port behind it. */
  appPort: number;
  namespace: string;
  serviceAccount: string;
  zone?: string;
  ready: boolean;
  /** The object this endpoint was derived from (a WorkloadInstance, a Pod): its identity keys memoisation. */
  origin?: object;
}

export interface CatalogServicePort {
  port: ServicePort;
  endpoints: CatalogEndpoint[];
}

export interface CatalogService {
  namespace: string;
  name: string;
  resource: ServiceResource;
  ports: CatalogServicePort[];
}

export interface Catalog {
  /** Keyed `<namespace>/<name>`. */
  services: Map<string, CatalogService>;
}

export function selectorMatches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  // A Service without a selector selects nothing (its endpoints are managed elsewhere).
  if (keys.length === 0) return false;
  for (const k of keys) if (labels[k] !== selector[k]) return false;
  return true;
}

/**
 * Which instance port a Service port lands on. A named targetPort names a
 * Workload port; a number matches a Workload port pinned to that number, or,
 * when the Workload has a single port, that port (so Kubernetes manifests
 * with numeric targetPorts work unchanged).
 */
export function resolveTargetPort(port: ServicePort, instance: WorkloadInstanceResource) {
  const ports = instance.spec.ports;
  if (typeof port.targetPort === 'string') return ports.find((p) => p.name === port.targetPort);
  return ports.find((p) => p.port === port.targetPort) ?? (ports.length === 1 ? ports[0] : undefined);
}

export function buildLocalCatalog(resources: readonly Resource[]): Catalog {
  // Instances indexed by `namespace|label=value`, so each Service looks only at likely matches.
  const byLabel = new Map<string, WorkloadInstanceResource[]>();
  for (const r of resources) {
    if (r.kind !== 'WorkloadInstance') continue;
    for (const [k, v] of Object.entries(r.spec.labels)) {
      const key = `${r.metadata.namespace}|${k}=${v}`;
      const list = byLabel.get(key) ?? [];
      list.push(r);
      byLabel.set(key, list);
    }
  }
  const candidates = (ns: string, selector: Record<string, string>): WorkloadInstanceResource[] => {
    let best: WorkloadInstanceResource[] | undefined;
    for (const [k, v] of Object.entries(selector)) {
      const list = byLabel.get(`${ns}|${k}=${v}`) ?? [];
      if (!best || list.length < best.length) best = list;
    }
    return best ?? [];
  };
  const services = new Map<string, CatalogService>();
  for (const r of resources) {
    if (r.kind !== 'Service') continue;
    const ns = r.metadata.namespace;
    const selected = candidates(ns, r.spec.selector).filter((i) => selectorMatches(r.spec.selector, i.spec.labels));
    const ports: CatalogServicePort[] = r.spec.ports.map((port) => ({
      port,
      endpoints: selected.flatMap((inst): CatalogEndpoint[] => {
        const target = resolveTargetPort(port, inst);
        if (!target) return [];
        return [
          {
            instance: `${ns}/${inst.metadata.name}`,
            address: inst.spec.address,
            port: target.inboundPort,
            appPort: target.port,
            namespace: ns,
            serviceAccount: inst.spec.serviceAccountName,
            zone: inst.spec.zone,
            ready: inst.spec.ready,
            origin: inst,
          },
        ];
      }),
    }));
    services.set(`${ns}/${r.metadata.name}`, { namespace: ns, name: r.metadata.name, resource: r, ports });
  }
  return { services };
}
