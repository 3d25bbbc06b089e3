// System programs the workloads need. A Workload's command (when it is a bare
// program name) and its `trellis.dev/requires` annotation (comma-separated
// program names, for programs started by a script) must be installed before
// `trellis up` starts anything; otherwise it says which Debian package to add.

import fs from 'node:fs';
import path from 'node:path';
import type { Resource, WorkloadResource } from '../resources/types.js';

export const REQUIRES_ANNOTATION = 'trellis.dev/requires';

/** Debian packages of programs examples and users commonly run. */
const PACKAGES: Record<string, string> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  postgres: 'postgresql',
  initdb: 'postgresql',
  pg_ctl: 'postgresql',
  psql: 'postgresql-client',
  iptables: 'iptables',
  ip: 'iproute2',
  nginx: 'nginx-light',
  haproxy: 'haproxy',
  curl: 'curl',
};

/** Folders besides PATH where Debian puts server binaries (PostgreSQL's are versioned). */
function extraDirs(): string[] {
  const out = ['/usr/sbin', '/sbin'];
  try {
    for (const v of fs.readdirSync('/usr/lib/postgresql')) out.push(path.join('/usr/lib/postgresql', v, 'bin'));
  } catch {
    // no PostgreSQL
  }
  return out;
}

export function findProgram(name: string): string | undefined {
  if (name.includes('/')) return fs.existsSync(name) ? name : undefined;
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs()]) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** One line per missing program: which workload needs it and what to install. */
export function missingPrograms(resources: readonly Resource[]): string[] {
  const missing = new Map<string, string[]>();
  for (const r of resources) {
    if (r.kind !== 'Workload') continue;
    const w = r as WorkloadResource;
    const programs = new Set<string>();
    const command = w.spec.command[0];
    // Relative script paths are the workload's own files; bare names come from the system.
    if (command && !command.includes('/')) programs.add(command);
    for (const p of (w.metadata.annotations[REQUIRES_ANNOTATION] ?? '').split(',')) if (p.trim()) programs.add(p.trim());
    for (const p of programs) {
      if (findProgram(p)) continue;
      missing.set(p, [...(missing.get(p) ?? []), `${w.metadata.namespace}/${w.metadata.name}`]);
    }
  }
  return [...missing].map(
    ([program, workloads]) =>
      `error: ${workloads.join(', ')} need${workloads.length === 1 ? 's' : ''} \`${program}\`, which is not installed: install the Debian package ${PACKAGES[program] ?? program} (apt-get install ${PACKAGES[program] ?? program})`,
  );
}
