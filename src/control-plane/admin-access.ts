// Admin routes of the access explorer and the proxy page:
//   GET /v1/access?from=ns/name&to=ns/svc[&port=N][&method=M][&path=P][&header=name:value...]
//     "can A reach B?", answered by the compiler (src/compiler/explain-access.ts)
//   GET /v1/proxies/config_dump?id=ns/instance   (also /v1/proxies/<ns>/<instance>/config_dump)
//     a sidecar's /config_dump, fetched server-side from the instance's admin
//     port (a browser cannot reach sidecar admin ports across origins).

import type http from 'node:http';
import { AccessQueryError, explainAccess } from '../compiler/explain-access.js';
import type { WorkloadInstanceResource } from '../resources/types.js';
import type { Store } from '../store/types.js';
import { AdminError, intParam, sendJson } from './admin-http.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

/** How long the control plane waits for a sidecar's admin port. */
const CONFIG_DUMP_TIMEOUT_MS = 3_000;

function bad(message: string): AdminError {
  return new AdminError(400, 'TRELLIS_E_BAD_REQUEST', message);
}

/** `header=name:value`, repeatable. */
function headersFrom(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of url.searchParams.getAll('header')) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw bad(`header must be name:value, got "${h}"`);
    out[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  return out;
}

export function accessHandler(store: Store): Handler {
  return (_req, res, url) => {
    const from = url.searchParams.get('from');
    const to = url.searchParams.get('to');
    if (!from || !to) throw bad('from and to are required: /v1/access?from=ns/workload&to=ns/service');
    try {
      const explanation = explainAccess(store.list(), {
        from,
        to,
        port: intParam(url, 'port'),
        method: url.searchParams.get('method') || undefined,
        path: url.searchParams.get('path') || undefined,
        headers: headersFrom(url),
        namespace: url.searchParams.get('namespace') || undefined,
      });
      sendJson(res, 200, explanation);
    } catch (err) {
      if (err instanceof AccessQueryError) throw new AdminError(err.code === 'TRELLIS_E_BAD_REQUEST' ? 400 : 404, err.code, err.message);
      throw err;
    }
  };
}

/** The proxy id of `/v1/proxies/<ns>/<name>/config_dump` or `?id=ns/name`; undefined when the path is not one. */
export function proxyIdOfPath(url: URL): string | undefined {
  const m = /^\/v1\/proxies\/([^/]+)\/([^/]+)\/config_dump$/.exec(url.pathname);
  if (m) return `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
  if (url.pathname === '/v1/proxies/config_dump') return url.searchParams.get('id') ?? '';
  return undefined;
}

export function configDumpHandler(store: Store): Handler {
  return async (_req, res, url) => {
    const id = proxyIdOfPath(url);
    if (!id) throw bad('name the proxy: /v1/proxies/config_dump?id=ns/instance');
    const [ns, name, extra] = id.split('/');
    if (!ns || !name || extra !== undefined) throw bad(`proxy id must be NAMESPACE/INSTANCE, got "${id}"`);
    const inst = store.get({ kind: 'WorkloadInstance', namespace: ns, name }) as WorkloadInstanceResource | undefined;
    if (!inst) throw new AdminError(404, 'TRELLIS_E_RESOURCE_NOT_FOUND', `no proxy ${id} (no WorkloadInstance ${ns}/${name})`);
    const target = `http://${inst.spec.address}:${inst.spec.adminPort}/config_dump`;
    let body: unknown;
    try {
      const r = await fetch(target, { signal: AbortSignal.timeout(CONFIG_DUMP_TIMEOUT_MS) });
      if (!r.ok) throw new Error(`answered ${r.status}`);
      body = await r.json();
    } catch (err) {
      throw new AdminError(502, 'TRELLIS_E_PROXY_UNREACHABLE', `the admin port of proxy ${id} (${target}) did not answer: ${(err as Error).message}`);
    }
    sendJson(res, 200, body);
  };
}
