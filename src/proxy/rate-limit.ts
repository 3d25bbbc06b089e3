// Local rate limiting (TrafficPolicy.rateLimit, RateLimitConfig): token
// buckets checked by the inbound listener before a request (HTTP) or a
// connection (TCP) reaches the app.
//
// Buckets refill continuously: `tokensPerSecond` per second, fractional tokens
// included, up to `burst`. A bucket starts full. Time is a parameter (`now`,
// milliseconds, any monotonic-ish clock) so tests can simulate it; a clock that
// steps backwards refills nothing.
//
// Nothing on the common path allocates: `take` on an existing bucket only does
// arithmetic, an admitted request returns a shared frozen decision, and a
// denied one returns a shared decision for Retry-After values up to 60 s.

/** Retry-After never exceeds this (a bucket that does not refill, or refills very slowly). */
const MAX_RETRY_AFTER_S = 86_400;
/** Tolerance for floating-point drift in refills (0.1 + 0.2 ≠ 0.3). */
const EPSILON = 1e-9;

/**
 * A token bucket holding up to `burst` tokens, refilled continuously at
 * `tokensPerSecond`, full at creation. A burst below 1 admits nothing; a rate
 * of 0 never refills.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    readonly tokensPerSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
    this.perMs = tokensPerSecond > 0 ? tokensPerSecond / 1000 : 0;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    this.last = now;
    if (elapsed <= 0 || this.tokens >= this.burst) return;
    const t = this.tokens + elapsed * this.perMs;
    this.tokens = t < this.burst ? t : this.burst;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens >= 1 - EPSILON) {
      this.tokens -= 1;
      if (this.tokens < 0) this.tokens = 0;
      return true;
    }
    return false;
  }

  /** True when the bucket holds `burst` tokens at `now`, i.e. it is indistinguishable from a new bucket. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst - EPSILON;
  }

  /** Seconds until one token is available (ceil, ≥1): the Retry-After of a refused request. */
  retryAfterSeconds(now: number): number {
    this.refill(now);
    if (this.perMs === 0 || this.burst < 1 - EPSILON) return MAX_RETRY_AFTER_S;
    const missing = 1 - this.tokens;
    if (missing <= EPSILON) return 1;
    const s = Math.ceil(missing / this.tokensPerSecond - EPSILON);
    return s < 1 ? 1 : s > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : s;
  }

  /** Back to a full bucket at `now` (reuse of an evicted bucket). */
  reset(now: number): void {
    this.tokens = this.burst;
    this.last = now;
  }
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** 0 when allowed; otherwise the Retry-After value in seconds (≥1). */
  readonly retryAfterSeconds: number;
}

const ALLOWED: RateLimitDecision = Object.freeze({ allowed: true, retryAfterSeconds: 0 });
const DENIED: readonly RateLimitDecision[] = Array.from({ length: 61 }, (_, s) => Object.freeze({ allowed: false, retryAfterSeconds: s }));

function denied(retryAfterSeconds: number): RateLimitDecision {
  return retryAfterSeconds < DENIED.length ? DENIED[retryAfterSeconds]! : { allowed: false, retryAfterSeconds };
}

/** A bucket that is also a node of the limiter's LRU list. */
class SourceBucket extends TokenBucket {
  prev: SourceBucket | undefined;
  next: SourceBucket | undefined;
  constructor(
    public key: string,
    tokensPerSecond: number,
    burst: number,
    now: number,
  ) {
    super(tokensPerSecond, burst, now);
  }
}

/**
 * One token bucket for all callers, or (perSource) one per source identity.
 *
 * Per-source buckets live in a map bounded by `maxKeys`. When a new source
 * arrives and the map is full, the least recently used bucket is evicted (its
 * object is reused for the newcomer, so even eviction does not allocate). An
 * evicted source that comes back starts with a full bucket again, so eviction
 * can only err towards admitting: a source idle for burst/rate seconds has a
 * full bucket anyway and loses nothing. Only a caller cycling through more than
 * `maxKeys` identities (each a certificate the mesh issued) could gain bursts
 * this way; memory stays bounded regardless.
 *
 * Requests without a source identity (plaintext, permissive mode) share one
 * bucket, keyed by the empty string.
 */
export class RateLimiter {
  private readonly shared: TokenBucket | undefined;
  private readonly buckets = new Map<string, SourceBucket>();
  /** Most recently used. */
  private head: SourceBucket | undefined;
  /** Least recently used: the next to evict. */
  private tail: SourceBucket | undefined;
  private readonly maxKeys: number;

  constructor(
    readonly config: { tokensPerSecond: number; burst: number; perSource: boolean },
    maxKeys = 10_000,
  ) {
    this.maxKeys = Math.max(1, Math.floor(maxKeys));
    this.shared = config.perSource ? undefined : new TokenBucket(config.tokensPerSecond, config.burst, 0);
  }

  /** Per-source buckets held now (tests, stats). */
  get size(): number {
    return this.buckets.size;
  }

  take(source: string | undefined, now: number): RateLimitDecision {
    const bucket = this.shared ?? this.bucketFor(source ?? '', now);
    if (bucket.take(now)) return ALLOWED;
    return denied(bucket.retryAfterSeconds(now));
  }

  private bucketFor(key: string, now: number): TokenBucket {
    let b = this.buckets.get(key);
    if (b !== undefined) {
      this.touch(b);
      return b;
    }
    if (this.buckets.size >= this.maxKeys && this.tail !== undefined) {
      b = this.tail;
      this.unlink(b);
      this.buckets.delete(b.key);
      b.key = key;
      b.reset(now);
    } else {
      b = new SourceBucket(key, this.config.tokensPerSecond, this.config.burst, now);
    }
    this.buckets.set(key, b);
    this.pushFront(b);
    return b;
  }

  private touch(b: SourceBucket): void {
    if (this.head === b) return;
    this.unlink(b);
    this.pushFront(b);
  }

  private unlink(b: SourceBucket): void {
    if (b.prev !== undefined) b.prev.next = b.next;
    else this.head = b.next;
    if (b.next !== undefined) b.next.prev = b.prev;
    else this.tail = b.prev;
    b.prev = b.next = undefined;
  }

  private pushFront(b: SourceBucket): void {
    b.prev = undefined;
    b.next = this.head;
    if (this.head !== undefined) this.head.prev = b;
    this.head = b;
    if (this.tail === undefined) this.tail = b;
  }
}
