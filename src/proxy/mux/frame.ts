// Frames of the sidecar-to-sidecar multiplexing protocol (docs/proxy.md,
// "Between sidecars"). Many HTTP/1.1 exchanges share one mTLS connection as
// numbered streams, so the writes of concurrent requests leave in one TLS
// record and one syscall instead of one each (bench/NOTES.md).
//
// A frame is a 9-byte header — type (u8), stream id (u32), payload length
// (u32), big-endian — and its payload.

export const MUX_ALPN = 'trellis-mux/1';

/** The error of a stream whose peer turned out not to speak the protocol: none of its bytes left. */
export const MUX_UNSUPPORTED = 'TRELLIS_E_MUX_UNSUPPORTED';

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

export function frameHeader(type: number, id: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  h[0] = type;
  h.writeUInt32BE(id, 1);
  h.writeUInt32BE(length, 5);
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

export type FrameHandler = (type: number, id: number, payload: Buffer) => void;

/**
 * Splits a byte stream into frames. Payloads are views of the chunks that
 * carried them (no copy) unless a frame straddles two reads.
 */
export class FrameReader {
  /** Bytes of an incomplete frame, kept until `need` bytes are there (one copy per frame, not per read). */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private need = HEADER_BYTES;

  constructor(private readonly onFrame: FrameHandler) {}

  /** Throws MuxProtocolError on a frame no peer of this version sends. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.partsBytes > 0) {
      this.parts.push(chunk);
      this.partsBytes += chunk.length;
      if (this.partsBytes < this.need) return;
      buf = Buffer.concat(this.parts, this.partsBytes);
      this.parts = [];
      this.partsBytes = 0;
    }
    let off = 0;
    const n = buf.length;
    this.need = HEADER_BYTES;
    while (n - off >= HEADER_BYTES) {
      const type = buf[off]!;
      const length = buf.readUInt32BE(off + 5);
      if (type > FRAME.window) throw new MuxProtocolError(`unknown frame type ${type}`);
      if (length > MAX_PAYLOAD) throw new MuxProtocolError(`frame of ${length} bytes exceeds ${MAX_PAYLOAD}`);
      if (n - off - HEADER_BYTES < length) {
        this.need = HEADER_BYTES + length;
        break;
      }
      const id = buf.readUInt32BE(off + 1);
      const start = off + HEADER_BYTES;
      off = start + length;
      this.onFrame(type, id, buf.subarray(start, off));
    }
    if (off < n) {
      const rest = off === 0 ? buf : buf.subarray(off);
      this.parts.push(rest);
      this.partsBytes = rest.length;
    }
  }
}
