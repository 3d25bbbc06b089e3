// The Gateway API conformance suite's way of judging an answer
// (../shared/conformance/gateway-api.md): a case is retried every 100 ms
// until it passes three times in a row, and fails after 30 s, because
// configuration takes time to converge. Backends are examples/echo/echo.mjs,
// which answers with the request it saw.

import assert from 'node:assert/strict';
import type { Reply } from './mesh.js';
import { sleep } from './mesh.js';

export interface EchoAnswer {
  path: string;
  host: string;
  method: string;
  headers: Record<string, string>;
  namespace: string;
  pod: string;
  service: string;
}

export interface Expectation {
  status?: number;
  /** The echo service (workload) that must have answered. */
  backend?: string;
  /** Path (with query) the backend saw. */
  path?: string;
  host?: string;
  /** Request headers the backend saw (names lower-case). */
  headers?: Record<string, string>;
  /** Request headers the backend must not have seen. */
  absentHeaders?: string[];
  responseHeaders?: Record<string, string>;
  absentResponseHeaders?: string[];
  /** Redirect Location, compared exactly. */
  location?: string;
}

export function parseEcho(r: Reply): EchoAnswer | undefined {
  try {
    return JSON.parse(r.body) as EchoAnswer;
  } catch {
    return undefined;
  }
}

/** Why `r` does not meet `e`, or undefined when it does. */
export function mismatch(r: Reply, e: Expectation): string | undefined {
  const status = e.status ?? 200;
  if (r.status !== status) return `status ${r.status}, want ${status} (${r.body.slice(0, 200)})`;
  if (e.location !== undefined && r.headers.location !== e.location) return `location ${r.headers.location}, want ${e.location}`;
  for (const [k, v] of Object.entries(e.responseHeaders ?? {})) {
    if (r.headers[k] !== v) return `response header ${k}=${String(r.headers[k])}, want ${v}`;
  }
  for (const k of e.absentResponseHeaders ?? []) if (r.headers[k] !== undefined) return `response header ${k} present`;
  if (status !== 200 && status !== 204) return undefined;
  if (e.backend === undefined && e.path === undefined && e.host === undefined && !e.headers && !e.absentHeaders) return undefined;
  const echo = parseEcho(r);
  if (!echo) return `not an echo answer: ${r.body.slice(0, 200)}`;
  if (e.backend !== undefined && echo.service !== e.backend) return `answered by ${echo.service}, want ${e.backend}`;
  if (e.path !== undefined && echo.path !== e.path) return `backend saw path ${echo.path}, want ${e.path}`;
  if (e.host !== undefined && echo.host !== e.host) return `backend saw host ${echo.host}, want ${e.host}`;
  for (const [k, v] of Object.entries(e.headers ?? {})) {
    if (echo.headers[k] !== v) return `backend saw ${k}=${String(echo.headers[k])}, want ${v}`;
  }
  for (const k of e.absentHeaders ?? []) if (echo.headers[k] !== undefined) return `backend saw ${k}=${echo.headers[k]}, want it absent`;
  return undefined;
}

/** Sends until the answer meets the expectation three times in a row (30 s at most). */
export async function expectEventually(send: () => Promise<Reply>, e: Expectation, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let inARow = 0;
  let last = '';
  while (Date.now() < deadline) {
    let problem: string | undefined;
    try {
      problem = mismatch(await send(), e);
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem === undefined) {
      if (++inARow === 3) return;
      continue;
    }
    inARow = 0;
    last = problem;
    await sleep(100);
  }
  assert.fail(`${what}: ${last}`);
}
