// Key pair generation with node:crypto only, so the proxy can make its own
// key without loading the X.509 library the CA needs.
import { generateKeyPairSync } from 'node:crypto';

export interface KeyPairPem {
  /** SPKI, PEM. */
  publicKeyPem: string;
  /** PKCS#8, PEM. */
  privateKeyPem: string;
}

/** A fresh ECDSA P-256 key pair. */
export function generateKeyPair(): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}
