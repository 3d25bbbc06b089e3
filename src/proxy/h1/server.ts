// The sidecar's HTTP/1.1 hot path on raw sockets: reads a request head, asks
// the listener's handler what to do, and either answers locally or streams the
// request to a pooled upstream connection and the response back, bytes as
// they come, with the framing tracked so keep-alive works on both sides
// (one Attempt per try, exchange.ts).
// No IncomingMessage/ServerResponse/ClientRequest objects (bench/NOTES.md).

import type { ByteStream } from './byte-stream.js';
import { cancelDeadline, startDeadline, type DeadlineList, type Expiring } from './deadlines.js';
import { localResponse, type Decision, type ForwardDecision, type H1Limits } from './decision.js';
import { Attempt, type ClientSide } from './exchange.js';
import { HeadError, headEnd, parseRequestHead, type RequestHead } from './head.js';


/** Serves HTTP/1.1 on an accepted (plain or TLS) socket until it closes. */
export function serveH1(client: ByteStream, handle: (req: RequestHead) => Decision, limits: H1Limits): void {
  new ClientConnection(client, handle, limits);
}

/** A pipelining client may send this much ahead of the request being served before it is paused. */
const MAX_AHEAD = 1024 * 1024;

class ClientConnection implements ClientSide, Expiring {
  private pending: Buffer | undefined;
  private busy = false;
  closed = false;
  /**
   * Between requests the keep-alive timeout runs, from the first byte of a
   * head until its end the headers timeout; while a request is served,
   * neither (the try's own deadlines bound it). They are deadlines
   * (deadlines.ts), not the socket's inactivity timer, which Node re-arms on
   * every read and write.
   */
  private waitingForHead = false;
  deadlineAt = 0;
  deadlinePrev: Expiring | undefined = undefined;
  deadlineNext: Expiring | undefined = undefined;
  deadlineList: DeadlineList | undefined = undefined;
  /** The try in progress: it gets the request body, and is told when the client goes. */
  private active: Attempt | undefined;

  constructor(
    readonly client: ByteStream,
    private readonly handle: (req: RequestHead) => Decision,
    private readonly limits: H1Limits,
  ) {
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      const a = this.active;
      if (a) a.sink(chunk);
      else this.received(chunk);
    });
    client.on('error', () => client.destroy());
    client.on('close', () => {
      this.closed = true;
      cancelDeadline(this);
      const a = this.active;
      this.active = undefined;
      a?.abort();
    });
    this.idle();
  }

  /** The keep-alive or headers timeout passed (Expiring). */
  expired(): void {
    if (this.closed || this.busy) return;
    if (this.waitingForHead) this.endWith(localResponse(408, 'trellis: request head not received in time', [], true));
    else this.client.destroy();
  }

  /** Ends the connection; one that lingers half-closed is destroyed after the keep-alive timeout. */
  private endWith(last?: string): void {
    if (last) this.client.end(last);
    else this.client.end();
    this.idle();
  }

  private idle(): void {
    this.waitingForHead = false;
    startDeadline(this, this.limits.keepAliveTimeoutMs);
  }

  private received(chunk: Buffer): void {
    const pending = (this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk);
    if (!this.busy) this.next();
    else if (pending.length > MAX_AHEAD) this.client.pause(); // a pipelining client waits
  }

  private next(): void {
    const { client, pending } = this;
    if (this.closed || !pending || pending.length === 0) return;
    let end: number;
    let req: RequestHead;
    try {
      end = headEnd(pending);
      if (end < 0) {
        if (!this.waitingForHead) {
          this.waitingForHead = true;
          startDeadline(this, this.limits.headersTimeoutMs);
        }
        return;
      }
      req = parseRequestHead(pending, end);
    } catch (err) {
      const status = err instanceof HeadError ? err.status : 400;
      this.endWith(localResponse(status, `trellis: ${(err as Error).message}`, [], true));
      return;
    }
    this.waitingForHead = false;
    cancelDeadline(this);
    const rest = pending.subarray(end);
    this.pending = undefined;
    this.busy = true;
    const decision = this.handle(req);
    if (decision.kind === 'reply') {
      // Discard a request body we will not read: close instead of resynchronising.
      const close = req.close || req.framing.kind !== 'none';
      client.write(localResponse(decision.status, decision.body, decision.headers, close, req.method === 'HEAD'));
      decision.done?.(decision.status);
      this.finish(close, rest);
      return;
    }
    this.forward(req, decision, rest, false);
  }

  forward(req: RequestHead, d: ForwardDecision, body: Buffer, retried: boolean): void {
    const a = new Attempt(this, req, d, body, retried);
    this.active = a;
    a.start();
  }

  failed(): void {
    this.busy = false;
    this.active = undefined;
    this.idle(); // the try ended the connection: it may linger half-closed no longer than this
  }

  finish(close: boolean, leftover: Buffer | undefined): void {
    this.busy = false;
    this.active = undefined;
    if (close) {
      this.endWith();
      return;
    }
    this.client.resume();
    if (leftover && leftover.length > 0) this.pending = this.pending ? Buffer.concat([leftover, this.pending]) : leftover;
    this.idle();
    this.next();
  }
}
