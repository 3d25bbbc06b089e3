// Access log lines: the JSON fields of a record, written to a file through a
// write stream; MeshConfig's switch and shared file; drops under backpressure.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccessLogSettings } from '../../src/compiler/snapshot.js';
import { AccessLog, accessLogLine, formatAccessLog, MAX_PENDING_BYTES } from '../../src/proxy/access-log.js';
import { Registry } from '../../src/proxy/stats.js';
import { outboundRecord, TRACE } from './record-fixtures.js';

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

describe('access log', () => {
  it('formats one JSON line with every field of the record', () => {
    const line = formatAccessLog(outboundRecord({ reason: 'fault_abort', status: 503 }));
    assert.ok(line.endsWith('\n'));
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    assert.deepEqual(JSON.parse(line), {
      time: '2023-11-14T22:13:20.123Z',
      direction: 'outbound',
      protocol: 'http',
      source_identity: 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer',
      source_workload: 'bookbuyer',
      source_namespace: 'bookbuyer',
      destination_service: 'bookstore/bookstore:14001',
      destination_workload: 'bookstore-v1',
      destination_identity: 'spiffe://cluster.local/ns/bookstore/sa/bookstore',
      route: 'default',
      method: 'GET',
      path: '/books',
      status: 503,
      duration_ms: 12,
      request_bytes: 0,
      response_bytes: 42,
      upstream: 'bookstore/bookstore-v1-0',
      retries: 1,
      trace_id: TRACE,
      span_id: '00f067aa0ba902b7',
      reason: 'fault_abort',
    });
  });

  it('leaves out what a TCP connection does not have', () => {
    const { trace: _t, ...r } = outboundRecord({ protocol: 'tcp', method: undefined, path: undefined, route: undefined, status: 0 });
    const l = JSON.parse(JSON.stringify(accessLogLine(r)));
    assert.equal(l.protocol, 'tcp');
    assert.equal('method' in l, false);
    assert.equal('trace_id' in l, false);
    assert.equal(l.status, 0);
  });

  it('writes to its file and to MeshConfig\'s file while enabled', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-access-'));
    try {
      const own = path.join(dir, 'logs', 'demo', 'client-0.access.log');
      const shared = path.join(dir, 'all.log');
      let settings: AccessLogSettings = { enabled: true };
      const log = new AccessLog({ target: own, settings: () => settings });
      log.sink(outboundRecord({ path: '/one' }));
      settings = { enabled: false };
      log.sink(outboundRecord({ path: '/off' }));
      settings = { enabled: true, file: shared };
      log.sink(outboundRecord({ path: '/two' }));
      await until(() => lines(own).length === 2 && lines(shared).length === 1, 'lines written');
      assert.deepEqual(lines(own).map((l) => l.path), ['/one', '/two']);
      assert.deepEqual(lines(shared).map((l) => l.path), ['/two']);
      await log.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops and counts lines rather than buffer without bound', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-access-'));
    try {
      const registry = new Registry();
      const log = new AccessLog({ target: path.join(dir, 'a.log'), settings: () => ({ enabled: true }), registry });
      // Written in one tick: the stream cannot drain until this returns.
      const big = outboundRecord({ path: '/' + 'x'.repeat(64 * 1024) });
      const n = Math.ceil(MAX_PENDING_BYTES / (64 * 1024)) + 20;
      for (let i = 0; i < n; i++) log.sink(big);
      const dropped = Number(/trellis_access_log_dropped_total\{reason="backpressure"\} (\d+)/.exec(registry.render())?.[1] ?? 0);
      assert.ok(dropped >= 15 && dropped < n, `${dropped} of ${n} dropped`);
      await log.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a file it cannot open once and counts the lines', async () => {
    const registry = new Registry();
    const warnings: string[] = [];
    const file = path.join(os.tmpdir(), `trellis-access-${process.pid}`);
    fs.writeFileSync(file, '');
    after(() => fs.rmSync(file, { force: true }));
    const log = new AccessLog({
      // Its directory is a file.
      target: path.join(file, 'a.log'),
      settings: () => ({ enabled: true }),
      registry,
      log: { info: () => {}, warn: (m) => warnings.push(m), error: () => {} },
    });
    log.sink(outboundRecord());
    log.sink(outboundRecord());
    await until(() => warnings.length > 0, 'a warning');
    log.sink(outboundRecord());
    assert.equal(warnings.length, 1);
    assert.match(registry.render(), /trellis_access_log_dropped_total\{reason="write_error"\} 3\n/);
    await log.close();
  });
});
