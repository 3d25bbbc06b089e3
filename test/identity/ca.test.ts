import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  certificateNotAfter,
  createCA,
  generateKeyPair,
  issueCertificate,
  loadOrCreateCA,
  spiffeId,
} from '../../src/identity/index.js';
import { createIntermediate, credentialsFor, mtlsHandshake, withTempDir } from './helpers.js';

const TD = 'trellis.test';
const web = spiffeId(TD, 'shop', 'web');
const api = spiffeId(TD, 'shop', 'api');

describe('mesh CA', () => {
  it('creates a self-signed P-256 root that is a CA and is its own trust root', async () => {
    const ca = await createCA({ trustDomain: TD });
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey));
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(cert.subject, /O=Trellis/);
    assert.match(cert.subject, /CN=Trellis Mesh CA trellis\.test/);
    assert.equal(ca.rootsPem, ca.certPem);
    assert.equal(ca.chainPem, undefined);
    const years = (certificateNotAfter(ca.certPem).getTime() - Date.now()) / (365 * 24 * 3600_000);
    assert.ok(years > 9.9 && years < 10.1, `lifetime ${years} years`);
  });

  it('issues a leaf with the SPIFFE ID as URI SAN, client+server auth, not a CA, backdated notBefore', async () => {
    const ca = await createCA({ trustDomain: TD });
    const keys = generateKeyPair();
    const issued = await issueCertificate(ca, { spiffeId: web, publicKeyPem: keys.publicKeyPem, lifetimeMs: 3600_000, dnsNames: ['web.shop'] });
    const leaf = new X509Certificate(issued.certPem);
    assert.equal(leaf.ca, false);
    assert.ok(leaf.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(leaf.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(leaf.subjectAltName, `URI:${web}, DNS:web.shop`);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(leaf.serialNumber.toLowerCase(), issued.serial);
    const now = Date.now();
    assert.ok(issued.notBefore.getTime() <= now - 55_000 && issued.notBefore.getTime() >= now - 65_000);
    assert.ok(Math.abs(issued.notAfter.getTime() - (now + 3600_000)) < 5_000);
    assert.equal(certificateNotAfter(issued.certPem).getTime(), issued.notAfter.getTime());
  });

  it('gives each certificate a different serial', async () => {
    const ca = await createCA({ trustDomain: TD });
    const { publicKeyPem } = generateKeyPair();
    const a = await issueCertificate(ca, { spiffeId: web, publicKeyPem, lifetimeMs: 60_000 });
    const b = await issueCertificate(ca, { spiffeId: web, publicKeyPem, lifetimeMs: 60_000 });
    assert.notEqual(a.serial, b.serial);
  });

  it('refuses SPIFFE IDs outside its trust domain, invalid IDs, non-P-256 keys, bad DNS names and bad lifetimes', async () => {
    const ca = await createCA({ trustDomain: TD });
    const { publicKeyPem } = generateKeyPair();
    await assert.rejects(issueCertificate(ca, { spiffeId: 'spiffe://other.test/ns/a/sa/b', publicKeyPem, lifetimeMs: 1000 }), {
      code: 'TRELLIS_E_TRUST_DOMAIN_MISMATCH',
    });
    await assert.rejects(issueCertificate(ca, { spiffeId: 'https://trellis.test/x', publicKeyPem, lifetimeMs: 1000 }), {
      code: 'TRELLIS_E_SPIFFE_ID_INVALID',
    });
    await assert.rejects(issueCertificate(ca, { spiffeId: web, publicKeyPem, lifetimeMs: 0 }), { code: 'TRELLIS_E_CERT_LIFETIME_INVALID' });
    await assert.rejects(issueCertificate(ca, { spiffeId: web, publicKeyPem, lifetimeMs: 1000, dnsNames: ['a, URI:spiffe://x'] }), {
      code: 'TRELLIS_E_DNS_NAME_INVALID',
    });
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await assert.rejects(issueCertificate(ca, { spiffeId: web, publicKeyPem: rsa, lifetimeMs: 1000 }), { code: 'TRELLIS_E_KEY_UNSUPPORTED' });
  });
});

describe('mutual TLS with mesh certificates', () => {
  it('completes a mutual handshake and the server reads the client SPIFFE ID', async () => {
    const ca = await createCA({ trustDomain: TD });
    const server = await credentialsFor(ca, issueCertificate, api);
    const client = await credentialsFor(ca, issueCertificate, web);
    const result = await mtlsHandshake(server, client);
    assert.equal(result.serverError, undefined);
    assert.equal(result.received, 'ok');
    assert.equal(result.serverSawClient, web);
    assert.equal(result.clientSawServer, api);
  });

  it('rejects a client certificate issued by another CA', async () => {
    const ca = await createCA({ trustDomain: TD });
    const rogue = await createCA({ trustDomain: TD });
    const server = await credentialsFor(ca, issueCertificate, api);
    const client = { ...(await credentialsFor(rogue, issueCertificate, web)), ca: ca.rootsPem };
    const result = await mtlsHandshake(server, client);
    assert.ok(result.serverError, 'server should reject the client');
    assert.equal(result.serverSawClient, undefined);
    assert.equal(result.received, '');
    const inspected = await mtlsHandshake(server, client, { serverRejectUnauthorized: false });
    assert.match(inspected.serverAuthorizationError ?? '', /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  it('rejects an expired client certificate', async () => {
    const ca = await createCA({ trustDomain: TD });
    const server = await credentialsFor(ca, issueCertificate, api);
    const client = await credentialsFor(ca, issueCertificate, web, 2_000);
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    const result = await mtlsHandshake(server, client);
    assert.ok(result.serverError, 'server should reject the expired client certificate');
    assert.equal(result.serverSawClient, undefined);
    assert.equal(result.received, '');
    // and the reason is expiry, not anything else
    const inspected = await mtlsHandshake(server, client, { serverRejectUnauthorized: false });
    assert.equal(inspected.serverAuthorizationError, 'CERT_HAS_EXPIRED');
  });
});

describe('loadOrCreateCA', () => {
  it('creates the CA once, with a private key file of mode 0600, and returns the same CA the second time', async () => {
    await withTempDir(async (dir) => {
      const first = await loadOrCreateCA(path.join(dir, 'ca'), TD);
      const second = await loadOrCreateCA(path.join(dir, 'ca'), TD);
      assert.equal(second.certPem, first.certPem);
      assert.equal(second.keyPem, first.keyPem);
      assert.equal(second.rootsPem, first.rootsPem);
      assert.equal((await stat(path.join(dir, 'ca', 'ca.key'))).mode & 0o777, 0o600);
      assert.equal(await readFile(path.join(dir, 'ca', 'ca.crt'), 'utf8'), first.certPem);
    });
  });

  it('gives concurrent callers the same CA', async () => {
    await withTempDir(async (dir) => {
      const [a, b, c] = await Promise.all([loadOrCreateCA(dir, TD), loadOrCreateCA(dir, TD), loadOrCreateCA(dir, TD)]);
      assert.equal(a.certPem, b.certPem);
      assert.equal(b.certPem, c.certPem);
    });
  });

  it('refuses a directory with a certificate but no key', async () => {
    await withTempDir(async (dir) => {
      const ca = await createCA({ trustDomain: TD });
      await writeFile(path.join(dir, 'ca.crt'), ca.certPem);
      await assert.rejects(loadOrCreateCA(dir, TD), { code: 'TRELLIS_E_CA_INCOMPLETE' });
    });
  });

  it('refuses a key that does not belong to the certificate', async () => {
    await withTempDir(async (dir) => {
      const ca = await createCA({ trustDomain: TD });
      await writeFile(path.join(dir, 'ca.crt'), ca.certPem);
      await writeFile(path.join(dir, 'ca.key'), generateKeyPair().privateKeyPem);
      await assert.rejects(loadOrCreateCA(dir, TD), { code: 'TRELLIS_E_CA_INVALID' });
    });
  });

  it('uses a user-provided intermediate: issued chains verify against the root in a TLS handshake', async () => {
    await withTempDir(async (dir) => {
      const root = await createCA({ trustDomain: TD });
      const intermediate = await createIntermediate(root);
      await writeFile(path.join(dir, 'ca.crt'), intermediate.certPem);
      await writeFile(path.join(dir, 'ca.key'), intermediate.keyPem, { mode: 0o600 });
      await writeFile(path.join(dir, 'ca-chain.crt'), root.certPem);

      const ca = await loadOrCreateCA(dir, TD);
      assert.equal(ca.rootsPem, root.certPem);
      assert.equal(ca.chainPem, intermediate.certPem);

      const server = await credentialsFor(ca, issueCertificate, api);
      const client = await credentialsFor(ca, issueCertificate, web);
      const leaf = new X509Certificate(client.certPem);
      assert.ok(leaf.checkIssued(new X509Certificate(intermediate.certPem)));
      assert.ok(client.certPem.endsWith(intermediate.certPem), 'issued chain carries the intermediate');

      const result = await mtlsHandshake(server, client);
      assert.equal(result.serverError, undefined);
      assert.equal(result.serverSawClient, web);
      assert.equal(result.clientSawServer, api);
    });
  });

  it('refuses an intermediate without its chain to the root', async () => {
    await withTempDir(async (dir) => {
      const root = await createCA({ trustDomain: TD });
      const intermediate = await createIntermediate(root);
      await writeFile(path.join(dir, 'ca.crt'), intermediate.certPem);
      await writeFile(path.join(dir, 'ca.key'), intermediate.keyPem, { mode: 0o600 });
      await assert.rejects(loadOrCreateCA(dir, TD), { code: 'TRELLIS_E_CA_CHAIN_INVALID' });
      const other = await createCA({ trustDomain: TD });
      await writeFile(path.join(dir, 'ca-chain.crt'), other.certPem);
      await assert.rejects(loadOrCreateCA(dir, TD), { code: 'TRELLIS_E_CA_CHAIN_INVALID' });
    });
  });
});
