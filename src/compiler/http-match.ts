// SMI HTTPRouteGroup matches → HttpMatchConfig. SMI regexes are matched
// against the whole path or header value (docs/smi.md explains why), so each
// pattern is anchored here, once, and the proxy only runs it.

import type { HTTPMatch, HTTPRouteGroupResource } from '../resources/types.js';
import type { HttpMatchConfig } from './snapshot.js';

export function anchor(pattern: string): string {
  return `^(?:${pattern})$`;
}

/** Patterns that match every path: no regex needs to run for them. */
const MATCH_ANY = new Set(['', '.*', '/.*', '^.*$', '.+', '/.+']);

export function compileHttpMatch(group: HTTPRouteGroupResource, match: HTTPMatch): HttpMatchConfig {
  const methods = match.methods.map((m) => m.toUpperCase());
  const path = match.pathRegex;
  return {
    name: `${group.metadata.namespace}/${group.metadata.name}/${match.name}`,
    // Paths always start with "/", so these forms select every request.
    pathRegex: path === undefined || MATCH_ANY.has(path) ? undefined : anchor(path),
    methods: methods.includes('*') ? [] : methods,
    headers: Object.entries(match.headers)
      .map(([k, v]): [string, string] => [k.toLowerCase(), anchor(v)])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  };
}

/**
 * The matches a rule refers to: the named ones, or every match of the group
 * when the rule names none. Unknown names are reported, not guessed.
 */
export function selectMatches(
  group: HTTPRouteGroupResource,
  names: string[] | undefined,
  report: (message: string) => void,
): HttpMatchConfig[] {
  if (names === undefined || names.length === 0) return group.spec.matches.map((m) => compileHttpMatch(group, m));
  const out: HttpMatchConfig[] = [];
  for (const name of names) {
    const m = group.spec.matches.find((x) => x.name === name);
    if (m) out.push(compileHttpMatch(group, m));
    else report(`HTTPRouteGroup ${group.metadata.namespace}/${group.metadata.name} has no match named "${name}"`);
  }
  return out;
}
