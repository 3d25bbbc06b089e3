// A multiplexed session over one mTLS connection between two sidecars. The
// client side opens streams (odd ids are not needed: only clients open); the
// server side hands each new stream to the HTTP/1.1 engine as if it were an
// accepted connection.
//
// Frames written while the event loop handles one batch of I/O leave together
// in one TLS write at the end of it (setImmediate): under load, many
// requests share a record and a syscall; alone, a request waits for nothing.

import type tls from 'node:tls';
import { spiffeIdFromPeerCertificate } from '../../identity/spiffe.js';
import { FRAME, FrameReader, frameHeader, HEADER_BYTES, MuxProtocolError, writeFrameHeader } from './frame.js';
import { MuxStream, type StreamError, type StreamOwner } from './stream.js';

export interface SessionOptions {
  /** Per-stream flow-control window in bytes (both directions). */
  window: number;
  /** Streams open at once; a server resets streams beyond it, a client opens no more. */
  maxStreams: number;
  /** Close the session after this long with no stream (0: never). */
  idleTimeoutMs: number;
  /** Server side: a new stream from the peer. */
  onStream?: (s: MuxStream) => void;
}

/** Bytes queued in the socket beyond which writers are told to wait. */
const HIGH_WATER = 512 * 1024;
/** Frames queued beyond this are written at once, not at the end of the batch. */
const FLUSH_NOW = 64 * 1024;
/** Up to this many queued bytes are copied into one buffer before a write. */
const COALESCE_MAX = 16 * 1024;
const MAX_STREAM_ID = 0x7fffffff;

function sessionError(message: string, code: string, cause?: Error): StreamError {
  return Object.assign(new Error(message, cause ? { cause } : undefined), { code });
}

export class MuxSession implements StreamOwner {
  readonly streams = new Map<number, MuxStream>();
  private nextId = 1;
  // Frames queued for the next write: type, stream id and payload length per
  // frame, and its payload (if any). Headers are written straight into the
  // write's buffer, not allocated one by one.
  private outFrames: number[] = [];
  private outPayloads: (Buffer | undefined)[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /** Streams told to wait for the socket to drain. */
  private readonly blocked = new Set<MuxStream>();
  private readonly reader: FrameReader;
  private idleTimer: NodeJS.Timeout | undefined;
  private identity: string | null | undefined;
  closed = false;
  /** Frames wait until the handshake (and the protocol choice) is done on the client side. */
  private ready: boolean;
  /** Opens no new streams (certificate rotated, ids exhausted); closes when the last one ends. */
  retired = false;
  private readonly closeListeners: ((err?: Error) => void)[] = [];

  constructor(
    readonly socket: tls.TLSSocket,
    private readonly role: 'client' | 'server',
    private readonly opts: SessionOptions,
  ) {
    this.ready = role === 'server';
    this.reader = new FrameReader((type, id, payload) => this.onFrame(type, id, payload));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.close(err as Error);
      }
    });
    socket.on('drain', () => this.drained());
    socket.on('error', (err) => this.close(err));
    socket.on('close', () => this.close());
    socket.on('end', () => this.close());
    this.armIdle();
  }

  get peerIdentity(): string | undefined {
    if (this.identity === undefined) this.identity = spiffeIdFromPeerCertificate(this.socket.getPeerCertificate()) ?? null;
    return this.identity ?? undefined;
  }

  /** True when a new stream can be opened here. */
  get available(): boolean {
    return !this.closed && !this.retired && this.streams.size < this.opts.maxStreams && this.nextId < MAX_STREAM_ID;
  }

  /**
   * Client side: a new stream. An empty DATA frame opens it on the wire at
   * once, so the peer sees stream ids in increasing order even when a later
   * stream writes first (a lower id it has not seen is a closed one to it).
   */
  open(): MuxStream {
    const s = new MuxStream(this, this.nextId++, this.opts.window);
    this.streams.set(s.id, s);
    this.disarmIdle();
    this.queue(FRAME.data, s.id);
    return s;
  }

  onClose(listener: (err?: Error) => void): void {
    this.closeListeners.push(listener);
  }

  /** No new streams; the session closes when its streams have ended. */
  retire(): void {
    this.retired = true;
    if (this.streams.size === 0) this.close();
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.disarmIdle();
    if (this.outBytes > 0 && !err && !this.socket.destroyed) this.flush();
    const why = sessionError(
      err ? `connection between sidecars failed: ${err.message}` : 'connection between sidecars closed',
      (err as StreamError | undefined)?.code ?? 'ECONNRESET',
      err,
    );
    for (const s of [...this.streams.values()]) s.aborted(why);
    this.streams.clear();
    if (err) this.socket.destroy();
    else this.socket.end();
    for (const l of this.closeListeners) l(err);
  }

  // ---- StreamOwner ----

  sendData(s: MuxStream, data: Buffer): boolean {
    this.queue(FRAME.data, s.id, data);
    if (this.outBytes + this.socket.writableLength > HIGH_WATER) {
      this.blocked.add(s);
      return false;
    }
    return true;
  }

  sendEnd(s: MuxStream): void {
    this.queue(FRAME.end, s.id);
  }

  sendReset(s: MuxStream, reason: string): void {
    const why = Buffer.from(reason.slice(0, 200));
    this.queue(FRAME.reset, s.id, why);
  }

  sendWindow(s: MuxStream, increment: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(increment, 0);
    this.queue(FRAME.window, s.id, b);
  }

  streamClosed(s: MuxStream): void {
    this.forget(s);
  }

  // ---- internals ----

  private forget(s: MuxStream): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    if (this.streams.size === 0) {
      if (this.retired) this.close();
      else this.armIdle();
    }
  }

  private queue(type: number, id: number, payload?: Buffer): void {
    if (this.closed) return;
    const length = payload === undefined ? 0 : payload.length;
    this.outFrames.push(type, id, length);
    this.outPayloads.push(length > 0 ? payload : undefined);
    this.outBytes += HEADER_BYTES + length;
    if (this.outBytes >= FLUSH_NOW && this.ready) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  private readonly flushLater = () => {
    this.flushScheduled = false;
    if (this.outBytes > 0) this.flush();
  };

  private flush(): void {
    // Not connected yet (a client session): everything waits for the handshake's end.
    if (!this.ready || this.socket.destroyed) return;
    const frames = this.outFrames;
    const payloads = this.outPayloads;
    const bytes = this.outBytes;
    this.outFrames = [];
    this.outPayloads = [];
    this.outBytes = 0;
    if (bytes <= COALESCE_MAX) {
      // Many small frames: one buffer, one record batch, one syscall.
      const buf = Buffer.allocUnsafe(bytes);
      let pos = 0;
      for (let i = 0; i < payloads.length; i++) {
        pos = writeFrameHeader(buf, pos, frames[3 * i]!, frames[3 * i + 1]!, frames[3 * i + 2]!);
        const p = payloads[i];
        if (p !== undefined) pos += p.copy(buf, pos);
      }
      this.socket.write(buf);
      return;
    }
    // Large payloads go as they are (one writev), not copied into a new buffer that waits for GC.
    this.socket.cork();
    for (let i = 0; i < payloads.length; i++) {
      this.socket.write(frameHeader(frames[3 * i]!, frames[3 * i + 1]!, frames[3 * i + 2]!));
      const p = payloads[i];
      if (p !== undefined) this.socket.write(p);
    }
    this.socket.uncork();
  }

  get isConnected(): boolean {
    return this.ready && !this.closed;
  }

  /** Writes what was queued while the TLS handshake ran (client side). */
  connected(): void {
    this.ready = true;
    if (this.outBytes > 0) this.flush();
  }

  private drained(): void {
    if (this.blocked.size === 0) return;
    const waiting = [...this.blocked];
    this.blocked.clear();
    for (const s of waiting) s.sessionDrained();
  }

  private onFrame(type: number, id: number, payload: Buffer): void {
    let s = this.streams.get(id);
    if (!s) {
      if (type === FRAME.window || type === FRAME.reset) return; // late news about a stream we closed
      if (this.role === 'client') {
        // Bytes for a stream this side already closed: drop them.
        return;
      }
      if (id < this.nextId) return; // a stream this side already closed; the peer will see the RESET
      this.nextId = id + 1;
      if (this.streams.size >= this.opts.maxStreams || this.retired) {
        const why = Buffer.from('too many streams');
        this.queue(FRAME.reset, id, why);
        return;
      }
      s = new MuxStream(this, id, this.opts.window);
      this.streams.set(id, s);
      this.disarmIdle();
      this.opts.onStream?.(s);
    }
    switch (type) {
      case FRAME.data:
        if (!s.received(payload)) {
          s.aborted(sessionError('peer broke flow control or wrote after end', 'TRELLIS_E_MUX_PROTOCOL'));
        }
        return;
      case FRAME.end:
        s.remoteEnd();
        return;
      case FRAME.reset:
        s.aborted(sessionError(`stream reset by the peer: ${payload.toString() || 'no reason'}`, 'ECONNRESET'));
        return;
      case FRAME.window:
        if (payload.length !== 4) throw new MuxProtocolError('WINDOW frame without a 4-byte increment');
        s.credit(payload.readUInt32BE(0));
        return;
    }
  }

  private armIdle(): void {
    if (this.opts.idleTimeoutMs <= 0 || this.idleTimer || this.closed) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.streams.size === 0) this.close();
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private disarmIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
