// The pure steps of an outbound call: header edits in Gateway API order,
// URL rewrites of prefixes and full paths, and redirect Locations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headerEdits, redirectLocation, rewritePath } from '../../src/proxy/call.js';

describe('header edits', () => {
  it('sets, appends with a comma and removes, against the request as it is', () => {
    const drop = new Set<string>(['x-trellis-peer-identity']);
    const add: string[] = [];
    headerEdits(
      [{ set: [['x-set', 'new']], add: [['x-add', 'more'], ['x-fresh', 'one']], remove: ['x-gone'] }],
      { 'x-set': 'old', 'x-add': 'some', 'x-gone': 'bye', keep: 'me' },
      drop,
      add,
    );
    assert.deepEqual([...drop].sort(), ['x-add', 'x-fresh', 'x-gone', 'x-set', 'x-trellis-peer-identity']);
    assert.deepEqual(add, ['x-set', 'new', 'x-add', 'some,more', 'x-fresh', 'one']);
  });

  it('applies several lists in order (route filters, then backend filters)', () => {
    const drop = new Set<string>();
    const add: string[] = [];
    headerEdits(
      [
        { set: [['x-a', '1']], add: [], remove: [] },
        { set: [], add: [['x-a', '2']], remove: [] },
        { set: [], add: [], remove: ['x-b'] },
      ],
      { 'x-b': 'present' },
      drop,
      add,
    );
    assert.deepEqual(add, ['x-a', '1,2']);
    assert.ok(drop.has('x-b'));
  });

  it('does not append to a header an earlier list dropped', () => {
    const drop = new Set<string>(['x-a']);
    const add: string[] = [];
    headerEdits([{ set: [], add: [['x-a', 'v']], remove: [] }], { 'x-a': 'old' }, drop, add);
    assert.deepEqual(add, ['x-a', 'v']);
  });
});

describe('URL rewrite', () => {
  const prefix = (p: string) => ({ kind: 'prefix' as const, prefix: p });
  it('replaces the matched prefix, keeping the rest and the query', () => {
    assert.equal(rewritePath('/prefix/one/two', '?x=1', prefix('/one'), '/prefix/one'), '/one/two?x=1');
    assert.equal(rewritePath('/strip-prefix/three', '', prefix('/'), '/strip-prefix'), '/three');
    assert.equal(rewritePath('/strip-prefix', '', prefix('/'), '/strip-prefix'), '/');
    assert.equal(rewritePath('/a', '', prefix('/b/'), '/a'), '/b');
    assert.equal(rewritePath('/a/c', '', prefix('/b/'), '/a'), '/b/c');
  });
  it('replaces the whole path', () => {
    assert.equal(rewritePath('/full/one/two', '?q', { kind: 'full', path: '/one' }, undefined), '/one?q');
  });
});

describe('redirect Location', () => {
  const req = { host: 'echo.gamma', path: '/original-prefix/lemon?x=1', listenerPort: 80, matchedPrefix: '/original-prefix' };
  it('keeps what the filter does not change', () => {
    assert.equal(redirectLocation({}, req), 'http://echo.gamma/original-prefix/lemon?x=1');
    assert.equal(redirectLocation({ hostname: 'example.org' }, req), 'http://example.org/original-prefix/lemon?x=1');
  });
  it('rewrites the path by prefix or in full', () => {
    assert.equal(redirectLocation({ path: { kind: 'prefix', prefix: '/replacement-prefix' } }, req), 'http://echo.gamma/replacement-prefix/lemon?x=1');
    assert.equal(redirectLocation({ path: { kind: 'full', path: '/full-path-replacement' } }, req), 'http://echo.gamma/full-path-replacement?x=1');
  });
  it('derives the port: the listener port unless the scheme changes; well-known ports are left out', () => {
    assert.equal(redirectLocation({ scheme: 'https' }, { ...req, listenerPort: 8080, path: '/' }), 'https://echo.gamma/');
    assert.equal(redirectLocation({}, { ...req, host: 'echo.gamma:8080', listenerPort: 8080, path: '/' }), 'http://echo.gamma:8080/');
    assert.equal(redirectLocation({ port: 8083 }, { ...req, path: '/' }), 'http://echo.gamma:8083/');
    assert.equal(redirectLocation({ scheme: 'https', port: 443 }, { ...req, path: '/' }), 'https://echo.gamma/');
  });
});
