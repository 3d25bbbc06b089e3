// Open-loop HTTP/1.1 load generator: requests are scheduled at fixed intended
// times (start + i / rate) whatever the system under test does, and each
// latency is measured from the request's INTENDED send time, so a stall is
// charged to every request it delayed (no coordinated omission).
//
// Lean by design: raw `net` sockets, a pool of keep-alive connections (LIFO
// reuse; a new one is opened when all are busy, up to a cap, after which
// requests wait in a queue — still timed from their intended time), one
// fixed request buffer, a response parser for Content-Length and chunked
// bodies, and a log-linear histogram of microseconds in a typed array.
//
// Run as a child: node openloop.js '<OpenLoopOptions as JSON>'; prints one
// line {"result": OpenLoopResult}.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface OpenLoopOptions {
  host: string;
  port: number;
  path: string;
  /** Requests per second. */
  rate: number;
  /** Measured phase, seconds. */
  durationS: number;
  /** Unrecorded phase at the same rate before it, seconds. */
  warmupS: number;
  /** Connections opened before the start. */
  initialConnections: number;
  maxConnections: number;
  /** How long to wait for stragglers after the last send, ms. */
  drainMs?: number;
}

export interface OpenLoopResult {
  rate: number;
  durationS: number;
  /** Recorded requests scheduled / completed. */
  scheduled: number;
  completed: number;
  achievedRps: number;
  non2xx: number;
  /** Socket errors and requests still unanswered at the end. */
  errors: number;
  unfinished: number;
  connectionsOpened: number;
  maxQueued: number;
  /** How late the generator itself wrote requests (send time − intended time): its own floor. */
  sendLagP50Ms: number;
  sendLagP99Ms: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

// ---- histogram: values in µs; exact below 128, then 64 sub-buckets per power of two (≤ 1.6 % error).
const BUCKETS = 64 * 26 + 128;
export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;
  max = 0;
  record(us: number): void {
    let v = us < 0 ? 0 : Math.floor(us);
    if (v > 0x7fffffff) v = 0x7fffffff;
    let idx: number;
    if (v < 128) idx = v;
    else {
      const shift = 31 - Math.clz32(v) - 6;
      idx = 64 * shift + (v >>> shift);
    }
    this.counts[idx]!++;
    this.total++;
    if (v > this.max) this.max = v;
  }
  /** Highest value equivalent to the bucket holding the q-quantile, µs. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        if (i < 128) return i;
        const shift = Math.floor(i / 64) - 1;
        const m = i - 64 * shift;
        return Math.min(((m + 1) << shift) - 1, this.max);
      }
    }
    return this.max;
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const S_HEAD = 0;
const S_BODY = 1; // Content-Length
const S_CHUNK_SIZE = 2;
const S_CHUNK_DATA = 3;
const S_CHUNK_CRLF = 4;
const S_TRAILER = 5;
const S_UNTIL_CLOSE = 6;

export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const request = Buffer.from(`GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUser-Agent: trellis-bench-openloop\r\nAccept: */*\r\n\r\n`, 'latin1');
  const hist = new Histogram();
  const lag = new Histogram();
  const intervalMs = 1000 / opts.rate;
  const warmupCount = Math.round(opts.rate * opts.warmupS);
  const total = warmupCount + Math.round(opts.rate * opts.durationS);
  let completed = 0;
  let non2xx = 0;
  let errors = 0;
  let opened = 0;
  let inflight = 0;
  let maxQueued = 0;
  // Pending requests: intended times (ms); negative = not recorded (warm-up).
  const queue: number[] = [];
  let qHead = 0;

  class Conn {
    sock: net.Socket;
    busy = false;
    alive = true;
    intended = 0;
    state: number = S_HEAD;
    head: Buffer | null = null;
    remaining = 0;
    status = 0;
    closeAfter = false;
    trailerLineLen = 0;
    chunkLine = 0;
    constructor() {
      opened++;
      this.sock = net.connect({ host: opts.host, port: opts.port });
      this.sock.setNoDelay(true);
      this.sock.on('data', (d: Buffer) => this.onData(d));
      this.sock.on('error', () => this.fail());
      this.sock.on('close', () => {
        if (this.state === S_UNTIL_CLOSE && this.busy) this.done();
        this.fail();
      });
    }
    send(intended: number): void {
      this.busy = true;
      this.intended = intended;
      this.state = S_HEAD;
      this.head = null;
      inflight++;
      if (intended >= 0) lag.record((performance.now() - intended) * 1000);
      this.sock.write(request);
    }
    fail(): void {
      if (!this.alive) return;
      this.alive = false;
      removeConn(this);
      if (this.busy) {
        this.busy = false;
        inflight--;
        if (this.intended >= 0) errors++;
      }
      this.sock.destroy();
    }
    done(): void {
      const intended = this.intended;
      this.busy = false;
      inflight--;
      if (intended >= 0) {
        hist.record((performance.now() - intended) * 1000);
        completed++;
        if (this.status < 200 || this.status > 299) non2xx++;
      }
      if (this.closeAfter) {
        this.alive = false;
        removeConn(this);
        this.sock.destroy();
      } else {
        idle.push(this);
      }
      pump();
    }
    onData(d: Buffer): void {
      if (!this.busy) return; // unsolicited bytes: ignore
      let buf = d;
      let pos = 0;
      while (pos < buf.length || this.state === S_HEAD) {
        if (this.state === S_HEAD) {
          if (this.head) {
            buf = Buffer.concat([this.head, buf.subarray(pos)]);
            pos = 0;
            this.head = null;
          }
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            this.head = buf.subarray(pos);
            return;
          }
          this.parseHead(buf.toString('latin1', pos, end));
          pos = end + 4;
          if ((this.state as number) === S_BODY && this.remaining === 0) {
            this.done();
            return;
          }
          continue;
        }
        if (this.state === S_BODY) {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.done();
            return;
          }
          continue;
        }
        if (this.state === S_UNTIL_CLOSE) return;
        if (this.state === S_CHUNK_DATA) {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.state = S_CHUNK_CRLF;
            this.remaining = 2;
          }
          continue;
        }
        if (this.state === S_CHUNK_CRLF) {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.state = S_CHUNK_SIZE;
            this.chunkLine = 0;
            this.remaining = 0;
          }
          continue;
        }
        // S_CHUNK_SIZE or S_TRAILER: byte by byte (short lines).
        const c = buf[pos++]!;
        if (this.state === S_CHUNK_SIZE) {
          if (c === 0x0a) {
            if (this.remaining === 0) {
              this.state = S_TRAILER;
              this.trailerLineLen = 0;
            } else this.state = S_CHUNK_DATA;
          } else if (this.chunkLine >= 0) {
            const h = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
            if (h >= 0) this.remaining = this.remaining * 16 + h;
            else this.chunkLine = -1; // extension or CR: ignore the rest of the line
          }
        } else {
          // trailers until an empty line
          if (c === 0x0a) {
            if (this.trailerLineLen === 0) {
              this.done();
              return;
            }
            this.trailerLineLen = 0;
          } else if (c !== 0x0d) this.trailerLineLen++;
        }
      }
    }
    parseHead(head: string): void {
      // "HTTP/1.1 200 OK"
      this.status = Number(head.slice(9, 12));
      const lower = head.toLowerCase();
      this.closeAfter = lower.startsWith('http/1.0') ? !/\r\nconnection:\s*keep-alive/.test(lower) : /\r\nconnection:\s*close/.test(lower);
      if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
        this.state = S_CHUNK_SIZE;
        this.remaining = 0;
        this.chunkLine = 0;
        return;
      }
      const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
      if (cl) {
        this.state = S_BODY;
        this.remaining = Number(cl[1]);
      } else if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) {
        this.state = S_BODY;
        this.remaining = 0;
      } else {
        this.state = S_UNTIL_CLOSE;
        this.closeAfter = true;
      }
    }
  }

  const conns = new Set<Conn>();
  const idle: Conn[] = [];
  function removeConn(c: Conn): void {
    conns.delete(c);
    const i = idle.indexOf(c);
    if (i >= 0) idle.splice(i, 1);
  }
  function dispatch(intended: number): void {
    let c = idle.pop();
    while (c && !c.alive) c = idle.pop();
    if (c) return c.send(intended);
    if (conns.size < opts.maxConnections) {
      const n = new Conn();
      conns.add(n);
      return n.send(intended);
    }
    queue.push(intended);
    const q = queue.length - qHead;
    if (q > maxQueued) maxQueued = q;
  }
  function pump(): void {
    while (qHead < queue.length && idle.length > 0) {
      const c = idle.pop()!;
      if (!c.alive) continue;
      c.send(queue[qHead++]!);
    }
    if (qHead > 4096 && qHead * 2 > queue.length) {
      queue.splice(0, qHead);
      qHead = 0;
    }
    // All connections died with requests waiting: open new ones.
    while (qHead < queue.length && conns.size < opts.maxConnections) {
      const n = new Conn();
      conns.add(n);
      n.send(queue[qHead++]!);
    }
  }

  // Pre-open connections and let them connect.
  for (let i = 0; i < opts.initialConnections; i++) {
    const c = new Conn();
    conns.add(c);
    idle.push(c);
  }
  await new Promise((r) => setTimeout(r, 200));

  const start = performance.now() + 1;
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total) {
        const t = start + next * intervalMs;
        if (t > now) break;
        dispatch(next < warmupCount ? -1 : t);
        next++;
      }
      if (next >= total) return resolve();
      const wait = start + next * intervalMs - performance.now();
      setTimeout(tick, wait > 1 ? Math.floor(wait) : 0);
    };
    tick();
  });
  // Drain.
  const drainDeadline = performance.now() + (opts.drainMs ?? 5000);
  while ((inflight > 0 || qHead < queue.length) && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 10));
  const scheduled = total - warmupCount;
  const unfinished = scheduled - completed - errors;
  // Unfinished requests are charged at the longest possible latency (now − intended) would be; counted as errors.
  for (const c of conns) c.sock.destroy();
  const ms = (us: number) => us / 1000;
  return {
    rate: opts.rate,
    durationS: opts.durationS,
    scheduled,
    completed,
    achievedRps: completed / opts.durationS,
    non2xx,
    errors: errors + Math.max(0, unfinished),
    unfinished: Math.max(0, unfinished),
    connectionsOpened: opened,
    maxQueued,
    sendLagP50Ms: ms(lag.quantile(0.5)),
    sendLagP99Ms: ms(lag.quantile(0.99)),
    p50Ms: ms(hist.quantile(0.5)),
    p90Ms: ms(hist.quantile(0.9)),
    p99Ms: ms(hist.quantile(0.99)),
    p999Ms: ms(hist.quantile(0.999)),
    maxMs: ms(hist.max),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as OpenLoopOptions;
  openLoop(opts).then(
    (result) => {
      console.log(JSON.stringify({ result }));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
