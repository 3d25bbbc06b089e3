// Active health checking (TrafficPolicy.healthCheck): the client sidecar
// probes each endpoint of a cluster every intervalMs and takes endpoints that
// fail `unhealthyThreshold` probes in a row out of load balancing
// (EndpointState.healthy = false) until they pass `healthyThreshold` in a row.
//
// Endpoints start healthy: unlike Envoy (which starts hosts unhealthy until a
// first check passes, unless configured otherwise), the mesh catalog only
// lists ready endpoints, so a new endpoint takes traffic at once and the
// checker only has to notice when it stops working. The checker never changes
// `healthy` of an endpoint it has not seen fail (or pass) enough probes, and it
// keeps an endpoint's state (including its counters) across setEndpoints calls
// for as long as the same EndpointState object stays in the list.
//
// Scheduling: the first probe of an endpoint waits a random part of one
// interval (so checks of many endpoints spread out), then each next probe
// starts intervalMs after the previous one finished: at most one probe in
// flight per endpoint. A probe is expected to settle within its timeout; the
// checker abandons one that has not after timeoutMs + min(timeoutMs, 200) +
// 100 ms (the slack covers tcpProbe's settle window), counts it as unhealthy
// and ignores its late result. All timers are unref'd.

import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ClusterPolicy } from '../compiler/snapshot.js';
import type { EndpointState } from './endpoint-state.js';

export type ProbeResult = 'healthy' | 'unhealthy';
export type Probe = (ep: EndpointState, timeoutMs: number) => Promise<ProbeResult>;
export type HealthCheckConfig = NonNullable<ClusterPolicy['healthCheck']>;

interface Checked {
  /** Next probe. */
  timer: NodeJS.Timeout | undefined;
  /** Abandons the probe in flight. */
  guard: NodeJS.Timeout | undefined;
  successes: number;
  failures: number;
  /** Bumped per probe and when the endpoint is dropped, so late results of older probes are ignored. */
  generation: number;
}

export class HealthChecker {
  private readonly checked = new Map<EndpointState, Checked>();
  private stopped = false;
  private readonly random: () => number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly guardMs: number;
  private readonly healthyThreshold: number;
  private readonly unhealthyThreshold: number;

  constructor(
    readonly config: HealthCheckConfig,
    private readonly probe: Probe,
    private readonly onChange?: (ep: EndpointState, healthy: boolean) => void,
    options: { random?: () => number } = {},
  ) {
    this.random = options.random ?? Math.random;
    this.intervalMs = Math.max(1, config.intervalMs);
    this.timeoutMs = Math.max(1, config.timeoutMs);
    this.guardMs = this.timeoutMs + Math.min(this.timeoutMs, 200) + 100;
    this.healthyThreshold = Math.max(1, config.healthyThreshold);
    this.unhealthyThreshold = Math.max(1, config.unhealthyThreshold);
  }

  /** Sets the endpoints to check (call on every snapshot change; keeps the state of endpoints that stay, starts checking new ones, forgets removed ones). After stop(), does nothing. */
  setEndpoints(endpoints: readonly EndpointState[]): void {
    if (this.stopped) return;
    const keep = new Set(endpoints);
    for (const [ep, st] of this.checked) {
      if (!keep.has(ep)) {
        this.cancel(st);
        this.checked.delete(ep);
      }
    }
    for (const ep of keep) {
      if (this.checked.has(ep)) continue;
      const st: Checked = { timer: undefined, guard: undefined, successes: 0, failures: 0, generation: 0 };
      this.checked.set(ep, st);
      this.schedule(ep, st, Math.floor(this.random() * this.intervalMs));
    }
  }

  /** Cancels every timer and ignores probes still in flight. Final: setEndpoints does nothing afterwards. */
  stop(): void {
    this.stopped = true;
    for (const st of this.checked.values()) this.cancel(st);
    this.checked.clear();
  }

  private cancel(st: Checked): void {
    if (st.timer !== undefined) clearTimeout(st.timer);
    if (st.guard !== undefined) clearTimeout(st.guard);
    st.timer = st.guard = undefined;
    st.generation++;
  }

  private schedule(ep: EndpointState, st: Checked, delayMs: number): void {
    st.timer = setTimeout(() => {
      st.timer = undefined;
      this.run(ep, st);
    }, delayMs);
    st.timer.unref();
  }

  private run(ep: EndpointState, st: Checked): void {
    if (this.stopped || this.checked.get(ep) !== st) return;
    const generation = ++st.generation;
    const finish = (result: ProbeResult): void => {
      if (st.generation !== generation) return;
      st.generation++;
      if (st.guard !== undefined) clearTimeout(st.guard);
      st.guard = undefined;
      if (this.stopped || this.checked.get(ep) !== st) return;
      this.apply(ep, st, result);
      if (this.checked.get(ep) === st && !this.stopped) this.schedule(ep, st, this.intervalMs);
    };
    st.guard = setTimeout(() => finish('unhealthy'), this.guardMs);
    st.guard.unref();
    let pending: Promise<ProbeResult>;
    try {
      pending = this.probe(ep, this.timeoutMs);
    } catch {
      pending = Promise.resolve('unhealthy');
    }
    pending.then(
      (r) => finish(r === 'healthy' ? 'healthy' : 'unhealthy'),
      () => finish('unhealthy'),
    );
  }

  private apply(ep: EndpointState, st: Checked, result: ProbeResult): void {
    if (result === 'healthy') {
      st.failures = 0;
      st.successes++;
      if (!ep.healthy && st.successes >= this.healthyThreshold) {
        ep.healthy = true;
        this.notify(ep, true);
      }
    } else {
      st.successes = 0;
      st.failures++;
      if (ep.healthy && st.failures >= this.unhealthyThreshold) {
        ep.healthy = false;
        this.notify(ep, false);
      }
    }
  }

  private notify(ep: EndpointState, healthy: boolean): void {
    if (this.onChange === undefined) return;
    try {
      this.onChange(ep, healthy);
    } catch (err) {
      // A failing listener must not stop health checking (nor become an unhandled rejection).
      process.emitWarning(`health check onChange listener threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function noop(): void {}

/** Settles a probe once: clears its timer, destroys the socket (errors after that are ignored). */
function settleOnce(socket: Socket | undefined, resolve: (r: ProbeResult) => void): {
  finish: (r: ProbeResult) => void;
  setTimer: (t: NodeJS.Timeout) => void;
} {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  return {
    finish(r) {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      if (socket !== undefined) {
        socket.on('error', noop);
        socket.destroy();
      }
      resolve(r);
    },
    setTimer(t) {
      if (timer !== undefined) clearTimeout(timer);
      timer = t;
      t.unref();
    },
  };
}

/** Longest status line plus 1xx interim responses read before giving up. */
const MAX_RESPONSE_HEAD = 16 * 1024;
const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})(?:[ \t]|$)/;
const UNSAFE_HEAD_VALUE = /[\0\r\n]/;

/**
 * HTTP probe over a socket the caller provides (the proxy passes an mTLS
 * connect): sends `GET <path> HTTP/1.1` with Host, `connection: close` and
 * `user-agent: trellis-health-check`, reads the status line (skipping 1xx
 * interim responses), healthy iff the status is in expectedStatuses (default
 * 200–399). Closes the socket. Any error, early close, malformed response or
 * timeout → unhealthy. Throws at creation if `path` is not an origin-form path
 * (`/…` without whitespace or control characters).
 */
export function httpProbe(
  connect: (ep: EndpointState) => Socket,
  path: string,
  host: (ep: EndpointState) => string,
  expectedStatuses?: number[],
): Probe {
  if (!path.startsWith('/') || /[\s\0]/.test(path)) throw new TypeError(`health check path must be an origin-form path: ${JSON.stringify(path)}`);
  const expected = expectedStatuses !== undefined && expectedStatuses.length > 0 ? new Set(expectedStatuses) : undefined;
  const ok = (status: number): boolean => (expected !== undefined ? expected.has(status) : status >= 200 && status <= 399);
  return (ep, timeoutMs) =>
    new Promise<ProbeResult>((resolve) => {
      const hostHeader = host(ep);
      if (UNSAFE_HEAD_VALUE.test(hostHeader)) {
        resolve('unhealthy');
        return;
      }
      let socket: Socket;
      try {
        socket = connect(ep);
      } catch {
        resolve('unhealthy');
        return;
      }
      const { finish, setTimer } = settleOnce(socket, resolve);
      setTimer(setTimeout(() => finish('unhealthy'), timeoutMs));
      socket.on('error', () => finish('unhealthy'));
      socket.on('end', () => finish('unhealthy'));
      socket.on('close', () => finish('unhealthy'));
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        for (;;) {
          const eol = head.indexOf('\n');
          if (eol < 0) break;
          const line = head.charCodeAt(eol - 1) === 13 ? head.slice(0, eol - 1) : head.slice(0, eol);
          const m = STATUS_LINE.exec(line);
          if (m === null) {
            finish('unhealthy');
            return;
          }
          const status = Number(m[1]);
          if (status >= 200 || status === 101) {
            finish(ok(status) ? 'healthy' : 'unhealthy');
            return;
          }
          // 1xx interim response: skip its head, read the next status line.
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) break;
          head = head.slice(end + 4);
        }
        if (head.length > MAX_RESPONSE_HEAD) finish('unhealthy');
      });
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostHeader}\r\nuser-agent: trellis-health-check\r\naccept: */*\r\nconnection: close\r\n\r\n`);
    });
}

/** How long tcpProbe watches an established connection for a close by the peer. */
const TCP_SETTLE_MS = 200;

/**
 * TCP probe: healthy iff the connection is established ('connect', or
 * 'secureConnect' when the socket is a TLSSocket, within timeoutMs) and not
 * closed by the peer within min(timeoutMs, 200 ms) afterwards (a sidecar in
 * front of a dead app accepts then closes; a TLS peer that rejects the client
 * certificate closes after the handshake). Sends nothing; closes the socket.
 */
export function tcpProbe(connect: (ep: EndpointState) => Socket): Probe {
  return (ep, timeoutMs) =>
    new Promise<ProbeResult>((resolve) => {
      let socket: Socket;
      try {
        socket = connect(ep);
      } catch {
        resolve('unhealthy');
        return;
      }
      const { finish, setTimer } = settleOnce(socket, resolve);
      setTimer(setTimeout(() => finish('unhealthy'), timeoutMs));
      socket.on('error', () => finish('unhealthy'));
      socket.on('end', () => finish('unhealthy'));
      socket.on('close', () => finish('unhealthy'));
      const established = (): void => {
        // Discard anything the peer sends so its FIN ('end') is seen.
        socket.resume();
        setTimer(setTimeout(() => finish('healthy'), Math.min(timeoutMs, TCP_SETTLE_MS)));
      };
      if (socket instanceof TLSSocket) socket.once('secureConnect', established);
      else if (socket.readyState === 'open') established();
      else socket.once('connect', established);
    });
}
