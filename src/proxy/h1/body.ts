// Incremental body framing: tells, chunk by chunk, how many bytes still belong
// to the current message, so a body is passed through as it arrives (never
// buffered) and the next message on a keep-alive connection is found.

import type { Framing } from './head.js';

export class BodyTracker {
  private remaining = 0;
  // Chunked state.
  private state: 'size' | 'size-ext' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'trailer-lf' | 'done' = 'size';
  private size = 0;
  private sizeDigits = 0;
  private trailerLineLength = 0;
  readonly kind: Framing['kind'];
  done: boolean;

  /** A tracker for `framing`: messages without a body share one (it is done and never changes). */
  static of(framing: Framing): BodyTracker {
    return framing.kind === 'none' ? NO_BODY_TRACKER : new BodyTracker(framing);
  }

  constructor(framing: Framing) {
    this.kind = framing.kind;
    if (framing.kind === 'length') this.remaining = framing.length;
    this.done = framing.kind === 'none';
  }

  /**
   * How many bytes of `buf` from `offset` belong to this body. Sets `done` when
   * the body ends inside them. Throws on malformed chunked framing.
   */
  consume(buf: Buffer, offset: number): number {
    if (this.done) return 0;
    const avail = buf.length - offset;
    switch (this.kind) {
      case 'length': {
        const n = Math.min(avail, this.remaining);
        this.remaining -= n;
        if (this.remaining === 0) this.done = true;
        return n;
      }
      case 'close':
        return avail;
      case 'chunked':
        return this.consumeChunked(buf, offset);
      default:
        return 0;
    }
  }

  private consumeChunked(buf: Buffer, offset: number): number {
    let i = offset;
    while (i < buf.length && !this.done) {
      const c = buf[i]!;
      switch (this.state) {
        case 'size': {
          const d = hexValue(c);
          if (d >= 0) {
            if (++this.sizeDigits > 12) throw new Error('chunk size too large');
            this.size = this.size * 16 + d;
          } else if (c === 0x0d) {
            if (this.sizeDigits === 0) throw new Error('missing chunk size');
            this.state = 'size-lf';
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            if (this.sizeDigits === 0) throw new Error('missing chunk size');
            this.state = 'size-ext';
          } else throw new Error('bad chunk size');
          i++;
          break;
        }
        case 'size-ext':
          if (c === 0x0d) this.state = 'size-lf';
          i++;
          break;
        case 'size-lf':
          if (c !== 0x0a) throw new Error('bad chunk line ending');
          i++;
          if (this.size === 0) {
            this.state = 'trailer';
            this.trailerLineLength = 0;
          } else {
            this.remaining = this.size;
            this.state = 'data';
          }
          break;
        case 'data': {
          const n = Math.min(buf.length - i, this.remaining);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 'data-cr';
          break;
        }
        case 'data-cr':
          if (c !== 0x0d) throw new Error('missing CRLF after chunk data');
          this.state = 'data-lf';
          i++;
          break;
        case 'data-lf':
          if (c !== 0x0a) throw new Error('missing CRLF after chunk data');
          this.state = 'size';
          this.size = 0;
          this.sizeDigits = 0;
          i++;
          break;
        case 'trailer':
          if (c === 0x0d) this.state = 'trailer-lf';
          else this.trailerLineLength++;
          if (this.trailerLineLength > 16 * 1024) throw new Error('trailer too large');
          i++;
          break;
        case 'trailer-lf':
          if (c !== 0x0a) throw new Error('bad trailer line ending');
          i++;
          if (this.trailerLineLength === 0) {
            this.state = 'done';
            this.done = true;
          } else {
            this.state = 'trailer';
            this.trailerLineLength = 0;
          }
          break;
        default:
          return i - offset;
      }
    }
    return i - offset;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const NO_BODY_TRACKER = new BodyTracker({ kind: 'none' });
