// Incremental snapshot updates. A snapshot's clusters and virtual hosts are
// named resources with content hashes; after the first full snapshot, a proxy
// receives only the ones that changed (and the names of removed ones), plus
// the small per-proxy parts. Messages are assembled from JSON text cached per
// compiled object, so a change pushed to hundreds of proxies is serialised once.

import type { ClusterConfig, Snapshot, VirtualHost } from '../compiler/snapshot.js';
import { resourceHash } from '../compiler/hash.js';

export interface SnapshotDelta {
  type: 'delta';
  version: string;
  /** The version this delta applies on. */
  base: string;
  node: Snapshot['node'];
  mesh: Snapshot['mesh'];
  inbound: Snapshot['inbound'];
  httpPort: number;
  upstreams: Snapshot['outbound']['upstreams'];
  upsertVirtualHosts: VirtualHost[];
  removeVirtualHosts: string[];
  upsertClusters: ClusterConfig[];
  removeClusters: string[];
}

/** What the control plane believes a proxy holds. */
export interface SentState {
  version: string;
  virtualHosts: Map<string, string>;
  clusters: Map<string, string>;
}

const jsonCache = new WeakMap<object, string>();
function json(obj: object): string {
  let s = jsonCache.get(obj);
  if (s === undefined) {
    s = JSON.stringify(obj);
    jsonCache.set(obj, s);
  }
  return s;
}

const hashes = (items: readonly { name: string }[]) => new Map(items.map((i) => [i.name, resourceHash(i)]));

export function sentStateOf(s: Snapshot): SentState {
  return { version: s.version, virtualHosts: hashes(s.outbound.virtualHosts), clusters: hashes(s.clusters) };
}

/** The full snapshot as one protocol line. */
export function encodeFullSnapshot(s: Snapshot): string {
  const head = JSON.stringify({ version: s.version, node: s.node, mesh: s.mesh, inbound: s.inbound });
  const outbound = `{"httpPort":${s.outbound.httpPort},"upstreams":${JSON.stringify(s.outbound.upstreams)},"virtualHosts":[${s.outbound.virtualHosts.map(json).join(',')}]}`;
  return `{"type":"snapshot","snapshot":${head.slice(0, -1)},"outbound":${outbound},"clusters":[${s.clusters.map(json).join(',')}]}}\n`;
}

/** The delta from `sent` to `s` as one protocol line; updates `sent` to `s`. */
export function encodeDelta(s: Snapshot, sent: SentState): string {
  const upVh: string[] = [];
  const upCl: string[] = [];
  const seenVh = new Set<string>();
  const seenCl = new Set<string>();
  for (const vh of s.outbound.virtualHosts) {
    seenVh.add(vh.name);
    const h = resourceHash(vh);
    if (sent.virtualHosts.get(vh.name) !== h) {
      upVh.push(json(vh));
      sent.virtualHosts.set(vh.name, h);
    }
  }
  for (const c of s.clusters) {
    seenCl.add(c.name);
    const h = resourceHash(c);
    if (sent.clusters.get(c.name) !== h) {
      upCl.push(json(c));
      sent.clusters.set(c.name, h);
    }
  }
  const rmVh = [...sent.virtualHosts.keys()].filter((n) => !seenVh.has(n));
  const rmCl = [...sent.clusters.keys()].filter((n) => !seenCl.has(n));
  for (const n of rmVh) sent.virtualHosts.delete(n);
  for (const n of rmCl) sent.clusters.delete(n);
  const base = sent.version;
  sent.version = s.version;
  const head = JSON.stringify({
    type: 'delta',
    version: s.version,
    base,
    node: s.node,
    mesh: s.mesh,
    inbound: s.inbound,
    httpPort: s.outbound.httpPort,
    upstreams: s.outbound.upstreams,
    removeVirtualHosts: rmVh,
    removeClusters: rmCl,
  });
  return `${head.slice(0, -1)},"upsertVirtualHosts":[${upVh.join(',')}],"upsertClusters":[${upCl.join(',')}]}\n`;
}

/** Proxy side: the full snapshot a delta produces from the current one. */
export function applyDelta(current: Snapshot, d: SnapshotDelta): Snapshot {
  if (d.base !== current.version) {
    throw Object.assign(new Error(`delta for ${d.base} does not apply to ${current.version}`), { code: 'TRELLIS_E_DELTA_BASE' });
  }
  const vhs = new Map(current.outbound.virtualHosts.map((v) => [v.name, v]));
  for (const n of d.removeVirtualHosts) vhs.delete(n);
  for (const v of d.upsertVirtualHosts) vhs.set(v.name, v);
  const cls = new Map(current.clusters.map((c) => [c.name, c]));
  for (const n of d.removeClusters) cls.delete(n);
  for (const c of d.upsertClusters) cls.set(c.name, c);
  return {
    version: d.version,
    node: d.node,
    mesh: d.mesh,
    inbound: d.inbound,
    outbound: { httpPort: d.httpPort, upstreams: d.upstreams, virtualHosts: [...vhs.values()] },
    clusters: [...cls.values()],
  };
}
