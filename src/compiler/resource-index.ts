// A read-only index of resources by kind and by `<namespace>/<name>`, built
// once per compilation so lookups in the compiler are cheap.

import type { Resource } from '../resources/types.js';

type ByKind = { [K in Resource['kind']]: Extract<Resource, { kind: K }> };

export class ResourceIndex {
  private readonly byKind = new Map<string, Resource[]>();
  private readonly byKey = new Map<string, Resource>();

  constructor(readonly all: readonly Resource[]) {
    for (const r of all) {
      const list = this.byKind.get(r.kind) ?? [];
      list.push(r);
      this.byKind.set(r.kind, list);
      this.byKey.set(`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r);
    }
  }

  list<K extends Resource['kind']>(kind: K): ByKind[K][] {
    return (this.byKind.get(kind) ?? []) as ByKind[K][];
  }

  get<K extends Resource['kind']>(kind: K, namespace: string, name: string): ByKind[K] | undefined {
    return this.byKey.get(`${kind}/${namespace}/${name}`) as ByKind[K] | undefined;
  }
}

/** Oldest first, then by namespace/name: the order in which conflicting resources win. */
export function byAgeThenName(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
