// Upstream endpoint selection: round robin, random, least request, ring hash,
// Maglev; zone-aware routing, retry avoidance, panic mode, determinism.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadBalancerConfig } from '../../src/compiler/snapshot.js';
import { type EndpointState, endpointState } from '../../src/proxy/endpoint-state.js';
import { createBalancer, hash32, maglevTableSize, MAGLEV_TABLE_SIZE } from '../../src/proxy/balancer.js';

const NOW = 1_700_000_000_000;

function endpoints(n: number, zones?: (i: number) => string | undefined, prefix = 'shop/web'): EndpointState[] {
  return Array.from({ length: n }, (_, i) => {
    const zone = zones?.(i);
    return endpointState({
      address: '127.0.0.1',
      port: 16000 + i,
      identity: 'spiffe://cluster.local/ns/shop/sa/web',
      instance: `${prefix}-${i}`,
      ...(zone === undefined ? {} : { zone }),
    });
  });
}

/** Deterministic PRNG (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function counts(picks: (EndpointState | undefined)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of picks) {
    assert.ok(p, 'pick returned undefined');
    m.set(p.config.instance, (m.get(p.config.instance) ?? 0) + 1);
  }
  return m;
}

function pickN(b: ReturnType<typeof createBalancer>, n: number, ctx: Parameters<ReturnType<typeof createBalancer>['pick']>[0] = { now: NOW }): (EndpointState | undefined)[] {
  return Array.from({ length: n }, () => b.pick(ctx));
}

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function mapKeys(b: ReturnType<typeof createBalancer>, now = NOW): string[] {
  return keys.map((k) => b.pick({ now, hashKey: k })!.config.instance);
}

const ALL_TYPES: LoadBalancerConfig['type'][] = ['RoundRobin', 'LeastRequest', 'Random', 'RingHash', 'Maglev'];

/** Reference murmur3_32 over a byte buffer (textbook form). */
function murmurRef(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const nblocks = bytes.length >> 2;
  for (let i = 0; i < nblocks; i++) {
    let k = bytes[i * 4]! | (bytes[i * 4 + 1]! << 8) | (bytes[i * 4 + 2]! << 16) | (bytes[i * 4 + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = nblocks * 4;
  const rem = bytes.length & 3;
  if (rem >= 3) k ^= bytes[tail + 2]! << 16;
  if (rem >= 2) k ^= bytes[tail + 1]! << 8;
  if (rem >= 1) {
    k ^= bytes[tail]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

describe('hash32 (murmur3 x86 32-bit over UTF-8)', () => {
  it('matches published test vectors', () => {
    assert.equal(hash32('', 0), 0);
    assert.equal(hash32('', 1), 0x514e28b7);
    assert.equal(hash32('hello', 0), 0x248bfa47);
    assert.equal(hash32('The quick brown fox jumps over the lazy dog', 0), 0x2e4ff723);
  });

  it('hashes the UTF-8 bytes (same as a Buffer-based implementation), for every tail length', () => {
    const samples = ['a', 'ab', 'abc', 'abcd', 'abcde', 'ü', 'züri', '日本語', '😀', 'x😀y', 'ns/web-0#17', '\ud800 lone', 'end\udc00'];
    for (const s of samples) {
      for (const seed of [0, 1, 42]) assert.equal(hash32(s, seed), murmurRef(Buffer.from(s, 'utf8'), seed), `${JSON.stringify(s)} seed ${seed}`);
    }
  });
});

describe('empty endpoint list', () => {
  for (const type of ALL_TYPES) {
    it(`${type}: pick → undefined`, () => {
      const b = createBalancer([], { type }, 'a');
      assert.equal(b.pick({ now: NOW, hashKey: 'k' }), undefined);
      assert.equal(b.pick({ now: NOW }), undefined);
    });
  }
});

describe('RoundRobin', () => {
  it('is the default and is fair: every window of N picks hits each endpoint once', () => {
    const eps = endpoints(5);
    const b = createBalancer(eps, undefined, undefined, seeded(1));
    const picks = pickN(b, 50);
    for (let w = 0; w + 5 <= picks.length; w++) {
      assert.equal(new Set(picks.slice(w, w + 5)).size, 5, `window ${w}`);
    }
    for (const c of counts(picks).values()) assert.equal(c, 10);
  });

  it('each endpoint within ±1 for any number of picks', () => {
    const eps = endpoints(7);
    const b = createBalancer(eps, { type: 'RoundRobin' }, undefined);
    for (let n = 1; n <= 30; n++) {
      const c = counts(pickN(b, n));
      const values = eps.map((e) => c.get(e.config.instance) ?? 0);
      assert.ok(Math.max(...values) - Math.min(...values) <= 1, `n=${n}: ${values}`);
    }
  });

  it('starts at a random position (sidecars started together do not all hit endpoint 0)', () => {
    const eps = endpoints(5);
    assert.equal(createBalancer(eps, undefined, undefined, () => 0.6).pick({ now: NOW }), eps[3]);
    assert.equal(createBalancer(eps, undefined, undefined, () => 0).pick({ now: NOW }), eps[0]);
    assert.equal(createBalancer(eps, undefined, undefined, () => 0.9999999).pick({ now: NOW }), eps[4]);
  });

  it('rotates fairly over the remaining endpoints when some are unavailable', () => {
    const eps = endpoints(5);
    eps[1]!.healthy = false;
    eps[3]!.ejectedUntil = NOW + 10_000;
    const b = createBalancer(eps, undefined, undefined);
    const c = counts(pickN(b, 30));
    assert.deepEqual([...c.keys()].sort(), ['shop/web-0', 'shop/web-2', 'shop/web-4']);
    for (const v of c.values()) assert.equal(v, 10);
  });
});

describe('Random', () => {
  it('spreads picks roughly uniformly using the injected random source', () => {
    const eps = endpoints(4);
    const b = createBalancer(eps, { type: 'Random' }, undefined, seeded(7));
    const c = counts(pickN(b, 8000));
    for (const e of eps) {
      const v = c.get(e.config.instance) ?? 0;
      assert.ok(v > 1700 && v < 2300, `${e.config.instance}: ${v}`);
    }
  });

  it('stays uniform over the remaining endpoints when some are unavailable or tried', () => {
    const eps = endpoints(5);
    eps[0]!.healthy = false;
    const tried = new Set([eps[4]!]);
    for (const type of ['Random', 'RingHash'] as const) {
      const b = createBalancer(eps, { type }, undefined, seeded(13));
      const c = counts(pickN(b, 9000, { now: NOW, tried }));
      assert.deepEqual([...c.keys()].sort(), ['shop/web-1', 'shop/web-2', 'shop/web-3']);
      for (const [e, v] of c) assert.ok(v > 2700 && v < 3300, `${type} ${e}: ${v}`);
    }
  });

  it('copes with a random source returning 1', () => {
    const eps = endpoints(3);
    assert.equal(createBalancer(eps, { type: 'Random' }, undefined, () => 1).pick({ now: NOW }), eps[2]);
  });
});

describe('LeastRequest (power of two choices)', () => {
  it('of two endpoints, the loaded one is (almost) never picked', () => {
    const eps = endpoints(2);
    eps[0]!.active = 100;
    const b = createBalancer(eps, { type: 'LeastRequest' }, undefined, seeded(3));
    const c = counts(pickN(b, 1000));
    assert.ok((c.get('shop/web-0') ?? 0) < 50, `loaded endpoint picked ${c.get('shop/web-0')} times`);
  });

  it('prefers less loaded endpoints among many', () => {
    const eps = endpoints(4);
    eps[0]!.active = 0;
    eps[1]!.active = 3;
    eps[2]!.active = 6;
    eps[3]!.active = 9;
    const b = createBalancer(eps, { type: 'LeastRequest' }, undefined, seeded(11));
    const c = counts(pickN(b, 6000));
    const v = eps.map((e) => c.get(e.config.instance) ?? 0);
    assert.ok(v[0]! > v[1]! && v[1]! > v[2]!, `${v}`);
    assert.equal(v[3], 0, 'the most loaded endpoint never wins a comparison');
  });

  it('picks two distinct candidates (equal load → both get traffic)', () => {
    const eps = endpoints(3);
    const b = createBalancer(eps, { type: 'LeastRequest' }, undefined, seeded(5));
    const c = counts(pickN(b, 3000));
    for (const e of eps) assert.ok((c.get(e.config.instance) ?? 0) > 700);
  });

  it('ignores unavailable endpoints however idle they are', () => {
    const eps = endpoints(4);
    eps[0]!.ejectedUntil = NOW + 1; // idle but ejected
    eps[1]!.active = 5;
    eps[2]!.active = 5;
    eps[3]!.active = 5;
    const b = createBalancer(eps, { type: 'LeastRequest' }, undefined, seeded(6));
    const c = counts(pickN(b, 3000));
    assert.equal(c.get('shop/web-0'), undefined);
    for (const i of [1, 2, 3]) assert.ok((c.get(`shop/web-${i}`) ?? 0) > 800);
  });

  it('with one candidate, picks it', () => {
    const eps = endpoints(3);
    eps[0]!.healthy = false;
    eps[1]!.healthy = false;
    eps[2]!.active = 1000;
    const b = createBalancer(eps, { type: 'LeastRequest' }, undefined, seeded(5));
    for (const p of pickN(b, 20)) assert.equal(p, eps[2]);
  });
});

describe('availability, retries and panic', () => {
  for (const type of ALL_TYPES) {
    it(`${type}: skips unhealthy and ejected endpoints; ejection expires`, () => {
      const eps = endpoints(4);
      eps[0]!.healthy = false;
      eps[2]!.ejectedUntil = NOW + 1000;
      const b = createBalancer(eps, { type }, undefined, seeded(2));
      const seen = new Set<EndpointState>();
      for (let i = 0; i < 400; i++) seen.add(b.pick({ now: NOW, hashKey: `k${i}` })!);
      assert.deepEqual([...seen].map((e) => e.config.instance).sort(), ['shop/web-1', 'shop/web-3']);
      const later = new Set<EndpointState>();
      for (let i = 0; i < 400; i++) later.add(b.pick({ now: NOW + 1000, hashKey: `k${i}` })!);
      assert.deepEqual([...later].map((e) => e.config.instance).sort(), ['shop/web-1', 'shop/web-2', 'shop/web-3']);
    });

    it(`${type}: a retry avoids endpoints already tried`, () => {
      const eps = endpoints(4);
      const b = createBalancer(eps, { type }, undefined, seeded(4));
      const tried = new Set([eps[0]!, eps[1]!]);
      for (let i = 0; i < 300; i++) {
        const p = b.pick({ now: NOW, hashKey: `k${i}`, tried })!;
        assert.ok(!tried.has(p), `picked tried ${p.config.instance}`);
      }
    });

    it(`${type}: when every available endpoint was tried, a tried one is picked (never an unavailable one)`, () => {
      const eps = endpoints(3);
      eps[2]!.healthy = false;
      const b = createBalancer(eps, { type }, undefined, seeded(4));
      const tried = new Set([eps[0]!, eps[1]!]);
      const seen = new Set<EndpointState>();
      for (let i = 0; i < 100; i++) seen.add(b.pick({ now: NOW, hashKey: `k${i}`, tried })!);
      assert.ok(!seen.has(eps[2]!));
      assert.ok(seen.size >= 1);
    });

    it(`${type}: panic — nothing available → every endpoint is used, untried first`, () => {
      const eps = endpoints(3);
      for (const e of eps) e.healthy = false;
      eps[1]!.ejectedUntil = NOW + 5000;
      const b = createBalancer(eps, { type }, undefined, seeded(9));
      const seen = new Set<EndpointState>();
      for (let i = 0; i < 300; i++) seen.add(b.pick({ now: NOW, hashKey: `k${i}` })!);
      assert.equal(seen.size, 3);
      const tried = new Set([eps[0]!]);
      for (let i = 0; i < 100; i++) assert.notEqual(b.pick({ now: NOW, hashKey: `k${i}`, tried }), eps[0]);
      const allTried = new Set(eps);
      for (let i = 0; i < 20; i++) assert.ok(b.pick({ now: NOW, hashKey: `k${i}`, tried: allTried }));
    });
  }

  it('the hash policies keep a key on its endpoint across retries only if untried', () => {
    for (const type of ['RingHash', 'Maglev'] as const) {
      const eps = endpoints(5);
      const b = createBalancer(eps, { type }, undefined);
      const first = b.pick({ now: NOW, hashKey: 'alice' })!;
      assert.equal(b.pick({ now: NOW, hashKey: 'alice', tried: new Set() }), first);
      const second = b.pick({ now: NOW, hashKey: 'alice', tried: new Set([first]) })!;
      assert.notEqual(second, first);
      // deterministic fallback: the same retry lands on the same endpoint
      assert.equal(b.pick({ now: NOW, hashKey: 'alice', tried: new Set([first]) }), second);
    }
  });
});

describe('locality (zone-aware routing)', () => {
  const zoneOf = (i: number) => ['a', 'b', 'c'][i % 3]; // a: 0,3,6  b: 1,4,7  c: 2,5,8
  const loc = (type: LoadBalancerConfig['type'], minHealthyPercent: number): LoadBalancerConfig => ({ type, locality: { minHealthyPercent } });

  for (const type of ALL_TYPES) {
    it(`${type}: keeps traffic in the local zone while it is healthy enough`, () => {
      const eps = endpoints(9, zoneOf);
      const b = createBalancer(eps, loc(type, 50), 'a', seeded(1));
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 500; i++) seen.add(b.pick({ now: NOW, hashKey: `k${i}` })!.config.zone);
      assert.deepEqual([...seen], ['a']);
    });

    it(`${type}: stays local at exactly the threshold, on available local endpoints only`, () => {
      const eps = endpoints(9, zoneOf);
      eps[0]!.healthy = false; // 2 of 3 local available = 66.7%
      const b = createBalancer(eps, loc(type, 66), 'a', seeded(1));
      const seen = new Set<string>();
      for (let i = 0; i < 500; i++) seen.add(b.pick({ now: NOW, hashKey: `k${i}` })!.config.instance);
      assert.deepEqual([...seen].sort(), ['shop/web-3', 'shop/web-6']);
    });

    it(`${type}: spills over to every zone below the threshold`, () => {
      const eps = endpoints(9, zoneOf);
      eps[0]!.ejectedUntil = NOW + 60_000; // 2 of 3 local available = 66.7% < 70%
      const b = createBalancer(eps, loc(type, 70), 'a', seeded(1));
      const seen = new Set<string>();
      for (let i = 0; i < 2000; i++) seen.add(b.pick({ now: NOW, hashKey: `k${i}` })!.config.instance);
      assert.equal(seen.size, 8, [...seen].join());
      assert.ok(!seen.has('shop/web-0'));
    });
  }

  it('spills over when every local endpoint is down, even with minHealthyPercent 0', () => {
    const eps = endpoints(9, zoneOf);
    for (const i of [0, 3, 6]) eps[i]!.healthy = false;
    const b = createBalancer(eps, loc('RoundRobin', 0), 'a');
    const c = counts(pickN(b, 60));
    assert.equal(c.size, 6);
  });

  it('all zones alike without locality config, without a local zone, or with no local endpoints', () => {
    const eps = endpoints(9, zoneOf);
    for (const [config, zone] of [
      [{ type: 'RoundRobin' }, 'a'],
      [loc('RoundRobin', 50), undefined],
      [loc('RoundRobin', 50), 'z'],
    ] as const) {
      const c = counts(pickN(createBalancer(eps, config, zone), 90));
      assert.equal(c.size, 9);
      for (const v of c.values()) assert.equal(v, 10);
    }
  });

  it('a retry leaves the zone rather than re-trying the only local endpoint', () => {
    const eps = endpoints(4, (i) => (i === 0 ? 'a' : 'b'));
    const b = createBalancer(eps, loc('RoundRobin', 50), 'a');
    assert.equal(b.pick({ now: NOW }), eps[0]);
    const retry = b.pick({ now: NOW, tried: new Set([eps[0]!]) })!;
    assert.equal(retry.config.zone, 'b');
    // everything tried → back to the local zone
    assert.equal(b.pick({ now: NOW, tried: new Set(eps) }), eps[0]);
  });

  it('round robin stays fair inside the local zone', () => {
    const eps = endpoints(9, zoneOf);
    const c = counts(pickN(createBalancer(eps, loc('RoundRobin', 50), 'b'), 30));
    assert.deepEqual(Object.fromEntries(c), { 'shop/web-1': 10, 'shop/web-4': 10, 'shop/web-7': 10 });
  });

  it('hash policies: a key maps to its ring/table successor inside the zone, stably', () => {
    for (const type of ['RingHash', 'Maglev'] as const) {
      const eps = endpoints(9, zoneOf);
      const b = createBalancer(eps, loc(type, 50), 'a');
      const global = createBalancer(eps, { type }, undefined);
      for (const k of keys.slice(0, 500)) {
        const p = b.pick({ now: NOW, hashKey: k })!;
        assert.equal(p.config.zone, 'a');
        assert.equal(b.pick({ now: NOW, hashKey: k }), p);
        const g = global.pick({ now: NOW, hashKey: k })!;
        if (g.config.zone === 'a') assert.equal(p, g, 'keys already in the zone stay where they are');
      }
    }
  });
});

describe('RingHash', () => {
  it('is sticky and spreads keys over all endpoints', () => {
    const eps = endpoints(10);
    const b = createBalancer(eps, { type: 'RingHash' }, undefined);
    const first = mapKeys(b);
    assert.deepEqual(mapKeys(b), first);
    const c = new Map<string, number>();
    for (const e of first) c.set(e, (c.get(e) ?? 0) + 1);
    assert.equal(c.size, 10);
    for (const [e, v] of c) assert.ok(v > 500 && v < 1700, `${e}: ${v}`);
  });

  it('removing one of 10 endpoints moves only its keys (< 15%)', () => {
    const eps = endpoints(10);
    const before = mapKeys(createBalancer(eps, { type: 'RingHash' }, undefined));
    const after = mapKeys(createBalancer(eps.filter((_, i) => i !== 3), { type: 'RingHash' }, undefined));
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        assert.equal(before[i], 'shop/web-3', `${keys[i]} moved from ${before[i]}`);
      }
    }
    assert.ok(moved > 0 && moved < keys.length * 0.15, `moved ${moved}`);
    assert.equal(moved, before.filter((e) => e === 'shop/web-3').length);
  });

  it('adding an endpoint moves keys only onto it', () => {
    const eps = endpoints(11);
    const before = mapKeys(createBalancer(eps.slice(0, 10), { type: 'RingHash' }, undefined));
    const after = mapKeys(createBalancer(eps, { type: 'RingHash' }, undefined));
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        assert.equal(after[i], 'shop/web-10');
      }
    }
    assert.ok(moved > 0 && moved < keys.length * 0.15, `moved ${moved}`);
  });

  it('ejecting an endpoint moves only its keys, spread over the others; they come back', () => {
    const eps = endpoints(10);
    const b = createBalancer(eps, { type: 'RingHash' }, undefined);
    const before = mapKeys(b);
    eps[5]!.ejectedUntil = NOW + 1000;
    const during = mapKeys(b);
    const targets = new Set<string>();
    for (let i = 0; i < keys.length; i++) {
      if (before[i] !== during[i]) {
        assert.equal(before[i], 'shop/web-5');
        targets.add(during[i]!);
      }
    }
    assert.ok(!during.includes('shop/web-5'));
    assert.ok(targets.size >= 5, `moved keys went to ${targets.size} endpoints only`);
    assert.deepEqual(mapKeys(b, NOW + 1000), before);
  });

  it('honours ringSize (even 1 point per endpoint) and has no key → random', () => {
    const eps = endpoints(3);
    const b = createBalancer(eps, { type: 'RingHash', ringSize: 1 }, undefined, seeded(8));
    for (const k of keys.slice(0, 50)) assert.equal(b.pick({ now: NOW, hashKey: k }), b.pick({ now: NOW, hashKey: k }));
    const c = counts(pickN(b, 3000));
    for (const e of eps) assert.ok((c.get(e.config.instance) ?? 0) > 800);
  });

  it('more virtual nodes → a more even spread', () => {
    const eps = endpoints(10);
    const spread = (ringSize: number) => {
      const c = new Map<string, number>();
      for (const e of mapKeys(createBalancer(eps, { type: 'RingHash', ringSize }, undefined))) c.set(e, (c.get(e) ?? 0) + 1);
      const v = [...c.values()];
      return Math.max(...v) / Math.min(...v);
    };
    assert.ok(spread(1000) < spread(2));
  });
});

describe('Maglev', () => {
  it('is sticky and spreads keys evenly over all endpoints', () => {
    const eps = endpoints(10);
    const b = createBalancer(eps, { type: 'Maglev' }, undefined);
    const first = mapKeys(b);
    assert.deepEqual(mapKeys(b), first);
    const c = new Map<string, number>();
    for (const e of first) c.set(e, (c.get(e) ?? 0) + 1);
    assert.equal(c.size, 10);
    for (const [e, v] of c) assert.ok(v > 800 && v < 1200, `${e}: ${v}`);
  });

  it('removing one of 10 endpoints moves < 20% of keys, mostly its own', () => {
    const eps = endpoints(10);
    const before = mapKeys(createBalancer(eps, { type: 'Maglev' }, undefined));
    const after = mapKeys(createBalancer(eps.filter((_, i) => i !== 3), { type: 'Maglev' }, undefined));
    let moved = 0;
    let fromRemoved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === 'shop/web-3') assert.notEqual(after[i], 'shop/web-3');
      if (before[i] !== after[i]) {
        moved++;
        if (before[i] === 'shop/web-3') fromRemoved++;
      }
    }
    assert.ok(moved < keys.length * 0.2, `moved ${moved}`);
    assert.equal(fromRemoved, before.filter((e) => e === 'shop/web-3').length);
    assert.ok(fromRemoved / moved > 0.8, `only ${fromRemoved} of ${moved} moved keys were on the removed endpoint`);
  });

  it('ejecting an endpoint moves only its keys; they come back', () => {
    const eps = endpoints(10);
    const b = createBalancer(eps, { type: 'Maglev' }, undefined);
    const before = mapKeys(b);
    eps[7]!.healthy = false;
    const during = mapKeys(b);
    for (let i = 0; i < keys.length; i++) if (before[i] !== during[i]) assert.equal(before[i], 'shop/web-7');
    assert.ok(!during.includes('shop/web-7'));
    eps[7]!.healthy = true;
    assert.deepEqual(mapKeys(b), before);
  });

  it('table size: 65537 (prime) normally, a larger prime for very many endpoints', () => {
    assert.equal(maglevTableSize(1), MAGLEV_TABLE_SIZE);
    assert.equal(maglevTableSize(100), 65537);
    const big = maglevTableSize(1000);
    assert.ok(big >= 100_000);
    for (let d = 2; d * d <= big; d++) assert.notEqual(big % d, 0);
  });
});

describe('determinism', () => {
  for (const type of ['RingHash', 'Maglev'] as const) {
    it(`${type}: two balancers built from the same endpoints (any order, fresh state objects) map keys identically`, () => {
      const a = createBalancer(endpoints(12), { type }, undefined, seeded(1));
      const b = createBalancer(endpoints(12).reverse(), { type }, undefined, seeded(2));
      assert.deepEqual(mapKeys(a), mapKeys(b));
    });
  }

  it('placement is pinned: the same keys map to the same instances in every process and version', () => {
    const ring = createBalancer(endpoints(5), { type: 'RingHash' }, undefined);
    const maglev = createBalancer(endpoints(5), { type: 'Maglev' }, undefined);
    const at = (b: ReturnType<typeof createBalancer>) => ['alice', 'bob', 'carol', '', 'ü'].map((k) => b.pick({ now: NOW, hashKey: k })!.config.instance);
    assert.deepEqual(at(ring), ['shop/web-0', 'shop/web-1', 'shop/web-2', 'shop/web-3', 'shop/web-3']);
    assert.deepEqual(at(maglev), ['shop/web-0', 'shop/web-3', 'shop/web-2', 'shop/web-0', 'shop/web-1']);
  });
});

describe('build cost', () => {
  for (const type of ['RingHash', 'Maglev'] as const) {
    it(`${type}: builds for 100 endpoints in well under 50 ms`, () => {
      const eps = endpoints(100);
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        createBalancer(eps, { type }, undefined);
        best = Math.min(best, performance.now() - t0);
      }
      assert.ok(best < 50, `${type} build took ${best.toFixed(1)} ms`);
    });
  }
});
