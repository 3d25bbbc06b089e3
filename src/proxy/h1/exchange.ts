// One try at forwarding a request: wait for a pooled upstream connection
// (after a fault or back-off delay, if any), send the head and stream the
// body up, then stream the response back with its framing tracked. A try
// that fails before the response may hand the request to the next try.
//
// One object per try, its steps as methods: the hot path allocates this and
// the body trackers, not a closure per step (bench/NOTES.md).

import { BodyTracker } from './body.js';
import { cancelDeadline, startDeadline, type DeadlineList, type Expiring } from './deadlines.js';
import { NOTHING_SENT, type ByteStream } from './byte-stream.js';
import { localResponse, type FailureKind, type ForwardDecision } from './decision.js';
import { headEnd, parseResponseHead, serializeHead, type RequestHead } from './head.js';
import { startMirror, type MirrorCopy } from './mirror.js';
import type { UpstreamConnection, UpstreamHandlers } from './pool.js';

/** What a try needs from the client connection it serves. */
export interface ClientSide {
  readonly client: ByteStream;
  readonly closed: boolean;
  /** The try ended with a complete exchange: read the next request (or close). */
  finish(close: boolean, leftover: Buffer | undefined): void;
  /** The try answered the client itself and the connection is closing. */
  failed(): void;
  /** Starts the next try of the request. */
  forward(req: RequestHead, d: ForwardDecision, body: Buffer, retried: boolean): void;
}

/** Bodies up to this size are kept while they are sent so a retry can send them again. */
const REPLAY_LIMIT = 64 * 1024;

export function failureKind(err: NodeJS.ErrnoException): FailureKind {
  if (err.code === 'TRELLIS_E_TIMEOUT') return 'timeout';
  if (err.code === 'TRELLIS_E_OVERFLOW') return 'overflow';
  if (err.code === 'TRELLIS_E_PEER_IDENTITY') return 'identity';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'reset';
  return 'connect';
}

/** One buffer for a head and the body bytes that arrived with it (at most one read of them). */
function joinSmall(head: Buffer, body: Buffer): Buffer {
  if (body.length === 0) return head;
  // A head passed through unchanged is still next to its body in the read: one view of both.
  if (head.buffer === body.buffer && head.byteOffset + head.length === body.byteOffset) return Buffer.from(head.buffer, head.byteOffset, head.length + body.length);
  return Buffer.concat([head, body], head.length + body.length);
}

function startLater(t: Attempt): void {
  t.go();
}

export class Attempt implements UpstreamHandlers, Expiring {
  // The response deadline (deadlines.ts links tries through these).
  deadlineAt = 0;
  deadlinePrev: Expiring | undefined = undefined;
  deadlineNext: Expiring | undefined = undefined;
  deadlineList: DeadlineList | undefined = undefined;
  private abandoned = false;
  private delayTimer: NodeJS.Timeout | undefined;
  /** Set once the exchange starts; before that, body bytes wait in `body`. */
  private up: UpstreamConnection | undefined;
  // Body bytes forwarded each way, for metrics and access logs.
  private reqBytes = 0;
  private resBytes = 0;
  /** The body as sent, for a retry (undefined once it outgrows the limit or when no retry is possible). */
  private replay: Buffer[] | undefined;
  private replayBytes = 0;
  private mirrors: MirrorCopy[] | undefined;
  private reqBody: BodyTracker | undefined;
  /** Bytes after this request's body (a pipelined next request). */
  private extra: Buffer | undefined;
  private responded = false;
  private sentBodyBytes = false;
  private resHeadBuf: Buffer | undefined;
  private resBody: BodyTracker | undefined;
  private responseClose = false;
  private status = 0;
  private settled = false;
  private upDrainWait = false;
  private clientDrainWait = false;

  constructor(
    private readonly conn: ClientSide,
    private readonly req: RequestHead,
    private readonly d: ForwardDecision,
    /** The request body (and anything after it) received so far. */
    private body: Buffer,
    private readonly retried: boolean,
  ) {}

  start(): void {
    const delay = this.d.delayMs;
    if (delay && delay > 0) this.delayTimer = setTimeout(startLater, delay, this);
    else this.go();
  }

  /** Body bytes from the client. */
  sink(chunk: Buffer): void {
    if (this.up) return this.feedRequestBody(chunk);
    // While waiting for a connection, body bytes are kept for it.
    this.body = this.body.length === 0 ? chunk : Buffer.concat([this.body, chunk]);
    this.conn.client.pause();
  }

  /** The client went away. */
  abort(): void {
    const { d, up } = this;
    if (!up) {
      this.abandoned = true;
      if (this.delayTimer) clearTimeout(this.delayTimer);
      d.attempt?.({ cancelled: true });
      d.done(0);
      return;
    }
    cancelDeadline(this);
    if (this.settled) return;
    this.settled = true;
    up.handlers = undefined;
    up.socket.destroy();
    if (!this.responded) this.d.attempt?.({ cancelled: true });
    this.report(0);
  }

  go(): void {
    this.delayTimer = undefined;
    if (this.abandoned || this.conn.closed) return;
    const d = this.d;
    let accepted: boolean;
    try {
      accepted = d.pool.acquire(d.key, d, (up) => {
        if (this.abandoned || this.conn.closed) d.pool.release(up);
        else this.exchange(up);
      });
    } catch (err) {
      this.failEarly(err as Error);
      return;
    }
    if (!accepted) this.failEarly(Object.assign(new Error('too many requests waiting for a connection to this endpoint'), { code: 'TRELLIS_E_OVERFLOW' }));
  }

  /** No connection: the next try, or the failure's answer. */
  private failEarly(err: Error): void {
    const { d, req } = this;
    const kind = failureKind(err as NodeJS.ErrnoException);
    d.attempt?.({ failure: kind });
    if (kind !== 'overflow' && this.tryAgain(kind, this.body)) return;
    const reply = d.fail(kind, err);
    if (!this.conn.closed) this.conn.client.end(localResponse(reply.status, reply.body, reply.headers, true, req.method === 'HEAD'));
    this.abandoned = true;
    d.done(reply.status);
    this.conn.failed();
  }

  /** Starts the next try if the decision allows one; `body` is the whole request body (and anything after it). */
  private tryAgain(failure: FailureKind, body: Buffer | undefined): boolean {
    const { d } = this;
    if (!d.retry || this.conn.closed || body === undefined) return false;
    const next = d.retry({ failure });
    if (!next) return false;
    this.conn.forward(this.req, next, body, true);
    return true;
  }

  private report(status: number): void {
    this.d.done(status, this.reqBytes, this.resBytes);
  }

  /** The request body again (plus bytes after it), when a retry may send it. */
  private replayable(): Buffer | undefined {
    const replay = this.replay;
    if (!replay || !this.reqBody!.done) return undefined;
    const parts = this.extra ? [...replay, this.extra] : replay;
    return parts.length === 0 ? Buffer.alloc(0) : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Only calls with retries or mirrors keep or copy body bytes. */
  private sentBody(b: Buffer): void {
    if (this.replay) {
      this.replayBytes += b.length;
      if (this.replayBytes > REPLAY_LIMIT) this.replay = undefined;
      else this.replay.push(b);
    }
    if (this.mirrors) for (const m of this.mirrors) m.write(b);
  }

  private exchange(up: UpstreamConnection): void {
    const { d, req, conn } = this;
    const rest = this.body;
    this.up = up;
    conn.client.resume();
    if (d.retry) this.replay = [];
    if (d.mirrors) this.mirrors = d.mirrors.map((m) => startMirror(m, req.method));
    const copies = this.replay !== undefined || this.mirrors !== undefined;
    const reqBody = (this.reqBody = BodyTracker.of(req.framing));
    startDeadline(this, d.responseTimeoutMs);
    up.handlers = this;

    const head = serializeHead(`${req.method} ${d.path} HTTP/1.1`, req, req.connection, d.drop, d.add);
    if (rest.length > 0 && !reqBody.done) {
      // The head and the body bytes that came with it in one write.
      const n = reqBody.consume(rest, 0);
      this.sentBodyBytes = n > 0;
      this.reqBytes += n;
      const sent = rest.subarray(0, n);
      this.writeUp(joinSmall(head, sent));
      if (copies) this.sentBody(sent);
      if (n < rest.length) {
        this.extra = rest.subarray(n);
        conn.client.pause();
      }
    } else {
      up.socket.write(head);
      if (rest.length > 0) this.feedRequestBody(rest);
    }
  }

  /** No response head within the decision's response timeout (Expiring). */
  expired(): void {
    const up = this.up!;
    up.handlers = undefined;
    up.socket.destroy();
    this.gone(Object.assign(new Error('upstream response timeout'), { code: 'TRELLIS_E_TIMEOUT' }));
  }

  private writeUp(b: Buffer): void {
    const up = this.up!;
    if (!up.socket.write(b) && !this.upDrainWait) {
      this.upDrainWait = true;
      const client = this.conn.client;
      client.pause();
      up.socket.once('drain', () => {
        this.upDrainWait = false;
        client.resume();
      });
    }
  }

  private feedRequestBody(chunk: Buffer): void {
    const reqBody = this.reqBody!;
    if (reqBody.done) {
      this.extra = this.extra ? Buffer.concat([this.extra, chunk]) : chunk;
      this.conn.client.pause();
      return;
    }
    const n = reqBody.consume(chunk, 0);
    if (n > 0) {
      this.sentBodyBytes = true;
      const b = n === chunk.length ? chunk : chunk.subarray(0, n);
      this.reqBytes += n;
      this.writeUp(b);
      if (this.replay !== undefined || this.mirrors !== undefined) this.sentBody(b);
    }
    if (n < chunk.length) {
      this.extra = chunk.subarray(n);
      this.conn.client.pause();
    }
  }

  /** The upstream connection ended or failed (UpstreamHandlers). */
  gone(err?: Error): void {
    cancelDeadline(this);
    if (this.settled) return;
    const { d, req, conn } = this;
    if (!this.responded) {
      // A reused idle connection the peer closed as we wrote, or a connection that
      // failed before any byte left (NOTHING_SENT): nothing reached the app.
      const nothingSent = this.up!.reused || (err as NodeJS.ErrnoException | undefined)?.code === NOTHING_SENT;
      if (nothingSent && !this.retried && !this.sentBodyBytes && req.framing.kind === 'none' && this.status === 0) {
        conn.forward(req, d, this.body, true);
        return;
      }
      this.settled = true;
      const e = err ?? Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' });
      const kind = failureKind(e as NodeJS.ErrnoException);
      d.attempt?.({ failure: kind });
      if (this.tryAgain(kind, this.replayable())) return;
      const reply = d.fail(kind, e);
      if (!conn.closed) conn.client.end(localResponse(reply.status, reply.body, reply.headers, true, req.method === 'HEAD'));
      this.report(reply.status);
      conn.failed();
      return;
    }
    this.settled = true;
    // Mid-response: a body delimited by close ends here; anything else is truncated.
    if (this.resBody?.kind === 'close') {
      this.report(this.status);
      conn.client.end();
    } else {
      this.report(0);
      conn.client.destroy();
    }
  }

  /** Response bytes from the upstream (UpstreamHandlers). */
  data(chunk: Buffer): void {
    if (this.settled) return;
    if (this.resBody) return this.deliver(chunk);
    const { d, req, conn } = this;
    const up = this.up!;
    let buf = this.resHeadBuf ? Buffer.concat([this.resHeadBuf, chunk]) : chunk;
    for (;;) {
      let end: number;
      let head;
      try {
        end = headEnd(buf);
        if (end < 0) {
          this.resHeadBuf = buf;
          return;
        }
        head = parseResponseHead(buf, end, req.method);
      } catch {
        up.socket.destroy();
        return;
      }
      cancelDeadline(this);
      this.responded = true;
      this.status = head.status;
      const start = `HTTP/1.1 ${head.status} ${head.reason}`;
      const after = buf.subarray(end);
      if (head.status >= 100 && head.status < 200) {
        if (head.status !== 101) conn.client.write(serializeHead(start, head, head.connection));
        this.resHeadBuf = undefined;
        this.responded = false;
        if (after.length === 0) return;
        buf = after;
        continue;
      }
      d.attempt?.({ status: head.status });
      if (d.retry) {
        const body = this.replayable();
        const next = body && !conn.closed ? d.retry({ status: head.status }) : undefined;
        if (next) {
          // This answer is dropped with its connection; the next try starts clean.
          this.settled = true;
          up.handlers = undefined;
          up.socket.destroy();
          conn.forward(req, next, body!, true);
          return;
        }
      }
      this.responseClose = head.close;
      const edits = d.onResponse?.(head.status, head.headers);
      let add = edits?.add;
      if (req.close) add = add ? [...add, 'connection', 'close'] : ['connection', 'close'];
      const headBytes = serializeHead(start, head, head.connection, edits?.drop, add);
      this.resBody = BodyTracker.of(head.framing);
      this.resHeadBuf = undefined;
      if (after.length > 0) this.deliver(after, headBytes);
      else {
        conn.client.write(headBytes);
        if (this.resBody.done) this.complete();
      }
      return;
    }
  }

  /** Writes the body bytes of `chunk` (after `head`, in the same write: one TLS record, one segment). */
  private deliver(chunk: Buffer, head?: Buffer): void {
    const resBody = this.resBody!;
    const n = resBody.consume(chunk, 0);
    this.resBytes += n;
    const body = n === chunk.length ? chunk : chunk.subarray(0, n);
    const out = head ? joinSmall(head, body) : body;
    const client = this.conn.client;
    if (out.length > 0 && !client.write(out) && !this.clientDrainWait) {
      this.clientDrainWait = true;
      const up = this.up!;
      up.socket.pause();
      client.once('drain', () => {
        this.clientDrainWait = false;
        up.socket.resume();
      });
    }
    if (resBody.done) this.complete();
  }

  private complete(): void {
    if (this.settled) return;
    const up = this.up!;
    this.settled = true;
    if (!this.reqBody!.done) {
      // The upstream answered before the request body ended (e.g. an early 413): stop here.
      this.report(this.status);
      up.socket.destroy();
      this.conn.client.end();
      return;
    }
    cancelDeadline(this);
    up.handlers = undefined;
    if (this.responseClose) up.socket.destroy();
    else this.d.pool.release(up);
    this.report(this.status);
    this.conn.finish(this.req.close, this.extra);
  }
}
