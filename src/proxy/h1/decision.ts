// What the HTTP/1.1 engine asks a listener for each request, and the
// answers it can give: reply locally, or forward to an upstream (with the
// hooks that retries, mirrors, metrics and response filters hang on).

import type { ByteStream } from './byte-stream.js';
import type { H1Pool } from './pool.js';

export type FailureKind = 'connect' | 'timeout' | 'reset' | 'identity' | 'overflow';

/** How one try ended: the upstream's status, or a failure before any response. */
export type AttemptOutcome = { status: number } | { failure: FailureKind } | { cancelled: true };

/** What to do with an upstream response head before anything reaches the client. */
export interface ResponseEdits {
  drop?: ReadonlySet<string>;
  add?: string[];
}

/** Where a copy of the request goes (fire and forget). */
export interface MirrorTarget {
  pool: H1Pool;
  key: string;
  connect: () => ByteStream;
  /** The mirror's request head, serialised. */
  head: Buffer;
  done?: (outcome: AttemptOutcome) => void;
}

export interface ForwardDecision {
  kind: 'forward';
  pool: H1Pool;
  /** Pool key: one per endpoint (and credentials). */
  key: string;
  connect: () => ByteStream;
  /** Path for the upstream request line (origin-form). */
  path: string;
  /** Request headers to drop / add on the way. */
  drop?: ReadonlySet<string>;
  add?: string[];
  /** Time allowed for the response head of this try. */
  responseTimeoutMs: number;
  fail: (kind: FailureKind, err: Error) => { status: number; body: string; headers?: [string, string][] };
  /**
   * Called once with the status sent to the client (0 if the exchange broke)
   * and the body bytes that went up and came back; only the last try's is called.
   */
  done: (status: number, requestBytes?: number, responseBytes?: number) => void;
  /** Wait this long before sending (fault delay, retry back-off). */
  delayMs?: number;
  /** Called once per try with how it ended (endpoint accounting, outlier detection). */
  attempt?: (outcome: AttemptOutcome) => void;
  /** Edits to the response head before it reaches the client. */
  onResponse?: (status: number, headers: Readonly<Record<string, string>>) => ResponseEdits | undefined;
  /**
   * Asked after each failed try and each response head: the next try, or
   * undefined to give up (or to pass the response on). Set only when retries
   * are configured; requests whose body exceeds 64 KiB are not retried.
   */
  retry?: (outcome: AttemptOutcome) => ForwardDecision | undefined;
  mirrors?: MirrorTarget[];
}

export type Decision =
  | { kind: 'reply'; status: number; body: string; headers?: [string, string][]; done?: (status: number) => void; /** Why the proxy answered itself. */ reason?: string }
  | ForwardDecision;

export interface H1Limits {
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

const REASONS: Record<number, string> = {
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 307: 'Temporary Redirect', 308: 'Permanent Redirect', 429: 'Too Many Requests',
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

export function localResponse(status: number, body: string, headers: [string, string][] = [], close = false, headOnly = false): string {
  const text = body.endsWith('\n') ? body : body + '\n';
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  if (close) head += 'connection: close\r\n';
  // A response to HEAD carries the length of the body it would have had, not the body.
  return head + '\r\n' + (headOnly ? '' : text);
}
