// A small client of the control plane's admin API (docs/admin-api.md) over the
// global fetch. Used by the CLI and by the local runner. Every failure is an
// AdminApiError with a TRELLIS_E_ code and a message a user can act on.

import type { Resource, ResourceRef } from '../resources/types.js';
import type {
  ApiErrorBody,
  ApplyRequest,
  ApplyResponse,
  DeleteRequest,
  DeleteResponse,
  ListResponse,
  StatusResponse,
  WatchLine,
  WireManifestError,
} from '../control-plane/admin-types.js';

export class AdminApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status = 0,
    /** Manifest errors of a rejected apply/delete. */
    readonly errors: WireManifestError[] = [],
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export interface AdminClientOptions {
  /** Per request (for watch: until the stream is established). Default 30 s. */
  timeoutMs?: number;
}

export interface WatchOptions {
  from?: number;
  kind?: string;
  namespace?: string;
  /** Include heartbeat lines (default false: only store events). */
  heartbeats?: boolean;
  signal?: AbortSignal;
}

export class AdminClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: AdminClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async healthy(): Promise<boolean> {
    try {
      const res = await this.request('GET', '/healthz');
      return res.ok;
    } catch {
      return false;
    }
  }

  apply(req: ApplyRequest): Promise<ApplyResponse> {
    return this.json<ApplyResponse>('POST', '/v1/apply', req);
  }

  delete(req: DeleteRequest): Promise<DeleteResponse> {
    return this.json<DeleteResponse>('POST', '/v1/delete', req);
  }

  /** Lists a kind (any alias); no namespace = every namespace. */
  list(kind?: string, opts: { namespace?: string; name?: string } = {}): Promise<ListResponse> {
    return this.json<ListResponse>('GET', '/v1/resources' + query({ kind, namespace: opts.namespace, name: opts.name }));
  }

  /** One object, or undefined when it does not exist. */
  async get<R extends Resource = Resource>(ref: ResourceRef): Promise<R | undefined> {
    try {
      const res = await this.list(ref.kind, { namespace: ref.namespace || undefined, name: ref.name });
      return res.items[0] as R | undefined;
    } catch (err) {
      if (err instanceof AdminApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  status(): Promise<StatusResponse> {
    return this.json<StatusResponse>('GET', '/v1/status');
  }

  /**
   * Store events after `from` (default: now), then each new one, until the
   * signal aborts or the server ends the stream. Throws
   * TRELLIS_E_REVISION_COMPACTED (status 410) when `from` is too old.
   */
  async *watch(opts: WatchOptions = {}): AsyncGenerator<WatchLine> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const path = '/v1/watch' + query({ from: opts.from?.toString(), kind: opts.kind, namespace: opts.namespace });
      const res = await this.request('GET', path, undefined, controller.signal);
      clearTimeout(timer);
      if (!res.ok) throw await errorFrom(res);
      if (!res.body) return;
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            const event = JSON.parse(line) as WatchLine;
            if (event.type === 'heartbeat' && !opts.heartbeats) continue;
            yield event;
          }
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        throw new AdminApiError('TRELLIS_E_ADMIN_UNREACHABLE', `watch stream broke: ${(err as Error).message}`);
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const res = await this.request(method, path, body, controller.signal);
      if (!res.ok) throw await errorFrom(res);
      return (await res.json()) as T;
    } catch (err) {
      if (err instanceof AdminApiError) throw err;
      if (controller.signal.aborted) {
        throw new AdminApiError('TRELLIS_E_ADMIN_TIMEOUT', `the control plane at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`);
      }
      throw unreachable(this.baseUrl, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, {
        method,
        signal,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw unreachable(this.baseUrl, err);
    }
  }
}

function unreachable(baseUrl: string, err: unknown): AdminApiError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new AdminApiError('TRELLIS_E_ADMIN_UNREACHABLE', `cannot reach the control plane at ${baseUrl} (${why}); is the mesh still running?`);
}

async function errorFrom(res: Response): Promise<AdminApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as ApiErrorBody;
    if (body?.error?.code) return new AdminApiError(body.error.code, body.error.message, res.status, body.errors ?? []);
  } catch {
    // not JSON: fall through
  }
  return new AdminApiError('TRELLIS_E_ADMIN_HTTP', `control plane answered ${res.status}: ${text.slice(0, 200)}`, res.status);
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
