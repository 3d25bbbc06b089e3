// Keep-alive upstream connections for the HTTP/1.1 engine, per endpoint key.
// A connection carries one exchange at a time; between exchanges it waits in
// its endpoint's idle list (last in, first out, so few stay warm) and closes
// after an idle timeout shorter than the peer's keep-alive timeout.
//
// Connections per endpoint are capped: past the cap, exchanges wait for one
// to be released, and past a bounded queue they are refused at once. Without
// the cap an overload turns into a storm of TLS handshakes that keeps both
// sidecars busy long after the load is gone (bench/NOTES.md).

import type { ByteStream } from './byte-stream.js';
import { cancelDeadline, startDeadline, type DeadlineList, type Expiring } from './deadlines.js';

export interface UpstreamHandlers {
  data(chunk: Buffer): void;
  /** The connection ended or failed. */
  gone(err?: Error): void;
}

export class UpstreamConnection implements Expiring {
  handlers: UpstreamHandlers | undefined;
  // The idle timeout while it waits in the pool (deadlines.ts; none while busy).
  deadlineAt = 0;
  deadlinePrev: Expiring | undefined = undefined;
  deadlineNext: Expiring | undefined = undefined;
  deadlineList: DeadlineList | undefined = undefined;
  /** Its handlers while idle in the pool (made once, on its first release). */
  idleHandlers: UpstreamHandlers | undefined;
  reused = false;
  closed = false;

  constructor(readonly socket: ByteStream, readonly key: string, onClosed: () => void) {
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.handlers?.data(c));
    const gone = (err?: Error) => {
      if (this.closed) return;
      this.closed = true;
      cancelDeadline(this);
      onClosed();
      const h = this.handlers;
      this.handlers = undefined;
      h?.gone(err);
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
    socket.on('end', () => socket.end());
  }

  /** Idle in the pool for the idle timeout (Expiring). */
  expired(): void {
    if (this.handlers === undefined || this.handlers === this.idleHandlers) this.socket.destroy();
  }
}

type Waiter = (c: UpstreamConnection) => void;

/** Opens a new connection to an endpoint (a ForwardDecision, a MirrorTarget). */
export interface ConnectionSource {
  connect(): ByteStream;
}

export interface PoolLimits {
  idleTimeoutMs: number;
  /** Open connections per endpoint (busy and idle). */
  maxConnections: number;
  /** Exchanges waiting for a connection per endpoint; more are refused. */
  maxPending: number;
}

export class H1Pool {
  private readonly idle = new Map<string, UpstreamConnection[]>();
  private readonly open = new Map<string, number>();
  private readonly waiting = new Map<string, { waiters: Waiter[]; source: ConnectionSource }>();

  constructor(private readonly limits: PoolLimits) {}

  /**
   * Hands `ready` a connection to `key` now or when one frees up. Returns
   * false (and never calls `ready`) when the endpoint's queue is full.
   */
  acquire(key: string, source: ConnectionSource, ready: Waiter): boolean {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (c.closed || c.socket.destroyed) continue;
      c.reused = true;
      cancelDeadline(c);
      ready(c);
      return true;
    }
    if ((this.open.get(key) ?? 0) < this.limits.maxConnections) {
      ready(this.create(key, source));
      return true;
    }
    let q = this.waiting.get(key);
    if (!q) {
      q = { waiters: [], source };
      this.waiting.set(key, q);
    }
    if (q.waiters.length >= this.limits.maxPending) return false;
    q.waiters.push(ready);
    return true;
  }

  release(c: UpstreamConnection): void {
    if (c.closed || c.socket.destroyed) return;
    const next = this.nextWaiter(c.key);
    if (next) {
      c.reused = true;
      next(c);
      return;
    }
    c.handlers = (c.idleHandlers ??= {
      data: () => c.socket.destroy(), // unsolicited bytes: the connection is unusable
      gone: () => this.forget(c),
    });
    let list = this.idle.get(c.key);
    if (!list) {
      list = [];
      this.idle.set(c.key, list);
    }
    list.push(c);
    // A deadline, not the socket's inactivity timer: Node re-arms that one on every read and write.
    if (this.limits.idleTimeoutMs > 0) startDeadline(c, this.limits.idleTimeoutMs);
  }

  /** Closes every idle connection (certificate rotation, shutdown). */
  drain(): void {
    for (const list of this.idle.values()) for (const c of list) c.socket.destroy();
    this.idle.clear();
  }

  private create(key: string, source: ConnectionSource): UpstreamConnection {
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    return new UpstreamConnection(source.connect(), key, () => this.closed(key));
  }

  private closed(key: string): void {
    const n = (this.open.get(key) ?? 1) - 1;
    if (n > 0) this.open.set(key, n);
    else this.open.delete(key);
    // A slot freed: the longest waiter gets a new connection.
    const q = this.waiting.get(key);
    const next = this.nextWaiter(key);
    if (next && q) next(this.create(key, q.source));
  }

  private nextWaiter(key: string): Waiter | undefined {
    const q = this.waiting.get(key);
    if (!q) return undefined;
    const w = q.waiters.shift();
    if (q.waiters.length === 0) this.waiting.delete(key);
    return w;
  }

  private forget(c: UpstreamConnection): void {
    const list = this.idle.get(c.key);
    const i = list ? list.indexOf(c) : -1;
    if (i >= 0) list!.splice(i, 1);
  }
}
