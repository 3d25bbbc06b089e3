// The sidecar's HTTP/1.1 hot path on raw sockets: reads a request head, asks
// the listener's handler what to do, and either answers locally or streams the
// request to a pooled upstream connection and the response back, bytes as
// they come, with the framing tracked so keep-alive works on both sides.
// No IncomingMessage/ServerResponse/ClientRequest objects (bench/NOTES.md).

import { BodyTracker } from './body.js';
import { NOTHING_SENT, type ByteStream } from './byte-stream.js';
import { HeadError, headEnd, parseRequestHead, parseResponseHead, serializeHead, type RequestHead } from './head.js';
import type { H1Pool, UpstreamConnection } from './pool.js';
import { startMirror, type MirrorCopy } from './mirror.js';

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

/** One buffer for a head and the body bytes that arrived with it (at most one read of them). */
function joinSmall(head: Buffer, body: Buffer): Buffer {
  return body.length === 0 ? head : Buffer.concat([head, body], head.length + body.length);
}

function failureKind(err: NodeJS.ErrnoException): FailureKind {
  if (err.code === 'TRELLIS_E_TIMEOUT') return 'timeout';
  if (err.code === 'TRELLIS_E_OVERFLOW') return 'overflow';
  if (err.code === 'TRELLIS_E_PEER_IDENTITY') return 'identity';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'reset';
  return 'connect';
}

/** Serves HTTP/1.1 on an accepted (plain or TLS) socket until it closes. */
export function serveH1(client: ByteStream, handle: (req: RequestHead) => Decision, limits: H1Limits): void {
  client.setNoDelay(true);
  let pending: Buffer | undefined;
  let busy = false;
  let closed = false;

  // One timeout listener for the connection's life: between requests the
  // keep-alive timeout runs, while a head is arriving the headers timeout.
  let waitingForHead = false;
  client.on('timeout', () => {
    if (closed) return;
    if (waitingForHead) client.end(localResponse(408, 'trellis: request head not received in time', [], true));
    else client.destroy();
  });
  const idle = () => {
    waitingForHead = false;
    client.setTimeout(limits.keepAliveTimeoutMs);
  };
  const headTimer = () => {
    waitingForHead = true;
    client.setTimeout(limits.headersTimeoutMs);
  };
  idle();

  const onClientData = (chunk: Buffer) => {
    pending = pending ? Buffer.concat([pending, chunk]) : chunk;
    if (!busy) next();
    else if (pending.length > 1024 * 1024) client.pause(); // a pipelining client waits
  };
  let bodySink: ((chunk: Buffer) => void) | undefined;
  client.on('data', (chunk: Buffer) => (bodySink ? bodySink(chunk) : onClientData(chunk)));
  client.on('error', () => client.destroy());
  client.on('close', () => {
    closed = true;
    abortExchange?.();
  });
  let abortExchange: (() => void) | undefined;

  function next(): void {
    if (closed || !pending || pending.length === 0) return;
    let end: number;
    let req: RequestHead;
    try {
      end = headEnd(pending);
      if (end < 0) {
        headTimer();
        return;
      }
      req = parseRequestHead(pending, end);
    } catch (err) {
      const status = err instanceof HeadError ? err.status : 400;
      client.end(localResponse(status, `trellis: ${(err as Error).message}`, [], true));
      return;
    }
    waitingForHead = false;
    client.setTimeout(0);
    const rest = pending.subarray(end);
    pending = undefined;
    busy = true;
    const decision = handle(req);
    if (decision.kind === 'reply') {
      // Discard a request body we will not read: close instead of resynchronising.
      const close = req.close || req.framing.kind !== 'none';
      client.write(localResponse(decision.status, decision.body, decision.headers, close, req.method === 'HEAD'));
      decision.done?.(decision.status);
      finish(close, rest);
      return;
    }
    forward(req, decision, rest, false);
  }

  function finish(close: boolean, leftover: Buffer | undefined): void {
    busy = false;
    bodySink = undefined;
    abortExchange = undefined;
    if (close) {
      client.end();
      return;
    }
    client.resume();
    if (leftover && leftover.length > 0) pending = pending ? Buffer.concat([leftover, pending]) : leftover;
    idle();
    next();
  }

  /** Bodies up to this size are kept while they are sent so a retry can send them again. */
  const REPLAY_LIMIT = 64 * 1024;

  function forward(req: RequestHead, d: ForwardDecision, rest: Buffer, retried: boolean): void {
    let abandoned = false;
    let body = rest;
    const failEarly = (err: Error) => {
      const kind = failureKind(err as NodeJS.ErrnoException);
      d.attempt?.({ failure: kind });
      if (kind !== 'overflow' && tryAgain(req, d, { failure: kind }, body)) return;
      const reply = d.fail(kind, err);
      if (!closed) client.end(localResponse(reply.status, reply.body, reply.headers, true, req.method === 'HEAD'));
      d.done(reply.status);
      busy = false;
      bodySink = undefined;
    };
    // While waiting for a connection, body bytes that arrive are kept for it.
    bodySink = (c) => {
      body = body.length === 0 ? c : Buffer.concat([body, c]);
      client.pause();
    };
    let delayTimer: NodeJS.Timeout | undefined;
    abortExchange = () => {
      abandoned = true;
      if (delayTimer) clearTimeout(delayTimer);
      d.attempt?.({ cancelled: true });
      d.done(0);
    };
    const go = () => {
      delayTimer = undefined;
      if (abandoned || closed) return;
      let accepted: boolean;
      try {
        accepted = d.pool.acquire(d.key, d.connect, (up) => {
          if (abandoned || closed) {
            d.pool.release(up);
            return;
          }
          exchange(up, req, d, body, retried);
        });
      } catch (err) {
        failEarly(err as Error);
        return;
      }
      if (!accepted) {
        failEarly(Object.assign(new Error('too many requests waiting for a connection to this endpoint'), { code: 'TRELLIS_E_OVERFLOW' }));
      }
    };
    if (d.delayMs && d.delayMs > 0) delayTimer = setTimeout(go, d.delayMs);
    else go();
  }

  /** Starts the next try if the decision allows one; `body` is the whole request body (and anything after it). */
  function tryAgain(req: RequestHead, d: ForwardDecision, outcome: AttemptOutcome, body: Buffer | undefined): boolean {
    if (!d.retry || closed || body === undefined) return false;
    const next = d.retry(outcome);
    if (!next) return false;
    forward(req, next, body, true);
    return true;
  }

  function exchange(up: UpstreamConnection, req: RequestHead, d: ForwardDecision, rest: Buffer, retried: boolean): void {
    client.resume();
    // Body bytes forwarded each way, for metrics and access logs.
    let reqBytes = 0;
    let resBytes = 0;
    const report = (status: number) => d.done(status, reqBytes, resBytes);
    // The body as sent, for a retry (undefined once it outgrows the limit or when no retry is possible).
    let replay: Buffer[] | undefined = d.retry ? [] : undefined;
    let replayBytes = 0;
    const mirrors: MirrorCopy[] | undefined = d.mirrors?.map((m) => startMirror(m, req.method));
    // Only calls with retries or mirrors keep or copy body bytes.
    const sentBody =
      replay || mirrors
        ? (b: Buffer) => {
            if (replay) {
              replayBytes += b.length;
              if (replayBytes > REPLAY_LIMIT) replay = undefined;
              else replay.push(b);
            }
            if (mirrors) for (const m of mirrors) m.write(b);
          }
        : undefined;
    /** The request body again (plus bytes after it), when a retry may send it. */
    const replayable = (): Buffer | undefined => {
      if (!replay || !reqBody.done) return undefined;
      const parts = extra ? [...replay, extra] : replay;
      return parts.length === 0 ? Buffer.alloc(0) : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    };
    const reqBody = new BodyTracker(req.framing);
    let extra: Buffer | undefined; // bytes after this request's body (a pipelined next request)
    let responded = false;
    let sentBodyBytes = false;
    let resHeadBuf: Buffer | undefined;
    let resBody: BodyTracker | undefined;
    let responseClose = false;
    let status = 0;
    let settled = false;

    const timer = setTimeout(() => {
      const err = Object.assign(new Error('upstream response timeout'), { code: 'TRELLIS_E_TIMEOUT' });
      up.handlers = undefined;
      up.socket.destroy();
      onUpstreamGone(err);
    }, d.responseTimeoutMs);

    function fail(err: Error): void {
      const reply = d.fail(failureKind(err as NodeJS.ErrnoException), err);
      if (!closed) client.end(localResponse(reply.status, reply.body, reply.headers, true, req.method === 'HEAD'));
      report(reply.status);
      busy = false;
      bodySink = undefined;
    }

    function onUpstreamGone(err?: Error): void {
      clearTimeout(timer);
      if (settled) return;
      if (!responded) {
        // A reused idle connection the peer closed as we wrote, or a connection that
        // failed before any byte left (NOTHING_SENT): nothing reached the app.
        const nothingSent = up.reused || (err as NodeJS.ErrnoException | undefined)?.code === NOTHING_SENT;
        if (nothingSent && !retried && !sentBodyBytes && req.framing.kind === 'none' && status === 0) {
          forward(req, d, rest, true);
          return;
        }
        settled = true;
        const e = err ?? Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' });
        const kind = failureKind(e as NodeJS.ErrnoException);
        d.attempt?.({ failure: kind });
        if (tryAgain(req, d, { failure: kind }, replayable())) return;
        return fail(e);
      }
      settled = true;
      // Mid-response: a body delimited by close ends here; anything else is truncated.
      if (resBody?.kind === 'close') {
        report(status);
        client.end();
      } else {
        report(0);
        client.destroy();
      }
    }

    let upDrainWait = false;
    const writeUp = (b: Buffer) => {
      if (!up.socket.write(b) && !upDrainWait) {
        upDrainWait = true;
        client.pause();
        up.socket.once('drain', () => {
          upDrainWait = false;
          client.resume();
        });
      }
    };
    const feedRequestBody = (chunk: Buffer) => {
      if (reqBody.done) {
        extra = extra ? Buffer.concat([extra, chunk]) : chunk;
        client.pause();
        return;
      }
      const n = reqBody.consume(chunk, 0);
      if (n > 0) {
        sentBodyBytes = true;
        const b = n === chunk.length ? chunk : chunk.subarray(0, n);
        reqBytes += n;
        writeUp(b);
        sentBody?.(b);
      }
      if (n < chunk.length) {
        extra = chunk.subarray(n);
        client.pause();
      }
    };

    up.handlers = {
      gone: onUpstreamGone,
      data(chunk: Buffer) {
        if (settled) return;
        if (!resBody) {
          resHeadBuf = resHeadBuf ? Buffer.concat([resHeadBuf, chunk]) : chunk;
          for (;;) {
            let end: number;
            try {
              end = headEnd(resHeadBuf);
            } catch (err) {
              up.socket.destroy();
              return;
            }
            if (end < 0) return;
            let head;
            try {
              head = parseResponseHead(resHeadBuf, end, req.method);
            } catch {
              up.socket.destroy();
              return;
            }
            clearTimeout(timer);
            responded = true;
            status = head.status;
            const start = `HTTP/1.1 ${head.status} ${head.reason}`;
            const after = resHeadBuf.subarray(end);
            if (head.status >= 100 && head.status < 200) {
              if (head.status !== 101) client.write(serializeHead(start, head, head.connection));
              resHeadBuf = after.length > 0 ? after : undefined;
              responded = false;
              if (!resHeadBuf) return;
              continue;
            }
            d.attempt?.({ status: head.status });
            if (d.retry) {
              const body = replayable();
              const next = body && !closed ? d.retry({ status: head.status }) : undefined;
              if (next) {
                // This answer is dropped with its connection; the next try starts clean.
                settled = true;
                up.handlers = undefined;
                up.socket.destroy();
                forward(req, next, body!, true);
                return;
              }
            }
            responseClose = head.close;
            const edits = d.onResponse?.(head.status, head.headers);
            let add = edits?.add;
            if (req.close) add = add ? [...add, 'connection', 'close'] : ['connection', 'close'];
            const headBytes = serializeHead(start, head, head.connection, edits?.drop, add);
            resBody = new BodyTracker(head.framing);
            resHeadBuf = undefined;
            if (after.length > 0) deliver(after, headBytes);
            else {
              client.write(headBytes);
              if (resBody.done) complete();
            }
            return;
          }
        }
        deliver(chunk);
      },
    };

    let clientDrainWait = false;
    /** Writes the body bytes of `chunk` (after `head`, in the same write: one TLS record, one segment). */
    function deliver(chunk: Buffer, head?: Buffer): void {
      const n = resBody!.consume(chunk, 0);
      resBytes += n;
      const body = n === chunk.length ? chunk : chunk.subarray(0, n);
      const out = head ? joinSmall(head, body) : body;
      if (out.length > 0 && !client.write(out) && !clientDrainWait) {
        clientDrainWait = true;
        up.socket.pause();
        client.once('drain', () => {
          clientDrainWait = false;
          up.socket.resume();
        });
      }
      if (resBody!.done) complete();
    }

    function complete(): void {
      if (settled) return;
      if (!reqBody.done) {
        // The upstream answered before the request body ended (e.g. an early 413): stop here.
        settled = true;
        report(status);
        up.socket.destroy();
        client.end();
        return;
      }
      settled = true;
      clearTimeout(timer);
      up.handlers = undefined;
      if (responseClose) up.socket.destroy();
      else d.pool.release(up);
      report(status);
      finish(req.close, extra);
    }

    abortExchange = () => {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        up.handlers = undefined;
        up.socket.destroy();
        if (!responded) d.attempt?.({ cancelled: true });
        report(0);
      }
    };

    const head = serializeHead(`${req.method} ${d.path} HTTP/1.1`, req, req.headers['connection'], d.drop, d.add);
    if (rest.length > 0 && !reqBody.done) {
      // The head and the body bytes that came with it in one write.
      const n = reqBody.consume(rest, 0);
      sentBodyBytes = n > 0;
      reqBytes += n;
      writeUp(joinSmall(head, rest.subarray(0, n)));
      sentBody?.(rest.subarray(0, n));
      if (n < rest.length) {
        extra = rest.subarray(n);
        client.pause();
      }
    } else {
      up.socket.write(head);
      if (rest.length > 0) feedRequestBody(rest);
    }
    bodySink = reqBody.done ? (c) => feedRequestBody(c) : feedRequestBody;
  }
}
