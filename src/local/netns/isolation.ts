// Isolated mode (`trellis up DIR --isolation netns`): what the local runner
// asks of it. Each workload instance gets a network namespace of its own
// (network.ts), iptables rules that capture its traffic (iptables.ts), a
// resolv.conf naming the mesh DNS server (dns.ts), and one transparent
// upstream per Service port, so that the existing sidecar listeners serve
// connections to Service virtual IPs (vips.ts). docs/isolation.md explains why.

import net from 'node:net';
import path from 'node:path';
import type { AdminClient } from '../../cli/admin-client.js';
import type { ServiceResource, WorkloadInstanceResource } from '../../resources/types.js';
import type { ProcessSpec } from '../process.js';
import {
  CLUSTER_DOMAIN,
  DROP_PRIVILEGES,
  ISOLATION_ANNOTATION,
  MAX_SLOTS,
  NETNS_ANNOTATION,
  TRANSPARENT_PORT_BASE,
  TRANSPARENT_PORT_MAX,
  VIP_RANGE,
  proxyGid,
} from './constants.js';
import { MeshNames, startDnsServer, type DnsServer } from './dns.js';
import { namespaceRules, applyRules } from './iptables.js';
import {
  bridgeName,
  cleanupNetworkSync,
  createBridge,
  createNamespace,
  deleteNamespaceSync,
  hostAddressOf,
  meshId,
  netnsDir,
  pickSubnet,
  readRecord,
  slotAddress,
  slotName,
  writeRecord,
  type NetworkRecord,
} from './network.js';
import { VipAllocator } from './vips.js';

/** What the runner keeps per instance that isolation reads and updates. */
export interface IsolatedInstance {
  resource: WorkloadInstanceResource;
  /** Cleared when the resource changed (new upstreams), so the runner's next probe writes it to the store. */
  publishedStatus?: string;
}

type Upstream = WorkloadInstanceResource['spec']['upstreams'][number];

interface ServicePort {
  namespace: string;
  name: string;
  port: number;
  vip: string;
  /** `ns/name:port`, the virtual host name. */
  key: string;
}

interface Slot {
  slot: number;
  netns: string;
  address: string;
  namespace: string;
  resource: WorkloadInstanceResource;
  /** The Workload's own upstreams (explicit local ports), kept first. */
  declared: Upstream[];
  /** Service port key → local port of its transparent upstream listener. */
  transparent: Map<string, number>;
  rules?: string;
}

const PROXY_ENV = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'];

/**
 * The environment of a process in a namespace: proxy variables inherited from
 * the runner's own environment are dropped (there is nothing to proxy through:
 * iptables captures the traffic); ones the Workload sets itself stay.
 */
export function isolatedEnv(env: NodeJS.ProcessEnv, inherited: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of PROXY_ENV) if (out[k] !== undefined && out[k] === inherited[k]) delete out[k];
  return out;
}

/** `ip netns exec <ns> setpriv ... -- argv`: how anything runs inside an instance's namespace. */
export function inNamespace(netns: string, argv: string[], role: 'app' | 'proxy' = 'app'): string[] {
  const priv = role === 'proxy' ? ['--regid', String(proxyGid()), ...DROP_PRIVILEGES] : DROP_PRIVILEGES;
  return ['ip', 'netns', 'exec', netns, 'setpriv', ...priv, '--', ...argv];
}

export class NetnsIsolation {
  readonly hostAddress: string;
  private readonly slots = new Map<string, Slot>();
  private readonly usedSlots = new Set<number>();
  private nextSlot = 0;
  private servicePorts: ServicePort[] = [];
  private servicesKey = '';
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private forwarder: net.Server | undefined;
  private readonly forwarded = new Set<net.Socket>();

  private constructor(
    private readonly stateDir: string,
    private readonly rec: NetworkRecord,
    private readonly names: MeshNames,
    private readonly dns: DnsServer,
    private readonly vips: VipAllocator,
    private readonly log: (line: string) => void,
  ) {
    this.hostAddress = hostAddressOf(rec.subnet);
  }

  /** Creates the mesh's bridge and starts its DNS server. On failure, removes whatever it created. */
  static async create(stateDir: string, log: (line: string) => void): Promise<NetnsIsolation> {
    const rec: NetworkRecord = { id: meshId(stateDir), subnet: -1, namespaces: [], hostRules: [] };
    const save = () => writeRecord(stateDir, rec);
    try {
      rec.subnet = await pickSubnet(rec.id);
      save();
      await createBridge(rec, save);
      const names = new MeshNames();
      const dns = await startDnsServer(names, hostAddressOf(rec.subnet));
      const iso = new NetnsIsolation(stateDir, rec, names, dns, new VipAllocator(path.join(netnsDir(stateDir), 'vips.json')), log);
      // Last resort when the runner dies of an error instead of stopping (close() leaves no record: then a no-op).
      process.once('exit', () => {
        if (readRecord(stateDir)) cleanupNetworkSync(stateDir);
      });
      log(
        `isolated mode: bridge ${bridgeName(rec.id)} ${iso.hostAddress}/24, one network namespace per instance ` +
          `(${slotName(rec.id, 0)}, ...), Service virtual IPs in ${VIP_RANGE}, DNS ${iso.hostAddress}:53`,
      );
      return iso;
    } catch (err) {
      cleanupNetworkSync(stateDir);
      throw new Error(`cannot set up isolated mode: ${(err as Error).message}`);
    }
  }

  /** Where an isolated instance's sidecar reaches the control plane (a relay on the bridge address); undefined for others. */
  xdsAddress(resource: WorkloadInstanceResource, xdsPort: number): string | undefined {
    return resource.metadata.annotations[NETNS_ANNOTATION] ? `${this.hostAddress}:${xdsPort}` : undefined;
  }

  /**
   * Before the instance is registered: creates its namespace, writes its
   * rules, and sets its address, annotations and upstreams (the Workload's
   * own, then one per Service port). Gateway instances are not isolated.
   */
  prepareInstance(resource: WorkloadInstanceResource, xdsPort: number): Promise<void> {
    if (resource.spec.gateway) return Promise.resolve();
    const key = keyOf(resource);
    return this.serial(async () => {
      if (this.closed) throw new Error('the mesh is stopping');
      await this.ensureForwarder(xdsPort);
      const slot = this.allocSlot();
      const netns = slotName(this.rec.id, slot);
      const address = slotAddress(this.rec.subnet, slot);
      const ns = resource.metadata.namespace;
      this.usedSlots.add(slot);
      this.rec.namespaces.push(netns);
      this.save();
      try {
        await createNamespace({
          name: netns,
          address,
          hostAddress: this.hostAddress,
          bridge: bridgeName(this.rec.id),
          resolvConf: [
            `# trellis isolated mode: ${key}`,
            `nameserver ${this.hostAddress}`,
            `search ${ns}.svc.${CLUSTER_DOMAIN} svc.${CLUSTER_DOMAIN} ${CLUSTER_DOMAIN}`,
            'options ndots:5 timeout:1 attempts:3',
            '',
          ].join('\n'),
        });
        const s: Slot = { slot, netns, address, namespace: ns, resource, declared: [...resource.spec.upstreams], transparent: new Map() };
        this.refreshTransparent(s);
        await this.applySlotRules(s);
        this.slots.set(key, s);
        this.names.setClient(address, ns);
        resource.spec.address = address;
        resource.metadata.annotations = { ...resource.metadata.annotations, [ISOLATION_ANNOTATION]: 'netns', [NETNS_ANNOTATION]: netns };
        resource.spec.upstreams = this.upstreamsOf(s);
      } catch (err) {
        this.log(`[${key}] cannot create network namespace ${netns}: ${(err as Error).message}`);
        this.dropSlot(slot, netns);
        throw err;
      }
    });
  }

  /** The process spec to run an instance's app or sidecar inside its namespace (unchanged for non-isolated instances). */
  wrap(role: 'app' | 'proxy', resource: WorkloadInstanceResource, spec: ProcessSpec): ProcessSpec {
    const netns = resource.metadata.annotations[NETNS_ANNOTATION];
    if (!netns) return spec;
    const [command, ...args] = inNamespace(netns, [spec.command, ...spec.args], role);
    return { ...spec, command: command!, args, env: role === 'app' ? isolatedEnv(spec.env) : spec.env };
  }

  /** After the instance's processes stopped: removes its namespace. */
  releaseInstance(resource: WorkloadInstanceResource): Promise<void> {
    const key = keyOf(resource);
    return this.serial(async () => {
      const s = this.slots.get(key);
      if (!s || s.resource !== resource) return;
      this.slots.delete(key);
      this.names.setClient(s.address, undefined);
      this.dropSlot(s.slot, s.netns);
    });
  }

  /**
   * Reads the Services: new ones get a VIP, DNS answers follow, and each
   * instance's transparent upstreams and rules are brought up to date (the
   * changed resources are marked for the runner to publish).
   */
  async sync(client: AdminClient, instances: Iterable<IsolatedInstance>): Promise<void> {
    if (this.closed) return;
    const { items } = await client.list('Service');
    const ports: ServicePort[] = [];
    const names: { namespace: string; name: string; vip: string }[] = [];
    for (const svc of items as ServiceResource[]) {
      const { namespace, name } = svc.metadata;
      const vip = this.vips.vipOf(namespace, name);
      names.push({ namespace, name, vip });
      for (const p of svc.spec.ports) {
        if (p.protocol !== 'TCP') continue;
        ports.push({ namespace, name, port: p.port, vip, key: `${namespace}/${name}:${p.port}` });
      }
    }
    ports.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.names.setServices(names);
    const servicesKey = JSON.stringify(ports);
    if (servicesKey === this.servicesKey) return;
    this.servicesKey = servicesKey;
    this.servicePorts = ports;
    const list = [...instances];
    await this.serial(async () => {
      for (const inst of list) {
        const s = this.slots.get(keyOf(inst.resource));
        if (!s || s.resource !== inst.resource) continue;
        const before = JSON.stringify([...s.transparent]);
        this.refreshTransparent(s);
        if (JSON.stringify([...s.transparent]) === before) continue;
        await this.applySlotRules(s);
        inst.resource.spec.upstreams = this.upstreamsOf(s);
        inst.publishedStatus = undefined;
      }
    });
  }

  /** Stops DNS and the control-plane forwarder, removes every namespace, link and rule. Call after the processes stopped. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => {});
    await this.dns.close();
    for (const s of this.forwarded) s.destroy();
    await new Promise<void>((resolve) => (this.forwarder ? this.forwarder.close(() => resolve()) : resolve()));
    const { removed, failed } = cleanupNetworkSync(this.stateDir);
    const namespaces = removed.filter((r) => r.startsWith('namespace ')).length;
    this.log(`isolated mode: removed ${namespaces} network namespace(s), the bridge ${bridgeName(this.rec.id)} and their rules`);
    if (failed.length > 0) this.log(`warning: could not remove ${failed.join(', ')}; the next trellis up will try again`);
  }

  // ---- internals -----------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private save(): void {
    writeRecord(this.stateDir, this.rec);
  }

  /** Round robin over free slots: an address is not reused at once (neighbours' ARP caches would point at the old link). */
  private allocSlot(): number {
    for (let i = 0; i < MAX_SLOTS; i++) {
      const slot = (this.nextSlot + i) % MAX_SLOTS;
      if (!this.usedSlots.has(slot)) {
        this.nextSlot = (slot + 1) % MAX_SLOTS;
        return slot;
      }
    }
    throw new Error(`isolated mode runs at most ${MAX_SLOTS} instances at a time`);
  }

  private dropSlot(slot: number, netns: string): void {
    deleteNamespaceSync(netns);
    this.usedSlots.delete(slot);
    this.rec.namespaces = this.rec.namespaces.filter((n) => n !== netns);
    this.save();
  }

  /** Keeps the local port of every Service port that still exists; gives new ones the lowest free port from 61000. */
  private refreshTransparent(s: Slot): void {
    const wanted = new Set(this.servicePorts.map((p) => p.key));
    for (const k of [...s.transparent.keys()]) if (!wanted.has(k)) s.transparent.delete(k);
    const spec = s.resource.spec;
    const used = new Set<number>([
      ...spec.ports.flatMap((p) => [p.port, p.inboundPort]),
      spec.outboundPort,
      spec.adminPort,
      ...s.declared.map((u) => u.localPort),
      ...s.transparent.values(),
    ]);
    let next = TRANSPARENT_PORT_BASE;
    for (const p of this.servicePorts) {
      if (s.transparent.has(p.key)) continue;
      while (used.has(next)) next++;
      if (next > TRANSPARENT_PORT_MAX) {
        this.log(`warning: ${keyOf(s.resource)}: no local port left for ${p.key}`);
        break;
      }
      s.transparent.set(p.key, next);
      used.add(next);
    }
  }

  private upstreamsOf(s: Slot): Upstream[] {
    const byKey = new Map(this.servicePorts.map((p) => [p.key, p]));
    const transparent = [...s.transparent]
      .map(([k, localPort]) => {
        const p = byKey.get(k)!;
        return { service: p.name, namespace: p.namespace, port: p.port, localPort };
      })
      .sort((a, b) => a.localPort - b.localPort);
    return [...s.declared, ...transparent];
  }

  private async applySlotRules(s: Slot): Promise<void> {
    const byKey = new Map(this.servicePorts.map((p) => [p.key, p]));
    const spec = s.resource.spec;
    const rules = namespaceRules({
      address: s.address,
      hostAddress: this.hostAddress,
      dnsPort: this.dns.port,
      proxyGid: proxyGid(),
      ports: spec.ports.map((p) => ({ app: p.port, inbound: p.inboundPort })),
      adminPort: spec.adminPort,
      services: [...s.transparent].map(([k, localPort]) => {
        const p = byKey.get(k)!;
        return { vip: p.vip, port: p.port, localPort, name: k };
      }),
    });
    if (rules === s.rules) return;
    await applyRules(s.netns, rules);
    s.rules = rules;
  }

  /** Sidecars reach the control plane (127.0.0.1 on the host) through this relay on the bridge address. */
  private async ensureForwarder(xdsPort: number): Promise<void> {
    if (this.forwarder) return;
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: xdsPort });
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.forwarded.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.forwarded.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(xdsPort, this.hostAddress, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log(`isolated mode: control-plane relay: ${err.message}`));
    this.forwarder = server;
  }
}

function keyOf(resource: WorkloadInstanceResource): string {
  return `${resource.metadata.namespace}/${resource.metadata.name}`;
}
