// The kind registry: one descriptor per mesh kind. Validation (which
// apiVersions parse), the admin API (plural paths, scope) and the CLI (names
// and short names) all read these descriptors.
import { ErrorCodes, TrellisResourceError } from './errors.js';
import type { ResourceKind } from './types.js';

export interface KindDescriptor {
  kind: ResourceKind;
  /** API group; '' is the Kubernetes core group (apiVersion `v1`). */
  group: string;
  /** Supported versions, oldest first; the last is the preferred (storage) version. */
  versions: readonly string[];
  plural: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
}

const SMI_SPECS_VERSIONS = ['v1alpha1', 'v1alpha2', 'v1alpha3', 'v1alpha4'] as const;

export const KINDS: readonly KindDescriptor[] = Object.freeze([
  { kind: 'Namespace', group: '', versions: ['v1'], plural: 'namespaces', singular: 'namespace', shortNames: ['ns'], namespaced: false },
  { kind: 'Service', group: '', versions: ['v1'], plural: 'services', singular: 'service', shortNames: ['svc'], namespaced: true },
  { kind: 'ServiceAccount', group: '', versions: ['v1'], plural: 'serviceaccounts', singular: 'serviceaccount', shortNames: ['sa'], namespaced: true },
  { kind: 'Secret', group: '', versions: ['v1'], plural: 'secrets', singular: 'secret', shortNames: [], namespaced: true },
  { kind: 'Workload', group: 'trellis.dev', versions: ['v1alpha1'], plural: 'workloads', singular: 'workload', shortNames: ['wl'], namespaced: true },
  { kind: 'MeshConfig', group: 'trellis.dev', versions: ['v1alpha1'], plural: 'meshconfigs', singular: 'meshconfig', shortNames: ['mc'], namespaced: false },
  { kind: 'WorkloadInstance', group: 'trellis.dev', versions: ['v1alpha1'], plural: 'workloadinstances', singular: 'workloadinstance', shortNames: ['wi'], namespaced: true },
  { kind: 'TrafficTarget', group: 'access.smi-spec.io', versions: ['v1alpha1', 'v1alpha2', 'v1alpha3'], plural: 'traffictargets', singular: 'traffictarget', shortNames: ['tt'], namespaced: true },
  { kind: 'HTTPRouteGroup', group: 'specs.smi-spec.io', versions: SMI_SPECS_VERSIONS, plural: 'httproutegroups', singular: 'httproutegroup', shortNames: ['htr'], namespaced: true },
  { kind: 'TCPRoute', group: 'specs.smi-spec.io', versions: SMI_SPECS_VERSIONS, plural: 'tcproutes', singular: 'tcproute', shortNames: ['tcpr'], namespaced: true },
  { kind: 'UDPRoute', group: 'specs.smi-spec.io', versions: SMI_SPECS_VERSIONS, plural: 'udproutes', singular: 'udproute', shortNames: ['udpr'], namespaced: true },
  { kind: 'TrafficSplit', group: 'split.smi-spec.io', versions: ['v1alpha1', 'v1alpha2', 'v1alpha3', 'v1alpha4'], plural: 'trafficsplits', singular: 'trafficsplit', shortNames: ['ts'], namespaced: true },
  { kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', versions: ['v1beta1', 'v1'], plural: 'httproutes', singular: 'httproute', shortNames: [], namespaced: true },
  { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', versions: ['v1beta1', 'v1'], plural: 'gatewayclasses', singular: 'gatewayclass', shortNames: ['gc'], namespaced: false },
  { kind: 'Gateway', group: 'gateway.networking.k8s.io', versions: ['v1beta1', 'v1'], plural: 'gateways', singular: 'gateway', shortNames: ['gtw'], namespaced: true },
  { kind: 'TrafficPolicy', group: 'policy.trellis.dev', versions: ['v1alpha1'], plural: 'trafficpolicies', singular: 'trafficpolicy', shortNames: ['tp'], namespaced: true },
  { kind: 'FaultInjection', group: 'policy.trellis.dev', versions: ['v1alpha1'], plural: 'faultinjections', singular: 'faultinjection', shortNames: ['fi'], namespaced: true },
] satisfies KindDescriptor[]).map((d) => Object.freeze(d));

const BY_KIND = new Map<string, KindDescriptor>(KINDS.map((d) => [d.kind, d]));
const BY_NAME = new Map<string, KindDescriptor>();
for (const d of KINDS) {
  for (const name of [d.kind, d.plural, d.singular, ...d.shortNames]) BY_NAME.set(name.toLowerCase(), d);
}

/** The descriptor of a canonical kind name (exact case), or undefined. */
export function kindDescriptor(kind: string): KindDescriptor | undefined {
  return BY_KIND.get(kind);
}

/** Every kind name, for messages. */
export function knownKindNames(): string[] {
  return KINDS.map((d) => d.kind);
}

/**
 * Maps what a user types ('trafficsplits', 'trafficsplit', 'ts', 'TrafficSplit',
 * any case; also `trafficsplits.split.smi-spec.io`) to the canonical kind.
 * Throws TRELLIS_E_UNKNOWN_KIND listing the known kinds otherwise.
 */
export function resolveKind(input: string): ResourceKind {
  const raw = input.trim().toLowerCase();
  let d = BY_NAME.get(raw);
  if (!d) {
    // `plural.group` as kubectl accepts it.
    const dot = raw.indexOf('.');
    if (dot > 0) {
      const candidate = BY_NAME.get(raw.slice(0, dot));
      if (candidate && candidate.group === raw.slice(dot + 1)) d = candidate;
    }
  }
  if (!d) {
    throw new TrellisResourceError(
      ErrorCodes.UNKNOWN_KIND,
      `unknown kind "${input}"; known kinds: ${KINDS.map((k) => `${k.kind} (${[k.plural, ...k.shortNames].join(', ')})`).join(', ')}`,
    );
  }
  return d.kind;
}

/** `group/version`, or just `version` for the core group. */
export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** Splits an apiVersion into group and version (`v1` → ['', 'v1']). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The preferred apiVersion of a kind (e.g. for `get -o yaml`). */
export function preferredApiVersion(d: KindDescriptor): string {
  return apiVersionOf(d.group, d.versions[d.versions.length - 1]!);
}
