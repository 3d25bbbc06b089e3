// Bootstrap tokens: the trusted local runner hands each proxy a token that
// lets it obtain its first certificate for one identity. A token is
// base64url(canonical JSON of the claims) "." base64url(HMAC-SHA256).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IdentityError } from './errors.js';

export interface BootstrapClaims {
  proxyId: string;
  namespace: string;
  serviceAccount: string;
}

const CLAIM_KEYS = ['namespace', 'proxyId', 'serviceAccount'] as const; // sorted: the canonical order
const SECRET_BYTES = 32;
const MIN_SECRET_BYTES = 16;
// Domain separation: a MAC made with the same secret for another purpose is never a valid token.
const MAC_CONTEXT = 'trellis-bootstrap-token/v1\n';

function canonicalJson(claims: BootstrapClaims): string {
  return JSON.stringify(Object.fromEntries(CLAIM_KEYS.map((k) => [k, claims[k]])));
}

function mac(secret: Buffer, payload: string): Buffer {
  return createHmac('sha256', secret).update(MAC_CONTEXT).update(payload).digest();
}

function checkSecret(secret: Buffer): void {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_BYTES) {
    throw new IdentityError('TRELLIS_E_SECRET_INVALID', `bootstrap secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
}

export function createBootstrapToken(secret: Buffer, claims: BootstrapClaims): string {
  checkSecret(secret);
  for (const k of CLAIM_KEYS) {
    if (typeof claims[k] !== 'string' || claims[k] === '') throw new TypeError(`bootstrap claim ${k} must be a non-empty string`);
  }
  const payload = Buffer.from(canonicalJson(claims)).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** The claims of a genuine token; undefined for anything forged, tampered with or malformed. */
export function verifyBootstrapToken(secret: Buffer, token: string): BootstrapClaims | undefined {
  checkSecret(secret);
  if (typeof token !== 'string') return undefined;
  const parts = token.split('.');
  if (parts.length !== 2) return undefined;
  const [payload, sig] = parts as [string, string];
  const expected = mac(secret, payload);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof decoded !== 'object' || decoded === null) return undefined;
  const obj = decoded as Record<string, unknown>;
  if (Object.keys(obj).length !== CLAIM_KEYS.length) return undefined;
  for (const k of CLAIM_KEYS) if (typeof obj[k] !== 'string' || obj[k] === '') return undefined;
  return { proxyId: obj.proxyId as string, namespace: obj.namespace as string, serviceAccount: obj.serviceAccount as string };
}

/** Reads the 32-byte secret in `file`, or creates it (mode 0600) atomically. */
export function loadOrCreateSecret(file: string): Buffer {
  try {
    return readSecret(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, randomBytes(SECRET_BYTES));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file); // fails if another process created it first: then use theirs
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return readSecret(file);
}

function readSecret(file: string): Buffer {
  const secret = fs.readFileSync(file);
  if (secret.length !== SECRET_BYTES) {
    throw new IdentityError('TRELLIS_E_SECRET_INVALID', `${file} should hold ${SECRET_BYTES} random bytes but has ${secret.length}; delete it to generate a new one`);
  }
  return secret;
}
