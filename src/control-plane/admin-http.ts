// Small HTTP helpers for the admin API: coded errors, bounded JSON bodies and
// JSON replies. Nothing here knows about routes or resources.

import type http from 'node:http';
import type { WireManifestError } from './admin-types.js';

/** Largest request body the admin API reads (manifests are posted as text). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** An error the admin API turns into `{ error: { code, message } }` with `status`. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: WireManifestError[],
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: AdminError): void {
  const body: Record<string, unknown> = { error: { code: err.code, message: err.message } };
  if (err.errors) body.errors = err.errors;
  sendJson(res, err.status, body);
}

/**
 * Reads the whole body, refusing more than `limit` bytes with a 413 AdminError
 * (checked against content-length first, then while streaming).
 */
export function readBody(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = () =>
    new AdminError(413, 'TRELLIS_E_BODY_TOO_LARGE', `request body is larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(err);
    });
  });
}

/** Parses a JSON object body; an empty body is `{}`. */
export async function readJsonObject(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const buf = await readBody(req);
  if (buf.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new AdminError(400, 'TRELLIS_E_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AdminError(400, 'TRELLIS_E_BAD_REQUEST', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Parses a non-negative integer query parameter; undefined when absent. */
export function intParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new AdminError(400, 'TRELLIS_E_BAD_REQUEST', `query parameter ${name} must be a non-negative integer, got "${raw}"`);
  }
  return Number(raw);
}
