// What isolated mode needs from the machine, checked before anything starts,
// with a message that says what is missing and how process mode differs.

import { isRoot, which } from './sh.js';

const PROCESS_MODE =
  'Process mode (the default, without --isolation) needs no root and no iptables: every instance runs on 127.0.0.1 and its traffic ' +
  'goes through the sidecars only when the app uses HTTP_PROXY or its upstream ports, so nothing stops an app from ' +
  'calling another app\'s port directly and access control can be bypassed.';

/** Tools isolated mode runs, with the Debian package that has each. */
const TOOLS: [tool: string, pkg: string][] = [
  ['ip', 'iproute2'],
  ['iptables', 'iptables'],
  ['iptables-restore', 'iptables'],
  ['setpriv', 'util-linux'],
];

/** undefined when isolated mode can run here; otherwise the lines to print (exit 2). */
export function netnsPrerequisites(): string[] | undefined {
  if (process.platform !== 'linux') {
    return [`error: isolated mode (--isolation netns) needs Linux network namespaces; this is ${process.platform}.`, PROCESS_MODE];
  }
  if (!isRoot()) {
    return [
      'error: isolated mode (--isolation netns) needs root: it creates a network namespace per workload instance, ' +
        'a bridge, veth links and iptables rules. Run it as root (e.g. sudo npx trellis up DIR --isolation netns).',
      PROCESS_MODE,
    ];
  }
  const missing = TOOLS.filter(([tool]) => !which(tool));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))];
    return [
      `error: isolated mode (--isolation netns) needs ${missing.map(([t]) => t).join(', ')}, not found in PATH: ` +
        `install ${pkgs.length > 1 ? 'them' : 'it'} with apt-get install -y ${pkgs.join(' ')}`,
      PROCESS_MODE,
    ];
  }
  return undefined;
}

/** Why isolated-mode tests cannot run here, or undefined when they can (tests skip with this message). */
export function netnsUnavailableReason(): string | undefined {
  const p = netnsPrerequisites();
  return p ? p[0]!.replace(/^error: /, '') : undefined;
}
