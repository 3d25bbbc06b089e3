// Pieces shared by the policy.trellis.dev kinds (TrafficPolicy,
// FaultInjection): the targetRef (a Service in the policy's namespace, as in
// Gateway API policy attachment), Go-style durations and percentages.
import { z } from 'zod';
import type { ObjectMeta, PolicyTargetReference } from './types.js';
import { ErrorCodes, TrellisResourceError, WarningCodes } from './errors.js';
import { parseDuration, formatDuration } from './duration.js';
import { ignored, objectName } from './fields.js';
import { subjectOf, type FieldPath, type IssueSink } from './validate.js';

export const targetRefSchema = z.object({
  group: z.string().optional(),
  kind: z.string().optional(),
  name: objectName,
  // Not part of a local target reference; reported with a clear message below.
  namespace: ignored,
  sectionName: ignored,
});
export type RawTargetRef = z.infer<typeof targetRefSchema>;

/**
 * A policy's targetRef: group "" (default), kind Service (default), the name
 * of a Service in the policy's own namespace.
 */
export function policyTargetRef(raw: RawTargetRef, at: FieldPath, meta: ObjectMeta, policyKind: string, sink: IssueSink): PolicyTargetReference | undefined {
  let ok = true;
  if (raw.group !== undefined && raw.group !== '') {
    sink.error([...at, 'group'], `group must be "" (the core group of Service), got ${JSON.stringify(raw.group)}`, ErrorCodes.INVALID_FIELD);
    ok = false;
  }
  if (raw.kind !== undefined && raw.kind !== 'Service') {
    sink.error([...at, 'kind'], `kind must be Service (a ${policyKind} applies to calls to a Service), got ${JSON.stringify(raw.kind)}`, ErrorCodes.INVALID_FIELD);
    ok = false;
  }
  if (raw.namespace !== undefined) {
    if (raw.namespace === meta.namespace) {
      sink.warn([...at, 'namespace'], `targetRef has no namespace field: the target is always in the ${policyKind}'s own namespace; ignored`, WarningCodes.UNKNOWN_FIELD);
    } else {
      sink.error(
        [...at, 'namespace'],
        `a ${policyKind} can only target a Service in its own namespace "${meta.namespace}"; create it in namespace ${JSON.stringify(raw.namespace)} instead`,
        ErrorCodes.NAMESPACE_MISMATCH,
      );
      ok = false;
    }
  }
  if (raw.sectionName !== undefined) {
    sink.error([...at, 'sectionName'], `sectionName is not supported: a ${policyKind} applies to every port of the Service`, ErrorCodes.INVALID_FIELD);
    ok = false;
  }
  return ok ? { group: '', kind: 'Service', name: raw.name } : undefined;
}

/** A duration written as a string ('250ms', '5s', '1m', '1h30m'). */
export const durationString = z.string();

export interface DurationBounds {
  /** Allow 0 (e.g. "disabled"); otherwise the duration must be positive. */
  allowZero?: boolean;
  /** Inclusive upper bound in milliseconds. */
  maxMs?: number;
}

/** Parses a Go-style duration to milliseconds within bounds; reports at `path` and returns undefined otherwise. */
export function durationMs(value: string, path: FieldPath, sink: IssueSink, bounds: DurationBounds = {}): number | undefined {
  const subject = subjectOf(path);
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (e) {
    sink.error(path, `${subject}: ${e instanceof TrellisResourceError ? e.message : String(e)}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (ms === 0 && !bounds.allowZero) {
    sink.error(path, `${subject} must be longer than 0, got ${JSON.stringify(value)}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  if (bounds.maxMs !== undefined && ms > bounds.maxMs) {
    sink.error(path, `${subject} must be at most ${formatDuration(bounds.maxMs)}, got ${JSON.stringify(value)}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  return ms;
}

/** A percentage from 0 to 100; fractions allowed. */
export const percentage = z
  .number()
  .min(0, { error: 'must be a number from 0 to 100' })
  .max(100, { error: 'must be a number from 0 to 100' });

export const positiveInt = z
  .number()
  .int({ error: 'must be a positive integer' })
  .min(1, { error: 'must be a positive integer' });
