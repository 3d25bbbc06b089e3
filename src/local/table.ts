// The readiness table `trellis up` prints once everything runs.

import { GATEWAY_URLS_ANNOTATION, type LocalRunner } from './runner.js';

export function readinessTable(runner: LocalRunner): string {
  const rows: string[][] = [['NAMESPACE', 'WORKLOAD', 'INSTANCE', 'APP', 'SIDECAR in/out/admin', 'READY', 'PAGE']];
  const sorted = [...runner.instances.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const inst of sorted) {
    const s = inst.resource.spec;
    const app = s.ports[0];
    const gatewayUrls = inst.resource.metadata.annotations[GATEWAY_URLS_ANNOTATION];
    rows.push([
      inst.resource.metadata.namespace,
      s.workload,
      inst.resource.metadata.name,
      s.gateway ? 'gateway' : app ? String(app.port) : '-',
      `${s.ports.map((p) => p.inboundPort).join(',') || '-'}/${s.outboundPort}/${s.adminPort}`,
      inst.ready ? 'yes' : 'no',
      s.gateway ? (gatewayUrls ?? '') : app ? `http://${s.address}:${app.port}/` : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
