// gateway.networking.k8s.io HTTPRoute v1beta1 and v1, normalised to the
// canonical HTTPRouteSpec: defaults applied (parentRef group/kind/namespace,
// the default rule and match, filter and backend defaults), the Gateway API's
// validation rules checked, and every problem reported at its field path.
// A route with a Service parent is mesh routing (GAMMA); with a Gateway
// parent it is ingress.
import { z } from 'zod';
import type {
  BackendObjectReference,
  HTTPBackendRef,
  HTTPHeaderEdits,
  HTTPPathModifier,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  HTTPRouteSpec,
  ObjectMeta,
  ParentReference,
} from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, WarningCodes } from './errors.js';
import { dnsLabel, ignored, portNumber } from './fields.js';
import {
  GATEWAY_API_GROUP,
  apiGroup,
  apiKind,
  checkHostname,
  gatewayDurationMs,
  headerName,
  referenceName,
  sectionName,
} from './gateway-fields.js';
import { defaultRouteMatch, httpRouteMatchSchema, normaliseHTTPRouteMatches } from './http-match.js';
import { formatPath, validate, type FieldPath, type IssueSink } from './validate.js';

/** The Gateway API's size limits (v1.2+: 64 matches per rule, 128 per route). */
export const HTTPROUTE_LIMITS = Object.freeze({
  parentRefs: 32,
  hostnames: 16,
  rules: 16,
  matchesPerRule: 64,
  matchesPerRoute: 128,
  filters: 16,
  backendRefs: 16,
  headerEdits: 16,
});

const atMost = (n: number) => ({ error: `must have at most ${n} entries` });

const backendObjectRefShape = {
  group: apiGroup.optional(),
  kind: apiKind.optional(),
  name: referenceName,
  namespace: dnsLabel.optional(),
  port: portNumber.optional(),
};
const backendObjectRefSchema = z.object(backendObjectRefShape);

const parentRefSchema = z.object({
  group: apiGroup.optional(),
  kind: apiKind.optional(),
  namespace: dnsLabel.optional(),
  name: referenceName,
  sectionName: sectionName.optional(),
  port: portNumber.optional(),
});

const headerSchema = z.object({
  name: headerName,
  value: z.string().min(1, { error: 'must not be empty' }).max(4096, { error: 'must be at most 4096 characters' }),
});

const headerFilterSchema = z.object({
  set: z.array(headerSchema).max(HTTPROUTE_LIMITS.headerEdits, atMost(HTTPROUTE_LIMITS.headerEdits)).optional(),
  add: z.array(headerSchema).max(HTTPROUTE_LIMITS.headerEdits, atMost(HTTPROUTE_LIMITS.headerEdits)).optional(),
  remove: z.array(headerName).max(HTTPROUTE_LIMITS.headerEdits, atMost(HTTPROUTE_LIMITS.headerEdits)).optional(),
});

const pathModifierSchema = z.object({
  type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch'], { error: 'must be ReplaceFullPath or ReplacePrefixMatch' }),
  replaceFullPath: z.string().max(1024, { error: 'must be at most 1024 characters' }).optional(),
  replacePrefixMatch: z.string().max(1024, { error: 'must be at most 1024 characters' }).optional(),
});

const REDIRECT_CODES = [301, 302, 303, 307, 308];

const redirectSchema = z.object({
  scheme: z.enum(['http', 'https'], { error: 'must be http or https' }).optional(),
  hostname: z.string().optional(),
  path: pathModifierSchema.optional(),
  port: portNumber.optional(),
  statusCode: z
    .number()
    .refine((n) => REDIRECT_CODES.includes(n), { error: 'must be 301, 302, 303, 307 or 308' })
    .optional(),
});

const rewriteSchema = z.object({
  hostname: z.string().optional(),
  path: pathModifierSchema.optional(),
});

const mirrorSchema = z.object({
  backendRef: backendObjectRefSchema,
  percent: z
    .number()
    .int({ error: 'must be a whole number from 0 to 100 (use fraction for finer shares)' })
    .min(0, { error: 'must be a whole number from 0 to 100' })
    .max(100, { error: 'must be a whole number from 0 to 100' })
    .optional(),
  fraction: z
    .object({
      numerator: z.number().int({ error: 'must be a non-negative integer' }).min(0, { error: 'must be a non-negative integer' }),
      denominator: z.number().int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' }).optional(),
    })
    .optional(),
});

const filterSchema = z.object({
  type: z.string().min(1, { error: 'must not be empty' }),
  requestHeaderModifier: headerFilterSchema.optional(),
  responseHeaderModifier: headerFilterSchema.optional(),
  requestRedirect: redirectSchema.optional(),
  urlRewrite: rewriteSchema.optional(),
  requestMirror: mirrorSchema.optional(),
  // Configuration of filter types Trellis rejects; the type is the error.
  extensionRef: ignored,
  cors: ignored,
  externalAuth: ignored,
});
type RawFilter = z.infer<typeof filterSchema>;

const filterListSchema = z.array(filterSchema).max(HTTPROUTE_LIMITS.filters, atMost(HTTPROUTE_LIMITS.filters));

const backendRefSchema = z.object({
  ...backendObjectRefShape,
  weight: z
    .number()
    .int({ error: 'must be an integer from 0 to 1000000' })
    .min(0, { error: 'must be an integer from 0 to 1000000' })
    .max(1_000_000, { error: 'must be an integer from 0 to 1000000' })
    .optional(),
  filters: filterListSchema.optional(),
});

const ruleSchema = z.object({
  name: sectionName.optional(),
  matches: z.array(httpRouteMatchSchema).max(HTTPROUTE_LIMITS.matchesPerRule, atMost(HTTPROUTE_LIMITS.matchesPerRule)).optional(),
  filters: filterListSchema.optional(),
  backendRefs: z.array(backendRefSchema).max(HTTPROUTE_LIMITS.backendRefs, atMost(HTTPROUTE_LIMITS.backendRefs)).optional(),
  timeouts: z
    .object({
      request: z.string().optional(),
      backendRequest: z.string().optional(),
    })
    .optional(),
  // Gateway API fields Trellis does not apply on a route; warned about below.
  retry: ignored,
  sessionPersistence: ignored,
});
type RawRule = z.infer<typeof ruleSchema>;

const httpRouteSpecSchema = z.object({
  parentRefs: z.array(parentRefSchema).max(HTTPROUTE_LIMITS.parentRefs, atMost(HTTPROUTE_LIMITS.parentRefs)).optional(),
  hostnames: z.array(z.string()).max(HTTPROUTE_LIMITS.hostnames, atMost(HTTPROUTE_LIMITS.hostnames)).optional(),
  rules: z
    .array(ruleSchema)
    .min(1, { error: 'must list at least one rule (omit rules for the default rule)' })
    .max(HTTPROUTE_LIMITS.rules, atMost(HTTPROUTE_LIMITS.rules))
    .optional(),
});

// ---- references ------------------------------------------------------------

function parentReference(raw: z.infer<typeof parentRefSchema>, at: FieldPath, meta: ObjectMeta, sink: IssueSink): ParentReference | undefined {
  const group = raw.group ?? GATEWAY_API_GROUP;
  const kind = raw.kind ?? 'Gateway';
  if (kind === 'Service' && group !== '') {
    const message =
      raw.group === undefined
        ? `a Service parent needs group: "" (the core group); group defaults to ${GATEWAY_API_GROUP}`
        : `group must be "" (the core group) for kind Service, got "${group}"`;
    sink.error([...at, 'group'], message, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (kind === 'Gateway' && group !== GATEWAY_API_GROUP) {
    sink.error([...at, 'group'], `group must be ${GATEWAY_API_GROUP} for kind Gateway, got "${group}"`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (kind !== 'Service' && kind !== 'Gateway') {
    sink.error(
      [...at, 'kind'],
      `kind must be Service (group "", mesh routing) or Gateway (group ${GATEWAY_API_GROUP}, ingress), got "${kind}"`,
      ErrorCodes.INVALID_FIELD,
    );
    return undefined;
  }
  const ref: ParentReference = { group, kind, namespace: raw.namespace ?? meta.namespace, name: raw.name };
  if (raw.port !== undefined) ref.port = raw.port;
  if (raw.sectionName !== undefined) ref.sectionName = raw.sectionName;
  return ref;
}

/**
 * ParentRefs must be distinct: several references to one parent must all set
 * sectionName (or all set port) and differ in them.
 */
function checkDistinctParents(refs: [ParentReference, number][], at: FieldPath, sink: IssueSink): boolean {
  let ok = true;
  const byParent = new Map<string, [ParentReference, number]>();
  for (const [ref, i] of refs) {
    const key = `${ref.group}/${ref.kind}/${ref.namespace}/${ref.name}`;
    const prev = byParent.get(key);
    if (!prev) {
      byParent.set(key, [ref, i]);
      continue;
    }
    const [first, j] = prev;
    const sameShape = (first.sectionName === undefined) === (ref.sectionName === undefined) && (first.port === undefined) === (ref.port === undefined);
    const samePart = first.sectionName === ref.sectionName && first.port === ref.port;
    if (!sameShape || samePart) {
      sink.error(
        [...at, i],
        `parentRefs[${i}] names the same ${ref.kind} "${ref.namespace}/${ref.name}" as parentRefs[${j}]; references to one parent must each set sectionName (or port) and differ in it`,
        ErrorCodes.DUPLICATE_NAME,
      );
      ok = false;
    }
  }
  return ok;
}

function backendObjectRef(raw: z.infer<typeof backendObjectRefSchema>, at: FieldPath, meta: ObjectMeta, sink: IssueSink): BackendObjectReference | undefined {
  // Unknown groups and kinds are kept: the compiler reports them (InvalidKind).
  const ref: BackendObjectReference = { group: raw.group ?? '', kind: raw.kind ?? 'Service', namespace: raw.namespace ?? meta.namespace, name: raw.name };
  if (raw.port !== undefined) ref.port = raw.port;
  else if (ref.group === '' && ref.kind === 'Service') {
    sink.error([...at, 'port'], 'port is required for a Service backend (the Service port to send to)', ErrorCodes.MISSING_FIELD);
    return undefined;
  }
  return ref;
}

// ---- filters ---------------------------------------------------------------

const FILTER_FIELD = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
} as const;
type FilterType = keyof typeof FILTER_FIELD;
const FILTER_TYPES = Object.keys(FILTER_FIELD) as FilterType[];
const CONFIG_FIELDS = [...Object.values(FILTER_FIELD), 'extensionRef', 'cors', 'externalAuth'] as const;
/** Gateway API filter types that Trellis does not implement. */
const UNSUPPORTED_FILTERS = ['ExtensionRef', 'CORS', 'ExternalAuth'];

interface FilterContext {
  meta: ObjectMeta;
  /** The rule's normalised matches; undefined when they are invalid (already reported). */
  matches: HTTPRouteMatch[] | undefined;
}

function headerEdits(raw: z.infer<typeof headerFilterSchema>, at: FieldPath, sink: IssueSink): HTTPHeaderEdits | undefined {
  let ok = true;
  const first = new Map<string, string>();
  const claim = (name: string, path: FieldPath, where: string) => {
    const key = name.toLowerCase();
    const prev = first.get(key);
    if (prev !== undefined) {
      sink.error(path, `header "${name}" already has an action at ${prev}; a header modifier may act on each header name once (names are case-insensitive)`, ErrorCodes.DUPLICATE_NAME);
      ok = false;
    } else first.set(key, where);
  };
  (raw.set ?? []).forEach((h, j) => claim(h.name, [...at, 'set', j, 'name'], `set[${j}]`));
  (raw.add ?? []).forEach((h, j) => claim(h.name, [...at, 'add', j, 'name'], `add[${j}]`));
  (raw.remove ?? []).forEach((name, j) => claim(name, [...at, 'remove', j], `remove[${j}]`));
  if (!ok) return undefined;
  return {
    set: (raw.set ?? []).map((h) => ({ name: h.name, value: h.value })),
    add: (raw.add ?? []).map((h) => ({ name: h.name, value: h.value })),
    remove: [...(raw.remove ?? [])],
  };
}

function pathModifier(raw: z.infer<typeof pathModifierSchema>, at: FieldPath, ctx: FilterContext, sink: IssueSink): HTTPPathModifier | undefined {
  const [wanted, other] = raw.type === 'ReplaceFullPath' ? (['replaceFullPath', 'replacePrefixMatch'] as const) : (['replacePrefixMatch', 'replaceFullPath'] as const);
  let ok = true;
  if (raw[other] !== undefined) {
    sink.error([...at, other], `${other} must not be set when type is ${raw.type}`, ErrorCodes.INVALID_FIELD);
    ok = false;
  }
  const value = raw[wanted];
  if (value === undefined) {
    sink.error([...at, wanted], `${wanted} is required when type is ${raw.type}`, ErrorCodes.MISSING_FIELD);
    return undefined;
  }
  if (raw.type === 'ReplacePrefixMatch' && ctx.matches) {
    const bad = ctx.matches.findIndex((m) => m.path.type !== 'PathPrefix');
    if (bad >= 0) {
      sink.error(
        [...at, 'type'],
        `ReplacePrefixMatch needs every match of the rule to use a PathPrefix path, but matches[${bad}] uses ${ctx.matches[bad]!.path.type}`,
        ErrorCodes.INVALID_FIELD,
      );
      ok = false;
    }
  }
  if (!ok) return undefined;
  return raw.type === 'ReplaceFullPath' ? { type: 'ReplaceFullPath', replaceFullPath: value } : { type: 'ReplacePrefixMatch', replacePrefixMatch: value };
}

function oneFilter(type: FilterType, f: RawFilter, at: FieldPath, ctx: FilterContext, sink: IssueSink): HTTPRouteFilter | undefined {
  switch (type) {
    case 'RequestHeaderModifier':
    case 'ResponseHeaderModifier': {
      const edits = headerEdits(f[FILTER_FIELD[type]]!, [...at, FILTER_FIELD[type]], sink);
      return edits && { type, ...edits };
    }
    case 'RequestRedirect': {
      const r = f.requestRedirect!;
      const rp = [...at, 'requestRedirect'];
      const out: Extract<HTTPRouteFilter, { type: 'RequestRedirect' }> = { type, statusCode: r.statusCode ?? 302 };
      let ok = true;
      if (r.scheme !== undefined) out.scheme = r.scheme;
      if (r.hostname !== undefined) {
        const host = checkHostname(r.hostname, false, [...rp, 'hostname'], sink);
        if (host === undefined) ok = false;
        else out.hostname = host;
      }
      if (r.path !== undefined) {
        const path = pathModifier(r.path, [...rp, 'path'], ctx, sink);
        if (path === undefined) ok = false;
        else out.path = path;
      }
      if (r.port !== undefined) out.port = r.port;
      return ok ? out : undefined;
    }
    case 'URLRewrite': {
      const r = f.urlRewrite!;
      const rp = [...at, 'urlRewrite'];
      const out: Extract<HTTPRouteFilter, { type: 'URLRewrite' }> = { type };
      let ok = true;
      if (r.hostname !== undefined) {
        const host = checkHostname(r.hostname, false, [...rp, 'hostname'], sink);
        if (host === undefined) ok = false;
        else out.hostname = host;
      }
      if (r.path !== undefined) {
        const path = pathModifier(r.path, [...rp, 'path'], ctx, sink);
        if (path === undefined) ok = false;
        else out.path = path;
      }
      return ok ? out : undefined;
    }
    case 'RequestMirror': {
      const m = f.requestMirror!;
      const mp = [...at, 'requestMirror'];
      const backendRef = backendObjectRef(m.backendRef, [...mp, 'backendRef'], ctx.meta, sink);
      let percent = 100;
      let ok = backendRef !== undefined;
      if (m.percent !== undefined && m.fraction !== undefined) {
        sink.error([...mp, 'fraction'], 'set percent or fraction, not both', ErrorCodes.INVALID_FIELD);
        ok = false;
      } else if (m.percent !== undefined) {
        percent = m.percent;
      } else if (m.fraction !== undefined) {
        const denominator = m.fraction.denominator ?? 100;
        if (m.fraction.numerator > denominator) {
          sink.error(
            [...mp, 'fraction', 'numerator'],
            `numerator must be at most the denominator (${denominator}), got ${m.fraction.numerator}`,
            ErrorCodes.INVALID_FIELD,
          );
          ok = false;
        }
        percent = (m.fraction.numerator / denominator) * 100;
      }
      return ok ? { type, backendRef: backendRef!, percent } : undefined;
    }
  }
}

/**
 * A filter list (of a rule or of a backendRef). Each type but RequestMirror
 * appears at most once; RequestRedirect and URLRewrite exclude each other;
 * ExtensionRef, CORS and unknown types are errors.
 */
function parseFilters(raw: RawFilter[] | undefined, at: FieldPath, ctx: FilterContext, sink: IssueSink): HTTPRouteFilter[] | undefined {
  let ok = true;
  const out: HTTPRouteFilter[] = [];
  const firstOfType = new Map<FilterType, number>();
  (raw ?? []).forEach((f, i) => {
    const fp = [...at, i];
    if (!(FILTER_TYPES as string[]).includes(f.type)) {
      const what = UNSUPPORTED_FILTERS.includes(f.type) ? `filter type ${f.type} is not supported by Trellis` : `unknown filter type "${f.type}"`;
      sink.error([...fp, 'type'], `${what}; supported types: ${FILTER_TYPES.join(', ')}`, ErrorCodes.INVALID_FIELD);
      ok = false;
      return;
    }
    const type = f.type as FilterType;
    const field = FILTER_FIELD[type];
    for (const other of CONFIG_FIELDS) {
      if (other !== field && (f as Record<string, unknown>)[other] !== undefined) {
        sink.error([...fp, other], `${other} must not be set when type is ${type}`, ErrorCodes.INVALID_FIELD);
        ok = false;
      }
    }
    const earlier = firstOfType.get(type);
    if (earlier !== undefined && type !== 'RequestMirror') {
      sink.error([...fp, 'type'], `a ${type} filter is already at ${formatPath([...at, earlier])}; only RequestMirror may appear more than once in a filter list`, ErrorCodes.INVALID_FIELD);
      ok = false;
    }
    const clash = type === 'RequestRedirect' ? 'URLRewrite' : type === 'URLRewrite' ? 'RequestRedirect' : undefined;
    if (clash !== undefined && firstOfType.has(clash)) {
      sink.error(
        [...fp, 'type'],
        `${type} cannot be combined with the ${clash} filter at ${formatPath([...at, firstOfType.get(clash)!])}: a filter list may redirect or rewrite, not both`,
        ErrorCodes.INVALID_FIELD,
      );
      ok = false;
    }
    if (earlier === undefined) firstOfType.set(type, i);
    if (f[field] === undefined) {
      sink.error([...fp, field], `${field} is required when type is ${type}`, ErrorCodes.MISSING_FIELD);
      ok = false;
      return;
    }
    const filter = oneFilter(type, f, fp, ctx, sink);
    if (filter) out.push(filter);
    else ok = false;
  });
  return ok ? out : undefined;
}

// ---- rules -----------------------------------------------------------------

function parseRule(raw: RawRule, at: FieldPath, meta: ObjectMeta, sink: IssueSink): HTTPRouteRule | undefined {
  let ok = true;
  const matches = normaliseHTTPRouteMatches(raw.matches, [...at, 'matches'], sink, () => [defaultRouteMatch()]);
  if (!matches) ok = false;
  const ctx: FilterContext = { meta, matches };

  const filters = parseFilters(raw.filters, [...at, 'filters'], ctx, sink);
  if (!filters) ok = false;

  const backendRefs: HTTPBackendRef[] = [];
  (raw.backendRefs ?? []).forEach((b, j) => {
    const bp = [...at, 'backendRefs', j];
    const ref = backendObjectRef(b, bp, meta, sink);
    const bf = parseFilters(b.filters, [...bp, 'filters'], ctx, sink);
    if (!ref || !bf) {
      ok = false;
      return;
    }
    backendRefs.push({ ...ref, weight: b.weight ?? 1, filters: bf });
  });

  const redirectAt = (raw.filters ?? []).findIndex((f) => f.type === 'RequestRedirect');
  if (redirectAt >= 0 && (raw.backendRefs ?? []).length > 0) {
    sink.error(
      [...at, 'backendRefs'],
      `a rule with a RequestRedirect filter (filters[${redirectAt}]) must not have backendRefs: the redirect answers the request itself`,
      ErrorCodes.INVALID_FIELD,
    );
    ok = false;
  }

  let timeouts: HTTPRouteRule['timeouts'];
  if (raw.timeouts !== undefined) {
    const tp = [...at, 'timeouts'];
    const t: NonNullable<HTTPRouteRule['timeouts']> = {};
    if (raw.timeouts.request !== undefined) {
      const ms = gatewayDurationMs(raw.timeouts.request, [...tp, 'request'], sink);
      if (ms === undefined) ok = false;
      else t.requestMs = ms;
    }
    if (raw.timeouts.backendRequest !== undefined) {
      const ms = gatewayDurationMs(raw.timeouts.backendRequest, [...tp, 'backendRequest'], sink);
      if (ms === undefined) ok = false;
      else t.backendRequestMs = ms;
    }
    if (t.requestMs && t.backendRequestMs && t.backendRequestMs > t.requestMs) {
      sink.error(
        [...tp, 'backendRequest'],
        `backendRequest (${raw.timeouts.backendRequest}) must not be longer than request (${raw.timeouts.request}): the request timeout covers every backend request`,
        ErrorCodes.INVALID_FIELD,
      );
      ok = false;
    }
    if (Object.keys(t).length > 0) timeouts = t;
  }

  if (raw.retry !== undefined) {
    sink.warn([...at, 'retry'], 'retry on an HTTPRoute rule is not applied by Trellis and is ignored; set retries in a TrafficPolicy (policy.trellis.dev) for the backend Service', WarningCodes.UNKNOWN_FIELD);
  }
  if (raw.sessionPersistence !== undefined) {
    sink.warn(
      [...at, 'sessionPersistence'],
      'sessionPersistence is not applied by Trellis and is ignored; a TrafficPolicy loadBalancer with hashOn.cookie gives sticky sessions',
      WarningCodes.UNKNOWN_FIELD,
    );
  }
  if (!ok) return undefined;

  if (backendRefs.length === 0 && redirectAt < 0) {
    sink.warn(at, 'this rule has no backendRefs: requests it matches are answered with HTTP 500 (add backendRefs or a RequestRedirect filter)', WarningCodes.SUSPICIOUS_VALUE);
  } else if (backendRefs.length > 0 && backendRefs.every((b) => b.weight === 0)) {
    sink.warn([...at, 'backendRefs'], 'every backendRef has weight 0: requests this rule matches cannot be forwarded', WarningCodes.SUSPICIOUS_VALUE);
  }

  const rule: HTTPRouteRule = { matches: matches!, filters: filters!, backendRefs };
  if (raw.name !== undefined) rule.name = raw.name;
  if (timeouts !== undefined) rule.timeouts = timeouts;
  return rule;
}

/** The rule a route without `rules` has (Gateway API default): every request, no filters, no backends. */
export function defaultHTTPRouteRule(): HTTPRouteRule {
  return { matches: [defaultRouteMatch()], filters: [], backendRefs: [] };
}

export const httpRouteParser: KindParser<HTTPRouteSpec> = {
  parseSpec({ body, at, meta, sink }) {
    const raw = validate(httpRouteSpecSchema, body, at, sink);
    if (!raw) return undefined;
    let ok = true;

    const parentRefs: ParentReference[] = [];
    if (raw.parentRefs === undefined || raw.parentRefs.length === 0) {
      sink.error(
        [...at, 'parentRefs'],
        'parentRefs must list at least one parent: a Service (group: "", kind: Service) for mesh routing or a Gateway for ingress; a route without a parent does nothing',
        ErrorCodes.MISSING_FIELD,
      );
      ok = false;
    } else {
      const indexed: [ParentReference, number][] = [];
      raw.parentRefs.forEach((p, i) => {
        const ref = parentReference(p, [...at, 'parentRefs', i], meta, sink);
        if (ref) indexed.push([ref, i]);
        else ok = false;
      });
      if (!checkDistinctParents(indexed, [...at, 'parentRefs'], sink)) ok = false;
      parentRefs.push(...indexed.map(([r]) => r));
    }

    const hostnames: string[] = [];
    (raw.hostnames ?? []).forEach((h, i) => {
      const host = checkHostname(h, true, [...at, 'hostnames', i], sink);
      if (host === undefined) ok = false;
      else if (!hostnames.includes(host)) hostnames.push(host);
    });

    let rules: HTTPRouteRule[] = [];
    if (raw.rules === undefined) {
      rules = [defaultHTTPRouteRule()];
      sink.warn([...at, 'rules'], 'no rules: the default rule matches every request and has no backendRefs, so requests are answered with HTTP 500', WarningCodes.SUSPICIOUS_VALUE);
    } else {
      const total = raw.rules.reduce((n, r) => n + (r.matches?.length ?? 0), 0);
      if (total > HTTPROUTE_LIMITS.matchesPerRoute) {
        sink.error([...at, 'rules'], `the rules have ${total} matches in all; a route may have at most ${HTTPROUTE_LIMITS.matchesPerRoute}`, ErrorCodes.INVALID_FIELD);
        ok = false;
      }
      const names = new Map<string, number>();
      raw.rules.forEach((r, i) => {
        const rp = [...at, 'rules', i];
        if (r.name !== undefined) {
          const prev = names.get(r.name);
          if (prev !== undefined) {
            sink.error([...rp, 'name'], `rule name "${r.name}" is already used by rules[${prev}]`, ErrorCodes.DUPLICATE_NAME);
            ok = false;
          } else names.set(r.name, i);
        }
        const rule = parseRule(r, rp, meta, sink);
        if (rule) rules.push(rule);
        else ok = false;
      });
    }
    return ok ? { parentRefs, hostnames, rules } : undefined;
  },
};
