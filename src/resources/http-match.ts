// The Gateway API HTTPRouteMatch (path, headers, query parameters, method):
// one schema and one normaliser, used by HTTPRoute rules, TrafficPolicy
// rateLimit.matches and FaultInjection rules.
import { z } from 'zod';
import type { HTTPHeaderMatch, HTTPPathMatch, HTTPQueryParamMatch, HTTPRouteMatch, StringMatchType } from './types.js';
import { ErrorCodes, WarningCodes } from './errors.js';
import { headerName } from './gateway-fields.js';
import { checkRegex } from './regex.js';
import type { FieldPath, IssueSink } from './validate.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

const stringMatchType = z.enum(['Exact', 'RegularExpression'], { error: 'must be Exact or RegularExpression' });

export const httpRouteMatchSchema = z.object({
  path: z
    .object({
      type: z.enum(['Exact', 'PathPrefix', 'RegularExpression'], { error: 'must be Exact, PathPrefix or RegularExpression' }).optional(),
      value: z.string().max(1024, { error: 'must be at most 1024 characters' }).optional(),
    })
    .optional(),
  headers: z
    .array(
      z.object({
        type: stringMatchType.optional(),
        name: headerName,
        value: z.string().min(1, { error: 'must not be empty' }).max(4096, { error: 'must be at most 4096 characters' }),
      }),
    )
    .max(16, { error: 'must have at most 16 entries' })
    .optional(),
  queryParams: z
    .array(
      z.object({
        type: stringMatchType.optional(),
        name: headerName,
        value: z.string().min(1, { error: 'must not be empty' }).max(1024, { error: 'must be at most 1024 characters' }),
      }),
    )
    .max(16, { error: 'must have at most 16 entries' })
    .optional(),
  method: z.string().optional(),
});
export type RawHTTPRouteMatch = z.infer<typeof httpRouteMatchSchema>;

/** What a match without `path` matches: every path. */
export function defaultPathMatch(): HTTPPathMatch {
  return { type: 'PathPrefix', value: '/' };
}

/** A match that selects every request (the default of a rule without matches). */
export function defaultRouteMatch(): HTTPRouteMatch {
  return { path: defaultPathMatch(), headers: [], queryParams: [] };
}

// The Gateway API's rules for Exact and PathPrefix values (HTTPPathMatch validations).
const PATH_CHARACTERS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
const FORBIDDEN_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F', '#'];
const FORBIDDEN_SUFFIXES = ['/..', '/.'];

function checkPath(path: HTTPPathMatch, at: FieldPath, sink: IssueSink): boolean {
  const where = [...at, 'value'];
  if (path.type === 'RegularExpression') return checkRegex(path.value, where, sink);
  const shown = JSON.stringify(path.value);
  let problem: string | undefined;
  if (!path.value.startsWith('/')) problem = `must be an absolute path starting with "/" for type ${path.type}, got ${shown}`;
  else {
    const seq = FORBIDDEN_SEQUENCES.find((s) => path.value.includes(s));
    const suffix = FORBIDDEN_SUFFIXES.find((s) => path.value.endsWith(s));
    if (seq !== undefined) problem = `must not contain ${JSON.stringify(seq)} for type ${path.type}, got ${shown}`;
    else if (suffix !== undefined) problem = `must not end with ${JSON.stringify(suffix)} for type ${path.type}, got ${shown}`;
    else if (!PATH_CHARACTERS.test(path.value)) {
      problem = `must contain only URL path characters (letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes) for type ${path.type}, got ${shown}; use type RegularExpression for patterns`;
    }
  }
  if (problem === undefined) return true;
  sink.error(where, `value ${problem}`, ErrorCodes.INVALID_FIELD);
  return false;
}

/**
 * Drops entries whose name repeats an earlier one (compared with `key`), with
 * a warning: the Gateway API says only the first entry with a name counts.
 */
function firstByName<T extends { name: string }>(entries: T[], at: FieldPath, what: string, key: (name: string) => string, sink: IssueSink): [T, number][] {
  const first = new Map<string, number>();
  const kept: [T, number][] = [];
  entries.forEach((e, i) => {
    const k = key(e.name);
    const earlier = first.get(k);
    if (earlier !== undefined) {
      sink.warn(
        [...at, i, 'name'],
        `${what} "${e.name}" is already matched by entry ${earlier}; only the first entry with a name counts, this one is ignored`,
        WarningCodes.SUSPICIOUS_VALUE,
      );
      return;
    }
    first.set(k, i);
    kept.push([e, i]);
  });
  return kept;
}

/**
 * Normalises one match validated by `httpRouteMatchSchema` (at `at`): path
 * defaults to PathPrefix `/`, header names are lower-cased, match types
 * default to Exact, the method is upper-cased. Every RegularExpression value
 * must compile with RE2. Reports and returns undefined on an invalid value.
 */
export function normaliseHTTPRouteMatch(raw: RawHTTPRouteMatch, at: FieldPath, sink: IssueSink): HTTPRouteMatch | undefined {
  let ok = true;
  const path: HTTPPathMatch = raw.path
    ? { type: raw.path.type ?? 'PathPrefix', value: raw.path.value ?? '/' }
    : defaultPathMatch();
  if (raw.path && !checkPath(path, [...at, 'path'], sink)) ok = false;

  const headers: HTTPHeaderMatch[] = [];
  for (const [h, i] of firstByName(raw.headers ?? [], [...at, 'headers'], 'header', (n) => n.toLowerCase(), sink)) {
    const type: StringMatchType = h.type ?? 'Exact';
    if (type === 'RegularExpression' && !checkRegex(h.value, [...at, 'headers', i, 'value'], sink)) ok = false;
    headers.push({ type, name: h.name.toLowerCase(), value: h.value });
  }

  const queryParams: HTTPQueryParamMatch[] = [];
  for (const [q, i] of firstByName(raw.queryParams ?? [], [...at, 'queryParams'], 'query parameter', (n) => n, sink)) {
    const type: StringMatchType = q.type ?? 'Exact';
    if (type === 'RegularExpression' && !checkRegex(q.value, [...at, 'queryParams', i, 'value'], sink)) ok = false;
    queryParams.push({ type, name: q.name, value: q.value });
  }

  const match: HTTPRouteMatch = { path, headers, queryParams };
  if (raw.method !== undefined) {
    const method = raw.method.trim().toUpperCase();
    if (!(HTTP_METHODS as readonly string[]).includes(method)) {
      sink.error([...at, 'method'], `method must be one of ${HTTP_METHODS.join(', ')}, got ${JSON.stringify(raw.method)}`, ErrorCodes.INVALID_FIELD);
      ok = false;
    } else {
      if (method !== raw.method) {
        sink.warn([...at, 'method'], `method ${JSON.stringify(raw.method)} is read as ${method} (the Gateway API writes methods in upper case)`, WarningCodes.LEGACY_FORM);
      }
      match.method = method;
    }
  }
  return ok ? match : undefined;
}

/** Normalises an optional list of matches; `fallback` is used when the list is absent or empty. */
export function normaliseHTTPRouteMatches(
  raw: RawHTTPRouteMatch[] | undefined,
  at: FieldPath,
  sink: IssueSink,
  fallback: () => HTTPRouteMatch[],
): HTTPRouteMatch[] | undefined {
  if (raw === undefined || raw.length === 0) return fallback();
  let ok = true;
  const out: HTTPRouteMatch[] = [];
  raw.forEach((m, i) => {
    const match = normaliseHTTPRouteMatch(m, [...at, i], sink);
    if (match) out.push(match);
    else ok = false;
  });
  return ok ? out : undefined;
}
