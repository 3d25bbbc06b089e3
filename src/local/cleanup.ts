// Removes what a crashed `trellis up` left behind: the processes listed in
// the state directory's pids file, whose runner is gone, and (isolated mode)
// its network namespaces, links and rules.

import fs from 'node:fs';
import { cleanupNetnsLeftovers } from './netns/cleanup.js';
import { killGroup } from './process.js';
import { isAlive, statePaths } from './state-dir.js';

export function cleanupLeftovers(stateDir: string, log: (line: string) => void): void {
  const file = statePaths(stateDir).pids;
  let pids: Record<string, number> = {};
  try {
    pids = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    // none
  }
  for (const [name, pid] of Object.entries(pids)) {
    if (!isAlive(pid)) continue;
    log(`cleaning up ${name} (pid ${pid}) left by an earlier run`);
    killGroup(pid, 'SIGKILL');
  }
  fs.rmSync(file, { force: true });
  cleanupNetnsLeftovers(stateDir, log); // isolated mode (src/local/netns/cleanup.ts)
}
