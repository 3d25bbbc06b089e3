// split.smi-spec.io TrafficSplit v1alpha1..v1alpha4: root service (FQDN
// forms reduced to the bare name), weighted backends (v1alpha1 quantities →
// milli-units), v1alpha3+ `matches` for A/B routing.
import { z } from 'zod';
import type { TrafficSplitBackend, TrafficSplitSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, TrellisResourceError, WarningCodes } from './errors.js';
import { ignored } from './fields.js';
import { quantityToMilli } from './quantity.js';
import { describeValue, validate, type FieldPath, type IssueSink } from './validate.js';

const serviceRef = z.string().min(1, { error: 'must not be empty' });

const trafficSplitBodySchema = z.object({
  service: serviceRef,
  backends: z
    .array(
      z.object({
        service: serviceRef,
        weight: z.union([z.number(), z.string()], { error: 'must be a non-negative integer' }),
      }),
    )
    .min(1, { error: 'must list at least one backend' }),
  matches: z
    .array(
      z.object({
        kind: z.enum(['HTTPRouteGroup', 'TCPRoute'], { error: 'must be HTTPRouteGroup or TCPRoute' }),
        name: z.string().min(1, { error: 'must not be empty' }),
        apiGroup: ignored,
      }),
    )
    .optional(),
});

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `bookstore`, `bookstore.bookstore`, `bookstore.bookstore.svc`,
 * `bookstore.bookstore.svc.cluster.local` → `bookstore`, provided the
 * namespace part is the TrafficSplit's own namespace.
 */
export function reduceServiceName(value: string, namespace: string, path: FieldPath, sink: IssueSink): string | undefined {
  const parts = value.split('.');
  const name = parts[0]!;
  if (!LABEL.test(name) || parts.some((p) => p === '')) {
    sink.error(path, `"${value}" is not a service name or <service>.<namespace>[.svc[.<cluster domain>]]`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (parts.length === 1) return name;
  const ns = parts[1]!;
  if (parts.length > 2 && parts[2] !== 'svc') {
    sink.error(path, `"${value}" is not a service FQDN: expected <service>.<namespace>.svc[.<cluster domain>]`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (ns !== namespace) {
    sink.error(
      path,
      `"${value}" is in namespace "${ns}" but a TrafficSplit can only split services of its own namespace "${namespace}"`,
      ErrorCodes.NAMESPACE_MISMATCH,
    );
    return undefined;
  }
  return name;
}

function weightOf(version: string, w: number | string, path: FieldPath, sink: IssueSink): number | undefined {
  if (version === 'v1alpha1') {
    if (typeof w === 'number' && w < 0) {
      sink.error(path, `weight must be a non-negative quantity such as 1, 500m or 1500m, got ${w}`, ErrorCodes.INVALID_FIELD);
      return undefined;
    }
    try {
      return quantityToMilli(w);
    } catch (e) {
      sink.error(path, `weight ${e instanceof TrellisResourceError ? e.message : String(e)}`, ErrorCodes.INVALID_FIELD);
      return undefined;
    }
  }
  if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0) {
    const hint = typeof w === 'string' && /m$/.test(w) ? ' (quantities such as 500m are v1alpha1 only)' : '';
    sink.error(path, `weight must be a non-negative integer, got ${describeValue(w)}${hint}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  return w;
}

export const trafficSplitParser: KindParser<TrafficSplitSpec> = {
  parseSpec({ body, at, version, meta, sink }) {
    const raw = validate(trafficSplitBodySchema, body, at, sink);
    if (!raw) return undefined;
    let ok = true;
    const service = reduceServiceName(raw.service, meta.namespace, [...at, 'service'], sink);
    if (service === undefined) ok = false;
    const backends: TrafficSplitBackend[] = [];
    raw.backends.forEach((b, i) => {
      const bp = [...at, 'backends', i];
      const name = reduceServiceName(b.service, meta.namespace, [...bp, 'service'], sink);
      const weight = weightOf(version, b.weight, [...bp, 'weight'], sink);
      if (name === undefined || weight === undefined) ok = false;
      else backends.push({ service: name, weight });
    });
    if (!ok) return undefined;
    if (backends.every((b) => b.weight === 0)) {
      sink.warn([...at, 'backends'], 'every backend has weight 0: no traffic can be sent', WarningCodes.SUSPICIOUS_VALUE);
    }
    if (raw.matches && (version === 'v1alpha1' || version === 'v1alpha2')) {
      sink.warn([...at, 'matches'], `matches is a v1alpha3+ field; accepted in ${version}`, WarningCodes.LEGACY_FORM);
    }
    return { service: service!, backends, matches: (raw.matches ?? []).map((m) => ({ kind: m.kind, name: m.name })) };
  },
};
