// The RingHash/Maglev request key: header, cookie (with generation), source identity.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValue, hashKeyOf } from '../../src/proxy/hash-key.js';

describe('hashKeyOf', () => {
  it('no hashOn → no key', () => {
    assert.deepEqual(hashKeyOf(undefined, { 'x-user': 'alice' }, 'spiffe://x'), {});
  });

  describe('header', () => {
    it("uses the header's value (configured name matched case-insensitively)", () => {
      assert.deepEqual(hashKeyOf({ header: 'x-user' }, { 'x-user': 'alice' }, undefined), { key: 'alice' });
      assert.deepEqual(hashKeyOf({ header: 'X-User' }, { 'x-user': 'bob' }, undefined), { key: 'bob' });
    });

    it('absent header → no key; an empty value is still a key', () => {
      assert.equal(hashKeyOf({ header: 'x-user' }, { other: 'v' }, undefined).key, undefined);
      assert.deepEqual(hashKeyOf({ header: 'x-user' }, { 'x-user': '' }, undefined), { key: '' });
    });

    it('ignores inherited object properties', () => {
      assert.equal(hashKeyOf({ header: 'constructor' }, {}, undefined).key, undefined);
      assert.equal(hashKeyOf({ header: 'toString' }, {}, undefined).key, undefined);
    });
  });

  describe('cookie', () => {
    it('reads the named cookie among several', () => {
      const headers = { cookie: 'theme=dark; session=abc123;lang=en' };
      assert.deepEqual(hashKeyOf({ cookie: { name: 'session' } }, headers, undefined), { key: 'abc123' });
      assert.deepEqual(hashKeyOf({ cookie: { name: 'lang' } }, headers, undefined), { key: 'en' });
      assert.deepEqual(hashKeyOf({ cookie: { name: 'theme', ttlMs: 1000 } }, headers, undefined), { key: 'dark' });
    });

    it('absent cookie without ttl → no key, no Set-Cookie', () => {
      assert.deepEqual(hashKeyOf({ cookie: { name: 'session' } }, { cookie: 'a=b' }, undefined), {});
      assert.deepEqual(hashKeyOf({ cookie: { name: 'session' } }, {}, undefined), {});
    });

    it('absent cookie with ttl → generates a value, returns it as key and as Set-Cookie', () => {
      const r = hashKeyOf({ cookie: { name: 'sticky', ttlMs: 3_600_000 } }, { 'x-other': '1' }, undefined);
      assert.match(r.key!, /^[0-9a-f]{16}$/);
      assert.equal(r.setCookie, `sticky=${r.key}; Max-Age=3600; Path=/; HttpOnly`);
      const again = hashKeyOf({ cookie: { name: 'sticky', ttlMs: 3_600_000 } }, {}, undefined);
      assert.notEqual(again.key, r.key, 'a fresh random value each time');
      // the next request carries the cookie and sticks to the same key
      assert.deepEqual(hashKeyOf({ cookie: { name: 'sticky', ttlMs: 3_600_000 } }, { cookie: `x=1; sticky=${r.key}` }, undefined), { key: r.key });
    });

    it('generated cookie honours path; rounds sub-second TTLs up; ttl 0 → session cookie', () => {
      const withPath = hashKeyOf({ cookie: { name: 's', ttlMs: 1500, path: '/api' } }, {}, undefined);
      assert.equal(withPath.setCookie, `s=${withPath.key}; Max-Age=2; Path=/api; HttpOnly`);
      const session = hashKeyOf({ cookie: { name: 's', ttlMs: 0 } }, {}, undefined);
      assert.equal(session.setCookie, `s=${session.key}; Path=/; HttpOnly`);
    });

    it('an empty cookie value counts as absent', () => {
      assert.deepEqual(hashKeyOf({ cookie: { name: 's' } }, { cookie: 's=' }, undefined), {});
      assert.ok(hashKeyOf({ cookie: { name: 's', ttlMs: 1000 } }, { cookie: 's=' }, undefined).setCookie);
    });
  });

  describe('sourceIdentity', () => {
    it("uses the caller's identity; none when unknown", () => {
      assert.deepEqual(hashKeyOf({ sourceIdentity: true }, {}, 'spiffe://cluster.local/ns/shop/sa/web'), { key: 'spiffe://cluster.local/ns/shop/sa/web' });
      assert.deepEqual(hashKeyOf({ sourceIdentity: true }, { 'x-user': 'a' }, undefined), {});
    });
  });
});

describe('cookieValue', () => {
  it('parses a=b; c=d pairs with arbitrary spacing', () => {
    assert.equal(cookieValue('a=1; b=2;c=3 ;  d = 4', 'a'), '1');
    assert.equal(cookieValue('a=1; b=2;c=3 ;  d = 4', 'c'), '3');
    assert.equal(cookieValue('a=1; b=2;c=3 ;  d = 4', 'd'), '4');
  });

  it('matches whole names only, case-sensitively; first occurrence wins', () => {
    assert.equal(cookieValue('xsession=1; session=2', 'session'), '2');
    assert.equal(cookieValue('Session=1', 'session'), undefined);
    assert.equal(cookieValue('s=first; s=second', 's'), 'first');
  });

  it('keeps "=" inside values, strips surrounding quotes, tolerates junk', () => {
    assert.equal(cookieValue('tok=abc==; x=1', 'tok'), 'abc==');
    assert.equal(cookieValue('q="quoted value"', 'q'), 'quoted value');
    assert.equal(cookieValue('; ;novalue; s=ok;', 's'), 'ok');
    assert.equal(cookieValue('novalue', 'novalue'), undefined);
    assert.equal(cookieValue(undefined, 's'), undefined);
    assert.equal(cookieValue('', 's'), undefined);
  });
});
