// Side requests, fire and forget: a copy of a request (mirroring) or a probe
// (active health checks) goes to an upstream over the keep-alive pool, and
// its answer is read and thrown away; only the outcome is reported. The copy never holds the
// real exchange back: if its connection is not there yet the bytes wait in a
// small buffer, and if it cannot keep up (buffer full, socket not writable)
// the copy is abandoned rather than slowing the caller.

import { BodyTracker } from './body.js';
import { headEnd, parseResponseHead } from './head.js';
import type { UpstreamConnection } from './pool.js';
import type { AttemptOutcome, MirrorTarget } from './decision.js';

const MAX_BUFFERED = 64 * 1024;
const MIRROR_TIMEOUT_MS = 10_000;

export interface MirrorCopy {
  /** Body bytes of the request, as they are sent to the real upstream. */
  write(chunk: Buffer): void;
}

export function startMirror(target: MirrorTarget, method = 'GET', timeoutMs = MIRROR_TIMEOUT_MS): MirrorCopy {
  let conn: UpstreamConnection | undefined;
  let pending: Buffer[] | undefined = [target.head];
  let pendingBytes = target.head.length;
  let finished = false;

  const finish = (outcome: AttemptOutcome, reuse: boolean) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    pending = undefined;
    if (conn) {
      conn.handlers = undefined;
      if (reuse) target.pool.release(conn);
      else conn.socket.destroy();
    }
    target.done?.(outcome);
  };
  const timer = setTimeout(() => finish({ failure: 'timeout' }, false), timeoutMs);
  timer.unref();

  const send = (b: Buffer) => {
    // A copy that cannot keep up is dropped: the caller never waits for it.
    if (!conn!.socket.write(b)) finish({ failure: 'overflow' }, false);
  };

  let accepted = false;
  try {
    accepted = target.pool.acquire(target.key, target, (up) => {
      if (finished) {
        target.pool.release(up);
        return;
      }
      conn = up;
      let headBuf: Buffer | undefined;
      let body: BodyTracker | undefined;
      let status = 0;
      up.handlers = {
        gone: () => finish({ failure: 'reset' }, false),
        data(chunk) {
          if (!body) {
            headBuf = headBuf ? Buffer.concat([headBuf, chunk]) : chunk;
            let end: number;
            try {
              end = headEnd(headBuf);
              if (end < 0) return;
              const head = parseResponseHead(headBuf, end, method);
              if (head.status < 200) {
                headBuf = headBuf.subarray(end);
                return;
              }
              status = head.status;
              body = BodyTracker.of(head.framing);
              const rest = headBuf.subarray(end);
              if (rest.length > 0) body.consume(rest, 0);
              if (body.done) finish({ status: head.status }, !head.close);
            } catch {
              finish({ failure: 'reset' }, false);
            }
            return;
          }
          body.consume(chunk, 0);
          if (body.done) finish({ status }, true);
        },
      };
      const queued = pending!;
      pending = undefined;
      for (const b of queued) {
        send(b);
        if (finished) return;
      }
    });
  } catch {
    accepted = false;
  }
  if (!accepted) finish({ failure: 'overflow' }, false);

  return {
    write(chunk) {
      if (finished) return;
      if (pending) {
        pendingBytes += chunk.length;
        if (pendingBytes > MAX_BUFFERED) finish({ failure: 'overflow' }, false);
        else pending.push(chunk);
        return;
      }
      send(chunk);
    },
  };
}

/** An HTTP health probe over the keep-alive pool (Envoy reuses health-check connections too). */
export function pooledHttpProbe(
  target: Omit<MirrorTarget, 'head' | 'done'>,
  path: string,
  host: string,
  timeoutMs: number,
  expected: (status: number) => boolean,
): Promise<'healthy' | 'unhealthy'> {
  return new Promise((resolve) => {
    const head = Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nuser-agent: trellis-health-check\r\n\r\n`, 'latin1');
    startMirror({ ...target, head, done: (o) => resolve('status' in o && expected(o.status) ? 'healthy' : 'unhealthy') }, 'GET', timeoutMs);
  });
}
