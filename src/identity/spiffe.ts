// SPIFFE IDs of mesh workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
import type { PeerCertificate } from 'node:tls';
import { IdentityError } from './errors.js';

export interface SpiffeIdParts {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const MAX_LENGTH = 2048;
// SPIFFE spec: trust domain = lowercase letters, digits, '.', '-', '_'.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
// SPIFFE spec: path segment = letters, digits, '.', '-', '_' (but not '.' or '..').
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function isValidTrustDomain(td: string): boolean {
  return td.length > 0 && td.length <= 255 && TRUST_DOMAIN.test(td);
}

function isValidSegment(s: string): boolean {
  return SEGMENT.test(s) && s !== '.' && s !== '..';
}

/** Any syntactically valid SPIFFE ID (any path); returns its trust domain. */
export function spiffeTrustDomainOf(uri: string): string | undefined {
  if (uri.length > MAX_LENGTH || !uri.startsWith('spiffe://')) return undefined;
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  if (!isValidTrustDomain(td)) return undefined;
  if (slash >= 0) {
    const segments = rest.slice(slash + 1).split('/');
    if (!segments.every(isValidSegment)) return undefined;
  }
  return td;
}

/** Builds the SPIFFE ID of a service account; throws TRELLIS_E_SPIFFE_ID_INVALID on bad parts. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const id = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  if (!parseSpiffeId(id)) {
    throw new IdentityError(
      'TRELLIS_E_SPIFFE_ID_INVALID',
      `cannot build a SPIFFE ID from trust domain "${trustDomain}", namespace "${namespace}", service account "${serviceAccount}": ` +
        'the trust domain takes lowercase letters, digits, ".", "-", "_" and names take letters, digits, ".", "-", "_"',
    );
  }
  return id;
}

/** Parses exactly `spiffe://<td>/ns/<ns>/sa/<sa>`; anything else is undefined. */
export function parseSpiffeId(uri: string): SpiffeIdParts | undefined {
  if (spiffeTrustDomainOf(uri) === undefined) return undefined;
  const parts = uri.slice('spiffe://'.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return undefined;
  return { trustDomain: parts[0]!, namespace: parts[2]!, serviceAccount: parts[4]! };
}

/**
 * Splits Node's `subjectaltname` string ("DNS:a, URI:spiffe://...") into
 * [type, value] pairs. Since the CVE-2021-44532 fix Node prints a value that
 * contains a comma, quote or other special characters as a JSON string
 * (`URI:"..."`); those are decoded, so an entry cannot smuggle in another.
 */
export function parseSubjectAltName(san: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) return undefined;
    const type = san.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (san[j] === '"') {
      // JSON string: find the closing quote, honouring backslash escapes.
      let k = j + 1;
      while (k < san.length && san[k] !== '"') k += san[k] === '\\' ? 2 : 1;
      if (k >= san.length) return undefined;
      try {
        value = JSON.parse(san.slice(j, k + 1)) as string;
      } catch {
        return undefined;
      }
      j = k + 1;
    } else {
      const comma = san.indexOf(', ', j);
      const end = comma < 0 ? san.length : comma;
      value = san.slice(j, end);
      j = end;
    }
    out.push([type, value]);
    if (j >= san.length) break;
    if (!san.startsWith(', ', j)) return undefined;
    i = j + 2;
  }
  return out;
}

/**
 * The SPIFFE ID of a TLS peer: its single URI SAN, which must be a valid
 * SPIFFE ID. Undefined when the certificate has no URI SAN, or more than one
 * (the X509-SVID spec allows exactly one), or the SAN string cannot be parsed.
 */
export function spiffeIdFromPeerCertificate(cert: PeerCertificate | undefined | null): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  const entries = parseSubjectAltName(san);
  if (!entries) return undefined;
  const uris = entries.filter(([type]) => type === 'URI').map(([, value]) => value);
  if (uris.length !== 1) return undefined;
  const uri = uris[0]!;
  return spiffeTrustDomainOf(uri) === undefined ? undefined : uri;
}
