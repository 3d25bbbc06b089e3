// An exclusive lock on a store directory: a `lock` file holding the owner's
// pid and host. A lock left by a dead process on this host is taken over.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError } from './errors.js';

interface LockInfo {
  pid: number;
  hostname: string;
  acquiredAt: string;
}

export interface DirLock {
  readonly file: string;
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(file: string): Promise<{ raw: string; info?: LockInfo } | undefined> {
  let raw: string;
  try {
    raw = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const info = JSON.parse(raw) as LockInfo;
    return Number.isInteger(info.pid) && typeof info.hostname === 'string' ? { raw, info } : { raw };
  } catch {
    return { raw };
  }
}

/**
 * Takes the lock of `dir`, or throws TRELLIS_E_STORE_LOCKED naming the owner.
 * The lock file is created complete (written to a temp file, then linked),
 * so a reader never sees it half-written.
 */
export async function acquireDirLock(dir: string): Promise<DirLock> {
  const file = path.join(dir, 'lock');
  const content = JSON.stringify({ pid: process.pid, hostname: os.hostname(), acquiredAt: new Date().toISOString() } satisfies LockInfo);
  const tmp = path.join(dir, `lock.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await fsp.writeFile(tmp, content, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fsp.link(tmp, file);
        return {
          file,
          release: async () => {
            // Only remove the lock if it is still ours.
            if ((await readLock(file))?.raw === content) await fsp.rm(file, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await readLock(file);
      if (!held) continue; // released meanwhile
      const { info } = held;
      const sameHost = info?.hostname === os.hostname();
      if (info && (!sameHost || isAlive(info.pid))) {
        throw new StoreError(
          'TRELLIS_E_STORE_LOCKED',
          `store ${dir} is in use by process ${info.pid} on ${info.hostname} (since ${info.acquiredAt}); ` +
            `stop that process, or remove ${file} if you are sure it is gone`,
        );
      }
      // Stale (dead pid on this host) or unreadable: take it over if it has not changed meanwhile.
      if ((await readLock(file))?.raw === held.raw) await fsp.rm(file, { force: true });
    }
    throw new StoreError('TRELLIS_E_STORE_LOCKED', `could not take the lock ${file}: another process keeps taking it`);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
