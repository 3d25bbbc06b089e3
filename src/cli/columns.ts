// Kind-specific columns of `trellis get` tables.

import type {
  GatewayClassResource,
  GatewayResource,
  HTTPRouteResource,
  Resource,
  SecretResource,
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

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
}

/** The conditions of a status object (or of one entry of status.parents), defensively. */
function conditionsOf(holder: unknown): Condition[] {
  const c = (holder as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(c) ? (c as Condition[]) : [];
}

/** `True`, `False(Reason)`, or `Unknown` when the condition is absent (status not computed yet). */
function conditionCell(holder: unknown, type: string): string {
  const c = conditionsOf(holder).find((x) => x.type === type);
  if (!c) return 'Unknown';
  return c.status === 'True' ? 'True' : `${c.status ?? 'Unknown'}${c.reason ? `(${c.reason})` : ''}`;
}

interface ParentStatus {
  parentRef?: { kind?: string; namespace?: string; name?: string; sectionName?: string; port?: number };
  conditions?: unknown;
}

function parentStatuses(r: Resource): ParentStatus[] {
  const p = (r.status as { parents?: unknown } | undefined)?.parents;
  return Array.isArray(p) ? (p as ParentStatus[]) : [];
}

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
    case 'GatewayClass':
      return {
        headers: wide ? ['CONTROLLER', 'ACCEPTED', 'DESCRIPTION'] : ['CONTROLLER', 'ACCEPTED'],
        cells: (r) => {
          const s = (r as GatewayClassResource).spec;
          const cells = [s.controllerName, conditionCell(r.status, 'Accepted')];
          if (wide) cells.push(s.description ?? '');
          return cells;
        },
      };
    case 'Gateway':
      return {
        headers: wide ? ['CLASS', 'PROGRAMMED', 'LISTENERS'] : ['CLASS', 'PROGRAMMED'],
        cells: (r) => {
          const s = (r as GatewayResource).spec;
          const cells = [s.gatewayClassName, conditionCell(r.status, 'Programmed')];
          if (wide) {
            const listeners = (r.status as { listeners?: unknown } | undefined)?.listeners;
            const byName = new Map((Array.isArray(listeners) ? listeners : []).map((l: { name?: string; attachedRoutes?: number }) => [l.name, l]));
            cells.push(
              s.listeners
                .map((l) => {
                  const attached = byName.get(l.name)?.attachedRoutes;
                  return `${l.name}=${l.protocol}/${l.port}${l.hostname ? `/${l.hostname}` : ''}${attached !== undefined ? `(${attached})` : ''}`;
                })
                .join(','),
            );
          }
          return cells;
        },
      };
    case 'HTTPRoute':
      return {
        headers: ['HOSTNAMES', 'PARENTS', 'ACCEPTED', 'RESOLVED'],
        cells: (r) => {
          const route = r as HTTPRouteResource;
          const statuses = parentStatuses(r);
          const parents = route.spec.parentRefs.map((p) => {
            const where = `${p.kind}/${p.namespace !== r.metadata.namespace ? `${p.namespace}/` : ''}${p.name}`;
            return where + (p.sectionName !== undefined ? `/${p.sectionName}` : '') + (p.port !== undefined ? `:${p.port}` : '');
          });
          // status.parents has one entry per parentRef, in order.
          const per = (type: string) => route.spec.parentRefs.map((_p, i) => conditionCell(statuses[i], type)).join(',');
          return [route.spec.hostnames.join(',') || '*', parents.join(','), per('Accepted'), per('ResolvedRefs')];
        },
      };
    case 'Secret':
      return {
        headers: ['TYPE', 'DATA'],
        cells: (r) => {
          const s = (r as SecretResource).spec;
          return [s.type, String(Object.keys(s.data).length)];
        },
      };
    default:
      return { headers: [], cells: () => [] };
  }
}
