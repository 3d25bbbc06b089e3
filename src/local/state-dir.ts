// Layout of a mesh's state directory and how commands find a running mesh.
// `trellis up DIR` keeps its state in DIR/.trellis unless --state-dir says otherwise.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface StatePaths {
  root: string;
  /** Store journal and snapshot. */
  store: string;
  /** Mesh CA (ca.crt, ca.key). */
  ca: string;
  /** HMAC secret for proxy bootstrap tokens. */
  secret: string;
  /** Written by the runner while a mesh runs: see MeshInfo. */
  meshInfo: string;
  /** Pids of every process the runner started, to clean up after a crash. */
  pids: string;
  /** Per-proxy files (keys, logs). */
  proxies: string;
}

export function statePaths(root: string): StatePaths {
  return {
    root,
    store: path.join(root, 'store'),
    ca: path.join(root, 'ca'),
    secret: path.join(root, 'bootstrap.secret'),
    meshInfo: path.join(root, 'mesh.json'),
    pids: path.join(root, 'pids.json'),
    proxies: path.join(root, 'proxies'),
  };
}

/** What a running mesh publishes about itself in mesh.json. */
export interface MeshInfo {
  /** Pid of `trellis up` (the runner). */
  runnerPid: number;
  /** Pid of the control-plane process (changes when it is restarted). */
  controlPlanePid?: number;
  /** Base URL of the control plane's admin API, e.g. http://127.0.0.1:15000. */
  adminUrl: string;
  /** Port of the control plane's mTLS distribution listener. */
  xdsPort: number;
  /** Folder of manifests the mesh was started from. */
  manifestDir: string;
  startedAt: string;
}

export function readMeshInfo(root: string): MeshInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePaths(root).meshInfo, 'utf8')) as MeshInfo;
  } catch {
    return undefined;
  }
}

export function writeMeshInfo(root: string, info: MeshInfo): void {
  const file = statePaths(root).meshInfo;
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(file + '.tmp', JSON.stringify(info, null, 2));
  fs.renameSync(file + '.tmp', file);
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The per-user pointer to the mesh that `trellis up` started last. */
export function activePointerFile(): string {
  return path.join(process.env.TRELLIS_HOME ?? path.join(os.homedir(), '.trellis'), 'active.json');
}

export function writeActivePointer(stateDir: string): void {
  const file = activePointerFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ stateDir: path.resolve(stateDir) }));
}

/**
 * Finds the state directory of a running mesh for commands that talk to one:
 * --state-dir, then $TRELLIS_STATE_DIR, then `.trellis` beside a manifest
 * path given on the command line, then ./.trellis, then the mesh `trellis up`
 * started last. Only directories whose runner is alive count, except an
 * explicit --state-dir / $TRELLIS_STATE_DIR, which is returned as is.
 */
export function resolveStateDir(opts: { stateDir?: string; manifestPath?: string }): string | undefined {
  if (opts.stateDir) return path.resolve(opts.stateDir);
  if (process.env.TRELLIS_STATE_DIR) return path.resolve(process.env.TRELLIS_STATE_DIR);
  const candidates: string[] = [];
  if (opts.manifestPath) {
    let dir = path.resolve(opts.manifestPath);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) dir = path.dirname(dir);
    // Walk up a few levels: `apply -f examples/bookstore/split.yaml` finds examples/bookstore/.trellis.
    for (let i = 0; i < 4; i++) {
      candidates.push(path.join(dir, '.trellis'));
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  candidates.push(path.resolve('.trellis'));
  try {
    const pointer = JSON.parse(fs.readFileSync(activePointerFile(), 'utf8')) as { stateDir?: string };
    if (pointer.stateDir) candidates.push(pointer.stateDir);
  } catch {
    // no pointer yet
  }
  for (const c of candidates) {
    const info = readMeshInfo(c);
    if (info && isAlive(info.runnerPid)) return c;
  }
  return undefined;
}
