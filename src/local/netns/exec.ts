// `trellis exec` in isolated mode: the command runs in the instance's network
// namespace, with the app's privileges (no capabilities), so its traffic is
// captured and authorised exactly as the app's is.

import { CliError } from '../../cli/context.js';
import { inNamespace, isolatedEnv } from './isolation.js';
import { isRoot } from './sh.js';

export function execInNamespace(netns: string, command: string[], env: NodeJS.ProcessEnv): { argv: string[]; env: NodeJS.ProcessEnv } {
  if (!isRoot()) {
    throw new CliError(
      `this mesh runs in isolated mode (--isolation netns): trellis exec enters the instance's network namespace ${netns}, which needs root`,
      1,
    );
  }
  return { argv: inNamespace(netns, command), env: isolatedEnv(env) };
}
