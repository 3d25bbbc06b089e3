// specs.smi-spec.io v1alpha1..v1alpha4: HTTPRouteGroup, TCPRoute, UDPRoute.
// HTTPRouteGroup v1alpha1/2 keep `matches` at the top level; headers come as
// a map or (OSM style) as a list of single-key maps; regexes must compile in RE2.
import { z } from 'zod';
import type { HTTPMatch, HTTPRouteGroupSpec, TCPRouteSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes } from './errors.js';
import { portNumber, stringMap } from './fields.js';
import { re2CompileError } from './regex.js';
import { validate, type FieldPath, type IssueSink } from './validate.js';

const headersSchema = z.union([stringMap, z.array(stringMap)], {
  error: 'must be a map of header name to regex, or a list of such maps',
});

const httpMatchSchema = z.object({
  name: z.string().min(1, { error: 'must not be empty' }),
  pathRegex: z.string().optional(),
  methods: z.array(z.string()).optional(),
  headers: headersSchema.optional(),
});

const httpRouteGroupBodySchema = z.object({
  matches: z.array(httpMatchSchema, { error: 'must be a list of matches' }),
});

function checkRegex(pattern: string, path: FieldPath, sink: IssueSink): boolean {
  const reason = re2CompileError(pattern);
  if (reason === undefined) return true;
  sink.error(path, `invalid regular expression ${JSON.stringify(pattern)}: ${reason}`, ErrorCodes.INVALID_REGEX);
  return false;
}

function normaliseHeaders(
  raw: Record<string, string> | Record<string, string>[] | undefined,
  at: FieldPath,
  sink: IssueSink,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  let ok = true;
  const entries: [string, string, FieldPath][] = Array.isArray(raw)
    ? raw.flatMap((m, i) => Object.entries(m).map(([k, v]): [string, string, FieldPath] => [k, v, [...at, i, k]]))
    : Object.entries(raw).map(([k, v]): [string, string, FieldPath] => [k, v, [...at, k]]);
  for (const [name, value, path] of entries) {
    const key = name.toLowerCase();
    if (Object.hasOwn(out, key)) {
      sink.error(path, `header "${key}" is given twice (header names are case-insensitive)`, ErrorCodes.DUPLICATE_NAME);
      ok = false;
      continue;
    }
    if (!checkRegex(value, path, sink)) ok = false;
    out[key] = value;
  }
  return ok ? out : undefined;
}

export const httpRouteGroupParser: KindParser<HTTPRouteGroupSpec> = {
  legacyTopLevel: ['matches'],
  legacyVersions: ['v1alpha1', 'v1alpha2'],
  parseSpec({ body, at, sink }) {
    const raw = validate(httpRouteGroupBodySchema, body, at, sink);
    if (!raw) return undefined;
    let ok = true;
    const names = new Set<string>();
    const matches: HTTPMatch[] = [];
    raw.matches.forEach((m, i) => {
      const mp = [...at, 'matches', i];
      if (names.has(m.name)) {
        sink.error([...mp, 'name'], `match name "${m.name}" is used twice`, ErrorCodes.DUPLICATE_NAME);
        ok = false;
      }
      names.add(m.name);
      if (m.pathRegex !== undefined && !checkRegex(m.pathRegex, [...mp, 'pathRegex'], sink)) ok = false;
      const headers = normaliseHeaders(m.headers, [...mp, 'headers'], sink);
      if (!headers) ok = false;
      const match: HTTPMatch = {
        name: m.name,
        methods: [...new Set((m.methods ?? []).map((x) => x.trim().toUpperCase()))],
        headers: headers ?? {},
      };
      if (m.pathRegex !== undefined) match.pathRegex = m.pathRegex;
      matches.push(match);
    });
    return ok ? { matches } : undefined;
  },
};

const l4BodySchema = z.object({
  matches: z
    .object({ ports: z.array(portNumber, { error: 'must be a list of port numbers' }).nullish() })
    .nullish(),
});

/** TCPRoute and UDPRoute: `spec.matches.ports`; no spec (v1alpha1-3), no matches or no ports = every port (`ports: []`). */
export const l4RouteParser: KindParser<TCPRouteSpec> = {
  parseSpec({ body, at, sink }) {
    if (body === undefined || body === null) return { ports: [] };
    const raw = validate(l4BodySchema, body, at, sink);
    if (!raw) return undefined;
    const ports = [...new Set(raw.matches?.ports ?? [])].sort((a, b) => a - b);
    return { ports };
  },
};
