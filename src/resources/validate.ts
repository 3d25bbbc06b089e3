// Field paths, the issue sink every parser reports into, and `validate()`:
// a zod schema check that turns zod issues into coded errors and unknown
// fields into warnings, each with the full field path.
import type { z } from 'zod';
import { ErrorCodes, WarningCodes, type ErrorCode, type WarningCode } from './errors.js';

export type FieldPath = readonly (string | number)[];

export interface IssueSink {
  error(path: FieldPath, message: string, code?: ErrorCode): void;
  warn(path: FieldPath, message: string, code?: WarningCode): void;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** ['spec','backends',1,'weight'] → `spec.backends[1].weight`; odd keys are quoted: `metadata.labels["app.kubernetes.io/name"]`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** The subject of a message: the last key with the indexes after it (`weight`, `command[0]`). */
export function subjectOf(path: FieldPath): string {
  let i = path.length - 1;
  while (i >= 0 && typeof path[i] === 'number') i--;
  if (i < 0) return 'value';
  return String(path[i]) + path.slice(i + 1).map((n) => `[${n}]`).join('');
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

const EXPECTED: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'an integer', boolean: 'a boolean (true or false)',
  object: 'a map', array: 'a list', record: 'a map',
};

/**
 * Checks `value` against `schema`. Returns the parsed value, or undefined after
 * reporting each zod issue as an error at `at` + issue path. Fields the schema
 * does not declare are reported as warnings (they are ignored, never errors).
 */
export function validate<T>(schema: z.ZodType<T>, value: unknown, at: FieldPath, sink: IssueSink): T | undefined {
  const result = schema.safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues) reportIssue(issue, [], value, at, sink);
    return undefined;
  }
  reportUnknownFields(schema, value, at, sink);
  return result.data;
}

type Issue = z.core.$ZodIssue;

function reportIssue(issue: Issue, prefix: readonly PropertyKey[], root: unknown, at: FieldPath, sink: IssueSink): void {
  const rel = [...prefix, ...issue.path];
  const path = [...at, ...(rel as (string | number)[])];
  const subject = subjectOf(path);
  const actual = valueAt(root, rel);
  if (issue.code === 'unrecognized_keys') {
    for (const k of issue.keys) sink.warn([...path, k], `unknown field "${k}" is ignored`, WarningCodes.UNKNOWN_FIELD);
    return;
  }
  if (actual === undefined) {
    sink.error(path, `${subject} is required`, ErrorCodes.MISSING_FIELD);
    return;
  }
  if (issue.code === 'invalid_type') {
    const expected = EXPECTED[issue.expected] ?? issue.expected;
    sink.error(path, `${subject} must be ${expected}, got ${describeValue(actual)}`, ErrorCodes.INVALID_FIELD);
    return;
  }
  if (issue.code === 'invalid_union') {
    // When exactly one alternative has the right shape, its own problems are the useful ones.
    const shaped = issue.errors.filter((list) => !list.some((i) => i.code === 'invalid_type' && i.path.length === 0));
    if (shaped.length === 1 && shaped[0]!.length > 0) {
      for (const inner of shaped[0]!) reportIssue(inner, rel, root, at, sink);
      return;
    }
  }
  // Custom messages in our schemas are written without a subject: "must be ...".
  const msg = issue.message.startsWith('must ') || issue.message.startsWith('is ') ? `${subject} ${issue.message}` : issue.message;
  sink.error(path, msg, ErrorCodes.INVALID_FIELD);
}

// ---- unknown-field walk over the schema definition -------------------------

interface Def {
  type: string;
  shape?: Record<string, Schema>;
  catchall?: Schema;
  element?: Schema;
  innerType?: Schema;
  in?: Schema;
  options?: Schema[];
  valueType?: Schema;
  getter?: () => Schema;
}
interface Schema { _zod: { def: Def } }

function defOf(s: unknown): Def {
  return (s as Schema)._zod.def;
}

/** Unwraps optional/default/nullable/pipe wrappers down to the structural schema. */
function structural(s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 20; i++) {
    const d = defOf(cur);
    if (d.innerType) cur = d.innerType;
    else if (d.type === 'pipe' && d.in) cur = d.in;
    else if (d.type === 'lazy' && d.getter) cur = d.getter();
    else break;
  }
  return cur;
}

export function reportUnknownFields(schema: unknown, value: unknown, at: FieldPath, sink: IssueSink): void {
  const s = structural(schema as Schema);
  const d = defOf(s);
  if (d.type === 'object' && d.shape && isPlainObject(value)) {
    const catchallType = d.catchall ? defOf(d.catchall).type : 'never';
    for (const [k, v] of Object.entries(value)) {
      const field = d.shape[k];
      if (field) reportUnknownFields(field, v, [...at, k], sink);
      else if (catchallType === 'never') sink.warn([...at, k], `unknown field "${k}" is ignored`, WarningCodes.UNKNOWN_FIELD);
    }
  } else if (d.type === 'array' && d.element && Array.isArray(value)) {
    value.forEach((item, i) => reportUnknownFields(d.element, item, [...at, i], sink));
  } else if (d.type === 'record' && d.valueType && isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) reportUnknownFields(d.valueType, v, [...at, k], sink);
  } else if (d.type === 'union' && d.options) {
    // The first option that accepts the value decides which fields are known.
    const option = d.options.find((o) => (o as unknown as z.ZodType).safeParse(value).success);
    if (option) reportUnknownFields(option, value, at, sink);
  }
}
