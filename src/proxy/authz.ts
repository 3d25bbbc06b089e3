// Inbound authorisation: decides, from the caller's verified identity, whether
// a request (or a TCP connection) may reach this proxy's app. Compiled from
// the snapshot's AuthzPolicy; every decision carries the rule or the reason.

import type { AuthzPolicy } from '../compiler/snapshot.js';
import { compileMatcher, type RequestHead, type RequestMatcher } from './http-match.js';

export type AuthzDecision = { allowed: true; rule: string } | { allowed: false; reason: string };

interface CompiledRule {
  target: string;
  sources: Set<string>;
  port?: number;
  http: { matcher: RequestMatcher; allowed: AuthzDecision }[];
  tcpPorts: (number[] | 'all')[];
  /** The decision when its TCP rules allow the port (made once, not per request). */
  allowed: AuthzDecision;
}

/** Per port and source, the rules that may allow it (or why none can); bounded, rebuilt with the authorizer. */
const MAX_CACHED_SOURCES = 4096;

export interface Authorizer {
  /** HTTP request on app port `port`; `source` is the caller's SPIFFE ID, undefined for plaintext. */
  http(source: string | undefined, port: number, req: RequestHead, path: string): AuthzDecision;
  /** A TCP connection on app port `port`. */
  tcp(source: string | undefined, port: number): AuthzDecision;
}

const ALLOW_PERMISSIVE: AuthzDecision = { allowed: true, rule: 'access mode permissive' };

export function compileAuthorizer(policy: AuthzPolicy): Authorizer {
  const rules: CompiledRule[] = policy.rules.map((r) => ({
    target: r.target,
    sources: new Set(r.sources),
    port: r.port,
    http: r.allow.flatMap((a) => (a.kind === 'http' ? [{ matcher: compileMatcher(a.match), allowed: { allowed: true as const, rule: `${r.target} (${a.match.name})` } }] : [])),
    tcpPorts: r.allow.flatMap((a) => (a.kind === 'tcp' ? [a.ports.length === 0 ? ('all' as const) : a.ports] : [])),
    allowed: { allowed: true, rule: r.target },
  }));
  const tcpAllows = (r: CompiledRule, port: number) =>
    r.tcpPorts.some((ports) => ports === 'all' || ports.includes(port));

  const cache = new Map<number, Map<string, CompiledRule[] | AuthzDecision>>();
  function candidates(source: string | undefined, port: number): CompiledRule[] | AuthzDecision {
    if (source === undefined) return findCandidates(source, port);
    let bySource = cache.get(port);
    if (!bySource) cache.set(port, (bySource = new Map()));
    let c = bySource.get(source);
    if (c === undefined) {
      if (bySource.size >= MAX_CACHED_SOURCES) bySource.clear();
      bySource.set(source, (c = findCandidates(source, port)));
    }
    return c;
  }

  function findCandidates(source: string | undefined, port: number): CompiledRule[] | AuthzDecision {
    if (source === undefined) {
      return { allowed: false, reason: 'the connection is not authenticated with a mesh certificate' };
    }
    if (rules.length === 0) {
      return { allowed: false, reason: 'no TrafficTarget has this service account as its destination' };
    }
    const mine = rules.filter((r) => r.sources.has(source) && (r.port === undefined || r.port === port));
    if (mine.length === 0) {
      const portScoped = rules.some((r) => r.sources.has(source));
      return {
        allowed: false,
        reason: portScoped
          ? `the TrafficTargets that name ${source} as a source allow other destination ports, not ${port}`
          : `no TrafficTarget allows ${source} to reach this destination`,
      };
    }
    return mine;
  }

  return {
    http(source, port, req, path) {
      if (policy.mode === 'permissive') return ALLOW_PERMISSIVE;
      const c = candidates(source, port);
      if (!Array.isArray(c)) return c;
      for (const r of c) {
        if (tcpAllows(r, port)) return r.allowed;
        for (const h of r.http) if (h.matcher(req, path)) return h.allowed;
      }
      const targets = c.map((r) => r.target).join(', ');
      return {
        allowed: false,
        reason: `${req.method} ${path} matches no route that TrafficTarget ${targets} allows for this source`,
      };
    },
    tcp(source, port) {
      if (policy.mode === 'permissive') return ALLOW_PERMISSIVE;
      const c = candidates(source, port);
      if (!Array.isArray(c)) return c;
      for (const r of c) if (tcpAllows(r, port)) return r.allowed;
      return { allowed: false, reason: `no TCPRoute of TrafficTarget ${c.map((r) => r.target).join(', ')} allows port ${port}` };
    },
  };
}
