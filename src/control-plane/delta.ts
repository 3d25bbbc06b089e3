// Incremental snapshot updates. A snapshot's clusters and virtual hosts are
// named resources with content hashes; after the first full snapshot, a proxy
// receives only the ones that changed (and the names of removed ones), plus
// the small per-proxy parts. Proxies of one namespace share the same compiled
// lists, so the difference between two lists is computed and serialised once
// and sent to all of them.

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
  /** Gateway proxies: the whole gateway config (small; sent as is). */
  gateway?: Snapshot['gateway'];
}

/** What the control plane last sent a proxy: the compiled lists themselves. */
export interface SentState {
  version: string;
  virtualHosts: readonly VirtualHost[];
  clusters: readonly ClusterConfig[];
}

type Named = { name: string };

const jsonCache = new WeakMap<object, string>();
function json(obj: object): string {
  let s = jsonCache.get(obj);
  if (s === undefined) {
    s = Array.isArray(obj) ? `[${(obj as object[]).map(json).join(',')}]` : JSON.stringify(obj);
    jsonCache.set(obj, s);
  }
  return s;
}

interface ListDiff {
  /** `"upsertX":[...],"removeX":[...]` without the key prefix: [upsert JSON, remove JSON]. */
  upsert: string;
  remove: string;
}

const diffCache = new WeakMap<readonly Named[], WeakMap<readonly Named[], ListDiff>>();

function diffLists(from: readonly Named[], to: readonly Named[]): ListDiff {
  let byTarget = diffCache.get(from);
  if (!byTarget) {
    byTarget = new WeakMap();
    diffCache.set(from, byTarget);
  }
  let d = byTarget.get(to);
  if (!d) {
    const before = new Map(from.map((x) => [x.name, x]));
    const up: string[] = [];
    for (const x of to) {
      const old = before.get(x.name);
      before.delete(x.name);
      if (old !== x && (!old || resourceHash(old) !== resourceHash(x))) up.push(json(x));
    }
    d = { upsert: `[${up.join(',')}]`, remove: JSON.stringify([...before.keys()]) };
    byTarget.set(to, d);
  }
  return d;
}

export function sentStateOf(s: Snapshot): SentState {
  return { version: s.version, virtualHosts: s.outbound.virtualHosts, clusters: s.clusters };
}

/** The full snapshot as one protocol line. */
export function encodeFullSnapshot(s: Snapshot): string {
  const head = JSON.stringify({ version: s.version, node: s.node, mesh: s.mesh, inbound: s.inbound, ...(s.gateway ? { gateway: s.gateway } : {}) });
  const outbound = `{"httpPort":${s.outbound.httpPort},"upstreams":${JSON.stringify(s.outbound.upstreams)},"virtualHosts":${json(s.outbound.virtualHosts)}}`;
  return `{"type":"snapshot","snapshot":${head.slice(0, -1)},"outbound":${outbound},"clusters":${json(s.clusters)}}}\n`;
}

/** The delta from `sent` to `s` as one protocol line; `sent` becomes `s`. */
export function encodeDelta(s: Snapshot, sent: SentState): string {
  const vh = diffLists(sent.virtualHosts, s.outbound.virtualHosts);
  const cl = diffLists(sent.clusters, s.clusters);
  const head =
    `{"type":"delta","version":${JSON.stringify(s.version)},"base":${JSON.stringify(sent.version)},` +
    `"node":${json(s.node)},"mesh":${json(s.mesh)},"inbound":${json(s.inbound)},` +
    `"httpPort":${s.outbound.httpPort},"upstreams":${json(s.outbound.upstreams)}` +
    (s.gateway ? `,"gateway":${json(s.gateway)}}` : '}');
  sent.version = s.version;
  sent.virtualHosts = s.outbound.virtualHosts;
  sent.clusters = s.clusters;
  return `${head.slice(0, -1)},"upsertVirtualHosts":${vh.upsert},"removeVirtualHosts":${vh.remove},"upsertClusters":${cl.upsert},"removeClusters":${cl.remove}}\n`;
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
    ...(d.gateway ? { gateway: d.gateway } : {}),
  };
}
