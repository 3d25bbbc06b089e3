// Local rate limiting: continuous token buckets, per-source isolation and a
// bounded number of per-source buckets. Time is simulated (`now` in ms).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, TokenBucket } from '../../src/proxy/rate-limit.js';

describe('TokenBucket', () => {
  it('admits the burst at once, then nothing until a token refills', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) assert.equal(b.take(0), true, `take ${i}`);
    assert.equal(b.take(0), false);
    assert.equal(b.take(99), false, 'only 0.99 tokens after 99 ms');
    assert.equal(b.take(100), true, 'one token after 100 ms at 10/s');
    assert.equal(b.take(100), false);
  });

  it('admits the burst plus exactly the rate over simulated time (±1 token)', () => {
    for (const [rate, burst] of [
      [10, 5],
      [3, 1],
      [100, 20],
      [0.5, 2],
      [7, 7],
    ] as const) {
      const b = new TokenBucket(rate, burst, 0);
      let admitted = 0;
      const seconds = 60;
      // A request every millisecond, far above the rate.
      for (let t = 0; t <= seconds * 1000; t++) if (b.take(t)) admitted++;
      const expected = burst + rate * seconds;
      assert.ok(Math.abs(admitted - expected) <= 1, `rate ${rate} burst ${burst}: admitted ${admitted}, expected ${expected}`);
    }
  });

  it('refills fractionally and never beyond the burst', () => {
    const b = new TokenBucket(2, 3, 0);
    for (let i = 0; i < 3; i++) b.take(0);
    // 250 ms + 250 ms = one token at 2/s, though neither half alone is.
    assert.equal(b.take(250), false);
    assert.equal(b.take(500), true);
    // A long idle period fills the bucket to the burst, no more.
    let n = 0;
    while (b.take(1_000_000)) n++;
    assert.equal(n, 3);
  });

  it('retryAfterSeconds: ceil of the time to one token, at least 1', () => {
    const b = new TokenBucket(0.25, 1, 0);
    assert.equal(b.take(0), true);
    assert.equal(b.retryAfterSeconds(0), 4);
    assert.equal(b.retryAfterSeconds(1000), 3);
    assert.equal(b.retryAfterSeconds(3999), 1);
    const fast = new TokenBucket(1000, 1, 0);
    fast.take(0);
    assert.equal(fast.retryAfterSeconds(0), 1, 'never below 1');
    const never = new TokenBucket(0, 1, 0);
    never.take(0);
    assert.ok(never.retryAfterSeconds(0) >= 3600, 'a bucket that never refills asks for a long wait');
  });

  it('a clock stepping backwards refills nothing', () => {
    const b = new TokenBucket(1, 1, 10_000);
    assert.equal(b.take(10_000), true);
    assert.equal(b.take(5_000), false);
    assert.equal(b.take(5_999), false);
    assert.equal(b.take(6_000), true, 'refill resumes from the new reading');
  });
});

describe('RateLimiter', () => {
  it('one bucket for everyone unless perSource', () => {
    const rl = new RateLimiter({ tokensPerSecond: 1, burst: 2, perSource: false });
    assert.equal(rl.take('a', 0).allowed, true);
    assert.equal(rl.take('b', 0).allowed, true);
    const d = rl.take('c', 0);
    assert.equal(d.allowed, false);
    assert.equal(d.retryAfterSeconds, 1);
    assert.equal(rl.size, 0, 'no per-source buckets');
  });

  it('isolates sources when perSource', () => {
    const rl = new RateLimiter({ tokensPerSecond: 1, burst: 2, perSource: true });
    const a = 'spiffe://cluster.local/ns/shop/sa/a';
    const b = 'spiffe://cluster.local/ns/shop/sa/b';
    assert.equal(rl.take(a, 0).allowed, true);
    assert.equal(rl.take(a, 0).allowed, true);
    assert.equal(rl.take(a, 0).allowed, false, 'a exhausted');
    assert.equal(rl.take(b, 0).allowed, true, 'b unaffected');
    assert.equal(rl.take(b, 0).allowed, true);
    assert.equal(rl.take(b, 0).allowed, false);
    assert.equal(rl.take(a, 1000).allowed, true, 'a refilled');
    // Callers without an identity share one bucket.
    assert.equal(rl.take(undefined, 0).allowed, true);
    assert.equal(rl.take(undefined, 0).allowed, true);
    assert.equal(rl.take(undefined, 0).allowed, false);
  });

  it('allowed decisions are shared objects (no allocation per request)', () => {
    const rl = new RateLimiter({ tokensPerSecond: 100, burst: 100, perSource: true });
    const first = rl.take('a', 0);
    assert.equal(first.allowed, true);
    assert.equal(first.retryAfterSeconds, 0);
    assert.equal(rl.take('a', 0), first);
  });

  it('keeps at most maxKeys buckets, evicting the least recently used', () => {
    const rl = new RateLimiter({ tokensPerSecond: 1, burst: 1, perSource: true }, 3);
    for (const s of ['a', 'b', 'c']) assert.equal(rl.take(s, 0).allowed, true);
    assert.equal(rl.take('a', 0).allowed, false, 'a is now most recently used');
    // d evicts the least recently used: b.
    assert.equal(rl.take('d', 0).allowed, true);
    assert.equal(rl.size, 3);
    assert.equal(rl.take('a', 0).allowed, false, 'a kept its (empty) bucket');
    assert.equal(rl.take('c', 0).allowed, false, 'c kept its bucket');
    // b was evicted: it comes back with a full bucket (eviction errs towards admitting) and evicts d.
    assert.equal(rl.take('b', 0).allowed, true);
    assert.equal(rl.take('d', 0).allowed, true, 'd was evicted in turn');
    assert.equal(rl.size, 3);
  });

  it('an attacker cycling identities cannot grow memory', () => {
    const rl = new RateLimiter({ tokensPerSecond: 1, burst: 1, perSource: true }, 100);
    for (let i = 0; i < 10_000; i++) rl.take(`spiffe://cluster.local/ns/x/sa/${i}`, i);
    assert.equal(rl.size, 100);
  });
});
