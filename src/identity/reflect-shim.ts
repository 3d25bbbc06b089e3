// @peculiar/x509 v2 depends on tsyringe, which refuses to load without a
// Reflect metadata polyfill (`reflect-metadata`, not installed here). tsyringe
// only calls Reflect.getMetadata, getOwnMetadata and defineMetadata, so a
// WeakMap-backed implementation of those is installed when no polyfill is
// present. If `reflect-metadata` is installed it is used instead.
// Import this module before '@peculiar/x509' (see ./x509.js).

import { createRequire } from 'node:module';

type MetadataKey = unknown;
type Target = object;
type PropertyKey = string | symbol | undefined;

interface ReflectMetadata {
  getMetadata?: (key: MetadataKey, target: Target, property?: PropertyKey) => unknown;
}

function install(): void {
  if ((Reflect as unknown as ReflectMetadata).getMetadata) return;
  try {
    // Synchronous on purpose: the shim must be in place before the next import evaluates.
    createRequire(import.meta.url)('reflect-metadata');
    if ((Reflect as unknown as ReflectMetadata).getMetadata) return;
  } catch {
    // not installed: fall through to the minimal shim
  }
  const tables = new WeakMap<Target, Map<PropertyKey, Map<MetadataKey, unknown>>>();
  const table = (target: Target, property: PropertyKey, create: boolean): Map<MetadataKey, unknown> | undefined => {
    let byProperty = tables.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      tables.set(target, byProperty);
    }
    let entries = byProperty.get(property);
    if (!entries && create) {
      entries = new Map();
      byProperty.set(property, entries);
    }
    return entries;
  };
  const getOwnMetadata = (key: MetadataKey, target: Target, property?: PropertyKey): unknown =>
    table(target, property, false)?.get(key);
  const hasOwnMetadata = (key: MetadataKey, target: Target, property?: PropertyKey): boolean =>
    table(target, property, false)?.has(key) ?? false;
  const getMetadata = (key: MetadataKey, target: Target, property?: PropertyKey): unknown => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      if (hasOwnMetadata(key, t, property)) return getOwnMetadata(key, t, property);
    }
    return undefined;
  };
  const defineMetadata = (key: MetadataKey, value: unknown, target: Target, property?: PropertyKey): void => {
    table(target, property, true)!.set(key, value);
  };
  const metadata = (key: MetadataKey, value: unknown) => (target: Target, property?: PropertyKey): void =>
    defineMetadata(key, value, target, property);
  Object.assign(Reflect, {
    getOwnMetadata,
    hasOwnMetadata,
    getMetadata,
    hasMetadata: (key: MetadataKey, target: Target, property?: PropertyKey) => getMetadata(key, target, property) !== undefined,
    defineMetadata,
    metadata,
  });
}

install();
