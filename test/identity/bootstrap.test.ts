import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createBootstrapToken, loadOrCreateSecret, verifyBootstrapToken } from '../../src/identity/index.js';
import { withTempDir } from './helpers.js';

const claims = { proxyId: 'shop/web-0', namespace: 'shop', serviceAccount: 'web' };

describe('bootstrap tokens', () => {
  it('round-trips the claims', () => {
    const secret = randomBytes(32);
    const token = createBootstrapToken(secret, claims);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(verifyBootstrapToken(secret, token), claims);
  });

  it('does not depend on the order of claim keys', () => {
    const secret = randomBytes(32);
    const reordered = { serviceAccount: 'web', proxyId: 'shop/web-0', namespace: 'shop' };
    assert.equal(createBootstrapToken(secret, reordered), createBootstrapToken(secret, claims));
  });

  it('rejects a token whose payload was changed', () => {
    const secret = randomBytes(32);
    const [, sig] = createBootstrapToken(secret, claims).split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, serviceAccount: 'admin' })).toString('base64url');
    assert.equal(verifyBootstrapToken(secret, `${forged}.${sig}`), undefined);
  });

  it('rejects a token with a flipped signature bit, another secret, or a malformed shape', () => {
    const secret = randomBytes(32);
    const token = createBootstrapToken(secret, claims);
    const [payload, sig] = token.split('.') as [string, string];
    const bytes = Buffer.from(sig, 'base64url');
    bytes[0] = bytes[0]! ^ 1;
    assert.equal(verifyBootstrapToken(secret, `${payload}.${bytes.toString('base64url')}`), undefined);
    assert.equal(verifyBootstrapToken(randomBytes(32), token), undefined);
    assert.equal(verifyBootstrapToken(secret, payload), undefined);
    assert.equal(verifyBootstrapToken(secret, `${token}.x`), undefined);
    assert.equal(verifyBootstrapToken(secret, ''), undefined);
  });

  it('refuses short secrets', () => {
    assert.throws(() => createBootstrapToken(Buffer.alloc(8), claims), { code: 'TRELLIS_E_SECRET_INVALID' });
  });
});

describe('loadOrCreateSecret', () => {
  it('creates 32 random bytes with mode 0600 and returns them again on the next call', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'sub', 'bootstrap.key');
      const a = loadOrCreateSecret(file);
      assert.equal(a.length, 32);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.ok(loadOrCreateSecret(file).equals(a));
    });
  });

  it('refuses a secret file of the wrong size', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'bootstrap.key');
      await writeFile(file, 'short');
      assert.throws(() => loadOrCreateSecret(file), { code: 'TRELLIS_E_SECRET_INVALID' });
    });
  });
});
