// Control-plane process entry: `node dist/src/control-plane/main.js
//   --state-dir DIR --admin-port N --xds-port N [--trust-domain TD]`.
// Prints one JSON line `{"adminPort":..,"xdsPort":..}` on stdout when serving.

import { parseArgs } from 'node:util';
import { startControlPlane } from './control-plane.js';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    'admin-port': { type: 'string', default: '0' },
    'xds-port': { type: 'string', default: '0' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
  },
});
if (!values['state-dir']) {
  process.stderr.write('control-plane: --state-dir is required\n');
  process.exit(2);
}

const cp = await startControlPlane({
  stateDir: values['state-dir'],
  adminPort: Number(values['admin-port']),
  xdsPort: Number(values['xds-port']),
  trustDomain: values['trust-domain'],
});
process.stdout.write(JSON.stringify({ adminPort: cp.adminPort, xdsPort: cp.xdsPort }) + '\n');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void cp.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.TRELLIS_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', stop);
  process.stdin.resume();
}
