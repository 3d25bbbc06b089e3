// Names, ranges and annotations of isolated mode (`trellis up --isolation netns`).
// Kept free of imports so env.ts and `trellis exec` can use them cheaply.

/** WorkloadInstance annotation: `netns` when the instance runs in a network namespace of its own. */
export const ISOLATION_ANNOTATION = 'trellis.dev/isolation';
/** WorkloadInstance annotation: the name of the instance's network namespace (for `ip netns exec`). */
export const NETNS_ANNOTATION = 'trellis.dev/netns';

/** Instance subnets are /24s of 198.18.0.0/16; Service virtual IPs come from 198.19.0.0/16 (RFC 2544 together). */
export const INSTANCE_NET_PREFIX = '198.18';
export const VIP_NET_PREFIX = '198.19';
export const VIP_RANGE = '198.19.0.0/16';
/** Instance `n` of a mesh gets host part n + 2 (the bridge is .1): at most 253 instances at a time. */
export const MAX_SLOTS = 253;

/**
 * Sidecars run with this group id (Istio's proxy uid/gid is 1337 too); the
 * iptables rules of each namespace exempt it (`-m owner --gid-owner`). It need
 * not exist in /etc/group: only processes inside the mesh's namespaces are matched.
 */
export function proxyGid(): number {
  const v = Number(process.env.TRELLIS_PROXY_GID);
  return Number.isInteger(v) && v > 0 ? v : 1337;
}

/**
 * Local ports the sidecar's transparent upstream listeners use, one per Service
 * port, above Linux's default ephemeral range (32768–60999) so they collide
 * neither with outgoing connections nor with the ports the runner assigns.
 */
export const TRANSPARENT_PORT_BASE = 61000;
export const TRANSPARENT_PORT_MAX = 65535;

/** The search domain clients of namespace `ns` use (Kubernetes' layout). */
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * Privilege settings for every process started in a namespace: no
 * capabilities at all (so neither root apps nor sidecars can change the
 * namespace's iptables rules, change group, open raw sockets or enter another
 * namespace), no new privileges through setuid binaries.
 */
export const DROP_PRIVILEGES = ['--bounding-set', '-all', '--inh-caps', '-all', '--ambient-caps', '-all', '--no-new-privs', '--clear-groups'];
