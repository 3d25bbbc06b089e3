// core/v1 Secret: `type`, `data` (base64) and `stringData` (plain text)
// beside metadata, as Kubernetes writes them. Values are decoded into the
// canonical `data`; `stringData` is merged over `data`, as the API server
// does. Trellis reads `kubernetes.io/tls` secrets (gateway certificates), so
// those must carry PEM `tls.crt` and `tls.key`. No message ever shows a value.
import type { SecretSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, WarningCodes } from './errors.js';
import { describeValue, isPlainObject, type FieldPath, type IssueSink } from './validate.js';

export const SECRET_TYPE_TLS = 'kubernetes.io/tls';

/** Kubernetes: keys of a Secret's data are alphanumerics, `-`, `_` and `.`. */
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A value's kind for messages, never the value itself. */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}

/** Checks a data/stringData map's shape; returns its string entries. */
function stringEntries(value: unknown, at: FieldPath, sink: IssueSink): [string, string][] | undefined {
  if (value === undefined || value === null) return [];
  if (!isPlainObject(value)) {
    sink.error(at, `${at[at.length - 1]} must be a map of key: value, got ${kindOf(value)}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  const out: [string, string][] = [];
  let ok = true;
  for (const [k, v] of Object.entries(value)) {
    if (!DATA_KEY.test(k) || k.length > 253) {
      sink.error([...at, k], `key ${JSON.stringify(k)} may contain only letters, digits, "-", "_" and "."`, ErrorCodes.INVALID_FIELD);
      ok = false;
    } else if (typeof v !== 'string') {
      sink.error([...at, k], `the value of ${JSON.stringify(k)} must be a string, got ${kindOf(v)}`, ErrorCodes.INVALID_FIELD);
      ok = false;
    } else {
      out.push([k, v]);
    }
  }
  return ok ? out : undefined;
}

function decodeBase64(value: string): string | undefined {
  const compact = value.replace(/\s+/g, '');
  if (!BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

export const secretParser: KindParser<SecretSpec> = {
  legacyTopLevel: ['type', 'data', 'stringData'],
  legacyVersions: ['v1'],
  ignoredTopLevel: ['immutable'],
  parseSpec({ body, at, sink }) {
    if (!isPlainObject(body)) {
      sink.error(at, `a Secret must be a map with type, data and stringData, got ${kindOf(body)}`, ErrorCodes.INVALID_FIELD);
      return undefined;
    }
    let ok = true;
    for (const k of Object.keys(body)) {
      if (k !== 'type' && k !== 'data' && k !== 'stringData') sink.warn([...at, k], `unknown field "${k}" is ignored`, WarningCodes.UNKNOWN_FIELD);
    }
    let type = 'Opaque';
    if (body.type !== undefined && body.type !== null) {
      if (typeof body.type !== 'string' || body.type === '') {
        sink.error([...at, 'type'], `type must be a non-empty string such as Opaque or ${SECRET_TYPE_TLS}, got ${describeValue(body.type)}`, ErrorCodes.INVALID_FIELD);
        ok = false;
      } else {
        type = body.type;
      }
    }

    const data: Record<string, string> = {};
    const encoded = stringEntries(body.data, [...at, 'data'], sink);
    if (!encoded) ok = false;
    for (const [k, v] of encoded ?? []) {
      const decoded = decodeBase64(v);
      if (decoded === undefined) {
        sink.error([...at, 'data', k], `the value of ${JSON.stringify(k)} is not valid base64 (use stringData for plain text)`, ErrorCodes.INVALID_FIELD);
        ok = false;
      } else {
        data[k] = decoded;
      }
    }
    const plain = stringEntries(body.stringData, [...at, 'stringData'], sink);
    if (!plain) ok = false;
    for (const [k, v] of plain ?? []) data[k] = v;
    if (!ok) return undefined;

    if (type === SECRET_TYPE_TLS) {
      for (const key of ['tls.crt', 'tls.key']) {
        const v = data[key];
        const where: FieldPath = body.stringData !== undefined && isPlainObject(body.stringData) && key in body.stringData ? [...at, 'stringData', key] : [...at, 'data', key];
        const what = key === 'tls.crt' ? 'the PEM certificate (chain)' : 'the PEM private key';
        if (v === undefined) {
          sink.error([...at, 'data'], `a ${SECRET_TYPE_TLS} Secret needs "${key}": ${what}`, ErrorCodes.MISSING_FIELD);
          ok = false;
        } else if (!v.includes('-----BEGIN')) {
          sink.error(where, `"${key}" is not PEM (no "-----BEGIN" line): it must hold ${what}`, ErrorCodes.INVALID_FIELD);
          ok = false;
        }
      }
    }
    return ok ? { type, data } : undefined;
  },
};
