import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  classify,
  groupSeries,
  histogramQuantile,
  LATENCY_BUCKETS,
  MetricsCollector,
  parsePrometheusText,
  parseSampleLine,
  REQUEST_DURATION,
  REQUESTS_TOTAL,
  TrafficAccumulator,
  type WindowSeries,
} from '../../src/control-plane/metrics-collector.js';

const T0 = 1_700_000_000_000;

/** A trellis_requests_total line. */
function req(labels: Record<string, string>, value: number): string {
  const l = {
    direction: 'inbound',
    source_namespace: 'demo',
    source_workload: 'client',
    destination_namespace: 'demo',
    destination_workload: 'echo',
    destination_service: 'demo/echo:8080',
    code: '200',
    code_class: '2xx',
    reason: '',
    ...labels,
  };
  return `${REQUESTS_TOTAL}{${Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}} ${value}`;
}

function collectorAt(clock: { t: number }, extra: Partial<ConstructorParameters<typeof MetricsCollector>[0]> = {}) {
  return new MetricsCollector({ targets: () => [], now: () => clock.t, ...extra });
}

function increaseOf(c: MetricsCollector, windowMs: number, match: (s: WindowSeries) => boolean): number {
  return c
    .query(windowMs)
    .series.filter(match)
    .reduce((n, s) => n + s.increase[0], 0);
}

describe('Prometheus text parser', () => {
  test('parses names, labels with escapes, special values and timestamps; skips comments', () => {
    const text = [
      '# HELP trellis_requests_total Requests.',
      '# TYPE trellis_requests_total counter',
      'trellis_requests_total{a="x",b="say \\"hi\\"",c="back\\\\slash",d="line\\nfeed"} 42',
      '',
      'up 1 1700000000000',
      'weird{a="1",} +Inf',
      'nan_metric NaN',
      'neg -Inf',
      'spaced { a = "1" , b="2" }   3.5e2',
      'trellis_x{broken="unterminated} 1',
      'no_value{a="1"}',
      'bad_value 12abc',
    ].join('\n');
    const { samples, errors } = parsePrometheusText(text);
    assert.equal(errors, 3);
    assert.deepEqual(samples[0], {
      name: 'trellis_requests_total',
      labels: { a: 'x', b: 'say "hi"', c: 'back\\slash', d: 'line\nfeed' },
      value: 42,
    });
    assert.deepEqual(samples[1], { name: 'up', labels: {}, value: 1 });
    assert.equal(samples[2].value, Infinity);
    assert.deepEqual(samples[2].labels, { a: '1' });
    assert.ok(Number.isNaN(samples[3].value));
    assert.equal(samples[4].value, -Infinity);
    assert.deepEqual(samples[5], { name: 'spaced', labels: { a: '1', b: '2' }, value: 350 });
  });

  test('the name filter skips series before parsing them', () => {
    const { samples, errors } = parsePrometheusText('keep 1\ndrop{x="unterminated} 2\nkeep{a="b"} 3\r\n', (n) => n === 'keep');
    assert.equal(errors, 0);
    assert.deepEqual(samples.map((s) => s.value), [1, 3]);
  });

  test('a sample line without a value is an error', () => {
    assert.throws(() => parseSampleLine('metric{a="1"}'));
    assert.throws(() => parseSampleLine('{a="1"} 1'));
  });

  test('histogram buckets group by labels without le, in bound order; no +Inf bucket, no histogram', () => {
    const text = [
      `${REQUEST_DURATION}_bucket{route="r",le="+Inf"} 10`,
      `${REQUEST_DURATION}_bucket{route="r",le="0.1"} 4`,
      `${REQUEST_DURATION}_bucket{route="r",le="0.5"} 9`,
      `${REQUEST_DURATION}_sum{route="r"} 1.5`,
      `${REQUEST_DURATION}_count{route="r"} 10`,
      `${REQUEST_DURATION}_bucket{route="s",le="0.1"} 1`,
    ].join('\n');
    const groups = [...groupSeries(parsePrometheusText(text).samples).values()];
    assert.equal(groups.length, 1);
    assert.deepEqual(groups[0].key, { name: REQUEST_DURATION, labels: { route: 'r' }, les: [0.1, 0.5, Infinity] });
    assert.deepEqual(groups[0].raw, [4, 9, 10]);
  });
});

describe('series history and counter resets', () => {
  test('the increase over a window starts at the newest sample at or before its start', () => {
    const clock = { t: T0 };
    const c = collectorAt(clock);
    for (let i = 0; i <= 30; i++) {
      clock.t = T0 + i * 2000;
      c.ingest('demo/echo-0', req({}, i * 10));
    }
    // now = T0+60s; 10 s back is T0+50s (sample 25, value 250); the last is 300.
    assert.equal(increaseOf(c, 10_000, () => true), 50);
    assert.equal(increaseOf(c, 60_000, () => true), 300);
    // Longer than the history: from the oldest sample.
    assert.equal(increaseOf(c, 300_000, () => true), 300);
    assert.equal(c.query(10_000).spanSeconds, 10);
    assert.equal(c.query(300_000).spanSeconds, 60);
  });

  test('the first scrape of a proxy is a baseline; a series born later started from zero', () => {
    const clock = { t: T0 };
    const c = collectorAt(clock);
    c.ingest('demo/echo-0', req({}, 1000));
    clock.t += 2000;
    c.ingest('demo/echo-0', [req({}, 1005), req({ code: '503', code_class: '5xx' }, 3)].join('\n'));
    const r = c.query(30_000);
    const ok = r.series.find((s) => s.labels.code === '200')!;
    const bad = r.series.find((s) => s.labels.code === '503')!;
    assert.deepEqual(ok.increase, [5]);
    assert.deepEqual(bad.increase, [3]);
    assert.deepEqual(ok.current, [1005]);
  });

  test('a proxy restart (any counter going down) makes every series of that scrape count from zero', () => {
    const clock = { t: T0 };
    const c = collectorAt(clock);
    const scrape = (ok: number, bad: number) => {
      c.ingest('demo/echo-0', [req({}, ok), req({ code: '503', code_class: '5xx' }, bad)].join('\n'));
      clock.t += 2000;
    };
    scrape(100, 5);
    scrape(120, 5); // +20, +0
    scrape(3, 9); // restart: 200s went down, so the 5xx series' 9 are all new too
    scrape(10, 9); // +7, +0
    const ok = increaseOf(c, 60_000, (s) => s.labels.code === '200');
    const bad = increaseOf(c, 60_000, (s) => s.labels.code === '503');
    assert.equal(ok, 20 + 3 + 7);
    assert.equal(bad, 9);
    assert.equal(c.targetStatus()[0].resets, 1);
  });

  test('histogram buckets reset with their proxy', () => {
    const clock = { t: T0 };
    const c = collectorAt(clock);
    const hist = (a: number, b: number) =>
      [`${REQUEST_DURATION}_bucket{route="r",le="0.1"} ${a}`, `${REQUEST_DURATION}_bucket{route="r",le="+Inf"} ${b}`].join('\n');
    c.ingest('p', hist(10, 20));
    clock.t += 2000;
    c.ingest('p', hist(12, 25));
    clock.t += 2000;
    c.ingest('p', hist(1, 1));
    const s = c.query(60_000).series[0];
    assert.deepEqual(s.les, [0.1, Infinity]);
    assert.deepEqual(s.increase, [2 + 1, 5 + 1]);
  });

  test('history is bounded by the retention (plus the baseline) and by a number of samples', () => {
    const clock = { t: T0 };
    const c = collectorAt(clock, { intervalMs: 2000, retentionMs: 20_000 });
    for (let i = 0; i < 500; i++) {
      clock.t = T0 + i * 2000;
      c.ingest('p', req({}, i));
    }
    const history = (c as unknown as { targets: Map<string, { series: Map<string, { times: number[] }> }> }).targets.get('p')!.series;
    const times = [...history.values()][0].times;
    assert.ok(times.length <= 13, `kept ${times.length} samples`);
    assert.ok(times[0] <= clock.t - 20_000);
    // Many scrapes within one interval are capped by count.
    for (let i = 0; i < 500; i++) c.ingest('p', req({}, 1000 + i), clock.t);
    assert.ok([...history.values()][0].times.length <= 2 * 10 + 4);
  });

  test('series not reported for longer than the retention are dropped', () => {
    const clock = { t: T0 };
    const c = collectorAt(clock, { intervalMs: 2000, retentionMs: 10_000 });
    c.ingest('p', [req({ code: '200' }, 1), req({ code: '404', code_class: '4xx' }, 1)].join('\n'));
    for (let i = 1; i <= 10; i++) {
      clock.t = T0 + i * 2000;
      c.ingest('p', req({ code: '200' }, 1 + i));
    }
    assert.deepEqual(
      c.query(10_000).series.map((s) => s.labels.code),
      ['200'],
    );
  });
});

describe('window arithmetic', () => {
  test('histogram_quantile interpolates inside the bucket, like Prometheus', () => {
    const les = [0.1, 0.2, 0.4, Infinity];
    assert.equal(histogramQuantile(0.5, les, [10, 20, 20, 20]), 0.1);
    assert.ok(Math.abs(histogramQuantile(0.75, les, [10, 20, 20, 20])! - 0.15) < 1e-12);
    assert.ok(Math.abs(histogramQuantile(0.25, les, [10, 20, 20, 20])! - 0.05) < 1e-12);
    // A rank in the +Inf bucket gives the highest finite bound.
    assert.equal(histogramQuantile(0.99, les, [0, 0, 1, 10]), 0.4);
    assert.equal(histogramQuantile(0.5, les, [0, 0, 0, 0]), undefined);
    // The contract's buckets: 100 requests between 5 and 10 ms → p50 = 7.5 ms.
    const cum = [...LATENCY_BUCKETS, Infinity].map((le) => (le >= 0.01 ? 100 : 0));
    assert.ok(Math.abs(histogramQuantile(0.5, [...LATENCY_BUCKETS, Infinity], cum)! - 0.0075) < 1e-12);
  });

  test('classifies 2xx-4xx as success, 5xx and broken exchanges as failures, rbac as denied', () => {
    assert.equal(classify({ code_class: '2xx', reason: '' }), 'success');
    assert.equal(classify({ code_class: '4xx', reason: 'no_route' }), 'success');
    assert.equal(classify({ code_class: '4xx', reason: 'rbac' }), 'denied');
    assert.equal(classify({ code_class: '5xx', reason: 'fault_abort' }), 'failure');
    assert.equal(classify({ code_class: '0' }), 'failure');
    assert.equal(classify({ code_class: '0xx' }), 'failure');
  });

  test('an accumulator: success, failures, denied, success rate, latency', () => {
    const series = (labels: Record<string, string>, n: number): WindowSeries => ({
      name: REQUESTS_TOTAL,
      labels,
      target: 't',
      increase: [n],
      current: [n],
    });
    const acc = new TrafficAccumulator();
    acc.addRequests(series({ code_class: '2xx' }, 90), false, 'a');
    acc.addRequests(series({ code_class: '4xx' }, 5), false, 'a');
    acc.addRequests(series({ code_class: '5xx' }, 5), false, 'a');
    // The server denied 5 of a's requests (a saw them as 403s) and 7 of b's (not scraped on its side).
    acc.addRequests(series({ code_class: '4xx', reason: 'rbac' }, 5), true, 'a');
    acc.addRequests(series({ code_class: '4xx', reason: 'rbac' }, 7), true, 'b');
    // Only denials count from the other side.
    acc.addRequests(series({ code_class: '2xx' }, 1000), true, 'a');
    assert.equal(acc.failures, 5);
    assert.equal(acc.denied, 12);
    assert.equal(acc.success, 90);
    assert.equal(acc.requests, 107);
    assert.equal(acc.successRate, 90 / 95);
    assert.deepEqual(acc.deniedReasons, { rbac: 12 });
    assert.equal(acc.latencyMs(0.5), undefined);
    acc.addLatency({ name: REQUEST_DURATION, labels: {}, target: 't', les: [0.001, 0.002, Infinity], increase: [0, 100, 100], current: [0, 100, 100] });
    assert.ok(Math.abs(acc.latencyMs(0.5)! - 1.5) < 1e-9);
    const none = new TrafficAccumulator();
    none.addRequests(series({ code_class: '4xx', reason: 'rbac' }, 3), false, 'x');
    assert.equal(none.successRate, undefined);
    assert.equal(none.requests, 3);
  });
});

describe('scraping', () => {
  test('scrapes every target with a concurrency cap and forgets targets that are gone', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const fetched: string[] = [];
    let targets = Array.from({ length: 10 }, (_, i) => ({ id: `demo/p-${i}`, url: `http://x/${i}` }));
    const c = new MetricsCollector({
      targets: () => targets,
      concurrency: 3,
      fetchText: async (url) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        fetched.push(url);
        return req({}, 1);
      },
    });
    await c.scrapeOnce();
    assert.equal(fetched.length, 10);
    assert.equal(maxInFlight, 3);
    assert.equal(c.targetStatus().length, 10);
    targets = targets.slice(0, 4);
    await c.scrapeOnce();
    assert.deepEqual(c.targetStatus().map((t) => t.id).sort(), ['demo/p-0', 'demo/p-1', 'demo/p-2', 'demo/p-3']);
    await c.stop();
  });

  test('a scrape that hangs times out; others are unaffected', async () => {
    const hang = http.createServer(() => {});
    const ok = http.createServer((_req, res) => res.end(req({}, 7)));
    await Promise.all([hang, ok].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const url = (s: http.Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/stats`;
    const logs: string[] = [];
    const c = new MetricsCollector({
      targets: () => [
        { id: 'a/hang', url: url(hang) },
        { id: 'a/ok', url: url(ok) },
      ],
      timeoutMs: 200,
      log: (m) => logs.push(m),
    });
    try {
      const started = Date.now();
      await c.scrapeOnce();
      assert.ok(Date.now() - started < 2000);
      const status = new Map(c.targetStatus().map((t) => [t.id, t]));
      assert.match(status.get('a/hang')!.lastError ?? '', /timed out after 200 ms/);
      assert.equal(status.get('a/ok')!.lastError, undefined);
      assert.equal(status.get('a/ok')!.series, 1);
    } finally {
      await c.stop();
      hang.closeAllConnections();
      await Promise.all([hang, ok].map((s) => new Promise((r) => s.close(r))));
    }
  });
});
