// One stream of a multiplexed session: looks like a socket to the HTTP/1.1
// engine (h1/byte-stream.ts). Flow control is per stream and credit based:
// a sender may have at most `window` bytes the receiver has not consumed, so
// a stream whose reader is paused (a slow app, a slow client) holds at most
// that much memory and never stalls the other streams of the session.

import { EventEmitter } from 'node:events';
import type { ByteStream } from '../h1/byte-stream.js';
import { MAX_PAYLOAD } from './frame.js';

/** The session side of a stream. */
export interface StreamOwner {
  /** The peer's SPIFFE ID (from its certificate). */
  readonly peerIdentity: string | undefined;
  /** Queues DATA; false when the session's socket is backed up (the stream waits for sessionDrained()). */
  sendData(s: MuxStream, data: Buffer): boolean;
  sendEnd(s: MuxStream): void;
  sendReset(s: MuxStream, reason: string): void;
  sendWindow(s: MuxStream, increment: number): void;
  /** The stream is gone: forget it. */
  streamClosed(s: MuxStream): void;
}

export interface StreamError extends Error {
  code?: string;
}

export class MuxStream extends EventEmitter implements ByteStream {
  destroyed = false;
  /** Bytes this side may still send before the peer grants more. */
  private sendCredit: number;
  /** Bytes the peer may still send us. */
  private recvCredit: number;
  /** Consumed bytes not yet granted back. */
  private consumed = 0;
  private paused = false;
  /** Received while paused. */
  private inbox: Buffer[] | undefined;
  /** Written beyond the send credit, waiting for a WINDOW. */
  private outbox: Buffer[] | undefined;
  private wantDrain = false;
  private localEnded = false;
  private endQueued = false;
  private remoteEnded = false;
  private endEmitted = false;

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    private readonly window: number,
  ) {
    super();
    this.sendCredit = window;
    this.recvCredit = window;
  }

  get peerIdentity(): string | undefined {
    return this.owner.peerIdentity;
  }

  write(chunk: Buffer | string): boolean {
    if (this.destroyed || this.localEnded) return false;
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.length === 0) return !this.wantDrain;
    if (this.outbox) {
      this.outbox.push(data);
      this.wantDrain = true;
      return false;
    }
    let ok = true;
    while (data.length > 0 && this.sendCredit > 0) {
      const n = Math.min(data.length, this.sendCredit, MAX_PAYLOAD);
      const piece = n === data.length ? data : data.subarray(0, n);
      this.sendCredit -= n;
      if (!this.owner.sendData(this, piece)) ok = false;
      data = data.subarray(n);
    }
    if (data.length > 0) {
      this.outbox = [data];
      ok = false;
    }
    if (!ok) this.wantDrain = true;
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.destroyed || this.localEnded) return this;
    if (chunk !== undefined) this.write(chunk);
    this.localEnded = true;
    if (this.outbox) this.endQueued = true;
    else this.finishLocal();
    return this;
  }

  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    // A stream closed both ways needs no RESET; anything else tells the peer to stop.
    if (!(this.localEnded && !this.endQueued && this.remoteEnded)) this.owner.sendReset(this, err?.message ?? 'closed');
    this.owner.streamClosed(this);
    this.inbox = undefined;
    this.outbox = undefined;
    process.nextTick(() => {
      if (err) this.emit('error', err);
      this.emit('close', Boolean(err));
    });
    return this;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    const box = this.inbox;
    if (box) {
      this.inbox = undefined;
      for (let i = 0; i < box.length; i++) {
        if (this.destroyed) return this;
        if (this.paused) {
          // Paused again by a handler: keep the rest in order.
          this.inbox = this.inbox ? [...box.slice(i), ...this.inbox] : box.slice(i);
          return this;
        }
        this.deliver(box[i]!);
      }
    }
    if (this.remoteEnded && !this.endEmitted) this.emitEnd();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  // ---- from the session ----

  /** DATA from the peer. False: the peer broke flow control. */
  received(data: Buffer): boolean {
    if (this.destroyed || data.length === 0) return true; // an empty DATA only opens the stream
    if (this.remoteEnded) return false;
    this.recvCredit -= data.length;
    if (this.recvCredit < 0) return false;
    if (this.paused || this.inbox) (this.inbox ??= []).push(data);
    else this.deliver(data);
    return true;
  }

  remoteEnd(): void {
    if (this.destroyed || this.remoteEnded) return;
    this.remoteEnded = true;
    if (!this.paused && !this.inbox) this.emitEnd();
  }

  /** The peer reset the stream, or the session died. */
  aborted(err: StreamError): void {
    if (this.destroyed) return;
    this.localEnded = true; // nothing more to tell the peer
    this.remoteEnded = true;
    this.endQueued = false;
    this.destroy(err);
  }

  credit(increment: number): void {
    if (this.destroyed) return;
    this.sendCredit += increment;
    const box = this.outbox;
    if (box) {
      this.outbox = undefined;
      for (let i = 0; i < box.length; i++) {
        this.write(box[i]!);
        if (this.outbox) {
          // Out of credit again: the rest waits behind what write() queued.
          for (let j = i + 1; j < box.length; j++) (this.outbox as Buffer[]).push(box[j]!);
          return;
        }
      }
      if (this.endQueued) {
        this.endQueued = false;
        this.finishLocal();
      }
    }
    this.sessionDrained();
  }

  /** The session's socket drained (or credit came back): a writer waiting for 'drain' may go on. */
  sessionDrained(): void {
    if (this.wantDrain && !this.outbox && !this.destroyed) {
      this.wantDrain = false;
      this.emit('drain');
    }
  }

  // ---- internals ----

  private deliver(data: Buffer): void {
    this.emit('data', data);
    this.consumed += data.length;
    // Grant credit back in quarters of the window: few WINDOW frames, no stall.
    if (this.consumed >= this.window >> 2 && !this.destroyed) {
      this.owner.sendWindow(this, this.consumed);
      this.recvCredit += this.consumed;
      this.consumed = 0;
    }
  }

  private emitEnd(): void {
    this.endEmitted = true;
    this.emit('end');
    // Like a socket without allowHalfOpen: the peer's end ends this side too.
    if (!this.localEnded) this.end();
    else if (!this.endQueued) this.finish();
  }

  private finishLocal(): void {
    this.owner.sendEnd(this);
    if (this.remoteEnded && this.endEmitted) this.finish();
  }

  /** Both directions ended cleanly. */
  private finish(): void {
    if (this.destroyed) return;
    this.destroy();
  }
}
