// The network of an isolated mesh: one Linux bridge on the host with the first
// address of the mesh's /24 (inside 198.18.0.0/16), and one network namespace
// per workload instance joined to it by a veth pair. Every name starts with
// `tr-<id>`, id = a hash of the state directory, so meshes with different state
// directories (parallel tests) never touch each other's links.
//
// What is about to be created is written to <state>/netns/network.json first,
// so that cleanup (at exit, or at the next start after a crash) knows what to
// remove; cleanup also sweeps every link and namespace with the mesh's prefix.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { INSTANCE_NET_PREFIX, VIP_RANGE } from './constants.js';
import { isRoot, run, runSync, which } from './sh.js';

export interface NetworkRecord {
  /** Hash of the state directory; names are `tr-<id>` (bridge) and `tr-<id>-<slot>` (namespaces, host veths). */
  id: string;
  /** Third octet of the mesh's subnet 198.18.<subnet>.0/24. */
  subnet: number;
  /** Namespaces that exist or are being created. */
  namespaces: string[];
  /** Rules added to the host's iptables (only when its policy would drop mesh traffic), as `iptables` argument lists with -I. */
  hostRules: string[][];
}

export function netnsDir(stateDir: string): string {
  return path.join(stateDir, 'netns');
}

function recordFile(stateDir: string): string {
  return path.join(netnsDir(stateDir), 'network.json');
}

export function readRecord(stateDir: string): NetworkRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordFile(stateDir), 'utf8')) as NetworkRecord;
  } catch {
    return undefined;
  }
}

export function writeRecord(stateDir: string, rec: NetworkRecord): void {
  const file = recordFile(stateDir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + '.tmp', JSON.stringify(rec, null, 1));
  fs.renameSync(file + '.tmp', file);
}

/** Six hex digits identifying the state directory. */
export function meshId(stateDir: string): string {
  let p = path.resolve(stateDir);
  try {
    p = fs.realpathSync(p);
  } catch {
    // not created yet
  }
  return crypto.createHash('sha256').update(p).digest('hex').slice(0, 6);
}

export const bridgeName = (id: string) => `tr-${id}`;
export const slotName = (id: string, slot: number) => `tr-${id}-${slot}`;
export const hostAddressOf = (subnet: number) => `${INSTANCE_NET_PREFIX}.${subnet}.1`;
export const slotAddress = (subnet: number, slot: number) => `${INSTANCE_NET_PREFIX}.${subnet}.${slot + 2}`;

/** A /24 of 198.18.0.0/16 that no interface of the host has an address in, starting from one the id suggests. */
export async function pickSubnet(id: string): Promise<number> {
  const out = await run('ip', ['-4', '-o', 'addr', 'show']);
  const used = new Set<number>();
  for (const m of out.matchAll(/inet 198\.18\.(\d+)\.\d+\/(\d+)/g)) {
    const [third, len] = [Number(m[1]), Number(m[2])];
    if (len < 24) throw new Error(`an interface has a wide address in 198.18.0.0/16 (/${len}); isolated mode needs that range`);
    used.add(third);
  }
  const start = parseInt(id.slice(0, 4), 16) % 256;
  for (let i = 0; i < 256; i++) {
    const k = (start + i) % 256;
    if (!used.has(k)) return k;
  }
  throw new Error('every /24 of 198.18.0.0/16 is in use');
}

/** Writes a sysctl under /proc/sys of the host, if it exists (IPv6 may be absent). */
function hostSysctl(key: string, value: string): void {
  try {
    fs.writeFileSync(path.join('/proc/sys', key), value);
  } catch {
    // not available: nothing to turn off
  }
}

/** Creates the bridge with the host address; host rules it needs are recorded (before being added) in `rec`. */
export async function createBridge(rec: NetworkRecord, save: () => void): Promise<void> {
  const br = bridgeName(rec.id);
  await run('ip', ['link', 'add', br, 'type', 'bridge']);
  // No IPv6 on mesh links: nothing in a namespace may talk over an unfiltered family.
  hostSysctl(`net/ipv6/conf/${br}/disable_ipv6`, '1');
  await run('ip', ['addr', 'add', `${hostAddressOf(rec.subnet)}/24`, 'dev', br]);
  await run('ip', ['link', 'set', br, 'up']);
  // Bridged traffic goes through the host's iptables when br_netfilter is on (Docker hosts): with a dropping
  // FORWARD policy, let the mesh's own bridge through. The namespaces reach the host (DNS, control plane) too.
  const rules: string[][] = [];
  if (readProc('net/bridge/bridge-nf-call-iptables') === '1' && !(await policyAccepts('FORWARD'))) {
    rules.push(['-I', 'FORWARD', '-i', br, '-o', br, '-m', 'comment', '--comment', `trellis:${rec.id}`, '-j', 'ACCEPT']);
  }
  if (!(await policyAccepts('INPUT'))) {
    rules.push(['-I', 'INPUT', '-i', br, '-m', 'comment', '--comment', `trellis:${rec.id}`, '-j', 'ACCEPT']);
  }
  for (const r of rules) {
    rec.hostRules.push(r);
    save();
    await run('iptables', r);
  }
}

function readProc(key: string): string | undefined {
  try {
    return fs.readFileSync(path.join('/proc/sys', key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** True when the host chain's policy is ACCEPT and it has no rules (then nothing of ours is needed). */
async function policyAccepts(chain: string): Promise<boolean> {
  const out = await run('iptables', ['-S', chain]).catch(() => '');
  const lines = out.split('\n').filter(Boolean);
  return lines.length === 1 && lines[0] === `-P ${chain} ACCEPT`;
}

export interface NamespaceSpec {
  name: string;
  address: string;
  hostAddress: string;
  bridge: string;
  /** Contents of /etc/netns/<name>/resolv.conf. */
  resolvConf: string;
}

/**
 * Creates namespace `name` with lo up, eth0 (the far end of a veth whose host
 * end `name` is in the bridge) at `address`/24, a route to the Service VIP range
 * via the host (no default route: nothing else is reachable), no IPv6 except on
 * lo, route_localnet on eth0 (the nat rules DNAT allowed inbound connections to
 * 127.0.0.1, where the sidecar and the app listen), and unprivileged low ports
 * (apps run without capabilities).
 */
export async function createNamespace(ns: NamespaceSpec): Promise<void> {
  await run('ip', ['netns', 'add', ns.name]);
  const v6 = '[ -d /proc/sys/net/ipv6 ] && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; true';
  await run('ip', ['netns', 'exec', ns.name, 'sh', '-c', v6]);
  await run('ip', ['link', 'add', ns.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
  hostSysctl(`net/ipv6/conf/${ns.name}/disable_ipv6`, '1');
  await run('ip', ['link', 'set', ns.name, 'master', ns.bridge, 'up']);
  await run(
    'ip',
    ['-n', ns.name, '-batch', '-'],
    [
      'link set lo up',
      `addr add ${ns.address}/24 dev eth0`,
      'link set eth0 up',
      `route add ${VIP_RANGE} via ${ns.hostAddress} dev eth0`,
    ].join('\n') + '\n',
  );
  const sysctls = [
    'echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet',
    'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start',
  ].join(' && ');
  await run('ip', ['netns', 'exec', ns.name, 'sh', '-c', sysctls]);
  const etc = path.join('/etc/netns', ns.name);
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(path.join(etc, 'resolv.conf'), ns.resolvConf);
}

/** Kills what runs in the namespace, then removes it, its host veth and /etc/netns/<name>. Never throws. */
export function deleteNamespaceSync(name: string): boolean {
  killNamespaceProcesses(name);
  // The host end first: deleting it removes the pair at once (a namespace's own teardown is asynchronous).
  runSync('ip', ['link', 'del', name]);
  const del = runSync('ip', ['netns', 'del', name]);
  fs.rmSync(path.join('/etc/netns', name), { recursive: true, force: true });
  return del.ok || /No such file/.test(del.stderr);
}

function killNamespaceProcesses(name: string): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = runSync('ip', ['netns', 'pids', name]).stdout.split('\n').map(Number).filter((p) => p > 0);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

/**
 * Removes everything of the mesh whose state is in `stateDir`: its namespaces
 * (and what runs in them), links, the bridge, /etc/netns entries and host
 * rules. Used at exit and, at the next start, after a crash. Returns what it removed.
 */
export function cleanupNetworkSync(stateDir: string): { removed: string[]; failed: string[] } {
  const rec = readRecord(stateDir);
  const removed: string[] = [];
  const failed: string[] = [];
  if (!rec) return { removed, failed };
  if (!isRoot() || !which('ip')) {
    failed.push(`network of ${stateDir} (needs root and ip to remove)`);
    return { removed, failed };
  }
  const prefix = bridgeName(rec.id);
  const listed = runSync('ip', ['netns', 'list']).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of new Set([...rec.namespaces, ...listed])) {
    const existed = listed.includes(ns);
    if (deleteNamespaceSync(ns)) {
      if (existed) removed.push(`namespace ${ns}`);
    } else failed.push(`namespace ${ns}`);
  }
  const links = runSync('ip', ['-o', 'link', 'show']).stdout.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
  // Veths before the bridge.
  for (const link of links.filter((l) => l === prefix || l.startsWith(`${prefix}-`)).sort((a, b) => b.length - a.length)) {
    if (runSync('ip', ['link', 'del', link]).ok) removed.push(`link ${link}`);
    else if (runSync('ip', ['link', 'show', link]).ok) failed.push(`link ${link}`);
  }
  if (which('iptables')) {
    for (const chain of ['INPUT', 'FORWARD']) {
      const rules = runSync('iptables', ['-S', chain]).stdout.split('\n').filter((l) => l.includes(`trellis:${rec.id}`));
      for (const r of rules) {
        const args = splitRule(r.replace(/^-A /, '-D '));
        if (runSync('iptables', args).ok) removed.push(`host rule ${r}`);
        else failed.push(`host rule ${r}`);
      }
    }
  }
  try {
    if (fs.readdirSync('/etc/netns').length === 0) fs.rmdirSync('/etc/netns');
  } catch {
    // absent or in use by someone else
  }
  if (failed.length === 0) fs.rmSync(recordFile(stateDir), { force: true });
  return { removed, failed };
}

/** Splits an `iptables -S` line into arguments (quoted comments kept whole). */
function splitRule(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1] : m[2]!));
}
