// System programs some end-to-end tests need besides Node (real database and
// cache servers run as mesh workloads): where they are, and a skip message
// naming the Debian package when they are missing.
//
//   describe('...', { skip: missingSystemPackages(['postgresql']) }, () => { ... });

import fs from 'node:fs';
import path from 'node:path';

export type SystemPackage = 'postgresql' | 'redis-server' | 'curl';

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in PATH or `extraDirs`, or undefined. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (executable(file)) return file;
  }
  return undefined;
}

/**
 * The folder with PostgreSQL's `initdb` and `postgres`: $PG_BIN, else the
 * newest /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH), else
 * PATH. The same search as examples/widgetario/apps/products-db.mjs.
 */
export function postgresBinDir(): string | undefined {
  const has = (dir: string) => executable(path.join(dir, 'initdb')) && executable(path.join(dir, 'postgres'));
  if (process.env.PG_BIN) return has(process.env.PG_BIN) ? process.env.PG_BIN : undefined;
  const debian = '/usr/lib/postgresql';
  const versions = fs.existsSync(debian)
    ? fs.readdirSync(debian).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) if (has(path.join(debian, v, 'bin'))) return path.join(debian, v, 'bin');
  const initdb = findExecutable('initdb');
  return initdb && has(path.dirname(initdb)) ? path.dirname(initdb) : undefined;
}

/** redis-server in PATH, /usr/bin or /usr/sbin. */
export function redisServerPath(): string | undefined {
  return findExecutable('redis-server', ['/usr/bin', '/usr/sbin', '/usr/local/bin']);
}

function postgresUserExists(): boolean {
  try {
    return fs.readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('postgres:'));
  } catch {
    return false;
  }
}

/** Why one package is not usable, or undefined when it is. */
function missing(pkg: SystemPackage): string | undefined {
  switch (pkg) {
    case 'postgresql':
      if (!postgresBinDir()) return 'PostgreSQL (initdb, postgres) is not installed: apt-get install postgresql';
      // PostgreSQL refuses to run as root; the launcher then runs it as the `postgres` user.
      if (process.getuid?.() === 0 && !postgresUserExists()) {
        return 'running as root and there is no `postgres` user to run PostgreSQL as: apt-get install postgresql creates it';
      }
      return undefined;
    case 'redis-server':
      return redisServerPath() ? undefined : 'redis-server is not installed: apt-get install redis-server';
    case 'curl':
      return findExecutable('curl') ? undefined : 'curl is not installed: apt-get install curl';
  }
}

/**
 * A skip message naming each missing Debian package, or false when all are
 * there: pass it as the `skip` option of `describe` or `it`.
 */
export function missingSystemPackages(pkgs: SystemPackage[]): string | false {
  const reasons = pkgs.map(missing).filter((r): r is string => r !== undefined);
  return reasons.length > 0 ? `needs system packages: ${reasons.join('; ')}` : false;
}
