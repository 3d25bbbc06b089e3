// The one place that loads @peculiar/x509: installs the Reflect metadata shim
// first (ESM evaluates imports in order) and points the library at Node's WebCrypto.
import './reflect-shim.js';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** ECDSA P-256 with SHA-256: the only algorithm the mesh issues with. */
export const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
