// Request matching, compiled once per snapshot. Patterns run on RE2, a
// linear-time engine, because they come from users.

import { createRequire } from 'node:module';
import type { HttpMatchConfig } from '../compiler/snapshot.js';

type RE2Constructor = new (pattern: string) => { test(s: string): boolean };
let re2: RE2Constructor | undefined;
/** The RE2 addon is loaded on first use: a sidecar whose policies have no regex does not pay its memory. */
function RE2(pattern: string) {
  re2 ??= createRequire(import.meta.url)('re2') as RE2Constructor;
  return new re2(pattern);
}

/** What a matcher needs from a request; IncomingMessage satisfies it. */
export interface RequestHead {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
  /** The request target (query parameters are read from it); IncomingMessage has `url` instead. */
  target?: string;
  url?: string;
}

export type RequestMatcher = (req: RequestHead, path: string) => boolean;

function headerValue(req: RequestHead, name: string): string | undefined {
  const v = req.headers[name];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v;
}

/** The first value of each query parameter (names and values case-sensitive, percent-decoded). */
export function queryOf(target: string | undefined): URLSearchParams | undefined {
  if (!target) return undefined;
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const hash = target.indexOf('#', q);
  return new URLSearchParams(target.slice(q + 1, hash < 0 ? undefined : hash));
}

export function compileMatcher(m: HttpMatchConfig): RequestMatcher {
  const path = m.pathRegex === undefined ? undefined : RE2(m.pathRegex);
  const exact = m.pathExact;
  const prefix = m.pathPrefix;
  const prefixSlash = prefix === undefined ? undefined : prefix + '/';
  const methods = m.methods.length === 0 ? undefined : new Set(m.methods);
  const headers = m.headers.map(([name, pattern]) => [name, RE2(pattern)] as const);
  const headersExact = m.headersExact ?? [];
  const query = (m.query ?? []).map(([name, kind, value]) => [name, kind === 'exact' ? value : RE2(value)] as const);
  return (req, p) => {
    if (methods && !methods.has(req.method ?? '')) return false;
    if (exact !== undefined && p !== exact) return false;
    // A prefix matches whole path segments: `/v2` matches `/v2` and `/v2/x`, not `/v2x`.
    if (prefix !== undefined && p !== prefix && !p.startsWith(prefixSlash!)) return false;
    if (path && !path.test(p)) return false;
    for (const [name, value] of headersExact) if (headerValue(req, name) !== value) return false;
    for (const [name, re] of headers) {
      const v = headerValue(req, name);
      if (v === undefined || !re.test(v)) return false;
    }
    if (query.length > 0) {
      const params = queryOf(req.target ?? req.url);
      if (!params) return false;
      for (const [name, want] of query) {
        const v = params.get(name);
        if (v === null) return false;
        if (typeof want === 'string' ? v !== want : !want.test(v)) return false;
      }
    }
    return true;
  };
}

/** The path without its query string. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
