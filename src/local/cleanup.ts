// Removes what a crashed `trellis up` left behind: the processes listed in
// the state directory's pids file, whose runner is gone.

import fs from 'node:fs';
import { killGroup } from './process.js';
import { isAlive, statePaths } from './state-dir.js';

export function cleanupLeftovers(stateDir: string, log: (line: string) => void): void {
  const file = statePaths(stateDir).pids;
  let pids: Record<string, number>;
  try {
    pids = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    return;
  }
  for (const [name, pid] of Object.entries(pids)) {
    if (!isAlive(pid)) continue;
    log(`cleaning up ${name} (pid ${pid}) left by an earlier run`);
    killGroup(pid, 'SIGKILL');
  }
  fs.rmSync(file, { force: true });
}
