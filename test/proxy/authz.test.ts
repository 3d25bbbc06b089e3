// Inbound authorisation decisions and the reasons they give.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthzPolicy, AuthzRule, HttpMatchConfig } from '../../src/compiler/snapshot.js';
import { anchor } from '../../src/compiler/http-match.js';
import { compileAuthorizer } from '../../src/proxy/authz.js';
import type { RequestHead } from '../../src/proxy/http-match.js';

const BUYER = 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer';
const THIEF = 'spiffe://cluster.local/ns/bookthief/sa/bookthief';

const booksBought: HttpMatchConfig = {
  name: 'bookstore/routes/books-bought',
  pathRegex: anchor('/books-bought'),
  methods: ['GET'],
  headers: [['client-app', anchor('bookbuyer')], ['user-agent', anchor('.*-http-client/*.*')]],
};
const buyABook: HttpMatchConfig = { name: 'bookstore/routes/buy-a-book', pathRegex: anchor('.*a-book.*new'), methods: ['GET'], headers: [] };

const httpRule = (over: Partial<AuthzRule> = {}): AuthzRule => ({
  target: 'bookstore/bookstore',
  sources: [BUYER],
  allow: [{ kind: 'http', match: buyABook }, { kind: 'http', match: booksBought }],
  ...over,
});
const deny = (...rules: AuthzRule[]) => compileAuthorizer({ mode: 'deny', rules });
const get = (headers: RequestHead['headers'] = {}): RequestHead => ({ method: 'GET', headers });
const buyerHeaders = { 'client-app': 'bookbuyer', 'user-agent': 'Go-http-client/1.1' };

describe('proxy authorisation', () => {
  it('allows a request a TrafficTarget match allows, naming the target and the match', () => {
    const d = deny(httpRule()).http(BUYER, 14001, get(), '/buy-a-book/new');
    assert.deepEqual(d, { allowed: true, rule: 'bookstore/bookstore (bookstore/routes/buy-a-book)' });
  });

  it('does not let /books-bought allow /books-bought-admin', () => {
    const a = deny(httpRule());
    assert.equal(a.http(BUYER, 14001, get(buyerHeaders), '/books-bought').allowed, true);
    const d = a.http(BUYER, 14001, get(buyerHeaders), '/books-bought-admin');
    assert.equal(d.allowed, false);
    assert.ok(!d.allowed && d.reason.includes('GET /books-bought-admin matches no route that TrafficTarget bookstore/bookstore allows'));
  });

  it('requires the headers of a match', () => {
    assert.equal(deny(httpRule()).http(BUYER, 14001, get({ 'client-app': 'bookbuyer' }), '/books-bought').allowed, false);
  });

  it('denies a method the match does not list', () => {
    assert.equal(deny(httpRule()).http(BUYER, 14001, { method: 'POST', headers: {} }, '/buy-a-book/new').allowed, false);
  });

  it('denies a source that no TrafficTarget names, saying so', () => {
    const d = deny(httpRule()).http(THIEF, 14001, get(), '/buy-a-book/new');
    assert.deepEqual(d, { allowed: false, reason: `no TrafficTarget allows ${THIEF} to reach this destination` });
  });

  it('denies everything when no TrafficTarget has this destination', () => {
    const d = deny().http(BUYER, 14001, get(), '/');
    assert.deepEqual(d, { allowed: false, reason: 'no TrafficTarget has this service account as its destination' });
    assert.equal(deny().tcp(BUYER, 3306).allowed, false);
  });

  it('denies an unauthenticated caller before looking at rules', () => {
    const d = deny(httpRule()).http(undefined, 14001, get(), '/buy-a-book/new');
    assert.deepEqual(d, { allowed: false, reason: 'the connection is not authenticated with a mesh certificate' });
    assert.equal(deny(httpRule()).tcp(undefined, 14001).allowed, false);
  });

  it('restricts a rule with destination.port to that port, and says so', () => {
    const a = deny(httpRule({ port: 8080 }));
    assert.equal(a.http(BUYER, 8080, get(), '/buy-a-book/new').allowed, true);
    const d = a.http(BUYER, 9090, get(), '/buy-a-book/new');
    assert.ok(!d.allowed && d.reason.includes('allow other destination ports, not 9090'), JSON.stringify(d));
  });

  it('lets a TCPRoute allow its ports for any protocol, HTTP included', () => {
    const a = deny({ target: 'db/mysql', sources: [BUYER], allow: [{ kind: 'tcp', route: 'db/mysql', ports: [3306] }] });
    assert.deepEqual(a.tcp(BUYER, 3306), { allowed: true, rule: 'db/mysql' });
    assert.equal(a.http(BUYER, 3306, get(), '/anything').allowed, true);
    const d = a.tcp(BUYER, 3307);
    assert.deepEqual(d, { allowed: false, reason: 'no TCPRoute of TrafficTarget db/mysql allows port 3307' });
  });

  it('lets a TCPRoute without ports allow every port', () => {
    const a = deny({ target: 'db/any', sources: [BUYER], allow: [{ kind: 'tcp', route: 'db/any', ports: [] }] });
    assert.equal(a.tcp(BUYER, 1).allowed, true);
    assert.equal(a.tcp(BUYER, 65535).allowed, true);
  });

  it('denies a TCP connection when the rules only allow HTTP matches', () => {
    const d = deny(httpRule()).tcp(BUYER, 14001);
    assert.deepEqual(d, { allowed: false, reason: 'no TCPRoute of TrafficTarget bookstore/bookstore allows port 14001' });
  });

  it('combines TrafficTargets: any rule naming the source may allow', () => {
    const a = deny(httpRule({ allow: [{ kind: 'http', match: booksBought }] }), httpRule({ target: 'bookstore/second' }));
    assert.deepEqual(a.http(BUYER, 14001, get(), '/buy-a-book/new'), { allowed: true, rule: 'bookstore/second (bookstore/routes/buy-a-book)' });
  });

  it('allows everything in permissive mode, naming the mode', () => {
    const policy: AuthzPolicy = { mode: 'permissive', rules: [] };
    const a = compileAuthorizer(policy);
    assert.deepEqual(a.http(THIEF, 14001, get(), '/admin'), { allowed: true, rule: 'access mode permissive' });
    assert.deepEqual(a.tcp(THIEF, 3306), { allowed: true, rule: 'access mode permissive' });
  });
});
