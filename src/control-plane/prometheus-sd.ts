// Prometheus HTTP service discovery (http_sd_configs): every proxy's admin
// listener as a scrape target, one target group per WorkloadInstance
// (sidecars and gateways), labelled with what the instance is. Served by the
// admin API at GET /v1/prometheus/targets; docs/metrics.md shows the
// prometheus.yml that uses it.

import type { Resource, WorkloadInstanceResource } from '../resources/types.js';

/** One entry of Prometheus' http_sd format. */
export interface PrometheusTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** The proxy admin path Prometheus scrapes (src/proxy/admin.ts). */
export const METRICS_PATH = '/stats';

export function prometheusTargets(instances: readonly Resource[]): PrometheusTargetGroup[] {
  const out: PrometheusTargetGroup[] = [];
  for (const r of instances) {
    if (r.kind !== 'WorkloadInstance') continue;
    const { metadata, spec } = r as WorkloadInstanceResource;
    if (!spec.adminPort) continue;
    const labels: Record<string, string> = {
      __metrics_path__: METRICS_PATH,
      namespace: metadata.namespace,
      workload: spec.workload,
      instance: metadata.name,
      service_account: spec.serviceAccountName,
    };
    if (spec.gateway) labels.gateway = spec.gateway;
    // The runner probes readiness at the same address (127.0.0.1 in process mode).
    const host = spec.address.includes(':') ? `[${spec.address}]` : spec.address;
    out.push({ targets: [`${host}:${spec.adminPort}`], labels });
  }
  return out;
}
