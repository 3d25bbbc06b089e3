// examples/splitdim: the kv store and the SplitDim app as plain processes on
// loopback (no mesh): kv's API and persistence, then splitdim against kv
// directly (KV_URL) and through an HTTP proxy (HTTP_PROXY, as with a sidecar).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { examplesDir, request, startApp, type App, type Reply } from './helpers.js';

const APPS = path.join(examplesDir, 'splitdim', 'apps');
const KV = path.join(APPS, 'kv.mjs');
const SPLITDIM = path.join(APPS, 'splitdim.mjs');
const SEED = [
  { name: 'alice', balance: 100 },
  { name: 'bob', balance: 100 },
  { name: 'carol', balance: 100 },
];

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
}

describe('examples/splitdim/apps/kv.mjs', { timeout: 60_000 }, () => {
  let dir: string;
  let kv: App;
  const call = (method: string, p: string, body?: unknown) => request(kv.port, method, p, { body });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitdim-kv-'));
    kv = await startApp(KV, { DATA_FILE: path.join(dir, 'data.json') });
  });
  after(async () => {
    await kv?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('puts, gets, lists by prefix and deletes JSON values; keys may contain /', async () => {
    assert.deepEqual((await call('PUT', '/kv/t/a', { n: 1 })).json, { key: 't/a', value: { n: 1 } });
    await call('PUT', '/kv/t/b', '"two"'); // a JSON string
    await call('PUT', '/kv/other', 3);
    assert.deepEqual((await call('GET', '/kv/t/a')).json, { key: 't/a', value: { n: 1 } });
    const listed = await call('GET', '/kv?prefix=t/');
    assert.deepEqual(listed.json.items, [
      { key: 't/a', value: { n: 1 } },
      { key: 't/b', value: 'two' },
    ]);
    assert.equal((await call('DELETE', '/kv/t/a')).status, 200);
    assert.equal((await call('GET', '/kv/t/a')).status, 404);
    assert.equal((await call('DELETE', '/kv/t/a')).status, 404);
    assert.equal((await call('PUT', '/kv/bad', '{not json')).status, 400);
  });

  it('increments atomically, refuses below min / above max and non-numbers with 409', async () => {
    assert.equal((await call('POST', '/kv/n/incr')).json.value, 1);
    assert.equal((await call('POST', '/kv/n/incr?by=9')).json.value, 10);
    const results = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/kv/n/incr?by=-1&min=0')));
    assert.equal(results.filter((r) => r.status === 200).length, 10);
    assert.equal(results.filter((r) => r.status === 409).length, 10);
    assert.equal((await call('GET', '/kv/n')).json.value, 0);
    assert.equal((await call('POST', '/kv/n/incr?by=5&max=4')).status, 409);
    assert.equal((await call('POST', '/kv/n/incr?by=1.5')).status, 400);
    await call('PUT', '/kv/s', '"text"');
    assert.equal((await call('POST', '/kv/s/incr')).status, 409);
  });

  it('PUT ?ifAbsent=1 creates only a missing key (412 otherwise)', async () => {
    assert.equal((await call('PUT', '/kv/once?ifAbsent=1', 1)).status, 200);
    const again = await call('PUT', '/kv/once?ifAbsent=1', 2);
    assert.equal(again.status, 412);
    assert.equal((await call('GET', '/kv/once')).json.value, 1);
  });

  it('keeps the data in DATA_FILE (whole JSON, no temporary files left) and reads it back at start', async () => {
    await call('PUT', '/kv/persisted', { ok: true });
    const file = path.join(dir, 'data.json');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).persisted, { ok: true });
    assert.deepEqual(fs.readdirSync(dir), ['data.json']);
    await kv.stop();
    kv = await startApp(KV, { DATA_FILE: file });
    assert.deepEqual((await call('GET', '/kv/persisted')).json.value, { ok: true });
    assert.equal((await call('GET', '/kv/once')).json.value, 1);
  });
});

describe('examples/splitdim/apps/splitdim.mjs', { timeout: 120_000 }, () => {
  let kv: App;
  let app: App; // VERSION=splitdim
  let app2: App; // VERSION=splitdim-2, same kv
  let proxied: App | undefined; // kv through a fake sidecar (HTTP_PROXY)
  let proxy: http.Server | undefined;
  const seen: { url: string; host: string }[] = [];
  const call = (method: string, p: string, body?: unknown, to = app) => request(to.port, method, p, { body });
  const transfer = (body: unknown, to = app) => call('POST', '/api/transfer', body, to);
  const balances = async (to = app) => (await call('GET', '/api/accounts', undefined, to)).json.accounts as { name: string; balance: number }[];
  const assertStamped = (r: Reply, version: string, instance: string) => {
    assert.equal(r.json?.version, version, `version in ${r.body}`);
    assert.equal(r.json?.instance, instance, `instance in ${r.body}`);
    assert.equal(r.headers['x-splitdim-version'], version);
  };

  before(async () => {
    kv = await startApp(KV);
    const kvUrl = `http://127.0.0.1:${kv.port}`;
    app = await startApp(SPLITDIM, { KV_URL: kvUrl, VERSION: 'splitdim', TRELLIS_INSTANCE_NAME: 'splitdim-0' });
    app2 = await startApp(SPLITDIM, { KV_URL: kvUrl, VERSION: 'splitdim-2', TRELLIS_INSTANCE_NAME: 'splitdim-2-0' });
    await eventually('splitdim seeded the accounts', async () => ((await balances()).length === 3 ? true : undefined));
  });
  after(async () => {
    await Promise.all([app?.stop(), app2?.stop(), proxied?.stop()]);
    await kv?.stop();
    proxy?.close();
    proxy?.closeAllConnections();
  });

  it('seeds alice, bob and carol with 100 each when kv has no accounts', async () => {
    assert.deepEqual(await balances(), SEED);
    assert.deepEqual(await balances(app2), SEED);
  });

  it('moves money with a transfer, records it, and stamps every answer with version and instance', async () => {
    const r = await transfer({ from: 'alice', to: 'bob', amount: 30 });
    assert.equal(r.status, 200, r.body);
    assertStamped(r, 'splitdim', 'splitdim-0');
    assert.deepEqual(r.json.transfer, { ...r.json.transfer, from: 'alice', to: 'bob', amount: 30, version: 'splitdim', instance: 'splitdim-0' });
    assert.deepEqual(r.json.accounts, [
      { name: 'alice', balance: 70 },
      { name: 'bob', balance: 130 },
      { name: 'carol', balance: 100 },
    ]);
    // The other deployment shares the store.
    const seen2 = await call('GET', '/api/accounts', undefined, app2);
    assertStamped(seen2, 'splitdim-2', 'splitdim-2-0');
    assert.equal(seen2.json.accounts[0].balance, 70);
  });

  it('answers 409 on insufficient funds and changes nothing', async () => {
    const before = await balances();
    const r = await transfer({ from: 'carol', to: 'alice', amount: 101 });
    assert.equal(r.status, 409, r.body);
    assertStamped(r, 'splitdim', 'splitdim-0');
    assert.match(r.json.error, /insufficient funds/);
    assert.deepEqual(await balances(), before);
  });

  it('answers 400 on bad input, naming the problem', async () => {
    const bad: unknown[] = [
      '{not json',
      {},
      { from: 'alice', to: 'bob' },
      { from: 'alice', to: 'bob', amount: 0 },
      { from: 'alice', to: 'bob', amount: -5 },
      { from: 'alice', to: 'bob', amount: 1.5 },
      { from: 'alice', to: 'bob', amount: '5' },
      { from: 'alice', to: 'alice', amount: 5 },
      { from: 'alice', to: 'mallory', amount: 5 },
      { from: 'nobody', to: 'bob', amount: 5 },
      [1, 2],
    ];
    for (const body of bad) {
      const r = await transfer(body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.body}`);
      assertStamped(r, 'splitdim', 'splitdim-0');
      assert.equal(typeof r.json.error, 'string');
    }
    assert.equal((await call('GET', '/api/transfer')).status, 405);
  });

  it('never overdraws under concurrent transfers from both deployments', async () => {
    assert.equal((await call('POST', '/api/reset')).status, 200);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => transfer({ from: 'carol', to: i % 2 ? 'alice' : 'bob', amount: 10 }, i % 3 ? app : app2)),
    );
    assert.deepEqual(results.map((r) => r.status).filter((s) => s !== 200 && s !== 409), []);
    assert.equal(results.filter((r) => r.status === 200).length, 10);
    const after = await balances();
    assert.equal(after.find((a) => a.name === 'carol')!.balance, 0);
    assert.equal(after.reduce((sum, a) => sum + a.balance, 0), 300, 'no money created or lost');
  });

  it('lists transfers newest first, at most 50, and clears them', async () => {
    assert.equal((await call('POST', '/api/clear')).status, 200);
    assert.equal((await call('POST', '/api/reset')).status, 200);
    for (let i = 1; i <= 55; i++) {
      const r = await transfer({ from: i % 2 ? 'alice' : 'bob', to: 'carol', amount: 1 }, i === 55 ? app2 : app);
      assert.equal(r.status, 200, r.body);
    }
    const list = await call('GET', '/api/list');
    assertStamped(list, 'splitdim', 'splitdim-0');
    const t = list.json.transfers as { id: number; from: string; version: string }[];
    assert.equal(t.length, 50);
    for (let i = 1; i < t.length; i++) assert.ok(t[i - 1]!.id > t[i]!.id, 'newest first');
    assert.equal(t[0]!.version, 'splitdim-2', 'the newest was made by splitdim-2');
    assert.equal(t[0]!.from, 'alice');
    const cleared = await call('POST', '/api/clear', undefined, app2);
    assert.equal(cleared.status, 200);
    assertStamped(cleared, 'splitdim-2', 'splitdim-2-0');
    assert.ok(cleared.json.cleared >= 50);
    assert.deepEqual((await call('GET', '/api/list')).json.transfers, []);
  });

  it('resets the accounts to the seed', async () => {
    await transfer({ from: 'alice', to: 'bob', amount: 50 });
    const r = await call('POST', '/api/reset', undefined, app2);
    assert.equal(r.status, 200);
    assertStamped(r, 'splitdim-2', 'splitdim-2-0');
    assert.deepEqual(r.json.accounts, SEED);
    assert.deepEqual(await balances(), SEED);
  });

  it('serves an HTML page naming the deployment and the accounts, and /healthz', async () => {
    const page = await call('GET', '/', undefined, app2);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /splitdim-2/);
    assert.match(page.body, /splitdim-2-0/);
    assert.match(page.body, /alice/);
    assert.equal((await call('GET', '/healthz')).status, 200);
    const missing = await call('GET', '/nope');
    assert.equal(missing.status, 404);
    assertStamped(missing, 'splitdim', 'splitdim-0');
  });

  it('reaches kv through HTTP_PROXY with the absolute URL of KV_URL (default http://kv.splitdim:80), as through a sidecar', async () => {
    // A stand-in for the sidecar's outbound proxy: records the request target and forwards to kv.
    proxy = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', host: String(req.headers.host) });
      const u = new URL(req.url ?? '/');
      const out = http.request(
        { host: '127.0.0.1', port: kv.port, method: req.method, path: u.pathname + u.search, headers: req.headers, agent: false },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', () => res.writeHead(502).end());
      req.pipe(out);
    });
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as { port: number }).port;
    proxied = await startApp(SPLITDIM, { HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: 'localhost,127.0.0.1,::1', VERSION: 'splitdim' });
    const r = await call('GET', '/api/accounts', undefined, proxied);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json.accounts, SEED);
    assert.ok(seen.length > 0);
    for (const s of seen) {
      assert.match(s.url, /^http:\/\/kv\.splitdim\/kv/);
      assert.equal(s.host, 'kv.splitdim');
    }
  });

  it('answers 502 naming the store when kv cannot be reached', async () => {
    const lonely = await startApp(SPLITDIM, { KV_URL: 'http://127.0.0.1:1', VERSION: 'splitdim' });
    try {
      const r = await call('GET', '/api/accounts', undefined, lonely);
      assert.equal(r.status, 502);
      assert.match(r.json.error, /kv store http:\/\/127\.0\.0\.1:1 unreachable/);
      assert.equal(r.json.version, 'splitdim');
    } finally {
      await lonely.stop();
    }
  });
});
