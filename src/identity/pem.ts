// PEM helpers shared by the CA and issuance code.
import { x509 } from './x509.js';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificate blocks of a PEM bundle, each normalised to end with one newline. */
export function splitCertificates(pem: string): string[] {
  return (pem.match(CERT_BLOCK) ?? []).map((block) => `${block.trim()}\n`);
}

export function toPem(cert: InstanceType<typeof x509.X509Certificate>): string {
  return `${cert.toString('pem').trim()}\n`;
}

/** The notAfter of the first certificate in a PEM (millisecond-exact where the certificate is). */
export function certificateNotAfter(pem: string): Date {
  const first = splitCertificates(pem)[0];
  if (!first) throw new TypeError('no certificate in PEM');
  return new x509.X509Certificate(first).notAfter;
}
