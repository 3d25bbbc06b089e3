// Issuing short-lived leaf certificates (X509-SVIDs) from the mesh CA.
import type { MeshCA } from './ca.js';
import { randomSerial } from './ca.js';
import { IdentityError } from './errors.js';
import { importLeafPublicKey, importSigningKey, type SigningKey } from './keys.js';
import { splitCertificates, toPem } from './pem.js';
import { parseSpiffeId, spiffeTrustDomainOf } from './spiffe.js';
import { x509 } from './x509.js';

export interface IssueRequest {
  spiffeId: string;
  /** SPKI PEM of the subject's ECDSA P-256 key. */
  publicKeyPem: string;
  lifetimeMs: number;
  dnsNames?: string[];
}

export interface IssuedCertificate {
  /** The leaf followed by the CA chain (intermediates), ready for tls `cert`. */
  certPem: string;
  notBefore: Date;
  notAfter: Date;
  /** Hex. */
  serial: string;
}

/** Backdating of notBefore, for peers whose clocks run a little behind. */
const CLOCK_SKEW_MS = 60_000;
/** Host names, optionally with one leading wildcard label. */
const DNS_NAME = /^(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

interface CaContext {
  signing: SigningKey;
  cert: InstanceType<typeof x509.X509Certificate>;
  authorityKeyId: InstanceType<typeof x509.AuthorityKeyIdentifierExtension>;
}

// Importing the key and parsing the CA certificate once per MeshCA object.
const contexts = new WeakMap<MeshCA, Promise<CaContext>>();

function caContext(ca: MeshCA): Promise<CaContext> {
  let ctx = contexts.get(ca);
  if (!ctx) {
    ctx = (async () => {
      const first = splitCertificates(ca.certPem)[0];
      if (!first) throw new IdentityError('TRELLIS_E_CA_INVALID', 'the CA has no certificate');
      const cert = new x509.X509Certificate(first);
      const signing = await importSigningKey(ca.keyPem);
      const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey);
      return { signing, cert, authorityKeyId };
    })();
    ctx.catch(() => contexts.delete(ca));
    contexts.set(ca, ctx);
  }
  return ctx;
}

/**
 * Issues a leaf certificate whose only URI SAN is the SPIFFE ID: digital
 * signature, serverAuth + clientAuth, not a CA, notBefore backdated one
 * minute, notAfter = now + lifetime (never past the CA's own notAfter).
 */
export async function issueCertificate(ca: MeshCA, req: IssueRequest): Promise<IssuedCertificate> {
  const td = spiffeTrustDomainOf(req.spiffeId);
  if (td === undefined) {
    throw new IdentityError('TRELLIS_E_SPIFFE_ID_INVALID', `"${req.spiffeId}" is not a valid SPIFFE ID (spiffe://<trust-domain>/<path>)`);
  }
  if (td !== ca.trustDomain) {
    throw new IdentityError('TRELLIS_E_TRUST_DOMAIN_MISMATCH', `${req.spiffeId} is outside the CA's trust domain "${ca.trustDomain}"`);
  }
  if (!Number.isFinite(req.lifetimeMs) || req.lifetimeMs <= 0) {
    throw new IdentityError('TRELLIS_E_CERT_LIFETIME_INVALID', `certificate lifetime must be a positive number of milliseconds, got ${req.lifetimeMs}`);
  }
  const [{ signing, cert: caCert, authorityKeyId }, publicKey] = await Promise.all([caContext(ca), importLeafPublicKey(req.publicKeyPem)]);

  const now = Date.now();
  const notBefore = new Date(now - CLOCK_SKEW_MS);
  const notAfter = new Date(Math.min(now + req.lifetimeMs, caCert.notAfter.getTime()));
  const serial = randomSerial();
  const parts = parseSpiffeId(req.spiffeId);
  const cn = parts ? `${parts.serviceAccount}.${parts.namespace}`.slice(0, 64) : 'workload';
  const san: { type: 'url' | 'dns'; value: string }[] = [{ type: 'url', value: req.spiffeId }];
  for (const dns of req.dnsNames ?? []) {
    if (!DNS_NAME.test(dns) || dns.length > 253) {
      throw new IdentityError('TRELLIS_E_DNS_NAME_INVALID', `"${dns}" is not a valid DNS name for a certificate`);
    }
    san.push({ type: 'dns', value: dns });
  }

  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: new x509.Name([{ O: ['Trellis'] }, { CN: [cn] }]),
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey,
    signingKey: signing.key,
    signingAlgorithm: signing.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(san),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      authorityKeyId,
    ],
  });
  return {
    certPem: toPem(leaf) + (ca.chainPem ?? ''),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serial,
  };
}
