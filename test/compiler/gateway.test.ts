// Gateway route grouping: which route hostnames cover a request host.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { covers } from '../../src/compiler/gateway.js';

describe('gateway hostnames', () => {
  it('a wildcard covers its subdomains and narrower wildcards, never the bare suffix', () => {
    assert.ok(covers('*.com', 'example.com'));
    assert.ok(covers('*.com', 'a.b.com'));
    assert.ok(covers('*.com', '*.example.com'));
    assert.ok(!covers('*.com', 'com'));
    assert.ok(!covers('*.example.com', 'example.com'));
    assert.ok(!covers('*.example.com', '*.com'));
  });
  it('the catch-all covers everything; exact names only themselves', () => {
    assert.ok(covers('*', 'example.com'));
    assert.ok(covers('example.com', 'example.com'));
    assert.ok(!covers('example.com', 'example.net'));
  });
});
