// client: the SplitDim demo's caller. It exists so that `trellis exec client
// -n splitdim -- curl ...` runs with an identity the TrafficTargets allow
// (service account splitdim/client). With LOAD_INTERVAL_MS > 0 it also calls
// GET /api/list on http://splitdim.splitdim through its sidecar at that
// interval (with the header `user: <USER_HEADER>` when set) and logs, every
// REPORT_EVERY calls, the answers by status and by deployment: after
// `trellis apply -f examples/splitdim/fault.yaml` about 10 % are 500.
//
// Env: HTTP_PROXY / NO_PROXY (set by the runner), SPLITDIM_URL (http://splitdim.splitdim:80),
// LOAD_INTERVAL_MS (0 = idle), USER_HEADER (none), REPORT_EVERY (20), REQUEST_TIMEOUT_MS (2000).

import { call, env, errorText, exitOnSignals, intEnv, log, sleep } from './lib.mjs';

const target = env('SPLITDIM_URL', 'http://splitdim.splitdim:80').replace(/\/+$/, '');
const interval = intEnv('LOAD_INTERVAL_MS', 0);
const user = env('USER_HEADER');
const reportEvery = Math.max(1, intEnv('REPORT_EVERY', 20));
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 2000);

exitOnSignals();
if (interval === 0) {
  log('idle (LOAD_INTERVAL_MS=0): use `trellis exec client -n splitdim -- curl ...`');
  setInterval(() => {}, 1 << 30);
} else {
  log(`GET ${target}/api/list every ${interval} ms${user ? ` with user: ${user}` : ''} through ${env('HTTP_PROXY', '(no proxy)')}`);
  const byStatus = {};
  const byVersion = {};
  for (let n = 1; ; n++) {
    try {
      const r = await call('GET', `${target}/api/list`, { headers: user ? { user } : {}, timeoutMs });
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      const v = r.headers['x-splitdim-version'];
      if (v) byVersion[v] = (byVersion[v] ?? 0) + 1;
    } catch (err) {
      const k = `error (${errorText(err)})`;
      byStatus[k] = (byStatus[k] ?? 0) + 1;
    }
    if (n % reportEvery === 0) {
      const fmt = (o) => Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
      log(`calls=${n} by status: ${fmt(byStatus)} | by version: ${fmt(byVersion)}`);
    }
    await sleep(interval);
  }
}
