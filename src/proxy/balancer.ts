// Upstream endpoint selection for one cluster: RoundRobin, Random,
// LeastRequest (power of two choices), RingHash (ketama-style consistent hash
// ring) and Maglev, with zone-aware routing, retry avoidance and panic mode.
//
// One Balancer is built per cluster per endpoint-list change; pick() runs on
// every request and, in the common case (the chosen endpoint is available and
// untried), allocates nothing and costs O(1) — O(local endpoints) with
// locality, whose health has to be counted. The policy draws from a
// precomputed pool (all endpoints, or the local zone's) and the draw is kept
// when it is a first-tier candidate. Otherwise (slow path: some endpoint is
// down, a retry drew a tried one, panic) pick() counts every endpoint, picks
// the tier below and draws again among the filtered candidates; only that path
// allocates (RoundRobin/Random/LeastRequest), the hash policies walk the
// ring/table to the next candidate instead. Random and LeastRequest stay
// uniform over the candidates; RoundRobin hands the turns of unavailable
// endpoints round-robin to the others, so the shares stay equal over time.
//
// Candidate selection, in order:
//  1. No endpoint is available at all → panic: every endpoint is a candidate
//     (untried ones first). Better to try than to fail every request.
//  2. Zone set: with `locality` configured and a local zone known, the local
//     endpoints are used when they exist and at least minHealthyPercent of them
//     are available (and at least one is); otherwise all zones.
//  3. Within the zone set, available endpoints not in `tried`. If every one of
//     them was tried, available untried endpoints of the other zones (a retry
//     should rather cross a zone than hit the endpoint that just failed); if
//     everything available was tried, the available endpoints of the zone set.
//
// Hashing: murmur3 (x86, 32-bit) over the UTF-8 bytes of a string, so rings and
// tables are identical in every process that sees the same endpoints, in any
// order (endpoints are ordered by `instance` before building).

import type { LoadBalancerConfig } from '../compiler/snapshot.js';
import { type EndpointState, isAvailable } from './endpoint-state.js';

export interface PickContext {
  /** ms since epoch (callers pass Date.now() once). */
  now: number;
  /** RingHash/Maglev key; undefined → behave like Random. */
  hashKey?: string;
  /** Endpoints already tried by this request (retries prefer another endpoint if one is available). */
  tried?: ReadonlySet<EndpointState>;
}

export interface Balancer {
  pick(ctx: PickContext): EndpointState | undefined;
}

/** Virtual nodes per endpoint on the RingHash ring when `ringSize` is not set. */
export const DEFAULT_RING_SIZE = 100;
/** Upper bound on ring points (endpoints × ringSize), as Envoy caps its ring at 8M entries. */
export const MAX_RING_POINTS = 8 * 1024 * 1024;
/** Maglev lookup table size (prime) used up to MAGLEV_DEFAULT_MAX_ENDPOINTS endpoints. */
export const MAGLEV_TABLE_SIZE = 65537;
const MAGLEV_DEFAULT_MAX_ENDPOINTS = 655; // keeps M ≥ 100·N, the paper's recommendation
const MAGLEV_MAX_TABLE_SIZE = 5000011;

// ---------------------------------------------------------------------------
// murmur3_32 over UTF-8, streaming (no Buffer allocation per key).

let mh = 0;
let mk = 0;
let mShift = 0;
let mLen = 0;

function mixBlock(k: number): void {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  mh ^= k;
  mh = (mh << 13) | (mh >>> 19);
  mh = (Math.imul(mh, 5) + 0xe6546b64) | 0;
}

function feed(byte: number): void {
  mk |= byte << mShift;
  mLen++;
  mShift += 8;
  if (mShift === 32) {
    mixBlock(mk);
    mk = 0;
    mShift = 0;
  }
}

/**
 * MurmurHash3 x86 32-bit of the UTF-8 encoding of `s` (lone surrogates encode
 * as U+FFFD, like Buffer.from(s, 'utf8')). Deterministic across processes.
 */
export function hash32(s: string, seed = 0): number {
  const n = s.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  return ascii ? hashAscii(s, seed) : hashUtf8(s, seed);
}

/** hash32 for strings of code units < 0x80 (one byte each): four at a time. */
function hashAscii(s: string, seed: number): number {
  const n = s.length;
  let h = seed | 0;
  const blocks = n & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rem = n - blocks;
  if (rem > 0) {
    let k = s.charCodeAt(i);
    if (rem > 1) k |= s.charCodeAt(i + 1) << 8;
    if (rem > 2) k |= s.charCodeAt(i + 2) << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashUtf8(s: string, seed: number): number {
  mh = seed | 0;
  mk = 0;
  mShift = 0;
  mLen = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      feed(c);
    } else if (c < 0x800) {
      feed(0xc0 | (c >> 6));
      feed(0x80 | (c & 0x3f));
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        feed(0xf0 | (c >> 18));
        feed(0x80 | ((c >> 12) & 0x3f));
        feed(0x80 | ((c >> 6) & 0x3f));
        feed(0x80 | (c & 0x3f));
      } else {
        feed(0xef);
        feed(0xbf);
        feed(0xbd);
      }
    } else {
      feed(0xe0 | (c >> 12));
      feed(0x80 | ((c >> 6) & 0x3f));
      feed(0x80 | (c & 0x3f));
    }
  }
  let h = mh;
  if (mShift > 0) {
    let k = Math.imul(mk, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= mLen;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------------------
// Deterministic endpoint order and hash structures.

function byInstance(a: EndpointState, b: EndpointState): number {
  const x = a.config;
  const y = b.config;
  if (x.instance !== y.instance) return x.instance < y.instance ? -1 : 1;
  if (x.address !== y.address) return x.address < y.address ? -1 : 1;
  return x.port - y.port;
}

interface Ring {
  hashes: Uint32Array;
  owners: Int32Array;
}

function buildRing(eps: readonly EndpointState[], perEndpoint: number): Ring {
  const n = eps.length;
  // Pack (hash, endpoint rank) into one float64 (hash·2^20 + rank < 2^52) so a
  // typed-array numeric sort orders points by hash, ties by instance name.
  const RANK = 1 << 20;
  if (n >= RANK) throw new Error(`ring hash: too many endpoints (${n})`);
  const packed = new Float64Array(n * perEndpoint);
  let p = 0;
  for (let r = 0; r < n; r++) {
    const name = eps[r]!.config.instance;
    for (let i = 0; i < perEndpoint; i++) packed[p++] = hash32(`${name}#${i}`) * RANK + r;
  }
  packed.sort();
  const hashes = new Uint32Array(packed.length);
  const owners = new Int32Array(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const v = packed[i]!;
    const r = v % RANK;
    owners[i] = r;
    hashes[i] = (v - r) / RANK;
  }
  return { hashes, owners };
}

/** Index of the first ring point ≥ h, wrapping to 0. */
function ringIndex(hashes: Uint32Array, h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev table size: 65537 (Envoy's default) up to 655 endpoints; beyond that
 * the smallest prime ≥ 100·N (capped at 5000011) so every endpoint keeps ≈100+
 * slots. Depends only on N, so it is the same in every process.
 */
export function maglevTableSize(endpoints: number): number {
  if (endpoints <= MAGLEV_DEFAULT_MAX_ENDPOINTS) return MAGLEV_TABLE_SIZE;
  let m = Math.min(endpoints * 100, MAGLEV_MAX_TABLE_SIZE);
  while (!isPrime(m)) m++;
  return m;
}

/** Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4): table[slot] = endpoint rank. */
function buildMaglev(eps: readonly EndpointState[], m: number): Int32Array {
  const n = eps.length;
  const table = new Int32Array(m).fill(-1);
  const next = new Int32Array(n); // current permutation value per endpoint
  const skip = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const name = eps[i]!.config.instance;
    next[i] = hash32(name, 0) % m; // offset
    skip[i] = (hash32(name, 1) % (m - 1)) + 1;
  }
  let filled = 0;
  // m is prime and 1 ≤ skip < m, so each permutation visits every slot: the
  // inner walk always finds a free one while the table is not full.
  while (filled < m) {
    for (let i = 0; i < n; i++) {
      let c = next[i]!;
      const s = skip[i]!;
      while (table[c]! >= 0) {
        c += s;
        if (c >= m) c -= m;
      }
      table[c] = i;
      c += s;
      if (c >= m) c -= m;
      next[i] = c;
      if (++filled === m) break;
    }
  }
  return table;
}

// ---------------------------------------------------------------------------

type Kind = LoadBalancerConfig['type'];

class BalancerImpl implements Balancer {
  private readonly kind: Kind;
  private readonly hashed: boolean;
  /** Endpoints in the caller's order (RR/Random/LeastRequest pool). */
  private readonly all: readonly EndpointState[];
  /** Endpoints ordered by instance (ranks used by the ring and the table). */
  private readonly sorted: readonly EndpointState[];
  private readonly localityOn: boolean;
  private readonly localZone: string | undefined;
  private readonly minHealthyPercent: number;
  /** Endpoints in the local zone (empty without locality). */
  private readonly local: readonly EndpointState[];
  private readonly random: () => number;
  /** RoundRobin position over the precomputed pools. */
  private rr: number;
  /** RoundRobin position over filtered candidate arrays (slow path). */
  private rrSlow = 0;
  private readonly ring: Ring | undefined;
  private readonly maglev: Int32Array | undefined;

  // Candidate predicate of the current pick (no closures: pick allocates nothing).
  private cNow = 0;
  private cTried: ReadonlySet<EndpointState> | undefined;
  private cLocalOnly = false;
  private cAllowTried = false;
  private cPanic = false;

  constructor(endpoints: readonly EndpointState[], config: LoadBalancerConfig | undefined, localZone: string | undefined, random: () => number) {
    this.kind = config?.type ?? 'RoundRobin';
    this.hashed = this.kind === 'RingHash' || this.kind === 'Maglev';
    this.all = endpoints.slice();
    this.random = random;
    this.localityOn = config?.locality !== undefined && localZone !== undefined;
    this.localZone = localZone;
    this.minHealthyPercent = config?.locality?.minHealthyPercent ?? 0;
    this.local = this.localityOn ? this.all.filter((e) => e.config.zone === localZone) : [];
    // Random start so sidecars that start together don't all hit endpoint 0 first.
    this.rr = this.all.length > 0 ? this.index(this.all.length) : 0;
    this.sorted = this.all.slice().sort(byInstance);
    if (this.all.length > 0 && this.kind === 'RingHash') {
      const rs = config?.ringSize;
      let per = rs !== undefined && Number.isFinite(rs) ? Math.max(1, Math.floor(rs)) : DEFAULT_RING_SIZE;
      per = Math.max(1, Math.min(per, Math.floor(MAX_RING_POINTS / this.all.length)));
      this.ring = buildRing(this.sorted, per);
    }
    if (this.all.length > 0 && this.kind === 'Maglev') {
      this.maglev = buildMaglev(this.sorted, maglevTableSize(this.all.length));
    }
  }

  pick(ctx: PickContext): EndpointState | undefined {
    if (this.all.length === 0) return undefined;
    const now = ctx.now;
    const tried = ctx.tried !== undefined && ctx.tried.size > 0 ? ctx.tried : undefined;
    const hash = this.hashed && ctx.hashKey !== undefined ? hash32(ctx.hashKey) : -1;

    // Fast path. The first tier (available, untried, in the zone set) is the
    // answer whenever the endpoint the policy would choose from the
    // precomputed pool belongs to it: that costs O(1) without locality and
    // O(local endpoints) with it (the zone's health must be counted).
    let localOnly = false;
    if (this.localityOn && this.local.length > 0) {
      const local = this.local;
      // Available local endpoints needed to stay in the zone; stop counting once reached.
      const need = Math.max(1, Math.ceil((this.minHealthyPercent * local.length) / 100));
      let avail = 0;
      let availUntried = 0;
      for (let i = 0; i < local.length; i++) {
        const ep = local[i]!;
        if (isAvailable(ep, now)) {
          avail++;
          if (tried === undefined || !tried.has(ep)) availUntried++;
          if (avail >= need && availUntried > 0) break;
        }
      }
      localOnly = availUntried > 0 && avail * 100 >= this.minHealthyPercent * local.length;
    }
    this.cNow = now;
    this.cTried = tried;
    this.cPanic = false;
    this.cAllowTried = false;
    this.cLocalOnly = localOnly;
    const hit = this.fastPick(localOnly ? this.local : this.all, hash, localOnly);
    if (hit !== undefined) return hit;

    // Slow path: count, choose the tier, filter.
    const pool = this.select(now, tried, hash >= 0);
    switch (this.kind) {
      case 'RingHash':
        return hash >= 0 ? this.walkRing(hash, pool) : this.pickRandom(pool);
      case 'Maglev':
        return hash >= 0 ? this.walkMaglev(hash, pool) : this.pickRandom(pool);
      case 'Random':
        return this.pickRandom(pool);
      case 'LeastRequest':
        return this.pickLeastRequest(pool);
      case 'RoundRobin':
      default: {
        const n = pool.length;
        if (n === 0) return undefined;
        const i = this.rrSlow % n;
        this.rrSlow = this.rrSlow >= 0x3fffffff ? 0 : this.rrSlow + 1;
        return pool[i];
      }
    }
  }

  /**
   * The policy's choice from `pool` if it is a first-tier candidate, else
   * undefined. Random and LeastRequest stay uniform over the candidates: a
   * rejected draw is redrawn among the filtered candidates. RoundRobin's
   * rejected turns are handed round-robin to the remaining candidates, so
   * over a rotation each still gets an equal share.
   */
  private fastPick(pool: readonly EndpointState[], hash: number, localOnly: boolean): EndpointState | undefined {
    const n = pool.length;
    switch (this.kind) {
      case 'RoundRobin': {
        const ep = pool[this.rr % n]!;
        this.rr = this.rr >= 0x3fffffff ? 0 : this.rr + 1;
        return this.isCandidate(ep) ? ep : undefined;
      }
      case 'LeastRequest': {
        if (n === 1) return this.isCandidate(pool[0]!) ? pool[0] : undefined;
        const i = this.index(n);
        let j = this.index(n - 1);
        if (j >= i) j++;
        const a = pool[i]!;
        const b = pool[j]!;
        if (!this.isCandidate(a) || !this.isCandidate(b)) return undefined;
        return b.active < a.active ? b : a;
      }
      case 'RingHash':
      case 'Maglev':
        if (hash >= 0) {
          // With locality the zone has an available untried endpoint, so the
          // walk finds it; otherwise only the key's own endpoint is checked.
          if (localOnly) return this.kind === 'RingHash' ? this.walkRing(hash, pool) : this.walkMaglev(hash, pool);
          const ep = this.kind === 'RingHash' ? this.sorted[this.ring!.owners[ringIndex(this.ring!.hashes, hash)]!]! : this.sorted[this.maglev![hash % this.maglev!.length]!]!;
          return this.isCandidate(ep) ? ep : undefined;
        }
        break;
      case 'Random':
        break;
    }
    const ep = pool[this.index(n)]!;
    return this.isCandidate(ep) ? ep : undefined;
  }

  /**
   * Counts every endpoint, decides the candidate predicate (panic, zone set,
   * whether tried endpoints are allowed) and returns the candidates: the
   * precomputed pool when every member qualifies or when the hash walk will
   * filter by itself, otherwise a filtered copy.
   */
  private select(now: number, tried: ReadonlySet<EndpointState> | undefined, hashWalk: boolean): readonly EndpointState[] {
    const all = this.all;
    const localityOn = this.localityOn;
    const zone = this.localZone;
    let availAll = 0;
    let availAllUntried = 0;
    let availLocal = 0;
    let availLocalUntried = 0;
    let allUntried = 0;
    for (let i = 0; i < all.length; i++) {
      const ep = all[i]!;
      const t = tried !== undefined && tried.has(ep);
      if (!t) allUntried++;
      if (!isAvailable(ep, now)) continue;
      availAll++;
      if (!t) availAllUntried++;
      if (localityOn && ep.config.zone === zone) {
        availLocal++;
        if (!t) availLocalUntried++;
      }
    }
    let poolArr: readonly EndpointState[];
    let count: number;
    if (availAll === 0) {
      this.cPanic = true;
      this.cLocalOnly = false;
      this.cAllowTried = allUntried === 0;
      poolArr = all;
      count = this.cAllowTried ? all.length : allUntried;
    } else {
      this.cPanic = false;
      const localTotal = this.local.length;
      const localOk = localityOn && localTotal > 0 && availLocal > 0 && availLocal * 100 >= this.minHealthyPercent * localTotal;
      if (localOk && availLocalUntried > 0) {
        this.cLocalOnly = true;
        this.cAllowTried = false;
        poolArr = this.local;
        count = availLocalUntried;
      } else if (availAllUntried > 0) {
        this.cLocalOnly = false;
        this.cAllowTried = false;
        poolArr = all;
        count = availAllUntried;
      } else if (localOk) {
        this.cLocalOnly = true;
        this.cAllowTried = true;
        poolArr = this.local;
        count = availLocal;
      } else {
        this.cLocalOnly = false;
        this.cAllowTried = true;
        poolArr = all;
        count = availAll;
      }
    }
    if (count === poolArr.length || hashWalk) return poolArr;
    const out: EndpointState[] = [];
    for (let i = 0; i < poolArr.length; i++) if (this.isCandidate(poolArr[i]!)) out.push(poolArr[i]!);
    return out;
  }

  private isCandidate(ep: EndpointState): boolean {
    if (!this.cPanic && !isAvailable(ep, this.cNow)) return false;
    if (this.cLocalOnly && ep.config.zone !== this.localZone) return false;
    if (!this.cAllowTried && this.cTried !== undefined && this.cTried.has(ep)) return false;
    return true;
  }

  private index(n: number): number {
    const i = Math.floor(this.random() * n);
    return i >= n ? n - 1 : i < 0 ? 0 : i;
  }

  private pickRandom(pool: readonly EndpointState[]): EndpointState | undefined {
    const n = pool.length;
    if (n === 0) return undefined;
    return pool[this.index(n)];
  }

  /** Power of two choices over candidates known to qualify. */
  private pickLeastRequest(pool: readonly EndpointState[]): EndpointState | undefined {
    const n = pool.length;
    if (n === 0) return undefined;
    if (n === 1) return pool[0];
    const i = this.index(n);
    let j = this.index(n - 1);
    if (j >= i) j++;
    const a = pool[i]!;
    const b = pool[j]!;
    return b.active < a.active ? b : a;
  }

  /** First candidate at or after the key's ring point (wrapping). */
  private walkRing(hash: number, pool: readonly EndpointState[]): EndpointState | undefined {
    const ring = this.ring!;
    const owners = ring.owners;
    const len = owners.length;
    let idx = ringIndex(ring.hashes, hash);
    for (let step = 0; step < len; step++) {
      const ep = this.sorted[owners[idx]!]!;
      if (this.isCandidate(ep)) return ep;
      if (++idx === len) idx = 0;
    }
    return this.fallback(pool);
  }

  /** First candidate at or after the key's table slot (wrapping). */
  private walkMaglev(hash: number, pool: readonly EndpointState[]): EndpointState | undefined {
    const table = this.maglev!;
    const m = table.length;
    let idx = hash % m;
    for (let step = 0; step < m; step++) {
      const r = table[idx]!;
      if (r >= 0) {
        const ep = this.sorted[r]!;
        if (this.isCandidate(ep)) return ep;
      }
      if (++idx === m) idx = 0;
    }
    return this.fallback(pool);
  }

  /** Only reached when a candidate owns no ring point / table slot (more endpoints than slots). */
  private fallback(pool: readonly EndpointState[]): EndpointState | undefined {
    for (let i = 0; i < pool.length; i++) if (this.isCandidate(pool[i]!)) return pool[i];
    return undefined;
  }
}

/**
 * Builds the balancer for one cluster's endpoints. Build once per endpoint-list
 * change: RingHash builds its ring (endpoints × ringSize points) and Maglev its
 * lookup table here. `random` (default Math.random) drives Random, the
 * LeastRequest choices, the RoundRobin start position and the hash policies
 * when a pick has no key.
 */
export function createBalancer(
  endpoints: readonly EndpointState[],
  config: LoadBalancerConfig | undefined,
  localZone: string | undefined,
  random: () => number = Math.random,
): Balancer {
  return new BalancerImpl(endpoints, config, localZone, random);
}
