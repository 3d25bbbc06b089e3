import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileHttpMatch } from '../../src/compiler/http-match.js';
import type { HTTPRouteGroupResource } from '../../src/resources/types.js';

const group: HTTPRouteGroupResource = {
  apiVersion: 'specs.smi-spec.io/v1alpha4',
  kind: 'HTTPRouteGroup',
  metadata: { name: 'g', namespace: 'ns', labels: {}, annotations: {} },
  spec: { matches: [] },
};

describe('compiled SMI matches', () => {
  it('anchors path and header patterns to the whole value', () => {
    const m = compileHttpMatch(group, { name: 'm', pathRegex: '/books-bought', methods: ['get'], headers: { 'Client-App': 'bookbuyer' } });
    assert.equal(m.pathRegex, '^(?:/books-bought)$');
    assert.deepEqual(m.methods, ['GET']);
    assert.deepEqual(m.headers, [['client-app', '^(?:bookbuyer)$']]);
  });

  it('needs no regex for patterns that match every path, and none for the * method', () => {
    for (const p of ['.*', '/.*', '']) {
      const m = compileHttpMatch(group, { name: 'm', pathRegex: p, methods: ['*'], headers: {} });
      assert.equal(m.pathRegex, undefined, p);
      assert.deepEqual(m.methods, []);
    }
  });
});
