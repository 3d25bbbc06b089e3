// The control plane's admin API, as the dashboard reads it (same origin).
// Every failure becomes an ApiError with the API's code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function getJson(path, { signal } = {}) {
  let res;
  try {
    res = await fetch(path, { signal, headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'TRELLIS_E_ADMIN_UNREACHABLE', `the control plane does not answer (${err.message}); is the mesh still running?`);
  }
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'TRELLIS_E_ADMIN_HTTP', `${path} answered ${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const e = body?.error ?? {};
    throw new ApiError(res.status, e.code ?? 'TRELLIS_E_ADMIN_HTTP', e.message ?? `${path} answered ${res.status}`);
  }
  return body;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  graph: (window = '30s', opts) => getJson(`/v1/graph${query({ window })}`, opts),
  trafficMetrics: (params, opts) => getJson(`/v1/trafficmetrics${query(params)}`, opts),
  resources: (kind, params = {}, opts) => getJson(`/v1/resources${query({ kind, ...params })}`, opts),
  status: (opts) => getJson('/v1/status', opts),
  access: (params, opts) => getJson(`/v1/access${query(params)}`, opts),
  configDump: (id, opts) => {
    const [ns, name] = id.split('/');
    return getJson(`/v1/proxies/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/config_dump`, opts);
  },
  traces: (params = {}, opts) => getJson(`/v1/traces${query(params)}`, opts),
  trace: (id, opts) => getJson(`/v1/traces/${encodeURIComponent(id)}`, opts),
};

/** A message for a failed API call; a 404 of a route means the control plane is older than the dashboard. */
export function explainError(err, what) {
  if (err instanceof ApiError && err.code === 'TRELLIS_E_NOT_FOUND' && err.status === 404) {
    return `${what}: this control plane does not serve this API yet (${err.message})`;
  }
  if (err instanceof ApiError && err.code === 'TRELLIS_E_METRICS_UNAVAILABLE') {
    return `${what}: ${err.message}`;
  }
  return `${what}: ${err.message}`;
}
