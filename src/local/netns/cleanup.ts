// Crash cleanup for isolated mode, run by `trellis up` (src/local/cleanup.ts)
// before it starts anything: the namespaces, links, bridge, /etc/netns entries
// and host rules of an earlier run from the same state directory that did not
// get to remove them (killed with SIGKILL, machine crash).

import { cleanupNetworkSync, readRecord } from './network.js';

export function cleanupNetnsLeftovers(stateDir: string, log: (line: string) => void): void {
  if (!readRecord(stateDir)) return;
  const { removed, failed } = cleanupNetworkSync(stateDir);
  for (const r of removed) log(`cleaning up ${r} left by an earlier run`);
  for (const f of failed) log(`warning: could not remove ${f} left by an earlier run`);
}
