// Running the system tools isolated mode drives (ip, iptables-restore, sh):
// async for the running mesh, sync for crash cleanup at start.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (${code === null ? 'killed' : `exit ${code}`}): ${stderr.trim() || 'no output'}`);
  }
}

/** Runs `cmd args`, optionally feeding `input` on stdin; resolves to stdout, rejects with CommandError. */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // The same resolution as the prerequisite check: sbin folders count even when PATH lacks them.
    const child = spawn(which(cmd) ?? cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => reject(new CommandError([cmd, ...args].join(' '), null, e.message)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new CommandError([cmd, ...args].join(' '), code, err))));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** Sync variant for cleanup: never throws; returns ok and output. */
export function runSync(cmd: string, args: string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(which(cmd) ?? cmd, args, { input: input ?? '', encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? r.error.message : '') };
}

/** The absolute path of `name` in $PATH (plus the sbin folders, which a non-login root shell may lack), or undefined. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
