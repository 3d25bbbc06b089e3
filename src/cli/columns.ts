// Kind-specific columns of `trellis get` tables.

import type {
  Resource,
  ServiceResource,
  TrafficSplitResource,
  TrafficTargetResource,
  WorkloadInstanceResource,
  WorkloadResource,
} from '../resources/types.js';

export interface Columns {
  headers: string[];
  cells: (r: Resource) => string[];
}

const kv = (m: Record<string, string> | undefined) =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '<none>';

const identity = (b: { name: string; namespace: string }, ns: string) => (b.namespace && b.namespace !== ns ? `${b.namespace}/${b.name}` : b.name);

/** Extra columns for a kind; `instances` lets Workload show READY. */
export function columnsFor(kind: string, instances: WorkloadInstanceResource[], wide: boolean): Columns {
  switch (kind) {
    case 'TrafficSplit':
      return {
        headers: wide ? ['SERVICE', 'BACKENDS', 'MATCHES'] : ['SERVICE', 'BACKENDS'],
        cells: (r) => {
          const s = (r as TrafficSplitResource).spec;
          const cells = [s.service, s.backends.map((b) => `${b.service}=${b.weight}`).join(',')];
          if (wide) cells.push(s.matches.map((m) => `${m.kind}/${m.name}`).join(',') || '<none>');
          return cells;
        },
      };
    case 'TrafficTarget':
      return {
        headers: wide ? ['DESTINATION', 'SOURCES', 'RULES'] : ['DESTINATION', 'SOURCES'],
        cells: (r) => {
          const s = (r as TrafficTargetResource).spec;
          const ns = r.metadata.namespace;
          const dest = identity(s.destination, ns) + (s.destination.port ? `:${s.destination.port}` : '');
          const cells = [dest, s.sources.map((b) => identity(b, ns)).join(',')];
          if (wide) cells.push(s.rules.map((x) => `${x.kind}/${x.name}${x.matches ? `[${x.matches.join(',')}]` : ''}`).join(','));
          return cells;
        },
      };
    case 'Service':
      return {
        headers: ['PORTS', 'SELECTOR'],
        cells: (r) => {
          const s = (r as ServiceResource).spec;
          return [s.ports.map((p) => `${p.port}/${p.appProtocol}`).join(',') || '<none>', kv(s.selector)];
        },
      };
    case 'Workload':
      return {
        headers: wide ? ['REPLICAS', 'READY', 'SERVICE ACCOUNT', 'COMMAND'] : ['REPLICAS', 'READY'],
        cells: (r) => {
          const w = r as WorkloadResource;
          const mine = instances.filter((i) => i.metadata.namespace === r.metadata.namespace && i.spec.workload === r.metadata.name);
          const cells = [String(w.spec.replicas), `${mine.filter((i) => i.spec.ready).length}/${w.spec.replicas}`];
          if (wide) cells.push(w.spec.serviceAccountName, w.spec.command.join(' '));
          return cells;
        },
      };
    case 'WorkloadInstance':
      return {
        headers: wide ? ['WORKLOAD', 'READY', 'PORTS', 'OUTBOUND', 'ADMIN'] : ['WORKLOAD', 'READY', 'PORTS'],
        cells: (r) => {
          const s = (r as WorkloadInstanceResource).spec;
          const cells = [s.workload, String(s.ready), s.ports.map((p) => `${p.name}=${p.port}`).join(',') || '<none>'];
          if (wide) cells.push(String(s.outboundPort), String(s.adminPort));
          return cells;
        },
      };
    default:
      return { headers: [], cells: () => [] };
  }
}
