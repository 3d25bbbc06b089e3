// trellis check-access FROM TO [--path P] [--method M] [--port N] [-H 'name: value'] [-n NS] [-o json]:
// "can FROM reach TO?", answered by the control plane's compiler
// (GET /v1/access, src/compiler/explain-access.ts) with the rule that
// decides, like `osm verify connectivity`. Exit 0 allowed, 2 denied, 1 error.

import type { AccessBackend, AccessExplanation } from '../../compiler/explain-access.js';
import { AdminApiError } from '../admin-client.js';
import { CliError, connect, out, type GlobalOptions } from '../context.js';

export interface CheckAccessOptions extends GlobalOptions {
  path?: string;
  method?: string;
  port?: string;
  header?: string[];
  namespace?: string;
  output?: string;
}

/** Exit code of a denied call (1 is an error). */
export const DENIED_EXIT_CODE = 2;

function qualify(ref: string, ns: string | undefined): string {
  return ref.includes('/') ? ref : `${ns ?? 'default'}/${ref}`;
}

export async function checkAccess(from: string, to: string, opts: CheckAccessOptions): Promise<number> {
  const q = new URLSearchParams({ from: qualify(from, opts.namespace), to: qualify(to, opts.namespace) });
  if (opts.port !== undefined) {
    if (!/^\d+$/.test(opts.port)) throw new CliError(`--port must be a number, got "${opts.port}"`);
    q.set('port', opts.port);
  }
  if (opts.method) q.set('method', opts.method.toUpperCase());
  if (opts.path) q.set('path', opts.path);
  for (const h of opts.header ?? []) {
    if (h.indexOf(':') <= 0) throw new CliError(`--header must be "name: value", got "${h}"`);
    q.append('header', h);
  }
  const client = connect(opts);
  const e = await getJson<AccessExplanation>(client.baseUrl + '/v1/access?' + q.toString());
  if (opts.output === 'json') out(JSON.stringify(e, null, 2));
  else for (const line of formatExplanation(e)) out(line);
  return e.allowed ? 0 : DENIED_EXIT_CODE;
}

function backendLine(b: AccessBackend): string {
  const decision = b.allowed
    ? `allowed by ${b.rule?.trafficTarget ? `TrafficTarget ${b.rule.trafficTarget}${b.rule.match ? `, match ${b.rule.match}` : ''}` : (b.rule?.text ?? 'a rule')}`
    : `denied: ${b.reason}`;
  return `  → ${b.service} (${b.percent}%), service account ${b.serviceAccount}: ${decision}`;
}

/** The human form: verdict, source, route, one line per destination, notes. */
export function formatExplanation(e: AccessExplanation): string[] {
  const port = e.destination.port !== undefined ? `:${e.destination.port}` : '';
  const headers = Object.entries(e.request.headers).map(([k, v]) => ` -H '${k}: ${v}'`).join('');
  const lines = [
    `${e.allowed ? 'ALLOWED' : 'DENIED'}: ${e.source.namespace}/${e.source.name} → ${e.destination.namespace}/${e.destination.name}${port} ${e.request.method} ${e.request.path}${headers}`,
  ];
  if (e.allowed && e.rule) {
    lines.push(e.rule.trafficTarget ? `rule: TrafficTarget ${e.rule.trafficTarget}${e.rule.match ? `, HTTPRouteGroup match ${e.rule.match}` : ''}` : `rule: ${e.rule.text}`);
  }
  if (!e.allowed && e.reason) lines.push(`reason: ${e.reason}`);
  lines.push(`source: ${e.source.kind} ${e.source.namespace}/${e.source.name}, identity ${e.source.identity}`);
  if (e.route) lines.push(`route: ${e.route} (access mode ${e.accessMode})`);
  for (const b of e.backends) {
    lines.push(backendLine(b));
    for (const d of b.details ?? []) lines.push(`      ${d}`);
  }
  for (const n of e.notes) lines.push(`note: ${n}`);
  return lines;
}

async function getJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new AdminApiError('TRELLIS_E_ADMIN_UNREACHABLE', `cannot reach the control plane (${cause}); is the mesh still running?`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AdminApiError('TRELLIS_E_ADMIN_HTTP', `control plane answered ${res.status}: ${text.slice(0, 200)}`, res.status);
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } }).error;
    if (res.status === 404 && error?.code === 'TRELLIS_E_NOT_FOUND') {
      throw new AdminApiError(error.code, 'this control plane has no /v1/access: it is older than this trellis command; restart the mesh', 404);
    }
    throw new AdminApiError(error?.code ?? 'TRELLIS_E_ADMIN_HTTP', error?.message ?? `control plane answered ${res.status}`, res.status);
  }
  return body as T;
}
