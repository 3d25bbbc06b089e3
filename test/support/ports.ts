// Ports a test writes into manifests (gateway listeners). The OS hands out
// ephemeral ports (32768–60999 on Linux) to every `listen(0)` and outgoing
// connection, so a port picked that way and bound later by another process
// can be taken in between by a sidecar the runner starts. Ports below that
// range are never handed out by the OS: pick random free ones there.

import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `count` distinct free loopback ports outside the ephemeral range. */
export async function listenerPorts(count: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < count) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (!out.includes(port) && (await bindable(port))) out.push(port);
  }
  return out;
}
