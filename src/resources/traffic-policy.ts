// policy.trellis.dev/v1alpha1 TrafficPolicy: client-side resilience and load
// balancing for calls to one Service (timeouts, retries, circuit breaker,
// outlier detection, load balancer, health check) and its server-side rate
// limit. Durations are strings ('250ms', '5s', '1m') normalised to *Ms numbers.
import { z } from 'zod';
import type {
  CircuitBreakerSpec,
  HashSource,
  HealthCheckSpec,
  LoadBalancerSpec,
  OutlierDetectionSpec,
  RateLimitSpec,
  RetryOn,
  RetryPolicySpec,
  TrafficPolicySpec,
} from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, WarningCodes, type ErrorCode } from './errors.js';
import { formatDuration } from './duration.js';
import { nonNegativeInt } from './fields.js';
import { HTTP_TOKEN, headerName } from './gateway-fields.js';
import { httpRouteMatchSchema, normaliseHTTPRouteMatches } from './http-match.js';
import { durationMs, durationString, percentage, policyTargetRef, positiveInt, targetRefSchema } from './policy-common.js';
import { validate, type FieldPath, type IssueSink } from './validate.js';

export const RETRY_ON: readonly RetryOn[] = ['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-status-codes'];
const DEFAULT_RETRY_ON: RetryOn[] = ['5xx', 'reset', 'connect-failure'];
const LB_TYPES = ['RoundRobin', 'LeastRequest', 'Random', 'RingHash', 'Maglev'] as const;
const SECTIONS = ['timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'rateLimit', 'loadBalancer', 'healthCheck'] as const;

const statusCode = z
  .number()
  .int({ error: 'must be an HTTP status code from 100 to 599' })
  .min(100, { error: 'must be an HTTP status code from 100 to 599' })
  .max(599, { error: 'must be an HTTP status code from 100 to 599' });

const trafficPolicySpecSchema = z.object({
  targetRef: targetRefSchema,
  timeouts: z
    .object({ request: durationString.optional(), idle: durationString.optional(), connect: durationString.optional() })
    .optional(),
  retries: z
    .object({
      attempts: z
        .number()
        .int({ error: 'must be an integer from 1 to 10 (retries after the first try)' })
        .min(1, { error: 'must be an integer from 1 to 10 (retries after the first try)' })
        .max(10, { error: 'must be an integer from 1 to 10 (retries after the first try)' }),
      perTryTimeout: durationString.optional(),
      retryOn: z
        .array(z.enum(RETRY_ON as [RetryOn, ...RetryOn[]], { error: `must be one of ${RETRY_ON.join(', ')}` }))
        .min(1, { error: 'must list at least one condition (omit retryOn for the default)' })
        .optional(),
      retriableStatusCodes: z.array(statusCode).optional(),
      backoff: z.object({ baseInterval: durationString.optional(), maxInterval: durationString.optional() }).optional(),
      retryNonIdempotent: z.boolean().optional(),
      budget: z.object({ percent: percentage.optional(), minRetriesPerSecond: nonNegativeInt.optional() }).optional(),
    })
    .optional(),
  circuitBreaker: z
    .object({
      maxConnections: positiveInt.optional(),
      maxPendingRequests: positiveInt.optional(),
      maxRequests: positiveInt.optional(),
      maxRetries: positiveInt.optional(),
    })
    .optional(),
  outlierDetection: z
    .object({
      consecutive5xx: positiveInt.optional(),
      consecutiveGatewayErrors: positiveInt.optional(),
      interval: durationString.optional(),
      baseEjectionTime: durationString.optional(),
      maxEjectionPercent: percentage.optional(),
    })
    .optional(),
  rateLimit: z
    .object({
      requestsPerUnit: positiveInt,
      unit: z.enum(['second', 'minute', 'hour'], { error: 'must be second, minute or hour' }),
      burst: positiveInt.optional(),
      perSource: z.boolean().optional(),
      matches: z.array(httpRouteMatchSchema).optional(),
    })
    .optional(),
  loadBalancer: z
    .object({
      type: z.enum(LB_TYPES, { error: `must be one of ${LB_TYPES.join(', ')}` }).optional(),
      hashOn: z
        .object({
          header: headerName.optional(),
          cookie: z
            .object({
              name: z
                .string()
                .min(1, { error: 'must not be empty' })
                .regex(HTTP_TOKEN, { error: "must be a cookie name: letters, digits and !#$%&'*+-.^_`|~ only" }),
              ttl: durationString.optional(),
              path: z.string().optional(),
            })
            .optional(),
          sourceIdentity: z.boolean().optional(),
        })
        .optional(),
      ringSize: z
        .number()
        .int({ error: 'must be an integer from 1 to 10000' })
        .min(1, { error: 'must be an integer from 1 to 10000' })
        .max(10_000, { error: 'must be an integer from 1 to 10000' })
        .optional(),
      locality: z.object({ enabled: z.boolean().optional(), minHealthyPercent: percentage.optional() }).optional(),
    })
    .optional(),
  healthCheck: z
    .object({
      type: z.enum(['http', 'tcp'], { error: 'must be http or tcp' }).optional(),
      path: z.string().optional(),
      interval: durationString.optional(),
      timeout: durationString.optional(),
      healthyThreshold: positiveInt.optional(),
      unhealthyThreshold: positiveInt.optional(),
      expectedStatuses: z.array(statusCode).min(1, { error: 'must list at least one status (omit it for 200-399)' }).optional(),
    })
    .optional(),
});
type RawSpec = z.infer<typeof trafficPolicySpecSchema>;

/** Collects per-field results; `ok` turns false on the first failure. */
class Fields {
  ok = true;
  constructor(private readonly sink: IssueSink) {}
  duration(value: string | undefined, path: FieldPath, fallbackMs: number, bounds?: { allowZero?: boolean }): number;
  duration(value: string | undefined, path: FieldPath, fallbackMs?: undefined, bounds?: { allowZero?: boolean }): number | undefined;
  duration(value: string | undefined, path: FieldPath, fallbackMs?: number, bounds: { allowZero?: boolean } = {}): number | undefined {
    if (value === undefined) return fallbackMs;
    const ms = durationMs(value, path, this.sink, bounds);
    if (ms === undefined) {
      this.ok = false;
      return fallbackMs;
    }
    return ms;
  }
  error(path: FieldPath, message: string, code: ErrorCode = ErrorCodes.INVALID_FIELD): void {
    this.sink.error(path, message, code);
    this.ok = false;
  }
}

function timeoutsOf(raw: NonNullable<RawSpec['timeouts']>, at: FieldPath, f: Fields): TrafficPolicySpec['timeouts'] {
  if (raw.request === undefined && raw.idle === undefined && raw.connect === undefined) {
    f.error(at, 'timeouts must set at least one of request, idle, connect', ErrorCodes.MISSING_FIELD);
    return undefined;
  }
  const out: NonNullable<TrafficPolicySpec['timeouts']> = {};
  const request = f.duration(raw.request, [...at, 'request'], undefined, { allowZero: true });
  const idle = f.duration(raw.idle, [...at, 'idle'], undefined, { allowZero: true });
  const connect = f.duration(raw.connect, [...at, 'connect']);
  if (request !== undefined) out.requestMs = request;
  if (idle !== undefined) out.idleMs = idle;
  if (connect !== undefined) out.connectMs = connect;
  return out;
}

function retriesOf(raw: NonNullable<RawSpec['retries']>, at: FieldPath, requestMs: number | undefined, f: Fields, sink: IssueSink): RetryPolicySpec {
  const retryOn = raw.retryOn ? [...new Set(raw.retryOn)] : [...DEFAULT_RETRY_ON];
  const codes = [...new Set(raw.retriableStatusCodes ?? [])];
  const wantsCodes = retryOn.includes('retriable-status-codes');
  if (wantsCodes && codes.length === 0) {
    f.error([...at, 'retriableStatusCodes'], 'retriableStatusCodes must list at least one status code when retryOn includes retriable-status-codes', ErrorCodes.MISSING_FIELD);
  } else if (!wantsCodes && codes.length > 0) {
    f.error([...at, 'retriableStatusCodes'], 'retriableStatusCodes is only used when retryOn includes retriable-status-codes; add it to retryOn', ErrorCodes.INVALID_FIELD);
  }
  const baseIntervalMs = f.duration(raw.backoff?.baseInterval, [...at, 'backoff', 'baseInterval'], 25);
  const maxIntervalMs = f.duration(raw.backoff?.maxInterval, [...at, 'backoff', 'maxInterval'], baseIntervalMs * 10);
  if (maxIntervalMs < baseIntervalMs) {
    f.error(
      [...at, 'backoff', 'maxInterval'],
      `maxInterval (${formatDuration(maxIntervalMs)}) must not be shorter than baseInterval (${formatDuration(baseIntervalMs)})`,
    );
  }
  const perTry = f.duration(raw.perTryTimeout, [...at, 'perTryTimeout']);
  if (perTry !== undefined && requestMs && perTry >= requestMs) {
    sink.warn(
      [...at, 'perTryTimeout'],
      `perTryTimeout (${raw.perTryTimeout}) is not shorter than timeouts.request (${formatDuration(requestMs)}): a timed-out try leaves no time to retry`,
      WarningCodes.SUSPICIOUS_VALUE,
    );
  }
  return {
    attempts: raw.attempts,
    ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}),
    retryOn,
    retriableStatusCodes: codes,
    backoff: { baseIntervalMs, maxIntervalMs },
    retryNonIdempotent: raw.retryNonIdempotent ?? false,
    budget: { percent: raw.budget?.percent ?? 20, minRetriesPerSecond: raw.budget?.minRetriesPerSecond ?? 10 },
  };
}

function circuitBreakerOf(raw: NonNullable<RawSpec['circuitBreaker']>, at: FieldPath, f: Fields): CircuitBreakerSpec {
  const out: CircuitBreakerSpec = {};
  for (const k of ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const) {
    if (raw[k] !== undefined) out[k] = raw[k];
  }
  if (Object.keys(out).length === 0) {
    f.error(at, 'circuitBreaker must set at least one of maxConnections, maxPendingRequests, maxRequests, maxRetries', ErrorCodes.MISSING_FIELD);
  }
  return out;
}

function outlierDetectionOf(raw: NonNullable<RawSpec['outlierDetection']>, at: FieldPath, f: Fields): OutlierDetectionSpec {
  if (raw.consecutive5xx === undefined && raw.consecutiveGatewayErrors === undefined) {
    f.error(at, 'outlierDetection must set consecutive5xx, consecutiveGatewayErrors or both: the errors that eject an endpoint', ErrorCodes.MISSING_FIELD);
  }
  const out: OutlierDetectionSpec = {
    intervalMs: f.duration(raw.interval, [...at, 'interval'], 10_000),
    baseEjectionTimeMs: f.duration(raw.baseEjectionTime, [...at, 'baseEjectionTime'], 30_000),
    maxEjectionPercent: raw.maxEjectionPercent ?? 10,
  };
  if (raw.consecutive5xx !== undefined) out.consecutive5xx = raw.consecutive5xx;
  if (raw.consecutiveGatewayErrors !== undefined) out.consecutiveGatewayErrors = raw.consecutiveGatewayErrors;
  return out;
}

function rateLimitOf(raw: NonNullable<RawSpec['rateLimit']>, at: FieldPath, f: Fields, sink: IssueSink): RateLimitSpec {
  const matches = normaliseHTTPRouteMatches(raw.matches, [...at, 'matches'], sink, () => []);
  if (!matches) f.ok = false;
  return {
    requestsPerUnit: raw.requestsPerUnit,
    unit: raw.unit,
    burst: raw.burst ?? raw.requestsPerUnit,
    perSource: raw.perSource ?? false,
    matches: matches ?? [],
  };
}

function hashSourceOf(raw: NonNullable<NonNullable<RawSpec['loadBalancer']>['hashOn']>, at: FieldPath, f: Fields): HashSource | undefined {
  const keys = (['header', 'cookie', 'sourceIdentity'] as const).filter((k) => raw[k] !== undefined);
  if (keys.length !== 1) {
    f.error(at, `hashOn must set exactly one of header, cookie, sourceIdentity${keys.length > 1 ? `, got ${keys.join(' and ')}` : ''}`, keys.length === 0 ? ErrorCodes.MISSING_FIELD : ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (raw.header !== undefined) return { header: raw.header.toLowerCase() };
  if (raw.cookie !== undefined) {
    const cookie: { name: string; ttlMs?: number; path?: string } = { name: raw.cookie.name };
    const ttl = f.duration(raw.cookie.ttl, [...at, 'cookie', 'ttl']);
    if (ttl !== undefined) cookie.ttlMs = ttl;
    if (raw.cookie.path !== undefined) {
      if (!raw.cookie.path.startsWith('/')) f.error([...at, 'cookie', 'path'], `path must start with "/", got ${JSON.stringify(raw.cookie.path)}`);
      cookie.path = raw.cookie.path;
    }
    return { cookie };
  }
  if (raw.sourceIdentity !== true) {
    f.error([...at, 'sourceIdentity'], 'sourceIdentity must be true (hash on the caller\'s identity); to hash on something else set header or cookie instead');
    return undefined;
  }
  return { sourceIdentity: true };
}

function loadBalancerOf(raw: NonNullable<RawSpec['loadBalancer']>, at: FieldPath, f: Fields): LoadBalancerSpec {
  const type = raw.type ?? 'RoundRobin';
  const out: LoadBalancerSpec = { type };
  const hashing = type === 'RingHash' || type === 'Maglev';
  if (hashing) {
    if (raw.hashOn === undefined) f.error([...at, 'hashOn'], `hashOn is required for type ${type}: set header, cookie or sourceIdentity`, ErrorCodes.MISSING_FIELD);
    else {
      const hashOn = hashSourceOf(raw.hashOn, [...at, 'hashOn'], f);
      if (hashOn) out.hashOn = hashOn;
    }
  } else if (raw.hashOn !== undefined) {
    f.error([...at, 'hashOn'], `hashOn is only used by RingHash and Maglev, but type is ${type}`);
  }
  if (type === 'RingHash') out.ringSize = raw.ringSize ?? 100;
  else if (raw.ringSize !== undefined) f.error([...at, 'ringSize'], `ringSize is only used by RingHash, but type is ${type}`);
  if (raw.locality !== undefined) {
    out.locality = { enabled: raw.locality.enabled ?? true, minHealthyPercent: raw.locality.minHealthyPercent ?? 70 };
  }
  return out;
}

function healthCheckOf(raw: NonNullable<RawSpec['healthCheck']>, at: FieldPath, f: Fields): HealthCheckSpec {
  const type = raw.type ?? 'http';
  if (type === 'tcp') {
    if (raw.path !== undefined) f.error([...at, 'path'], 'path is only used by http health checks, but type is tcp');
    if (raw.expectedStatuses !== undefined) f.error([...at, 'expectedStatuses'], 'expectedStatuses is only used by http health checks, but type is tcp');
  } else if (raw.path !== undefined && !raw.path.startsWith('/')) {
    f.error([...at, 'path'], `path must start with "/", got ${JSON.stringify(raw.path)}`);
  }
  const intervalMs = f.duration(raw.interval, [...at, 'interval'], 5000);
  const timeoutMs = f.duration(raw.timeout, [...at, 'timeout'], 1000);
  if (timeoutMs >= intervalMs) {
    f.error([...at, 'timeout'], `timeout (${formatDuration(timeoutMs)}) must be shorter than interval (${formatDuration(intervalMs)})`);
  }
  const out: HealthCheckSpec = {
    type,
    path: raw.path ?? '/healthz',
    intervalMs,
    timeoutMs,
    healthyThreshold: raw.healthyThreshold ?? 2,
    unhealthyThreshold: raw.unhealthyThreshold ?? 3,
  };
  if (raw.expectedStatuses !== undefined) out.expectedStatuses = [...new Set(raw.expectedStatuses)];
  return out;
}

export const trafficPolicyParser: KindParser<TrafficPolicySpec> = {
  parseSpec({ body, at, meta, sink }) {
    const raw = validate(trafficPolicySpecSchema, body, at, sink);
    if (!raw) return undefined;
    const f = new Fields(sink);
    const targetRef = policyTargetRef(raw.targetRef, [...at, 'targetRef'], meta, 'TrafficPolicy', sink);
    if (!targetRef) f.ok = false;
    if (SECTIONS.every((s) => raw[s] === undefined)) {
      f.error(at, `a TrafficPolicy must set at least one of ${SECTIONS.join(', ')}`, ErrorCodes.MISSING_FIELD);
    }
    const spec: TrafficPolicySpec = { targetRef: targetRef! };
    if (raw.timeouts) {
      const t = timeoutsOf(raw.timeouts, [...at, 'timeouts'], f);
      if (t) spec.timeouts = t;
    }
    if (raw.retries) spec.retries = retriesOf(raw.retries, [...at, 'retries'], spec.timeouts?.requestMs, f, sink);
    if (raw.circuitBreaker) spec.circuitBreaker = circuitBreakerOf(raw.circuitBreaker, [...at, 'circuitBreaker'], f);
    if (raw.outlierDetection) spec.outlierDetection = outlierDetectionOf(raw.outlierDetection, [...at, 'outlierDetection'], f);
    if (raw.rateLimit) spec.rateLimit = rateLimitOf(raw.rateLimit, [...at, 'rateLimit'], f, sink);
    if (raw.loadBalancer) spec.loadBalancer = loadBalancerOf(raw.loadBalancer, [...at, 'loadBalancer'], f);
    if (raw.healthCheck) spec.healthCheck = healthCheckOf(raw.healthCheck, [...at, 'healthCheck'], f);
    return f.ok ? spec : undefined;
  },
};
