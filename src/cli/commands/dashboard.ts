// trellis dashboard [--no-open]: prints the URL of the running mesh's
// dashboard (served by its control plane at /dashboard/) and opens it with
// xdg-open unless --no-open.

import { spawn } from 'node:child_process';
import { connect, err, out, type GlobalOptions } from '../context.js';

export async function dashboard(opts: GlobalOptions & { open?: boolean }): Promise<number> {
  const client = connect(opts);
  const url = `${client.baseUrl}/dashboard/`;
  out(url);
  if (opts.open === false) return 0;
  const opened = await new Promise<boolean>((resolve) => {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
  if (!opened) err('(xdg-open is not available: open the URL above in a browser)');
  return 0;
}
