// What every CLI command shares: expected errors (printed without a stack),
// finding the running mesh, and output streams (so tests could swap them).

import { isAlive, readMeshInfo, resolveStateDir } from '../local/state-dir.js';
import { AdminClient } from './admin-client.js';

/** An expected failure: main prints `error: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly code = 'TRELLIS_E_CLI',
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Options every command accepts. */
export interface GlobalOptions {
  stateDir?: string;
}

export const NO_MESH_MESSAGE = 'no running mesh found: start one with "trellis up DIR" or pass --state-dir';

/**
 * The admin client of the running mesh: --state-dir, $TRELLIS_STATE_DIR,
 * `.trellis` beside a manifest path, ./.trellis, then the last `trellis up`.
 */
export function connect(opts: GlobalOptions & { manifestPath?: string }): AdminClient {
  const dir = resolveStateDir({ stateDir: opts.stateDir, manifestPath: opts.manifestPath });
  const info = dir ? readMeshInfo(dir) : undefined;
  if (!info || !info.adminUrl || !isAlive(info.runnerPid)) throw new CliError(NO_MESH_MESSAGE, 1, 'TRELLIS_E_NO_MESH');
  return new AdminClient(info.adminUrl);
}

export function out(line = ''): void {
  process.stdout.write(line + '\n');
}

export function err(line: string): void {
  process.stderr.write(line + '\n');
}
