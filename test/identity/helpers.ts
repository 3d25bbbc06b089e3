// Test helpers for identity: temp dirs, an mTLS handshake harness, an intermediate CA.
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, type MeshCA } from '../../src/identity/index.js';
import { randomSerial } from '../../src/identity/ca.js';
import { P256, x509 } from '../../src/identity/x509.js';
import { importSigningKey } from '../../src/identity/keys.js';
import { toPem } from '../../src/identity/pem.js';
import { spiffeIdFromPeerCertificate } from '../../src/identity/spiffe.js';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-identity-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Credentials {
  certPem: string;
  keyPem: string;
  /** PEM bundle of trusted roots. */
  ca: string;
}

export interface HandshakeResult {
  /** SPIFFE ID the server read from the client certificate, when the connection was accepted. */
  serverSawClient?: string;
  /** SPIFFE ID the client read from the server certificate. */
  clientSawServer?: string;
  /** Error the server raised for the client (e.g. certificate rejected). */
  serverError?: Error;
  clientError?: Error;
  /** What the client received from the server ('ok' when accepted). */
  received: string;
  /** With `rejectUnauthorized: false` on the server: why the client certificate failed verification. */
  serverAuthorizationError?: string;
}

/** Runs one mutual-TLS exchange on 127.0.0.1 (port 0); both sides verify against their `ca`. */
export async function mtlsHandshake(
  server: Credentials,
  client: Credentials,
  opts: { serverRejectUnauthorized?: boolean } = {},
): Promise<HandshakeResult> {
  const result: HandshakeResult = { received: '' };
  const srv = tls.createServer(
    { cert: server.certPem, key: server.keyPem, ca: server.ca, requestCert: true, rejectUnauthorized: opts.serverRejectUnauthorized ?? true },
    (socket) => {
      if (!socket.authorized) {
        result.serverAuthorizationError = String(socket.authorizationError);
        socket.destroy();
        return;
      }
      result.serverSawClient = spiffeIdFromPeerCertificate(socket.getPeerCertificate());
      socket.end('ok');
    },
  );
  srv.on('tlsClientError', (err) => {
    result.serverError = err;
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  try {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      cert: client.certPem,
      key: client.keyPem,
      ca: client.ca,
      rejectUnauthorized: true,
      // Mesh peers are identified by SPIFFE ID, not host name.
      checkServerIdentity: () => undefined,
    });
    socket.on('secureConnect', () => {
      result.clientSawServer = spiffeIdFromPeerCertificate(socket.getPeerCertificate());
    });
    socket.on('data', (chunk: Buffer) => {
      result.received += chunk.toString();
    });
    socket.on('error', (err) => {
      result.clientError = err;
    });
    await once(socket, 'close');
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    srv.close();
  }
  return result;
}

/** Credentials for `spiffeId` issued by `ca`. */
export async function credentialsFor(
  ca: MeshCA,
  issue: (ca: MeshCA, req: { spiffeId: string; publicKeyPem: string; lifetimeMs: number }) => Promise<{ certPem: string }>,
  spiffeId: string,
  lifetimeMs = 60_000,
): Promise<Credentials> {
  const keys = generateKeyPair();
  const { certPem } = await issue(ca, { spiffeId, publicKeyPem: keys.publicKeyPem, lifetimeMs });
  return { certPem, keyPem: keys.privateKeyPem, ca: ca.rootsPem };
}

/** An intermediate CA signed by `root` (as an operator's own PKI would produce). */
export async function createIntermediate(root: MeshCA): Promise<{ certPem: string; keyPem: string }> {
  const keys = generateKeyPair();
  const rootSigning = await importSigningKey(root.keyPem);
  const rootCert = new x509.X509Certificate(root.certPem);
  const publicKey = await globalThis.crypto.subtle.importKey(
    'spki',
    new x509.PublicKey(keys.publicKeyPem).rawData,
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['verify'],
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: 'O=Example Corp, CN=Example Mesh Intermediate',
    issuer: rootCert.subjectName,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    publicKey,
    signingKey: rootSigning.key,
    signingAlgorithm: { ...P256 },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert.publicKey),
    ],
  });
  return { certPem: toPem(cert), keyPem: keys.privateKeyPem };
}
