// Inbound authorisation: the TrafficTargets whose destination is a proxy's
// service account, resolved into rules the proxy evaluates per request or
// connection.

import { spiffeId } from '../identity/spiffe.js';
import type { TrafficTargetResource } from '../resources/types.js';
import type { Diagnostics } from './diagnostics.js';
import { selectMatches } from './http-match.js';
import type { CompileCache } from './memo.js';
import type { ResourceIndex } from './resource-index.js';
import type { AuthzAllow, AuthzRule } from './snapshot.js';

/** TrafficTargets by destination `<namespace>/<service account>`. */
export function targetsByDestination(index: ResourceIndex): Map<string, TrafficTargetResource[]> {
  const out = new Map<string, TrafficTargetResource[]>();
  for (const tt of index.list('TrafficTarget')) {
    const dest = tt.spec.destination;
    const key = `${dest.namespace || tt.metadata.namespace}/${dest.name}`;
    const list = out.get(key) ?? [];
    list.push(tt);
    out.set(key, list);
  }
  return out;
}

export function compileAuthzRules(
  index: ResourceIndex,
  trustDomain: string,
  targets: readonly TrafficTargetResource[],
  diagnostics: Diagnostics,
  cache: CompileCache,
): AuthzRule[] {
  const rules = targets.map((tt) => {
    const ns = tt.metadata.namespace;
    const refs = tt.spec.rules.map((r) =>
      r.kind === 'HTTPRouteGroup' ? index.get('HTTPRouteGroup', ns, r.name) : r.kind === 'TCPRoute' ? index.get('TCPRoute', ns, r.name) : undefined,
    );
    return cache.memo(`tt|${ns}/${tt.metadata.name}`, [tt, trustDomain, ...refs], diagnostics, () =>
      compileTarget(index, trustDomain, tt, diagnostics),
    );
  });
  // Independent of the order the store lists objects in, so equal input hashes equally.
  return rules.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

function compileTarget(
  index: ResourceIndex,
  trustDomain: string,
  tt: TrafficTargetResource,
  diagnostics: Diagnostics,
): AuthzRule {
  const ns = tt.metadata.namespace;
  const report = (message: string) => diagnostics.warn(tt, message);
  const allow: AuthzAllow[] = [];
  for (const rule of tt.spec.rules) {
    if (rule.kind === 'HTTPRouteGroup') {
      const group = index.get('HTTPRouteGroup', ns, rule.name);
      if (!group) {
        report(`rule refers to HTTPRouteGroup ${ns}/${rule.name}, which does not exist: it allows nothing`);
        continue;
      }
      for (const match of selectMatches(group, rule.matches, report)) allow.push({ kind: 'http', match });
    } else if (rule.kind === 'TCPRoute') {
      const route = index.get('TCPRoute', ns, rule.name);
      if (!route) {
        report(`rule refers to TCPRoute ${ns}/${rule.name}, which does not exist: it allows nothing`);
        continue;
      }
      allow.push({ kind: 'tcp', route: `${ns}/${rule.name}`, ports: [...route.spec.ports].sort((a, b) => a - b) });
    } else {
      report(`rule kind ${rule.kind} is not enforced by Trellis (no UDP data path): it allows nothing`);
    }
  }
  const sources = tt.spec.sources
    .map((s) => spiffeId(trustDomain, s.namespace || ns, s.name))
    .sort();
  const out: AuthzRule = { target: `${ns}/${tt.metadata.name}`, sources, allow };
  if (tt.spec.destination.port !== undefined) out.port = tt.spec.destination.port;
  return out;
}
