// Ports a test writes into manifests (gateway listeners): the same free,
// non-ephemeral loopback ports the local runner uses (src/local/ports.ts).

import { freePorts } from '../../src/local/ports.js';

/** `count` distinct free loopback ports outside the kernel's ephemeral range. */
export function listenerPorts(count: number): Promise<number[]> {
  return freePorts(count);
}
