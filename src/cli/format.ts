// Output helpers of the CLI: aligned tables, kubectl-like ages, and the
// user-facing form of stored objects for `-o yaml` / `-o json`.

import { stringify } from 'yaml';
import type { Resource } from '../resources/types.js';

/** Left-aligned columns separated by three spaces, like kubectl. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `45s`, `12m`, `3h`, `2d`, from an RFC 3339 timestamp; `<unknown>` without one. */
export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** Time left until an RFC 3339 timestamp: `in 23h`, `expired 5m ago`. */
export function until(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '-';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return timestamp;
  return t >= now ? `in ${age(new Date(now).toISOString(), t)}` : `expired ${age(timestamp, now)} ago`;
}

/** A stored object as a user would write it: apiVersion, kind, metadata, spec, status. */
export function toManifest(r: Resource): Record<string, unknown> {
  const m = r.metadata;
  const metadata: Record<string, unknown> = { name: m.name };
  if (m.namespace) metadata.namespace = m.namespace;
  if (Object.keys(m.labels ?? {}).length > 0) metadata.labels = m.labels;
  if (Object.keys(m.annotations ?? {}).length > 0) metadata.annotations = m.annotations;
  for (const key of ['uid', 'resourceVersion', 'generation', 'creationTimestamp'] as const) {
    if (m[key] !== undefined) metadata[key] = m[key];
  }
  if (r.kind === 'Secret') {
    // As Kubernetes writes a Secret: type and base64 data beside metadata, so the output applies back.
    const data = Object.fromEntries(Object.entries(r.spec.data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
    return { apiVersion: r.apiVersion, kind: r.kind, metadata, type: r.spec.type, data };
  }
  const out: Record<string, unknown> = { apiVersion: r.apiVersion, kind: r.kind, metadata, spec: r.spec };
  if (r.status !== undefined) out.status = r.status;
  return out;
}

/** Several objects as YAML documents separated by `---` (what `apply -f` reads back). */
export function toYaml(resources: Resource[]): string {
  return resources.map((r) => stringify(toManifest(r), { lineWidth: 0 })).join('---\n');
}

/** A kubectl-style `List` (or the object itself when `single`). */
export function toJson(resources: Resource[], single: boolean): string {
  if (single && resources.length === 1) return JSON.stringify(toManifest(resources[0]), null, 2);
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: resources.map(toManifest) }, null, 2);
}

/** `trafficsplit.split.smi-spec.io/bookstore-split`, like kubectl (core kinds: `service/bookstore`). */
export function objectName(kind: string, group: string | undefined, name: string): string {
  return `${kind.toLowerCase()}${group ? '.' + group : ''}/${name}`;
}
