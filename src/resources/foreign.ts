// Kinds Trellis recognises but does not store in local mode: Kubernetes
// workloads and configuration, and Open Service Mesh's MeshConfig. Each is
// returned as a ForeignDocument with advice, and reported as a warning.

const K8S_WORKLOAD_ADVICE =
  'a Kubernetes workload: it runs in Kubernetes mode; in local mode describe it with a trellis.dev/v1alpha1 Workload';

const OSM_MESHCONFIG_ADVICE =
  'an Open Service Mesh MeshConfig: Trellis does not read it; use a trellis.dev/v1alpha1 MeshConfig instead ' +
  '(spec.traffic.enablePermissiveTrafficPolicyMode: true → spec.access.mode: permissive; ' +
  'spec.certificate.serviceCertValidityDuration → spec.certificates.lifetime; ' +
  'mTLS is always on between sidecars → spec.mtls.mode STRICT, or PERMISSIVE to also accept plain text)';

interface ForeignKind {
  group: string;
  kind: string;
  advice: string;
}

const FOREIGN: readonly ForeignKind[] = [
  ...['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].map((kind) => ({ group: 'apps', kind, advice: K8S_WORKLOAD_ADVICE })),
  { group: '', kind: 'Pod', advice: K8S_WORKLOAD_ADVICE },
  { group: 'batch', kind: 'Job', advice: K8S_WORKLOAD_ADVICE },
  { group: 'batch', kind: 'CronJob', advice: K8S_WORKLOAD_ADVICE },
  {
    group: '',
    kind: 'ConfigMap',
    advice: 'Kubernetes configuration: used in Kubernetes mode; in local mode put the values in a Workload (spec.env) instead',
  },
  {
    group: '',
    kind: 'Endpoints',
    advice: 'Kubernetes endpoints: in Kubernetes mode they come from Pods; in local mode from Workloads, so this is ignored',
  },
  { group: 'config.openservicemesh.io', kind: 'MeshConfig', advice: OSM_MESHCONFIG_ADVICE },
];

/** Advice for a recognised foreign (group, kind), any version; undefined if it is not one. */
export function foreignAdvice(group: string, kind: string): string | undefined {
  return FOREIGN.find((f) => f.group === group && f.kind === kind)?.advice;
}
