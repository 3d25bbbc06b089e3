// The proxy logger's timestamps (src/proxy/log.ts): isoTimestamp is
// Date#toISOString without V8's time-zone cache.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoTimestamp } from '../../src/proxy/log.js';

describe('isoTimestamp', () => {
  it('is toISOString', () => {
    const samples = [0, 1, 9, 10, 99, 100, 999, 951782400000, 1700000000123, Date.now(), 4102444799999, -1, -30610224000000, 253402300799999];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4102444800000));
    for (const ms of samples) assert.equal(isoTimestamp(ms), new Date(ms).toISOString(), String(ms));
  });

  it('falls back to toISOString outside years 1000–9999', () => {
    for (const ms of [-62198755200000, -8640000000000000, 253402300800000, 8640000000000000]) {
      assert.equal(isoTimestamp(ms), new Date(ms).toISOString(), String(ms));
    }
    assert.throws(() => isoTimestamp(NaN), RangeError);
  });
});
