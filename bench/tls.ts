// Mesh TLS material for the haproxy and node-http-proxy pairs: one CA and
// ECDSA P-256 leaf certificates issued by src/identity, with the SPIFFE ID as
// URI SAN (as Trellis issues them) plus the DNS SAN "localhost", which those
// proxies verify as the server name.

import fs from 'node:fs';
import path from 'node:path';
import { createCA, generateKeyPair, issueCertificate } from '../src/identity/index.js';

export const TRUST_DOMAIN = 'cluster.local';

export interface LeafFiles {
  spiffeId: string;
  certFile: string;
  keyFile: string;
  /** certificate chain followed by the key (haproxy's `crt`). */
  pemFile: string;
}

export interface BenchTls {
  caFile: string;
  client: LeafFiles;
  server: LeafFiles;
}

export async function createBenchTls(dir: string): Promise<BenchTls> {
  fs.mkdirSync(dir, { recursive: true });
  const ca = await createCA({ trustDomain: TRUST_DOMAIN });
  const caFile = path.join(dir, 'ca.pem');
  fs.writeFileSync(caFile, ca.rootsPem);
  const leaf = async (name: string, sa: string): Promise<LeafFiles> => {
    const spiffeId = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/${sa}`;
    const keys = generateKeyPair();
    const issued = await issueCertificate(ca, { spiffeId, publicKeyPem: keys.publicKeyPem, lifetimeMs: 24 * 3600 * 1000, dnsNames: ['localhost'] });
    const certFile = path.join(dir, `${name}.crt`);
    const keyFile = path.join(dir, `${name}.key`);
    const pemFile = path.join(dir, `${name}.pem`);
    fs.writeFileSync(certFile, issued.certPem);
    fs.writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
    fs.writeFileSync(pemFile, issued.certPem + keys.privateKeyPem, { mode: 0o600 });
    return { spiffeId, certFile, keyFile, pemFile };
  };
  return { caFile, client: await leaf('client', 'client'), server: await leaf('server', 'upstream') };
}
