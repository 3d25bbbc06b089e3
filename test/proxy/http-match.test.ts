// SMI HTTPRouteGroup matches as the proxy runs them: compiled by the compiler
// (anchoring, lower-case header names) and evaluated on RE2.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHttpMatch } from '../../src/compiler/http-match.js';
import type { HTTPMatch, HTTPRouteGroupResource } from '../../src/resources/types.js';
import { compileMatcher, pathOf, type RequestHead } from '../../src/proxy/http-match.js';

const group: HTTPRouteGroupResource = {
  apiVersion: 'specs.smi-spec.io/v1alpha4',
  kind: 'HTTPRouteGroup',
  metadata: { name: 'routes', namespace: 'shop', labels: {}, annotations: {} },
  spec: { matches: [] },
};

/** A matcher for one SMI match, compiled the way a snapshot carries it. */
function matcher(m: Partial<HTTPMatch>) {
  return compileMatcher(compileHttpMatch(group, { name: 'm', methods: [], headers: {}, ...m }));
}
const req = (method: string, headers: RequestHead['headers'] = {}): RequestHead => ({ method, headers });

describe('proxy HTTP match', () => {
  it('matches the whole path: /books-bought does not allow /books-bought-admin', () => {
    const m = matcher({ pathRegex: '/books-bought' });
    assert.equal(m(req('GET'), '/books-bought'), true);
    assert.equal(m(req('GET'), '/books-bought-admin'), false);
    assert.equal(m(req('GET'), '/x/books-bought'), false);
  });

  it("matches OSM's .*a-book.*new against /buy-a-book/new", () => {
    const m = matcher({ pathRegex: '.*a-book.*new' });
    assert.equal(m(req('GET'), '/buy-a-book/new'), true);
    assert.equal(m(req('GET'), '/buy-a-book/new/extra'), false);
  });

  it('keeps alternations inside the anchors (a|b matches only a or b)', () => {
    const m = matcher({ pathRegex: '/a|/b' });
    assert.equal(m(req('GET'), '/a'), true);
    assert.equal(m(req('GET'), '/b'), true);
    assert.equal(m(req('GET'), '/a/x'), false);
    assert.equal(m(req('GET'), '/x/b'), false);
  });

  it('matches any path when pathRegex is absent or empty', () => {
    assert.equal(matcher({})(req('GET'), '/anything'), true);
    assert.equal(matcher({ pathRegex: '' })(req('GET'), '/anything'), true);
  });

  it('matches header values in full', () => {
    const m = matcher({ headers: { 'client-app': 'bookbuyer' } });
    assert.equal(m(req('GET', { 'client-app': 'bookbuyer' }), '/'), true);
    assert.equal(m(req('GET', { 'client-app': 'bookbuyer-evil' }), '/'), false);
    assert.equal(m(req('GET', { 'client-app': 'xbookbuyer' }), '/'), false);
  });

  it("matches OSM's user-agent pattern against a bookbuyer client", () => {
    const m = matcher({ headers: { 'user-agent': '.*-http-client/*.*' } });
    assert.equal(m(req('GET', { 'user-agent': 'Go-http-client/1.1' }), '/'), true);
    assert.equal(m(req('GET', { 'user-agent': 'curl/8.0' }), '/'), false);
  });

  it('treats header names case-insensitively', () => {
    const m = matcher({ headers: { 'Client-App': 'bookbuyer' } });
    // Node lower-cases incoming header names; the compiler lower-cases the match's.
    assert.equal(m(req('GET', { 'client-app': 'bookbuyer' }), '/'), true);
  });

  it('requires every listed header', () => {
    const m = matcher({ headers: { 'client-app': 'bookbuyer', 'user-agent': '.*' } });
    assert.equal(m(req('GET', { 'client-app': 'bookbuyer', 'user-agent': 'x' }), '/'), true);
    assert.equal(m(req('GET', { 'client-app': 'bookbuyer' }), '/'), false);
    assert.equal(m(req('GET', { 'user-agent': 'x' }), '/'), false);
  });

  it('matches a repeated header against its values joined with ", "', () => {
    const m = matcher({ headers: { 'x-tag': 'a, b' } });
    assert.equal(m(req('GET', { 'x-tag': ['a', 'b'] }), '/'), true);
  });

  it('allows only the listed methods, and any method for * or none', () => {
    const get = matcher({ methods: ['GET'] });
    assert.equal(get(req('GET'), '/'), true);
    assert.equal(get(req('POST'), '/'), false);
    assert.equal(matcher({ methods: ['*'] })(req('DELETE'), '/'), true);
    assert.equal(matcher({ methods: [] })(req('PATCH'), '/'), true);
    assert.equal(matcher({ methods: ['get'] })(req('GET'), '/'), true);
  });

  it('strips the query string from the path it matches', () => {
    assert.equal(pathOf('/books-bought?x=1'), '/books-bought');
    assert.equal(pathOf('/books-bought'), '/books-bought');
  });
});
