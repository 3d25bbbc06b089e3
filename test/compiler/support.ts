// Builders shared by the compiler tests: manifests from YAML (failing on any
// parse error), WorkloadInstances as the local runner writes them, and a
// stable JSON form of compiler output for golden files.
import assert from 'node:assert/strict';
import { parseManifests } from '../../src/resources/parse-manifests.js';
import { formatManifestError } from '../../src/resources/errors.js';
import type { Resource, WorkloadInstanceResource } from '../../src/resources/types.js';
import type { CompileResult } from '../../src/compiler/compile.js';

/** Parses YAML manifests; any error fails the test. */
export function manifests(yaml: string, file = 'inline.yaml'): Resource[] {
  const r = parseManifests(yaml, file);
  assert.deepEqual(r.errors.map(formatManifestError), [], `${file} has parse errors`);
  return r.resources;
}

export interface InstanceOptions {
  namespace: string;
  workload: string;
  index?: number;
  serviceAccount?: string;
  labels?: Record<string, string>;
  /** [port name, app port, sidecar inbound port]. */
  ports?: [string, number, number][];
  ready?: boolean;
  zone?: string;
  /** The sidecar's outbound HTTP proxy port (admin = this + 1); only numbers in a snapshot. */
  outboundPort?: number;
  upstreams?: { service: string; namespace: string; port: number; localPort: number }[];
}

/** A WorkloadInstance `<workload>-<index>` as the local runner would write it. */
export function instance(o: InstanceOptions): WorkloadInstanceResource {
  const index = o.index ?? 0;
  const spec: WorkloadInstanceResource['spec'] = {
    workload: o.workload,
    index,
    serviceAccountName: o.serviceAccount ?? o.workload,
    labels: o.labels ?? { app: o.workload },
    address: '127.0.0.1',
    ports: (o.ports ?? [['web', 8080, 18080]]).map(([name, port, inboundPort]) => ({ name, port, inboundPort })),
    outboundPort: o.outboundPort ?? 15001,
    adminPort: (o.outboundPort ?? 15001) + 1,
    upstreams: o.upstreams ?? [],
    ready: o.ready ?? true,
  };
  if (o.zone !== undefined) spec.zone = o.zone;
  return {
    apiVersion: 'trellis.dev/v1alpha1',
    kind: 'WorkloadInstance',
    metadata: { name: `${o.workload}-${index}`, namespace: o.namespace, labels: {}, annotations: {} },
    spec,
  };
}

/** Sets creationTimestamp on a resource (the store does this; conflicts are decided by it). */
export function createdAt<R extends Resource>(r: R, iso: string): R {
  r.metadata.creationTimestamp = iso;
  return r;
}

/** Recursively sorts object keys so that the JSON text does not depend on insertion order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Compiler output as the stable JSON text stored in golden files. */
export function goldenJson(result: CompileResult): string {
  const snapshots: Record<string, unknown> = {};
  for (const id of [...result.snapshots.keys()].sort()) snapshots[id] = result.snapshots.get(id);
  return JSON.stringify(sortKeys({ diagnostics: result.diagnostics, snapshots }), null, 2) + '\n';
}

/**
 * A readable line diff of two texts: the differing middle part after the
 * common prefix and suffix, with a little context, capped in length.
 */
export function lineDiff(expected: string, actual: string, maxLines = 80): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ctx = 3;
  const out: string[] = [`@@ expected line ${start + 1}, actual line ${start + 1} @@`];
  for (let i = Math.max(0, start - ctx); i < start; i++) out.push(`  ${a[i]}`);
  for (let i = start; i < endA; i++) out.push(`- ${a[i]}`);
  for (let i = start; i < endB; i++) out.push(`+ ${b[i]}`);
  for (let i = endA; i < Math.min(a.length, endA + ctx); i++) out.push(`  ${a[i]}`);
  if (out.length > maxLines) return [...out.slice(0, maxLines), `… ${out.length - maxLines} more diff lines`].join('\n');
  return out.join('\n');
}
