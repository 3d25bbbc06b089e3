// trellis status [--json]: workload instances and proxies of the running mesh.

import type { ProxyStatus, StatusResponse } from '../../control-plane/admin-types.js';
import type { WorkloadInstanceResource } from '../../resources/types.js';
import { connect, out, type GlobalOptions } from '../context.js';
import { table, until } from '../format.js';

/** The `--json` form of one instance. */
export interface InstanceSummary {
  namespace: string;
  workload: string;
  name: string;
  index: number;
  pid?: number;
  appPort?: number;
  ports: { name: string; port: number; inboundPort: number }[];
  inboundPorts: number[];
  outboundPort: number;
  adminPort: number;
  ready: boolean;
}

export function summarise(i: WorkloadInstanceResource): InstanceSummary {
  const s = i.spec;
  const pid = (i.status as { pid?: unknown } | undefined)?.pid ?? (s as { pid?: unknown }).pid;
  const summary: InstanceSummary = {
    namespace: i.metadata.namespace,
    workload: s.workload,
    name: i.metadata.name,
    index: s.index,
    appPort: s.ports[0]?.port,
    ports: s.ports.map((p) => ({ name: p.name, port: p.port, inboundPort: p.inboundPort })),
    inboundPorts: s.ports.map((p) => p.inboundPort),
    outboundPort: s.outboundPort,
    adminPort: s.adminPort,
    ready: s.ready,
  };
  if (typeof pid === 'number') summary.pid = pid;
  return summary;
}

export async function status(opts: GlobalOptions & { json?: boolean }): Promise<number> {
  const reply: StatusResponse = await connect(opts).status();
  const instances = reply.instances
    .map(summarise)
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.workload.localeCompare(b.workload) || a.index - b.index);
  const proxies = [...reply.proxies].sort((a, b) => a.id.localeCompare(b.id));
  if (opts.json) {
    out(JSON.stringify({ revision: reply.revision, mesh: reply.mesh, instances, proxies }, null, 2));
    return 0;
  }
  out(`revision ${reply.revision}`);
  out();
  if (instances.length === 0) out('No workload instances.');
  else {
    out(
      table(
        ['NAMESPACE', 'WORKLOAD', 'INSTANCE', 'PID', 'APP PORT', 'INBOUND', 'OUTBOUND', 'ADMIN', 'READY'],
        instances.map((i) => [
          i.namespace,
          i.workload,
          i.name,
          i.pid === undefined ? '-' : String(i.pid),
          i.ports.map((p) => `${p.name}=${p.port}`).join(',') || '-',
          i.inboundPorts.join(',') || '-',
          String(i.outboundPort),
          String(i.adminPort),
          i.ready ? 'yes' : 'no',
        ]),
      ),
    );
  }
  out();
  if (proxies.length === 0) out('No proxies.');
  else {
    out(
      table(
        ['ID', 'CONNECTED', 'VERSION', 'ACKED', 'CERT EXPIRES'],
        proxies.map((p) => [p.id, p.connected ? 'yes' : 'no', p.version ?? '-', acked(p), until(p.certNotAfter)]),
      ),
    );
    for (const p of proxies.filter((x) => x.nackedVersion)) {
      out(`${p.id}: rejected version ${p.nackedVersion}: ${p.nackError ?? 'no reason given'}`);
    }
  }
  return 0;
}

function acked(p: ProxyStatus): string {
  if (p.nackedVersion && p.nackedVersion === p.version) return `${p.ackedVersion ?? '-'} (NACK ${p.nackedVersion})`;
  return p.ackedVersion ?? '-';
}
