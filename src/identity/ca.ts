// The mesh certificate authority: a generated self-signed root, or a
// user-provided root or intermediate loaded from a directory.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { IdentityError } from './errors.js';
import { generateKeyPair, importSigningKey } from './keys.js';
import { splitCertificates, toPem } from './pem.js';
import { isValidTrustDomain } from './spiffe.js';
import { P256, x509 } from './x509.js';

export interface MeshCA {
  /** The certificate that signs leaves (a root, or an intermediate). */
  certPem: string;
  /** Its private key, PEM. */
  keyPem: string;
  trustDomain: string;
  /** What peers must trust: the root. Equals certPem for a root CA. */
  rootsPem: string;
  /** For an intermediate: the intermediate and its parents below the root, appended to every issued chain. */
  chainPem?: string;
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;
const CLOCK_SKEW_MS = 60_000;

/** A positive, 16-byte serial without a leading zero byte, hex. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function checkTrustDomain(trustDomain: string): void {
  if (!isValidTrustDomain(trustDomain)) {
    throw new IdentityError(
      'TRELLIS_E_SPIFFE_ID_INVALID',
      `trust domain "${trustDomain}" is invalid: use lowercase letters, digits, ".", "-", "_" (e.g. "cluster.local")`,
    );
  }
}

/** Creates a self-signed ECDSA P-256 root for the trust domain. */
export async function createCA(opts: { trustDomain: string; lifetimeMs?: number }): Promise<MeshCA> {
  checkTrustDomain(opts.trustDomain);
  const lifetimeMs = opts.lifetimeMs ?? TEN_YEARS_MS;
  if (!Number.isFinite(lifetimeMs) || lifetimeMs <= 0) {
    throw new IdentityError('TRELLIS_E_CERT_LIFETIME_INVALID', `CA lifetime must be a positive number of milliseconds, got ${lifetimeMs}`);
  }
  const { privateKeyPem } = generateKeyPair();
  const signing = await importSigningKey(privateKeyPem);
  const publicKey = await globalThis.crypto.subtle.importKey('spki', signing.publicKeyDer, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const name = new x509.Name([{ O: ['Trellis'] }, { CN: [`Trellis Mesh CA ${opts.trustDomain}`] }]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: name,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + lifetimeMs),
    publicKey,
    signingKey: signing.key,
    signingAlgorithm: { ...P256 },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  const certPem = toPem(cert);
  return { certPem, keyPem: privateKeyPem, trustDomain: opts.trustDomain, rootsPem: certPem };
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

type Cert = InstanceType<typeof x509.X509Certificate>;

async function isSelfSigned(cert: Cert): Promise<boolean> {
  return cert.subject === cert.issuer && (await cert.verify({ publicKey: cert.publicKey, signatureOnly: true }));
}

function parseCerts(pem: string, file: string): Cert[] {
  const blocks = splitCertificates(pem);
  try {
    return blocks.map((b) => new x509.X509Certificate(b));
  } catch (err) {
    throw new IdentityError('TRELLIS_E_CA_INVALID', `${file} holds a certificate that cannot be parsed`, { cause: err });
  }
}

/**
 * Loads a CA from files: `ca.crt` (the signing certificate, optionally
 * followed by its parents), `ca.key`, and optionally `ca-chain.crt` (parents
 * up to and including the root). Checks that the key matches, that the
 * certificate is a CA, and that the chain verifies up to a self-signed root.
 */
async function loadCA(dir: string, trustDomain: string): Promise<MeshCA> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  const chainFile = path.join(dir, 'ca-chain.crt');
  const keyPem = await fsp.readFile(keyFile, 'utf8');
  const certs = parseCerts(await fsp.readFile(certFile, 'utf8'), certFile);
  if (await exists(chainFile)) certs.push(...parseCerts(await fsp.readFile(chainFile, 'utf8'), chainFile));
  const ca = certs[0];
  if (!ca) throw new IdentityError('TRELLIS_E_CA_INVALID', `${certFile} contains no certificate`);

  const signing = await importSigningKey(keyPem, keyFile);
  if (!Buffer.from(ca.publicKey.rawData).equals(signing.publicKeyDer)) {
    throw new IdentityError('TRELLIS_E_CA_INVALID', `${keyFile} is not the private key of the certificate in ${certFile}`);
  }
  if (!ca.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new IdentityError('TRELLIS_E_CA_INVALID', `${certFile} is not a CA certificate (basicConstraints CA:true is missing)`);
  }
  if (ca.notAfter.getTime() <= Date.now()) {
    throw new IdentityError('TRELLIS_E_CA_INVALID', `${certFile} expired on ${ca.notAfter.toISOString()}`);
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i + 1]!;
    if (child.issuer !== parent.subject || !(await child.verify({ publicKey: parent.publicKey, signatureOnly: true }))) {
      throw new IdentityError(
        'TRELLIS_E_CA_CHAIN_INVALID',
        `CA chain is broken: "${child.subject}" is not signed by "${parent.subject}" (order ca-chain.crt from the intermediate's issuer up to the root)`,
      );
    }
  }
  const root = certs[certs.length - 1]!;
  if (!(await isSelfSigned(root))) {
    throw new IdentityError(
      'TRELLIS_E_CA_CHAIN_INVALID',
      certs.length === 1
        ? `${certFile} is an intermediate ("${ca.subject}", issued by "${ca.issuer}"): put its chain up to the root in ${chainFile}`
        : `${chainFile} must end with the self-signed root certificate; the last one is "${root.subject}", issued by "${root.issuer}"`,
    );
  }
  const pems = certs.map(toPem);
  const result: MeshCA = { certPem: pems[0]!, keyPem, trustDomain, rootsPem: pems[pems.length - 1]! };
  if (certs.length > 1) result.chainPem = pems.slice(0, -1).join('');
  return result;
}

/** Writes `content` to `file` only if it does not exist yet (temp file + link): false if it already did. */
async function createExclusive(file: string, content: string, mode: number): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/**
 * The CA kept in `dir`: loaded from `ca.crt` + `ca.key` (+ `ca-chain.crt`
 * for a user-provided intermediate) when present, else generated and written
 * there (`ca.key` with mode 0600). Two processes racing to create it end up
 * with the same CA.
 */
export async function loadOrCreateCA(dir: string, trustDomain: string): Promise<MeshCA> {
  checkTrustDomain(trustDomain);
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  const [hasCert, hasKey] = await Promise.all([exists(certFile), exists(keyFile)]);
  if (hasCert && hasKey) return loadCA(dir, trustDomain);
  if (hasCert !== hasKey || (await exists(path.join(dir, 'ca-chain.crt')))) {
    throw new IdentityError(
      'TRELLIS_E_CA_INCOMPLETE',
      `${dir} has ${hasCert ? 'ca.crt' : hasKey ? 'ca.key' : 'ca-chain.crt'} but not ${hasCert ? 'ca.key' : 'ca.crt'}: ` +
        'provide both the CA certificate and its key, or neither to let Trellis generate a CA',
    );
  }
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCA({ trustDomain });
  // Key first: whoever creates ca.key owns the CA; a loser waits for the winner's ca.crt.
  if (await createExclusive(keyFile, ca.keyPem, 0o600)) {
    await createExclusive(certFile, ca.certPem, 0o644);
    return ca;
  }
  for (let attempt = 0; attempt < 50 && !(await exists(certFile)); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return loadCA(dir, trustDomain);
}
