// policy.trellis.dev TrafficPolicy and FaultInjection → the client-side
// (virtual host, cluster) and server-side (inbound rate limit) pieces of the
// snapshot. Several policies may target one Service: they merge section by
// section; when two set the same section the older one wins and the newer is
// reported (the admin API refuses such an apply up front, see
// `policyConflicts`), so nothing is ignored silently.

import type {
  FaultInjectionResource,
  Resource,
  TrafficPolicyResource,
  TrafficPolicySpec,
} from '../resources/types.js';
import type { Diagnostics } from './diagnostics.js';
import { compileRouteMatch } from './http-route.js';
import { byAgeThenName, type ResourceIndex } from './resource-index.js';
import type { ClusterPolicy, FaultConfig, RateLimitConfig, VirtualHostPolicy } from './snapshot.js';

export const POLICY_SECTIONS = ['timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'rateLimit', 'loadBalancer', 'healthCheck'] as const;
type Section = (typeof POLICY_SECTIONS)[number];

/** The merged policy of one Service, with which resource set each section. */
export interface ServicePolicy {
  service: string;
  spec: Partial<Omit<TrafficPolicySpec, 'targetRef'>>;
  /** Section → `ns/name` of the TrafficPolicy that set it. */
  setBy: Partial<Record<Section, string>>;
  faults: { source: string; resource: FaultInjectionResource }[];
  /** Every policy resource involved (memo inputs). */
  resources: Resource[];
}

function targetKey(r: TrafficPolicyResource | FaultInjectionResource): string {
  return `${r.metadata.namespace}/${r.spec.targetRef.name}`;
}

/** Policies by target Service (`ns/name`), merged. */
export function servicePolicies(index: ResourceIndex, diagnostics: Diagnostics): Map<string, ServicePolicy> {
  const out = new Map<string, ServicePolicy>();
  const entry = (key: string): ServicePolicy => {
    let e = out.get(key);
    if (!e) {
      e = { service: key, spec: {}, setBy: {}, faults: [], resources: [] };
      out.set(key, e);
    }
    return e;
  };
  for (const p of [...index.list('TrafficPolicy')].sort(byAgeThenName)) {
    const key = targetKey(p);
    if (!index.get('Service', p.metadata.namespace, p.spec.targetRef.name)) {
      diagnostics.warn(p, `target Service ${key} does not exist: the policy applies once it does`);
    }
    const e = entry(key);
    e.resources.push(p);
    const id = `${p.metadata.namespace}/${p.metadata.name}`;
    for (const section of POLICY_SECTIONS) {
      const value = p.spec[section];
      if (value === undefined) continue;
      const owner = e.setBy[section];
      if (owner) {
        diagnostics.error(p, `${section} ignored: TrafficPolicy ${owner} is older and already sets ${section} for Service ${key}`);
        continue;
      }
      e.setBy[section] = id;
      (e.spec as Record<string, unknown>)[section] = value;
    }
  }
  // Fault rules of several FaultInjections on one Service apply in order, oldest first.
  for (const f of [...index.list('FaultInjection')].sort(byAgeThenName)) {
    const key = targetKey(f);
    if (!index.get('Service', f.metadata.namespace, f.spec.targetRef.name)) {
      diagnostics.warn(f, `target Service ${key} does not exist: the faults apply once it does`);
    }
    const e = entry(key);
    e.resources.push(f);
    e.faults.push({ source: `${f.metadata.namespace}/${f.metadata.name}`, resource: f });
  }
  return out;
}

function sourcesOf(p: ServicePolicy, sections: readonly Section[], faults: boolean): string[] {
  const s = new Set<string>();
  for (const sec of sections) if (p.setBy[sec]) s.add(p.setBy[sec]!);
  if (faults) for (const f of p.faults) s.add(f.source);
  return [...s].sort();
}

/** What a client sidecar applies to calls to the Service (all its ports). */
export function virtualHostPolicy(p: ServicePolicy | undefined): VirtualHostPolicy | undefined {
  if (!p) return undefined;
  const { timeouts, retries } = p.spec;
  const faults: FaultConfig[] = [];
  for (const { resource } of p.faults) {
    resource.spec.rules.forEach((rule, i) => {
      const f: FaultConfig = {};
      if (rule.match) f.match = compileRouteMatch(`fault:${resource.metadata.namespace}/${resource.metadata.name}/${i}`, rule.match);
      if (rule.abort) f.abort = { status: rule.abort.httpStatus, percentage: rule.abort.percentage };
      if (rule.delay) f.delay = { delayMs: rule.delay.fixedDelayMs, percentage: rule.delay.percentage };
      faults.push(f);
    });
  }
  if (timeouts?.requestMs === undefined && !retries && faults.length === 0) return undefined;
  const out: VirtualHostPolicy = { sources: sourcesOf(p, ['timeouts', 'retries'], true) };
  if (timeouts?.requestMs !== undefined) out.requestTimeoutMs = timeouts.requestMs;
  if (retries) {
    out.retries = {
      attempts: retries.attempts,
      ...(retries.perTryTimeoutMs !== undefined ? { perTryTimeoutMs: retries.perTryTimeoutMs } : {}),
      retryOn: [...retries.retryOn],
      retriableStatusCodes: [...retries.retriableStatusCodes],
      baseIntervalMs: retries.backoff.baseIntervalMs,
      maxIntervalMs: retries.backoff.maxIntervalMs,
      retryNonIdempotent: retries.retryNonIdempotent,
      budgetPercent: retries.budget.percent,
      minRetriesPerSecond: retries.budget.minRetriesPerSecond,
    };
  }
  if (faults.length > 0) out.faults = faults;
  return out;
}

/** What a client sidecar applies to the Service's endpoints. */
export function clusterPolicy(p: ServicePolicy | undefined): ClusterPolicy | undefined {
  if (!p) return undefined;
  const { timeouts, circuitBreaker, outlierDetection, loadBalancer, healthCheck } = p.spec;
  if (timeouts?.connectMs === undefined && timeouts?.idleMs === undefined && !circuitBreaker && !outlierDetection && !loadBalancer && !healthCheck) {
    return undefined;
  }
  const out: ClusterPolicy = { sources: sourcesOf(p, ['timeouts', 'circuitBreaker', 'outlierDetection', 'loadBalancer', 'healthCheck'], false) };
  if (timeouts?.connectMs !== undefined) out.connectTimeoutMs = timeouts.connectMs;
  if (timeouts?.idleMs !== undefined) out.idleTimeoutMs = timeouts.idleMs;
  if (circuitBreaker) out.circuitBreaker = { ...circuitBreaker };
  if (outlierDetection) out.outlierDetection = { ...outlierDetection };
  if (loadBalancer) {
    out.loadBalancer = { type: loadBalancer.type };
    if (loadBalancer.hashOn) out.loadBalancer.hashOn = loadBalancer.hashOn;
    if (loadBalancer.ringSize !== undefined) out.loadBalancer.ringSize = loadBalancer.ringSize;
    if (loadBalancer.locality?.enabled) out.loadBalancer.locality = { minHealthyPercent: loadBalancer.locality.minHealthyPercent };
  }
  if (healthCheck) out.healthCheck = { ...healthCheck };
  return out;
}

const UNIT_SECONDS = { second: 1, minute: 60, hour: 3600 } as const;

/** The inbound rate limit protecting the Service, enforced by each of its instances. */
export function rateLimitConfig(p: ServicePolicy | undefined): RateLimitConfig | undefined {
  const rl = p?.spec.rateLimit;
  if (!p || !rl) return undefined;
  return {
    name: p.setBy.rateLimit!,
    service: p.service,
    tokensPerSecond: rl.requestsPerUnit / UNIT_SECONDS[rl.unit],
    burst: rl.burst,
    perSource: rl.perSource,
    matches: rl.matches.map((m, i) => compileRouteMatch(`ratelimit:${p.setBy.rateLimit}/${i}`, m)),
  };
}

/**
 * Cross-resource check for the admin API: a TrafficPolicy being applied that
 * sets a section another TrafficPolicy on the same Service already sets is
 * refused, naming both, instead of being half-ignored later.
 */
export function policyConflicts(incoming: readonly Resource[], existing: readonly Resource[]): { resource: TrafficPolicyResource; message: string }[] {
  const incomingKeys = new Set(incoming.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`));
  const all = [
    ...existing.filter((r): r is TrafficPolicyResource => r.kind === 'TrafficPolicy' && !incomingKeys.has(`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`)),
    ...incoming.filter((r): r is TrafficPolicyResource => r.kind === 'TrafficPolicy'),
  ];
  const owners = new Map<string, string>();
  const out: { resource: TrafficPolicyResource; message: string }[] = [];
  for (const p of all) {
    const id = `${p.metadata.namespace}/${p.metadata.name}`;
    for (const section of POLICY_SECTIONS) {
      if (p.spec[section] === undefined) continue;
      const key = `${targetKey(p)}|${section}`;
      const owner = owners.get(key);
      if (owner && owner !== id && incomingKeys.has(`TrafficPolicy/${id}`)) {
        out.push({
          resource: p,
          message: `spec.${section}: TrafficPolicy ${owner} already sets ${section} for Service ${targetKey(p)}; put both in one policy or remove it from one`,
        });
      } else if (!owner) owners.set(key, id);
    }
  }
  return out;
}
