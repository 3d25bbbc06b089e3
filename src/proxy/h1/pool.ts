// Keep-alive upstream connections for the HTTP/1.1 engine, per endpoint key.
// A connection carries one exchange at a time; between exchanges it waits in
// its endpoint's idle list (last in, first out, so few stay warm) and closes
// after an idle timeout shorter than the peer's keep-alive timeout.

import type net from 'node:net';

export interface UpstreamHandlers {
  data(chunk: Buffer): void;
  /** The connection ended or failed. */
  gone(err?: Error): void;
}

export class UpstreamConnection {
  handlers: UpstreamHandlers | undefined;
  reused = false;
  closed = false;

  constructor(readonly socket: net.Socket, readonly key: string) {
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.handlers?.data(c));
    const gone = (err?: Error) => {
      if (this.closed) return;
      this.closed = true;
      const h = this.handlers;
      this.handlers = undefined;
      h?.gone(err);
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
    socket.on('end', () => socket.end());
    // Armed only while idle in the pool (one listener for the connection's life).
    socket.on('timeout', () => socket.destroy());
  }
}

export class H1Pool {
  private readonly idle = new Map<string, UpstreamConnection[]>();

  constructor(private readonly idleTimeoutMs: number) {}

  acquire(key: string, connect: () => net.Socket): UpstreamConnection {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (c.closed || c.socket.destroyed) continue;
      c.socket.setTimeout(0);
      c.reused = true;
      return c;
    }
    return new UpstreamConnection(connect(), key);
  }

  release(c: UpstreamConnection): void {
    if (c.closed || c.socket.destroyed) return;
    c.handlers = {
      data: () => c.socket.destroy(), // unsolicited bytes: the connection is unusable
      gone: () => this.forget(c),
    };
    let list = this.idle.get(c.key);
    if (!list) {
      list = [];
      this.idle.set(c.key, list);
    }
    list.push(c);
    c.socket.setTimeout(this.idleTimeoutMs);
  }

  /** Closes every idle connection (certificate rotation, shutdown). */
  drain(): void {
    for (const list of this.idle.values()) for (const c of list) c.socket.destroy();
    this.idle.clear();
  }

  private forget(c: UpstreamConnection): void {
    const list = this.idle.get(c.key);
    const i = list ? list.indexOf(c) : -1;
    if (i >= 0) list!.splice(i, 1);
  }
}
