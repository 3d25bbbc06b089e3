// What the HTTP/1.1 engine needs from a connection: the part of net.Socket it
// uses. A TCP or TLS socket is one; so is a stream of a multiplexed session
// between sidecars (mux/stream.ts), which lets the engine run unchanged over
// either.

/**
 * The error code of a connection that failed before any byte written to it
 * left this process (e.g. a peer that turned out not to multiplex): the
 * engine may send a request on it again, as it does on a reused connection
 * the peer had closed.
 */
export const NOTHING_SENT = 'TRELLIS_E_NOTHING_SENT';

export interface ByteStream {
  readonly destroyed: boolean;
  /** False when the caller should wait for 'drain'. */
  write(chunk: Buffer | string): boolean;
  end(): unknown;
  end(chunk: Buffer | string): unknown;
  destroy(err?: Error): unknown;
  pause(): unknown;
  resume(): unknown;
  setNoDelay(noDelay?: boolean): unknown;
  // Events: 'data' (Buffer), 'end', 'drain', 'error' (Error), 'close'.
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}
