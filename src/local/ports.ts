// Free loopback ports for local mode. The kernel hands out ports of its
// ephemeral range (32768–60999 on Linux) to every `listen(0)` and to every
// outgoing connection, so a port found with `listen(0)` and bound later by a
// sidecar can be taken in between by any connection on the machine (a busy
// host, or a load test, makes that likely). Ports are therefore picked at
// random just below that range, which the kernel never hands out; all ports
// of one request are held open together, and a port is never handed out
// twice by one process.

import fs from 'node:fs';
import net from 'node:net';

/** How many ports below the ephemeral range to pick from. */
const SPAN = 12_000;
/**
 * Ports this process has handed out: never handed out again, so two
 * instances of one mesh cannot be given the same port while the first has
 * not bound it yet.
 */
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (Linux), or undefined elsewhere. */
function ephemeralLow(): number | undefined {
  try {
    const [lo] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo !== undefined && Number.isInteger(lo) ? lo : undefined;
  } catch {
    return undefined;
  }
}

function listen(port: number, host: string): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, host, () => resolve(s));
  });
}

export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const lo = ephemeralLow();
    const low = lo === undefined ? 0 : Math.max(1024, lo - SPAN);
    // Without a usable range below the ephemeral one, let the kernel choose.
    const random = lo !== undefined && lo - low >= 1000;
    for (let attempts = 0; servers.length < count; attempts++) {
      if (attempts > count * 50) throw new Error(`no ${count} free ports on ${host}`);
      const candidate = random ? low + Math.floor(Math.random() * (lo! - low)) : 0;
      if (handedOut.has(candidate)) continue;
      const s = await listen(candidate, host);
      if (!s) continue;
      const port = (s.address() as net.AddressInfo).port;
      if (handedOut.has(port)) s.close(); // the kernel's choice (no usable range): already given out
      else servers.push(s);
    }
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    for (const p of ports) handedOut.add(p);
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** True when something accepts TCP connections on host:port. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
