// examples/echo/echo.mjs: the echo answer and the failure controls resilience
// tests rely on (?fail, ?reset, /echo-control modes, health and counts).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { examplesDir, failure, request, startApp, type App } from './helpers.js';

const ECHO = path.join(examplesDir, 'echo', 'echo.mjs');

describe('examples/echo/echo.mjs', { timeout: 60_000 }, () => {
  let echo: App;
  const get = (p: string, timeoutMs?: number) => request(echo.port, 'GET', p, { timeoutMs });
  const control = async (q = '') => {
    const r = await get(`/echo-control${q}`);
    assert.equal(r.status, 200, r.body);
    return r.json as { mode: string; health: number; requests: number };
  };

  before(async () => {
    echo = await startApp(ECHO, { TRELLIS_INSTANCE_NAME: 'echo-3', TRELLIS_NAMESPACE: 'demo', SERVICE_NAME: 'echo' });
  });
  after(async () => {
    await echo?.stop();
  });
  beforeEach(async () => {
    await control('?mode=normal&health=200&reset-count=1');
  });

  it('prints the port it got with PORT=0 and answers JSON naming the instance as pod and instance', async () => {
    assert.match(echo.output(), new RegExp(`listening on ${echo.port}\\b`));
    const r = await get('/hello?x=1');
    assert.equal(r.status, 200);
    assert.equal(r.json.path, '/hello?x=1');
    assert.equal(r.json.pod, 'echo-3');
    assert.equal(r.json.instance, 'echo-3');
    assert.equal(r.json.namespace, 'demo');
    assert.equal(r.json.service, 'echo');
  });

  it('keeps the existing controls: ?status, ?delay, ?size, X-Echo-Set-Header, /healthz', async () => {
    assert.equal((await get('/?status=418')).status, 418);
    const started = Date.now();
    assert.equal((await get('/?delay=150ms')).status, 200);
    assert.ok(Date.now() - started >= 140);
    const big = await get('/?size=100000');
    assert.equal(big.body.length, 100000);
    const h = await request(echo.port, 'GET', '/', { headers: { 'x-echo-set-header': 'X-One:1' } });
    assert.equal(h.headers['x-one'], '1');
    const health = await get('/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok\n');
  });

  it('?fail=1 answers 503 with the JSON, ?fail=0 answers 200, ?fail=0.5 answers both', async () => {
    const failed = await get('/f?fail=1');
    assert.equal(failed.status, 503);
    assert.equal(failed.json.path, '/f?fail=1');
    assert.equal(failed.json.instance, 'echo-3');
    assert.equal((await get('/f?fail=0')).status, 200);
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await get('/f?fail=0.5')).status);
    assert.deepEqual([...statuses].sort(), [200, 503]); // all 60 the same: p = 2^-59
  });

  it('?reset=1 destroys the connection without an answer; ?reset=0.5 sometimes', async () => {
    const err = await failure(get('/r?reset=1'));
    assert.match(String(err.code), /ECONNRESET|EPIPE/, err.message);
    assert.equal((await get('/r?reset=0')).status, 200);
    let resets = 0;
    let answers = 0;
    for (let i = 0; i < 60; i++) {
      try {
        assert.equal((await get('/r?reset=0.5')).status, 200);
        answers++;
      } catch {
        resets++;
      }
    }
    assert.ok(resets > 0 && answers > 0, `resets=${resets} answers=${answers}`);
  });

  it('mode=fail answers 503 to every request but /echo-control and /healthz, until mode=normal', async () => {
    assert.equal((await control('?mode=fail')).mode, 'fail');
    for (let i = 0; i < 5; i++) {
      const r = await get('/any');
      assert.equal(r.status, 503);
      assert.equal(r.json.path, '/any');
    }
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await control('?mode=normal')).mode, 'normal');
    assert.equal((await get('/any')).status, 200);
  });

  it('mode=stall never answers and keeps the connection open', async () => {
    await control('?mode=stall');
    const err = await failure(get('/slow', 500));
    assert.equal(err.code, 'TIMEOUT', 'no answer and no close within 500 ms');
    // The instance still answers its controls and health checks while stalling.
    assert.equal((await get('/healthz')).status, 200);
    const s = await control('?mode=normal');
    assert.equal(s.requests, 1);
    assert.equal((await get('/after')).status, 200);
  });

  it('mode=reset destroys every request’s connection', async () => {
    await control('?mode=reset');
    for (let i = 0; i < 3; i++) {
      const err = await failure(get('/x'));
      assert.match(String(err.code), /ECONNRESET|EPIPE/, err.message);
    }
    assert.equal((await control()).requests, 3);
  });

  it('health=503 makes /healthz answer 503 until health=200; other requests are unaffected', async () => {
    assert.equal((await control('?health=503')).health, 503);
    assert.equal((await get('/healthz')).status, 503);
    assert.equal((await get('/hello')).status, 200);
    await control('?health=200');
    assert.equal((await get('/healthz')).status, 200);
  });

  it('counts requests (not /echo-control or /healthz) and reset-count=1 zeroes the count', async () => {
    assert.deepEqual(await control(), { mode: 'normal', health: 200, requests: 0 });
    await get('/a');
    await get('/b?status=500');
    await get('/c?fail=1');
    await get('/healthz');
    await control();
    assert.equal((await control()).requests, 3);
    assert.equal((await control('?reset-count=1')).requests, 0);
    assert.equal((await control()).requests, 0);
  });

  it('refuses bad control values with 400 and changes nothing', async () => {
    const bad = await get('/echo-control?mode=explode&health=503');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /mode/);
    assert.equal((await get('/echo-control?health=abc')).status, 400);
    assert.deepEqual(await control(), { mode: 'normal', health: 200, requests: 0 });
  });
});
