// Runs `trellis up DIR --isolation netns` for the isolated-mode tests and
// checks what it leaves on the machine. Everything a test starts is stopped
// and removed in `after`, also when the test failed.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { cleanupLeftovers } from '../../../src/local/cleanup.js';
import { meshId } from '../../../src/local/netns/network.js';
import { startMesh, type RunningMesh } from '../../support/mesh.js';


export { runCli, TRELLIS_BIN } from '../../support/mesh.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type IsolatedMesh = RunningMesh;

/** Starts `trellis up DIR --isolation netns` and waits for `all ready` (test/support/mesh.ts). */
export function startIsolatedMesh(dir: string, stateDir: string, timeoutMs = 40_000): Promise<IsolatedMesh> {
  return startMesh(dir, { stateDir, readyTimeoutMs: timeoutMs, args: ['--isolation', 'netns'] });
}

/** What of the mesh with this state directory exists on the machine: namespaces, links, /etc/netns entries, host rules. */
export function leftovers(stateDir: string): string[] {
  const prefix = `tr-${meshId(stateDir)}`;
  const found: string[] = [];
  for (const line of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const name = line.split(' ')[0]!;
    if (name.startsWith(prefix)) found.push(`netns ${name}`);
  }
  for (const line of spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name?.startsWith(prefix)) found.push(`link ${name}`);
  }
  try {
    for (const e of fs.readdirSync('/etc/netns')) if (e.startsWith(prefix)) found.push(`/etc/netns/${e}`);
  } catch {
    // no /etc/netns
  }
  for (const chain of ['INPUT', 'FORWARD']) {
    for (const r of spawnSync('iptables', ['-S', chain], { encoding: 'utf8' }).stdout.split('\n')) {
      if (r.includes(`trellis:${meshId(stateDir)}`)) found.push(`host rule ${r}`);
    }
  }
  return found;
}

/** Last resort after a failed test: whatever the runner left, processes and network. */
export function forceCleanup(stateDir: string): void {
  cleanupLeftovers(stateDir, () => {});
}

/** Runs a Node script inside a namespace as the given group (the sidecar's, to test what gets past OUTPUT). */
export function nodeInNamespace(netns: string, script: string, args: string[], opts: { gid?: number } = {}): Promise<string> {
  const priv = opts.gid !== undefined ? ['--regid', String(opts.gid), '--clear-groups'] : ['--clear-groups'];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'setpriv', ...priv, '--bounding-set', '-all', '--', process.execPath, '-e', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`exit ${code}: ${err}`));
    });
  });
}
