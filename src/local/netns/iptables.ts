// The iptables rules of one instance's namespace, written whole with
// iptables-restore (atomic per table) whenever they change. The design follows
// Istio's istio-iptables (PREROUTING capture to the sidecar's inbound port,
// OUTPUT capture to the sidecar, the sidecar's own traffic exempted by owner),
// adapted to a proxy that has no SO_ORIGINAL_DST: each Service port has a
// virtual IP:port, and its REDIRECT goes to a local port of its own, so the
// port a connection arrives on tells the sidecar where it was going.
// See docs/isolation.md.

import { VIP_RANGE } from './constants.js';
import { run } from './sh.js';

export interface NamespaceRules {
  /** The instance's address (eth0 in its namespace). */
  address: string;
  /** The bridge address on the host: runner probes come from it, the DNS server listens on it. */
  hostAddress: string;
  /** The port the mesh DNS server really listens on (port 53 of hostAddress is DNATed to it). */
  dnsPort: number;
  /** Group id of the sidecar process. */
  proxyGid: number;
  /** Workload ports: the app's port and the sidecar's inbound (mTLS) port in front of it. */
  ports: { app: number; inbound: number }[];
  /** Sidecar admin port (the runner's readiness probe). */
  adminPort: number;
  /** Service ports: connections to vip:port go to 127.0.0.1:localPort, a sidecar upstream listener. */
  services: { vip: string; port: number; localPort: number; name: string }[];
}

/** The iptables-restore input for a namespace: nat and filter tables, complete. */
export function namespaceRules(r: NamespaceRules): string {
  const addr = `${r.address}/32`;
  const host = `${r.hostAddress}/32`;
  const gid = String(r.proxyGid);
  const lines: string[] = [];
  const add = (...l: string[]) => lines.push(...l);

  add(
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':TRELLIS_INBOUND - [0:0]',
    ':TRELLIS_OUTPUT - [0:0]',
    ':TRELLIS_SERVICES - [0:0]',
    // Inbound: TCP arriving at the instance's address. Everything the sidecar and app
    // listen on is bound to 127.0.0.1; only what is DNATed here can be reached from outside.
    `-A PREROUTING -d ${addr} -p tcp -j TRELLIS_INBOUND`,
    // The runner's readiness probes (from the host's bridge address) reach the sidecar admin and the app.
    `-A TRELLIS_INBOUND -s ${host} -p tcp --dport ${r.adminPort} -j DNAT --to-destination 127.0.0.1:${r.adminPort}`,
  );
  for (const p of r.ports) add(`-A TRELLIS_INBOUND -s ${host} -p tcp --dport ${p.app} -j DNAT --to-destination 127.0.0.1:${p.app}`);
  for (const p of r.ports) {
    // Other sidecars call the inbound (mTLS) port, the endpoint the catalog publishes.
    add(`-A TRELLIS_INBOUND -p tcp --dport ${p.inbound} -j DNAT --to-destination 127.0.0.1:${p.inbound}`);
    // A connection to the app port is captured by the sidecar's inbound listener (Istio's 15006): mTLS and authorisation apply.
    if (p.app !== p.inbound) add(`-A TRELLIS_INBOUND -p tcp --dport ${p.app} -j DNAT --to-destination 127.0.0.1:${p.inbound}`);
  }
  add(
    '-A OUTPUT -j TRELLIS_OUTPUT',
    // DNS: resolv.conf says <host>:53; the server listens on another port.
    `-A TRELLIS_OUTPUT -d ${host} -p udp --dport 53 -j DNAT --to-destination ${r.hostAddress}:${r.dnsPort}`,
  );
  // The sidecar calling an endpoint that is itself (a Service this instance backs): its own inbound port on loopback.
  for (const p of r.ports) add(`-A TRELLIS_OUTPUT -d ${addr} -p tcp --dport ${p.inbound} -j DNAT --to-destination 127.0.0.1:${p.inbound}`);
  add(
    // The sidecar's own connections are never captured (Istio: --uid-owner/--gid-owner 1337).
    `-A TRELLIS_OUTPUT -m owner --gid-owner ${gid} -j RETURN`,
    `-A TRELLIS_OUTPUT -d ${VIP_RANGE} -p tcp -j TRELLIS_SERVICES`,
  );
  for (const s of r.services) {
    add(`-A TRELLIS_SERVICES -d ${s.vip}/32 -p tcp --dport ${s.port} -m comment --comment ${JSON.stringify(s.name)} -j REDIRECT --to-ports ${s.localPort}`);
  }
  add('COMMIT');

  add(
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':TRELLIS_INPUT - [0:0]',
    ':TRELLIS_OUTPUT - [0:0]',
    '-A INPUT -j TRELLIS_INPUT',
    '-A TRELLIS_INPUT -i lo -j ACCEPT',
    '-A TRELLIS_INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    // New connections from outside: only those the nat rules above chose (and DNATed to loopback).
    '-A TRELLIS_INPUT -m conntrack --ctstate DNAT -j ACCEPT',
    '-A TRELLIS_INPUT -p tcp -j REJECT --reject-with tcp-reset',
    '-A TRELLIS_INPUT -j REJECT --reject-with icmp-port-unreachable',
    '-A OUTPUT -j TRELLIS_OUTPUT',
    // Loopback: the app and its sidecar. (This chain sees the output interface chosen before the nat rules
    // ran, so a connection REDIRECTed to a sidecar upstream port still says eth0: match what nat chose instead.)
    '-A TRELLIS_OUTPUT -o lo -j ACCEPT',
    '-A TRELLIS_OUTPUT -d 127.0.0.0/8 -j ACCEPT',
    '-A TRELLIS_OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A TRELLIS_OUTPUT -m conntrack --ctstate DNAT -j ACCEPT',
    // The sidecar reaches other sidecars and the control plane.
    `-A TRELLIS_OUTPUT -m owner --gid-owner ${gid} -j ACCEPT`,
    `-A TRELLIS_OUTPUT -d ${host} -p udp --dport ${r.dnsPort} -j ACCEPT`,
    // Anything else an app sends (another instance's address, the host, the world) is refused: no way around the sidecar.
    '-A TRELLIS_OUTPUT -p tcp -j REJECT --reject-with tcp-reset',
    '-A TRELLIS_OUTPUT -j REJECT --reject-with icmp-port-unreachable',
    'COMMIT',
  );
  return lines.join('\n') + '\n';
}

/** Replaces the namespace's nat and filter tables with `rules`, atomically per table. */
export async function applyRules(netns: string, rules: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'iptables-restore'], rules);
}
