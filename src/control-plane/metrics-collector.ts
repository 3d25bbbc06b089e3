// Traffic metrics in the control plane: every 2 s, scrape each proxy's admin
// `/stats` (Prometheus text), keep a bounded history of every request and TCP
// series, and answer "what happened in the last N seconds": increases of the
// counters (counter resets of restarted proxies handled), request rates and
// latency percentiles by histogram interpolation. admin-metrics.ts turns this
// into SMI TrafficMetrics and the service graph; docs/admin-api.md has the
// definitions. No dependency: the text format parser is below.

import http from 'node:http';
import type { Resource } from '../resources/types.js';

// ---------------------------------------------------------------------------
// The metric contract every sidecar serves (docs/admin-api.md, deploy/grafana).

export const REQUESTS_TOTAL = 'trellis_requests_total';
export const REQUEST_DURATION = 'trellis_request_duration_seconds';
export const TCP_OPENED = 'trellis_tcp_connections_opened_total';
export const TCP_CLOSED = 'trellis_tcp_connections_closed_total';
export const TCP_RECEIVED = 'trellis_tcp_received_bytes_total';
export const TCP_SENT = 'trellis_tcp_sent_bytes_total';

const TCP_LABELS = ['direction', 'source_workload', 'source_namespace', 'destination_service', 'destination_workload'] as const;

/** Metric name → its type and labels, as the proxies export them. */
export const METRIC_CONTRACT = {
  [REQUESTS_TOTAL]: {
    type: 'counter',
    labels: [
      'direction', 'source_namespace', 'source_workload', 'source_identity', 'destination_namespace', 'destination_workload',
      'destination_service', 'destination_identity', 'route', 'code', 'code_class', 'reason',
    ],
  },
  [REQUEST_DURATION]: {
    type: 'histogram',
    labels: [
      'direction', 'source_namespace', 'source_workload', 'destination_namespace', 'destination_workload', 'destination_service', 'route', 'code_class',
    ],
  },
  [TCP_OPENED]: { type: 'counter', labels: TCP_LABELS },
  [TCP_CLOSED]: { type: 'counter', labels: TCP_LABELS },
  [TCP_RECEIVED]: { type: 'counter', labels: TCP_LABELS },
  [TCP_SENT]: { type: 'counter', labels: TCP_LABELS },
} as const satisfies Record<string, { type: 'counter' | 'histogram'; labels: readonly string[] }>;

export type ContractMetric = keyof typeof METRIC_CONTRACT;

/** Every series name a scrape may contain for the contract (histograms expand to _bucket, _sum, _count). */
export function contractSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, m] of Object.entries(METRIC_CONTRACT)) {
    if (m.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

/** Upper bounds (seconds) of trellis_request_duration_seconds; +Inf is implied. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// ---------------------------------------------------------------------------
// Prometheus text format (version 0.0.4), the parts a scrape needs.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;

/** A sample value: a float, or NaN, +Inf, -Inf (Go's spellings). */
export function parseSampleValue(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
    case '+inf':
    case 'inf':
      return Infinity;
    case '-Inf':
    case '-inf':
      return -Infinity;
    case 'NaN':
    case 'nan':
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Parses one sample line (`name{a="x",b="y"} value [timestamp]`); throws on
 * malformed input. Comments and blank lines are the caller's business.
 */
export function parseSampleLine(line: string): PromSample {
  let i = 0;
  const n = line.length;
  if (i >= n || !NAME_START.test(line[i])) throw new Error('expected a metric name');
  while (i < n && NAME_CHAR.test(line[i])) i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  const skipSpaces = () => {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  };
  skipSpaces();
  if (line[i] === '{') {
    i++;
    for (;;) {
      skipSpaces();
      if (line[i] === '}') {
        i++;
        break;
      }
      const start = i;
      if (i >= n || !/[a-zA-Z_]/.test(line[i])) throw new Error(`expected a label name at column ${i + 1}`);
      while (i < n && /[a-zA-Z0-9_]/.test(line[i])) i++;
      const key = line.slice(start, i);
      skipSpaces();
      if (line[i] !== '=') throw new Error(`expected = after label ${key}`);
      i++;
      skipSpaces();
      if (line[i] !== '"') throw new Error(`expected a quoted value for label ${key}`);
      i++;
      let value = '';
      for (;;) {
        if (i >= n) throw new Error(`unterminated value of label ${key}`);
        const c = line[i++];
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : '\\' + (e ?? '');
        } else value += c;
      }
      labels[key] = value;
      skipSpaces();
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } after label ${key}`);
    }
  }
  skipSpaces();
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest[0] === '' || rest.length > 2) throw new Error('expected a value (and an optional timestamp)');
  return { name, labels, value: parseSampleValue(rest[0]) };
}

/**
 * The samples of a text exposition. `accept` filters by series name before
 * labels are parsed (cheap for the many series a proxy exports that nobody
 * here needs); malformed lines are skipped and counted in `errors`.
 */
export function parsePrometheusText(text: string, accept?: (name: string) => boolean): { samples: PromSample[]; errors: number } {
  const samples: PromSample[] = [];
  let errors = 0;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end).replace(/\r$/, '');
    pos = end + 1;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (accept) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(trimmed);
      if (!m || !accept(m[0])) continue;
    }
    try {
      samples.push(parseSampleLine(trimmed));
    } catch {
      errors++;
    }
  }
  return { samples, errors };
}

// ---------------------------------------------------------------------------
// Series history.

/** A counter (values of length 1) or a histogram (cumulative bucket counts, one per `les`, the last +Inf). */
export interface SeriesKey {
  /** Metric name; for a histogram the base name (without _bucket). */
  name: string;
  /** Labels; a histogram's without `le`. */
  labels: Record<string, string>;
  /** A histogram's upper bounds in ascending order (the last is Infinity). */
  les?: number[];
}

/**
 * Samples of one series over time, oldest first, bounded in number: times and
 * *adjusted* values (the running sum of increases, so counter resets are
 * already folded in and any two samples subtract to the increase between them).
 */
export class SeriesHistory {
  readonly times: number[] = [];
  readonly values: number[][] = [];
  /** The raw values of the last scrape (what the proxy reported). */
  lastRaw: number[];
  /** Last time the proxy reported this series. */
  lastSeen: number;

  constructor(
    readonly key: SeriesKey,
    raw: number[],
    t: number,
    private readonly maxSamples: number,
  ) {
    this.lastRaw = raw;
    this.lastSeen = t;
  }

  push(t: number, adjusted: number[]): void {
    this.times.push(t);
    this.values.push(adjusted);
    while (this.times.length > this.maxSamples) {
      this.times.shift();
      this.values.shift();
    }
  }

  /** Drops samples older than `cutoff`, keeping the newest one at or before it (the baseline of the longest window). */
  prune(cutoff: number): void {
    while (this.times.length > 1 && this.times[1] <= cutoff) {
      this.times.shift();
      this.values.shift();
    }
  }

  /** Adjusted value of the newest sample at or before `t`, or undefined. */
  at(t: number): number[] | undefined {
    for (let i = this.times.length - 1; i >= 0; i--) if (this.times[i] <= t) return this.values[i];
    return undefined;
  }

  /** Increase over (start, end]: from the newest sample at or before `start` (else the oldest) to the newest at or before `end`. */
  increase(start: number, end: number): number[] | undefined {
    const last = this.at(end);
    if (!last) return undefined;
    const first = this.at(start) ?? this.values[0];
    return last.map((v, i) => Math.max(0, v - (first[i] ?? 0)));
  }
}

/** One series' activity in a window. */
export interface WindowSeries extends SeriesKey {
  /** Which proxy reported it (`namespace/instance`). */
  target: string;
  /** Increase in the window: one number for a counter, cumulative bucket counts for a histogram. */
  increase: number[];
  /** The raw value at the last scrape (a counter's lifetime total in the proxy's current process). */
  current: number[];
}

export interface WindowResult {
  /** Window asked for. */
  windowMs: number;
  /** Time the window ends (query time). */
  now: number;
  /** Seconds the increases span: the window, or less while the collector has been running for less than the window. */
  spanSeconds: number;
  series: WindowSeries[];
}

// ---------------------------------------------------------------------------
// The collector.

export interface ScrapeTarget {
  /** Stable identity of the proxy: `namespace/instance`. */
  id: string;
  /** `http://127.0.0.1:<adminPort>/stats`. */
  url: string;
}

export interface MetricsCollectorOptions {
  /** The proxies to scrape now (read before every round). */
  targets: () => ScrapeTarget[];
  /** Default 2000 ms. */
  intervalMs?: number;
  /** Per scrape, connect to last byte. Default 1000 ms. */
  timeoutMs?: number;
  /** Scrapes in flight at once. Default 16. */
  concurrency?: number;
  /** History kept per series: the longest window that can be asked for. Default 5 min. */
  retentionMs?: number;
  /** Largest /stats body read. Default 32 MiB. */
  maxBodyBytes?: number;
  now?: () => number;
  /** Replaces the HTTP GET (tests). */
  fetchText?: (url: string, timeoutMs: number) => Promise<string>;
  log?: (msg: string) => void;
}

/** Every WorkloadInstance's sidecar (gateways included): its admin listener's /stats. */
export function instanceScrapeTargets(instances: readonly Resource[]): ScrapeTarget[] {
  const out: ScrapeTarget[] = [];
  for (const r of instances) {
    if (r.kind !== 'WorkloadInstance' || !r.spec.adminPort) continue;
    const host = r.spec.address && r.spec.address.includes(':') ? `[${r.spec.address}]` : r.spec.address || '127.0.0.1';
    out.push({ id: `${r.metadata.namespace}/${r.metadata.name}`, url: `http://${host}:${r.spec.adminPort}/stats` });
  }
  return out;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 2000;
export const DEFAULT_RETENTION_MS = 5 * 60_000;
export const DEFAULT_WINDOW_MS = 30_000;

interface TargetState {
  id: string;
  url: string;
  series: Map<string, SeriesHistory>;
  firstScrapeAt?: number;
  lastScrapeAt?: number;
  lastError?: string;
  resets: number;
}

const WANTED = contractSeriesNames();

function labelsKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  let s = name;
  for (const k of keys) s += `\u0000${k}\u0001${labels[k]}`;
  return s;
}

/** Groups parsed samples into counter and histogram series (histograms from their _bucket lines). */
export function groupSeries(samples: PromSample[]): Map<string, { key: SeriesKey; raw: number[] }> {
  const out = new Map<string, { key: SeriesKey; raw: number[] }>();
  const hist = new Map<string, { name: string; labels: Record<string, string>; buckets: [number, number][] }>();
  for (const s of samples) {
    if (s.name.endsWith('_bucket')) {
      const base = s.name.slice(0, -'_bucket'.length);
      const le = s.labels.le;
      if (le === undefined) continue;
      let bound: number;
      try {
        bound = parseSampleValue(le);
      } catch {
        continue;
      }
      const { le: _le, ...labels } = s.labels;
      const k = labelsKey(base, labels);
      let h = hist.get(k);
      if (!h) hist.set(k, (h = { name: base, labels, buckets: [] }));
      h.buckets.push([bound, s.value]);
      continue;
    }
    if (s.name.endsWith('_sum') || s.name.endsWith('_count')) continue;
    if (!Number.isFinite(s.value)) continue;
    out.set(labelsKey(s.name, s.labels), { key: { name: s.name, labels: s.labels }, raw: [s.value] });
  }
  for (const [k, h] of hist) {
    h.buckets.sort((a, b) => a[0] - b[0]);
    if (h.buckets.length === 0 || h.buckets[h.buckets.length - 1][0] !== Infinity) continue; // no +Inf bucket: not a histogram
    out.set(k, { key: { name: h.name, labels: h.labels, les: h.buckets.map((b) => b[0]) }, raw: h.buckets.map((b) => b[1]) });
  }
  return out;
}

export class MetricsCollector {
  readonly intervalMs: number;
  readonly retentionMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly maxBodyBytes: number;
  private readonly maxSamples: number;
  private readonly now: () => number;
  private readonly fetchText: (url: string, timeoutMs: number) => Promise<string>;
  private readonly log: (msg: string) => void;
  private readonly targets = new Map<string, TargetState>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private firstScrapeAt?: number;
  private lastScrapeAt?: number;
  private stopped = false;

  constructor(private readonly opts: MetricsCollectorOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
    this.retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.maxBodyBytes = opts.maxBodyBytes ?? 32 * 1024 * 1024;
    // One sample per scrape over the retention, plus the baseline and slack for early scrapes.
    this.maxSamples = Math.ceil(this.retentionMs / this.intervalMs) * 2 + 4;
    this.now = opts.now ?? Date.now;
    this.fetchText = opts.fetchText ?? ((url, timeoutMs) => this.httpGet(url, timeoutMs));
    this.log = opts.log ?? (() => {});
  }

  /** Scrapes now, then every interval, until stop(). */
  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      if (this.stopped) return;
      // A round still running (slow proxies) is not doubled up.
      this.round ??= this.scrapeOnce()
        .catch((err: unknown) => this.log(`metrics: scrape round failed: ${(err as Error)?.message ?? err}`))
        .finally(() => (this.round = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.round?.catch(() => {});
    this.agent.destroy();
  }

  /** One round: every current target, at most `concurrency` at a time. Targets no longer listed are forgotten. */
  async scrapeOnce(): Promise<void> {
    const list = this.opts.targets();
    const ids = new Set(list.map((t) => t.id));
    for (const id of this.targets.keys()) if (!ids.has(id)) this.targets.delete(id);
    for (const t of list) {
      const cur = this.targets.get(t.id);
      // A new address is a new proxy: its history means nothing for the new one.
      if (!cur || cur.url !== t.url) this.targets.set(t.id, { id: t.id, url: t.url, series: new Map(), resets: 0 });
    }
    const queue = [...this.targets.values()];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        try {
          const text = await this.fetchText(t.url, this.timeoutMs);
          if (this.stopped || this.targets.get(t.id) !== t) continue;
          this.ingestInto(t, text, this.now());
          t.lastError = undefined;
        } catch (err) {
          const msg = (err as Error).message;
          // Proxies that are still starting are not worth a line; one that worked and stops is.
          if (t.lastError !== msg && t.firstScrapeAt !== undefined && !this.stopped) this.log(`metrics: scraping ${t.id} (${t.url}) failed: ${msg}`);
          t.lastError = msg;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
  }

  /** Feeds one scrape of `targetId` taken at `t` (tests, and scrapeOnce). */
  ingest(targetId: string, text: string, t = this.now()): void {
    let target = this.targets.get(targetId);
    if (!target) this.targets.set(targetId, (target = { id: targetId, url: '', series: new Map(), resets: 0 }));
    this.ingestInto(target, text, t);
  }

  /** Forgets a proxy and its history. */
  forget(targetId: string): void {
    this.targets.delete(targetId);
  }

  private ingestInto(target: TargetState, text: string, t: number): void {
    const { samples } = parsePrometheusText(text, (name) => WANTED.has(name));
    const current = groupSeries(samples);
    const first = target.firstScrapeAt === undefined;
    const prevT = target.lastScrapeAt;

    // A restarted proxy starts every counter from zero. A single counter that
    // went down means the whole process restarted, so every series of this
    // scrape counts from zero (also the ones that happen to be higher now).
    let reset = false;
    for (const [k, c] of current) {
      const h = target.series.get(k);
      if (h && sameShape(h.key, c.key) && c.raw.some((v, i) => v < (h.lastRaw[i] ?? 0))) {
        reset = true;
        break;
      }
    }
    if (reset) target.resets++;

    for (const [k, c] of current) {
      let h = target.series.get(k);
      if (h && !sameShape(h.key, c.key)) {
        target.series.delete(k);
        h = undefined;
      }
      if (!h) {
        h = new SeriesHistory(c.key, c.raw, t, this.maxSamples);
        target.series.set(k, h);
        // On the first scrape of a proxy its history is unknown: the values are the baseline.
        // A series that appears later was born since the previous scrape: it was zero then.
        if (!first && prevT !== undefined && prevT < t) h.push(prevT, c.raw.map(() => 0));
        h.push(t, c.raw.slice());
        continue;
      }
      const last = h.values[h.values.length - 1] ?? c.raw.map(() => 0);
      const adjusted = c.raw.map((v, i) => last[i] + (reset ? v : Math.max(0, v - h.lastRaw[i])));
      h.push(t, adjusted);
      h.lastRaw = c.raw;
      h.lastSeen = t;
    }

    // History older than the longest window (keeping each series' baseline), and series gone for that long.
    const cutoff = t - this.retentionMs - this.intervalMs;
    for (const [k, h] of target.series) {
      if (h.lastSeen < cutoff) target.series.delete(k);
      else h.prune(cutoff);
    }
    target.firstScrapeAt ??= t;
    target.lastScrapeAt = t;
    this.firstScrapeAt ??= t;
    this.lastScrapeAt = Math.max(this.lastScrapeAt ?? t, t);
  }

  /** What each series did in the `windowMs` before `now`. */
  query(windowMs = DEFAULT_WINDOW_MS, now = this.now()): WindowResult {
    const start = now - windowMs;
    const series: WindowSeries[] = [];
    for (const target of this.targets.values()) {
      for (const h of target.series.values()) {
        const increase = h.increase(start, now);
        if (!increase) continue;
        series.push({ ...h.key, target: target.id, increase, current: h.lastRaw });
      }
    }
    const ran = this.firstScrapeAt === undefined || this.lastScrapeAt === undefined ? 0 : Math.min(now, this.lastScrapeAt) - this.firstScrapeAt;
    return { windowMs, now, spanSeconds: Math.max(0, Math.min(windowMs, ran)) / 1000, series };
  }

  /** Per proxy: when it was last scraped, the last error, how many restarts were seen, how many series it has. */
  targetStatus(): { id: string; url: string; lastScrapeAt?: number; lastError?: string; resets: number; series: number }[] {
    return [...this.targets.values()].map((t) => ({
      id: t.id,
      url: t.url,
      lastScrapeAt: t.lastScrapeAt,
      lastError: t.lastError,
      resets: t.resets,
      series: t.series.size,
    }));
  }

  private httpGet(url: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err: Error | undefined, body?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(body ?? '');
      };
      const req = http.get(url, { agent: this.agent }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          done(new Error(`status ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxBodyBytes) {
            req.destroy();
            done(new Error(`body larger than ${this.maxBodyBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(undefined, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (e) => done(e));
      });
      // The whole exchange, connect to last byte, is bounded.
      const timer = setTimeout(() => {
        req.destroy();
        done(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('error', (e) => done(e));
    });
  }
}

function sameShape(a: SeriesKey, b: SeriesKey): boolean {
  if (!a.les && !b.les) return true;
  if (!a.les || !b.les || a.les.length !== b.les.length) return false;
  return a.les.every((v, i) => v === b.les![i]);
}

// ---------------------------------------------------------------------------
// Window arithmetic: classifying requests, accumulating series, percentiles.

/** Reasons for which a request counts as denied (not success, not failure). */
export const DENIED_REASONS: ReadonlySet<string> = new Set(['rbac']);

/**
 * How a request series counts:
 * - `denied`: refused by access control (`reason` in DENIED_REASONS, e.g. rbac);
 * - `failure`: the response was 5xx, or the exchange broke (`code_class` "0",
 *   also spelled "0xx");
 * - `success`: everything else, 4xx included (as Linkerd does: a 4xx is the
 *   server answering correctly to a bad request).
 */
export function classify(labels: Record<string, string>): 'success' | 'failure' | 'denied' {
  if (DENIED_REASONS.has(labels.reason ?? '')) return 'denied';
  const cc = labels.code_class ?? '';
  // "0" (or "0xx"): no response, the exchange broke.
  if (cc === '' || cc.startsWith('5') || cc.startsWith('0')) return 'failure';
  return 'success';
}

/**
 * The q-quantile (0..1) of a histogram given as upper bounds (ascending, the
 * last Infinity) and cumulative counts, by linear interpolation inside the
 * bucket (Prometheus' histogram_quantile). Undefined without observations; a
 * rank in the +Inf bucket gives the highest finite bound.
 */
export function histogramQuantile(q: number, les: readonly number[], cumulative: readonly number[]): number | undefined {
  const n = Math.min(les.length, cumulative.length);
  if (n === 0) return undefined;
  const total = cumulative[n - 1];
  if (!(total > 0)) return undefined;
  if (q <= 0) return 0;
  if (q >= 1) q = 1;
  const rank = q * total;
  let i = 0;
  while (i < n - 1 && cumulative[i] < rank) i++;
  if (les[i] === Infinity) return i > 0 ? les[i - 1] : undefined;
  const lower = i === 0 ? 0 : les[i - 1];
  const below = i === 0 ? 0 : cumulative[i - 1];
  const inBucket = cumulative[i] - below;
  if (inBucket <= 0) return les[i];
  return lower + (les[i] - lower) * ((rank - below) / inBucket);
}

/** Requests of one caller in an accumulator. */
interface PerSource {
  total: number;
  failures: number;
  deniedSeen: number;
  deniedExternal: number;
}

/**
 * Request and connection numbers of one resource or edge over a window, as
 * admin-metrics.ts adds them up from one side's series.
 *
 * Denials are counted by the server (`reason="rbac"` on its inbound series);
 * a client sees them as plain 403 answers. So a client-side total takes the
 * servers' denials as `external` and moves that many requests from success to
 * denied — per caller (`source`), so that denials of a caller whose own proxy
 * is not scraped are added, not subtracted from other callers' successes.
 */
export class TrafficAccumulator {
  private readonly sources = new Map<string, PerSource>();
  readonly deniedReasons: Record<string, number> = {};
  /** Route labels seen (for TrafficSplit weights). */
  readonly routes = new Set<string>();
  private readonly buckets = new Map<number, number>();
  hasRequests = false;
  hasTcp = false;
  tcpOpened = 0;
  tcpClosed = 0;
  /** Connections open now: opened − closed of the proxies' current processes. */
  tcpOpen = 0;
  tcpReceivedBytes = 0;
  tcpSentBytes = 0;

  private of(source: string): PerSource {
    let p = this.sources.get(source);
    if (!p) this.sources.set(source, (p = { total: 0, failures: 0, deniedSeen: 0, deniedExternal: 0 }));
    return p;
  }

  /**
   * A trellis_requests_total series of the caller `source` (any stable key,
   * e.g. `namespace/workload`). `external`: the series is the other (server)
   * side's, and only its denials count.
   */
  addRequests(s: WindowSeries, external = false, source = ''): void {
    const n = s.increase[0] ?? 0;
    const kind = classify(s.labels);
    const p = this.of(source);
    if (external) {
      if (kind !== 'denied') return;
      p.deniedExternal += n;
      this.countReason(s.labels.reason ?? '', n);
      return;
    }
    this.hasRequests = true;
    p.total += n;
    if (s.labels.route) this.routes.add(s.labels.route);
    if (kind === 'failure') p.failures += n;
    else if (kind === 'denied') {
      p.deniedSeen += n;
      this.countReason(s.labels.reason ?? '', n);
    }
  }

  private countReason(reason: string, n: number): void {
    if (n > 0) this.deniedReasons[reason] = (this.deniedReasons[reason] ?? 0) + n;
  }

  /** A trellis_request_duration_seconds series. */
  addLatency(s: WindowSeries): void {
    if (!s.les) return;
    this.hasRequests = true;
    if (s.labels.route) this.routes.add(s.labels.route);
    s.les.forEach((le, i) => this.buckets.set(le, (this.buckets.get(le) ?? 0) + (s.increase[i] ?? 0)));
  }

  /** A TCP counter series. */
  addTcp(s: WindowSeries): void {
    const n = s.increase[0] ?? 0;
    const cur = s.current[0] ?? 0;
    this.hasTcp = true;
    switch (s.name) {
      case TCP_OPENED:
        this.tcpOpened += n;
        this.tcpOpen += cur;
        break;
      case TCP_CLOSED:
        this.tcpClosed += n;
        this.tcpOpen -= cur;
        break;
      case TCP_RECEIVED:
        this.tcpReceivedBytes += n;
        break;
      case TCP_SENT:
        this.tcpSentBytes += n;
        break;
    }
  }

  private sum(f: (p: PerSource) => number): number {
    let n = 0;
    for (const p of this.sources.values()) n += f(p);
    return n;
  }

  /** 5xx answers and broken exchanges. */
  get failures(): number {
    return this.sum((p) => p.failures);
  }

  /** Refused by access control. */
  get denied(): number {
    return this.sum((p) => p.deniedSeen + p.deniedExternal);
  }

  /** Everything else (2xx, 3xx, 4xx other than denials). */
  get success(): number {
    return this.sum((p) => Math.max(0, p.total - p.failures - p.deniedSeen - p.deniedExternal));
  }

  /** success + failures + denied. */
  get requests(): number {
    return this.success + this.failures + this.denied;
  }

  /** success / (success + failures); undefined when there were none (idle, or every request denied). */
  get successRate(): number | undefined {
    const ok = this.success;
    const d = ok + this.failures;
    return d > 0 ? ok / d : undefined;
  }

  /** Latency quantile in milliseconds. */
  latencyMs(q: number): number | undefined {
    const les = [...this.buckets.keys()].sort((a, b) => a - b);
    const v = histogramQuantile(q, les, les.map((le) => this.buckets.get(le)!));
    return v === undefined ? undefined : v * 1000;
  }
}
