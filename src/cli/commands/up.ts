// trellis up DIR: runs the whole mesh in the foreground until interrupted.

import type { GlobalOptions } from '../context.js';

export async function up(
  dir: string,
  opts: GlobalOptions & { quiet?: boolean; isolation?: 'process' | 'netns' },
): Promise<number> {
  // Loaded only here: the runner pulls in the whole control plane, which other commands do not need.
  const { runUp } = await import('../../local/up.js');
  return runUp({ dir, stateDir: opts.stateDir, quiet: opts.quiet === true, isolation: opts.isolation });
}
