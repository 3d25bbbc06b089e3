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
}

export type RequestMatcher = (req: RequestHead, path: string) => boolean;

export function compileMatcher(m: HttpMatchConfig): RequestMatcher {
  const path = m.pathRegex === undefined ? undefined : RE2(m.pathRegex);
  const methods = m.methods.length === 0 ? undefined : new Set(m.methods);
  const headers = m.headers.map(([name, pattern]) => [name, RE2(pattern)] as const);
  return (req, p) => {
    if (methods && !methods.has(req.method ?? '')) return false;
    if (path && !path.test(p)) return false;
    for (const [name, re] of headers) {
      const v = req.headers[name];
      if (v === undefined) return false;
      if (!re.test(Array.isArray(v) ? v.join(', ') : v)) return false;
    }
    return true;
  };
}

/** The path without its query string. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
