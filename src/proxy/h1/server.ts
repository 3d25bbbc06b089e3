// The sidecar's HTTP/1.1 hot path on raw sockets: reads a request head, asks
// the listener's handler what to do, and either answers locally or streams the
// request to a pooled upstream connection and the response back, bytes as
// they come, with the framing tracked so keep-alive works on both sides
// (one Attempt per try, exchange.ts).
// No IncomingMessage/ServerResponse/ClientRequest objects (bench/NOTES.md).

import type { ByteStream } from './byte-stream.js';
import { localResponse, type Decision, type ForwardDecision, type H1Limits } from './decision.js';
import { Attempt, type ClientSide } from './exchange.js';
import { HeadError, headEnd, parseRequestHead, type RequestHead } from './head.js';


/** Serves HTTP/1.1 on an accepted (plain or TLS) socket until it closes. */
export function serveH1(client: ByteStream, handle: (req: RequestHead) => Decision, limits: H1Limits): void {
  new ClientConnection(client, handle, limits);
}

/** A pipelining client may send this much ahead of the request being served before it is paused. */
const MAX_AHEAD = 1024 * 1024;

class ClientConnection implements ClientSide {
  private pending: Buffer | undefined;
  private busy = false;
  closed = false;
  /**
   * One timeout listener for the connection's life: between requests the
   * keep-alive timeout runs, while a head is arriving the headers timeout.
   */
  private waitingForHead = false;
  /** What the connection's timer is armed with. */
  private timeoutMs = 0;
  /** The try in progress: it gets the request body, and is told when the client goes. */
  private active: Attempt | undefined;

  constructor(
    readonly client: ByteStream,
    private readonly handle: (req: RequestHead) => Decision,
    private readonly limits: H1Limits,
  ) {
    client.setNoDelay(true);
    // The timer stays armed for the connection's life (arming it per request
    // costs a timer object each time); while a request is being served it is
    // ignored: the try's own timers bound it, and the next byte re-arms this one.
    client.on('timeout', () => {
      if (this.closed || this.busy) return;
      if (this.waitingForHead) client.end(localResponse(408, 'trellis: request head not received in time', [], true));
      else client.destroy();
    });
    client.on('data', (chunk: Buffer) => {
      const a = this.active;
      if (a) a.sink(chunk);
      else this.received(chunk);
    });
    client.on('error', () => client.destroy());
    client.on('close', () => {
      this.closed = true;
      const a = this.active;
      this.active = undefined;
      a?.abort();
    });
    this.idle();
  }

  private idle(): void {
    this.waitingForHead = false;
    this.arm(this.limits.keepAliveTimeoutMs);
  }

  private arm(ms: number): void {
    if (this.timeoutMs === ms) return;
    this.timeoutMs = ms;
    this.client.setTimeout(ms);
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
        this.waitingForHead = true;
        this.arm(this.limits.headersTimeoutMs);
        return;
      }
      req = parseRequestHead(pending, end);
    } catch (err) {
      const status = err instanceof HeadError ? err.status : 400;
      client.end(localResponse(status, `trellis: ${(err as Error).message}`, [], true));
      return;
    }
    this.waitingForHead = false;
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
  }

  finish(close: boolean, leftover: Buffer | undefined): void {
    this.busy = false;
    this.active = undefined;
    if (close) {
      this.client.end();
      return;
    }
    this.client.resume();
    if (leftover && leftover.length > 0) this.pending = this.pending ? Buffer.concat([leftover, this.pending]) : leftover;
    this.idle();
    this.next();
  }
}
