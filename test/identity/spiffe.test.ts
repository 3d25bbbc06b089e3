import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { parseSpiffeId, spiffeId, spiffeIdFromPeerCertificate } from '../../src/identity/index.js';

const peer = (subjectaltname?: string) => ({ subjectaltname }) as PeerCertificate;

describe('SPIFFE IDs', () => {
  it('builds the ID of a service account', () => {
    assert.equal(spiffeId('cluster.local', 'shop', 'web'), 'spiffe://cluster.local/ns/shop/sa/web');
  });

  it('refuses to build an ID from parts that would not parse back', () => {
    assert.throws(() => spiffeId('Cluster.Local', 'shop', 'web'), { code: 'TRELLIS_E_SPIFFE_ID_INVALID' });
    assert.throws(() => spiffeId('cluster.local', 'sh/op', 'web'), { code: 'TRELLIS_E_SPIFFE_ID_INVALID' });
    assert.throws(() => spiffeId('cluster.local', 'shop', ''), { code: 'TRELLIS_E_SPIFFE_ID_INVALID' });
  });

  it('parses exactly spiffe://<td>/ns/<ns>/sa/<sa>', () => {
    assert.deepEqual(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/web'), {
      trustDomain: 'cluster.local',
      namespace: 'shop',
      serviceAccount: 'web',
    });
  });

  for (const bad of [
    'spiffe://cluster.local/ns/shop/sa/web/',
    'spiffe://cluster.local/ns/shop/sa/web/extra',
    'spiffe://cluster.local/ns/shop/sa',
    'spiffe://cluster.local/sa/web/ns/shop',
    'spiffe://cluster.local//ns/shop/sa/web',
    'spiffe://Cluster.local/ns/shop/sa/web',
    'spiffe://cluster.local/ns/shop/sa/web?x=1',
    'spiffe://cluster.local/ns/../sa/web',
    'spiffe://user@cluster.local/ns/shop/sa/web',
    'spiffe://cluster.local:8080/ns/shop/sa/web',
    'https://cluster.local/ns/shop/sa/web',
    'spiffe:///ns/shop/sa/web',
  ]) {
    it(`rejects ${bad}`, () => {
      assert.equal(parseSpiffeId(bad), undefined);
    });
  }
});

describe('spiffeIdFromPeerCertificate', () => {
  it('returns the single URI SAN', () => {
    assert.equal(spiffeIdFromPeerCertificate(peer('URI:spiffe://td/ns/a/sa/b')), 'spiffe://td/ns/a/sa/b');
  });

  it('ignores DNS and IP entries around the URI', () => {
    assert.equal(
      spiffeIdFromPeerCertificate(peer('DNS:web.shop, URI:spiffe://td/ns/a/sa/b, IP Address:127.0.0.1')),
      'spiffe://td/ns/a/sa/b',
    );
  });

  it('returns undefined without a URI SAN, with several, or with a non-SPIFFE URI', () => {
    assert.equal(spiffeIdFromPeerCertificate(peer(undefined)), undefined);
    assert.equal(spiffeIdFromPeerCertificate(peer('DNS:web.shop')), undefined);
    assert.equal(spiffeIdFromPeerCertificate(peer('URI:spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/a/sa/c')), undefined);
    assert.equal(spiffeIdFromPeerCertificate(peer('URI:https://example.com/')), undefined);
    assert.equal(spiffeIdFromPeerCertificate(undefined), undefined);
  });

  it('does not let a quoted value smuggle in a second entry', () => {
    // Node JSON-quotes SAN values with special characters; the comma inside is part of one DNS name.
    assert.equal(spiffeIdFromPeerCertificate(peer('DNS:"x, URI:spiffe://td/ns/a/sa/evil"')), undefined);
    assert.equal(
      spiffeIdFromPeerCertificate(peer('DNS:"x, URI:spiffe://td/ns/a/sa/evil", URI:spiffe://td/ns/a/sa/b')),
      'spiffe://td/ns/a/sa/b',
    );
  });
});
