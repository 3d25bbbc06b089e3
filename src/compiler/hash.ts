// Content hashes of compiled resources. Each object is hashed once (the
// compiler never mutates what it produced), so a snapshot's version and the
// per-resource versions used for incremental pushes cost one pass.

import { createHash } from 'node:crypto';

const cache = new WeakMap<object, string>();

export function hashOf(value: unknown): string {
  return createHash('sha256').update(typeof value === 'string' ? value : JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Hash of a compiled (immutable) object, memoised by identity. */
export function resourceHash(obj: object): string {
  let h = cache.get(obj);
  if (h === undefined) {
    // A list hashes its elements' (memoised) hashes: a new list of old elements costs little.
    h = Array.isArray(obj) ? hashOf('[' + obj.map((x: object) => resourceHash(x)).join(',')) : hashOf(obj);
    cache.set(obj, h);
  }
  return h;
}

