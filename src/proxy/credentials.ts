// The proxy's workload identity: its private key (generated here, never sent
// anywhere), the certificate the control plane signed for it, and the mesh
// roots. Listeners and upstream pools subscribe and swap TLS contexts when the
// certificate rotates.

import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { generateKeyPair, type KeyPairPem } from '../identity/key-pair.js';

export interface TlsMaterial {
  keyPem: string;
  certPem: string;
  rootsPem: string;
  notAfter: Date;
  /** Server and client TLS 1.3 context built from the material. */
  context: tls.SecureContext;
}

export type PendingKey = KeyPairPem;
export const newKey = generateKeyPair;

export const TLS_OPTIONS = { minVersion: 'TLSv1.3' as const };

export class Credentials {
  private current: TlsMaterial | undefined;
  private readonly listeners = new Set<(m: TlsMaterial) => void>();

  get material(): TlsMaterial | undefined {
    return this.current;
  }

  install(key: PendingKey, certPem: string, rootsPem: string): TlsMaterial {
    const context = tls.createSecureContext({ key: key.privateKeyPem, cert: certPem, ca: rootsPem, ...TLS_OPTIONS });
    const notAfter = new Date(new X509Certificate(certPem).validTo);
    this.current = { keyPem: key.privateKeyPem, certPem, rootsPem, notAfter, context };
    for (const l of this.listeners) l(this.current);
    return this.current;
  }

  onChange(listener: (m: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
