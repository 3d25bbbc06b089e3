// The RingHash/Maglev key of a request (LoadBalancerConfig.hashOn): a header's
// value, a cookie's value (generated and set on the response when absent and a
// TTL is configured, so the next request sticks — Envoy's cookie hash policy),
// or the caller's identity.

import { randomBytes } from 'node:crypto';
import type { LoadBalancerConfig } from '../compiler/snapshot.js';

export interface HashKeyResult {
  key?: string;
  /** A Set-Cookie header value to add to the response when a new cookie was generated. */
  setCookie?: string;
}

/**
 * Value of cookie `name` in a Cookie header (`a=b; c=d`), first occurrence,
 * surrounding double quotes removed; undefined when absent. Names are
 * case-sensitive (RFC 6265).
 */
export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (cookieHeader === undefined) return undefined;
  const n = cookieHeader.length;
  let i = 0;
  while (i < n) {
    let end = cookieHeader.indexOf(';', i);
    if (end < 0) end = n;
    const eq = cookieHeader.indexOf('=', i);
    if (eq >= 0 && eq < end && cookieHeader.slice(i, eq).trim() === name) {
      let v = cookieHeader.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22) v = v.slice(1, -1);
      return v;
    }
    i = end + 1;
  }
  return undefined;
}

function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(headers, name)) return undefined;
  const v = headers[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The hash key for a request. `headers` have lower-case names.
 * - header: that header's value; no key when absent.
 * - cookie: the named cookie's value. When it is absent (or empty) and ttlMs is
 *   set, a random value is generated, used as the key and returned as
 *   `setCookie` (`name=value; Max-Age=<s>; Path=<path or />; HttpOnly`; with
 *   ttlMs 0 the Max-Age is left out: a session cookie). Without ttlMs, no key.
 * - sourceIdentity: the caller's identity; no key when unknown.
 * No key → the balancer picks like Random.
 */
export function hashKeyOf(
  hashOn: LoadBalancerConfig['hashOn'],
  headers: Readonly<Record<string, string>>,
  sourceIdentity: string | undefined,
): HashKeyResult {
  if (hashOn === undefined) return {};
  if ('header' in hashOn) {
    const v = header(headers, hashOn.header.toLowerCase());
    return v === undefined ? {} : { key: v };
  }
  if ('cookie' in hashOn) {
    const { name, ttlMs, path } = hashOn.cookie;
    const v = cookieValue(header(headers, 'cookie'), name);
    if (v !== undefined && v !== '') return { key: v };
    if (ttlMs === undefined) return {};
    const value = randomBytes(8).toString('hex');
    const maxAge = ttlMs > 0 ? `; Max-Age=${Math.max(1, Math.ceil(ttlMs / 1000))}` : '';
    return { key: value, setCookie: `${name}=${value}${maxAge}; Path=${path ?? '/'}; HttpOnly` };
  }
  if ('sourceIdentity' in hashOn) return sourceIdentity === undefined ? {} : { key: sourceIdentity };
  return {};
}
