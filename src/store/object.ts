// Value helpers for stored objects: canonical copies, deep freezing, content equality.
import type { Resource } from '../resources/types.js';

/**
 * A deep copy through JSON: what every backend can store. Drops `undefined`
 * fields, so that `{zone: undefined}` and `{}` are the same object in the
 * memory store, the file journal and etcd alike.
 */
export function jsonClone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** Structural equality of JSON values, independent of key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}

/**
 * Whether an apply of `next` over `stored` changes anything the user owns:
 * apiVersion, labels, annotations, spec, status. Server-set metadata
 * (resourceVersion, uid, creationTimestamp, generation) and `source` are ignored.
 */
export function sameContent(stored: Resource, next: Resource): boolean {
  return (
    stored.apiVersion === next.apiVersion &&
    jsonEqual(stored.metadata.labels, next.metadata.labels) &&
    jsonEqual(stored.metadata.annotations, next.metadata.annotations) &&
    jsonEqual(stored.spec, next.spec) &&
    jsonEqual(stored.status, next.status)
  );
}

/** Orders by kind, then namespace, then name. */
export function compareResources(a: Resource, b: Resource): number {
  return (
    cmp(a.kind, b.kind) || cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
