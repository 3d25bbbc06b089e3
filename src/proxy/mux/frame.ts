// Frames of the sidecar-to-sidecar multiplexing protocol (docs/proxy.md,
// "Between sidecars"). Many HTTP/1.1 exchanges share one mTLS connection as
// numbered streams, so the writes of concurrent requests leave in one TLS
// record and one syscall instead of one each (bench/NOTES.md).
//
// A frame is a 9-byte header — type (u8), stream id (u32), payload length
// (u32), big-endian — and its payload.

export const MUX_ALPN = 'trellis-mux/1';

export const FRAME = {
  /** Bytes of a stream, in order. The first DATA (or END) with a new id opens the stream. */
  data: 0,
  /** The sender will send no more bytes on the stream (a half-close). */
  end: 1,
  /** The stream is abandoned by the sender; payload: a UTF-8 reason. */
  reset: 2,
  /** The receiver consumed bytes: the sender may send that many more (u32 payload). */
  window: 3,
} as const;

export const HEADER_BYTES = 9;
/** Larger writes are split; a peer that sends a larger frame is broken. */
export const MAX_PAYLOAD = 256 * 1024;

export class MuxProtocolError extends Error {
  readonly code = 'TRELLIS_E_MUX_PROTOCOL';
}

/** Writes a frame header at `pos` of `buf`; returns the position after it. */
export function writeFrameHeader(buf: Buffer, pos: number, type: number, id: number, length: number): number {
  buf[pos] = type;
  buf.writeUInt32BE(id, pos + 1);
  buf.writeUInt32BE(length, pos + 5);
  return pos + HEADER_BYTES;
}

export function frameHeader(type: number, id: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  writeFrameHeader(h, 0, type, id, length);
  return h;
}

export function windowFrame(id: number, increment: number): Buffer {
  const f = Buffer.allocUnsafe(HEADER_BYTES + 4);
  f[0] = FRAME.window;
  f.writeUInt32BE(id, 1);
  f.writeUInt32BE(4, 5);
  f.writeUInt32BE(increment, 9);
  return f;
}

/**
 * Called per frame; a DATA payload may come in several consecutive pieces
 * (as the reads that carry it arrive), each a view of the read, never a copy.
 */
export type FrameHandler = (type: number, id: number, payload: Buffer) => void;

/** Largest payload of a control frame (END, RESET, WINDOW): a RESET's reason. */
const MAX_CONTROL_PAYLOAD = 1024;

/**
 * Splits a byte stream into frames. DATA is handed on as it arrives, so a
 * large frame is never assembled in memory; only a frame header or a small
 * control frame cut by a read boundary is kept (and copied) until complete.
 */
export class FrameReader {
  /** An incomplete header or control frame (at most HEADER_BYTES + MAX_CONTROL_PAYLOAD bytes). */
  private partial: Buffer | undefined;
  /** Payload bytes of the current DATA frame still to come, and its stream. */
  private dataLeft = 0;
  private dataId = 0;

  constructor(private readonly onFrame: FrameHandler) {}

  /** Throws MuxProtocolError on a frame no peer of this version sends. */
  push(chunk: Buffer): void {
    let buf = chunk;
    let off = 0;
    if (this.dataLeft > 0) {
      const n = Math.min(this.dataLeft, buf.length);
      this.dataLeft -= n;
      this.onFrame(FRAME.data, this.dataId, n === buf.length ? buf : buf.subarray(0, n));
      off = n;
    } else if (this.partial) {
      buf = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    const end = buf.length;
    while (end - off >= HEADER_BYTES) {
      const type = buf[off]!;
      const length = buf.readUInt32BE(off + 5);
      if (type > FRAME.window) throw new MuxProtocolError(`unknown frame type ${type}`);
      if (length > (type === FRAME.data ? MAX_PAYLOAD : MAX_CONTROL_PAYLOAD)) throw new MuxProtocolError(`frame of ${length} bytes exceeds the limit`);
      const id = buf.readUInt32BE(off + 1);
      const start = off + HEADER_BYTES;
      const available = end - start;
      if (available < length) {
        if (type !== FRAME.data) break; // a small control frame: wait for the rest
        // DATA: what is here now, the rest as it comes.
        this.dataLeft = length - available;
        this.dataId = id;
        if (available > 0) this.onFrame(type, id, buf.subarray(start, end));
        return;
      }
      off = start + length;
      this.onFrame(type, id, buf.subarray(start, off));
    }
    if (off < end) this.partial = Buffer.from(buf.subarray(off)); // a copy: do not pin the whole read
  }
}
