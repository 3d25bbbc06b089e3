// Runs `trellis up DIR --isolation netns` for the isolated-mode tests and
// checks what it leaves on the machine. Everything a test starts is stopped
// and removed in `after`, also when the test failed.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AdminClient } from '../../../src/cli/admin-client.js';
import { cleanupLeftovers } from '../../../src/local/cleanup.js';
import { meshId } from '../../../src/local/netns/network.js';
import { readMeshInfo } from '../../../src/local/state-dir.js';
import type { WorkloadInstanceResource } from '../../../src/resources/types.js';
import { repoRoot } from '../../support/paths.js';

export const TRELLIS_BIN = path.join(repoRoot, 'bin', 'trellis.js');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface IsolatedMesh {
  stateDir: string;
  child: ChildProcess;
  output: string[];
  client: AdminClient;
  instance(namespace: string, name: string): Promise<WorkloadInstanceResource>;
  /** SIGINT (default) and wait for the exit code; SIGKILL after 15 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the mesh and waits for `all ready`. */
export async function startIsolatedMesh(dir: string, stateDir: string, timeoutMs = 40_000): Promise<IsolatedMesh> {
  const child = spawn(process.execPath, [TRELLIS_BIN, 'up', dir, '--state-dir', stateDir, '--isolation', 'netns', '--quiet'], {
    cwd: repoRoot,
    env: { ...process.env, TRELLIS_HOME: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exited = code))));
  for (const s of [child.stdout!, child.stderr!]) {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        output.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
  }
  const mesh: IsolatedMesh = {
    stateDir,
    child,
    output,
    client: undefined as unknown as AdminClient,
    async instance(namespace, name) {
      const inst = await mesh.client.get<WorkloadInstanceResource>({ kind: 'WorkloadInstance', namespace, name });
      if (!inst) throw new Error(`no instance ${namespace}/${name}`);
      return inst;
    },
    async stop(signal = 'SIGINT') {
      if (exited === undefined) child.kill(signal);
      const code = await Promise.race([exit, sleep(15_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error('trellis up did not stop within 15 s');
      }
      return code;
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (!output.some((l) => l.startsWith('all ready'))) {
    if (exited !== undefined) throw new Error(`trellis up exited with ${exited}:\n${output.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mesh not ready in time:\n${output.slice(-40).join('\n')}`);
    }
    await sleep(100);
  }
  const info = readMeshInfo(stateDir);
  if (!info) throw new Error('no mesh.json');
  mesh.client = new AdminClient(info.adminUrl);
  return mesh;
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

export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRELLIS_BIN, ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
