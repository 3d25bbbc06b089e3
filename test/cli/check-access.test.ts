// trellis check-access and trellis dashboard against an admin server holding
// the bookstore demo's manifests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeMeshInfo } from '../../src/local/state-dir.js';
import { loadManifests } from '../../src/resources/load.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { examplesDir, repoRoot } from '../support/paths.js';
import { PROXIES, startAdmin, type RunningAdmin } from './fixtures.js';

let tmp: string;
let stateDir: string;
let store: Store;
let admin: RunningAdmin;

function trellis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_HOME: path.join(tmp, 'home'), PATH: '/nonexistent' };
  delete env.TRELLIS_STATE_DIR;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/trellis.js'), ...args, '--state-dir', stateDir], { cwd: tmp, env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('trellis check-access and dashboard', () => {
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-check-access-'));
    stateDir = path.join(tmp, 'state');
    store = createMemoryStore();
    const r = await loadManifests(path.join(examplesDir, 'bookstore', 'mesh'));
    assert.deepEqual(r.errors, []);
    await store.apply(r.resources);
    admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({ trustDomain: 'cluster.local' }) });
    writeMeshInfo(stateDir, { runnerPid: process.pid, adminUrl: admin.url, xdsPort: 0, manifestDir: tmp, startedAt: new Date().toISOString() });
  });

  after(async () => {
    await admin.close();
    await store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('allows bookbuyer → bookstore GET /books-bought with its headers and names the rule (exit 0)', async () => {
    const r = await trellis('check-access', 'bookbuyer/bookbuyer', 'bookstore/bookstore', '--path', '/books-bought', '-H', 'user-agent: bookbuyer-http-client/1.0', '-H', 'client-app: bookbuyer');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ALLOWED: bookbuyer\/bookbuyer → bookstore\/bookstore:14001 GET \/books-bought/m);
    assert.match(r.stdout, /^rule: TrafficTarget bookstore\/bookstore, HTTPRouteGroup match bookstore\/bookstore-service-routes\/books-bought$/m);
    assert.match(r.stdout, /^route: split:bookstore\/bookstore-split \(access mode deny\)$/m);
  });

  test('denies the thief with the reason (exit 2), names in -n, JSON output', async () => {
    const r = await trellis('check-access', 'bookthief', 'bookstore/bookstore', '-n', 'bookthief', '--method', 'get', '--path', '/books-bought');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /^DENIED: bookthief\/bookthief → bookstore\/bookstore:14001 GET \/books-bought$/m);
    assert.match(r.stdout, /^reason: .*no TrafficTarget allows spiffe:\/\/cluster.local\/ns\/bookthief\/sa\/bookthief to reach this destination$/m);
    const j = await trellis('check-access', 'bookthief/bookthief', 'bookstore/bookstore', '-o', 'json');
    assert.equal(j.code, 2);
    const body = JSON.parse(j.stdout);
    assert.equal(body.allowed, false);
    assert.equal(body.backends[0].serviceAccount, 'bookstore/bookstore');
  });

  test('lists why each match failed when headers are missing', async () => {
    const r = await trellis('check-access', 'bookbuyer/bookbuyer', 'bookstore/bookstore', '--path', '/books-bought');
    assert.equal(r.code, 2);
    assert.match(r.stdout, /TrafficTarget bookstore\/bookstore, match bookstore\/bookstore-service-routes\/books-bought: .*header client-app is missing/);
  });

  test('fails with the API error for unknown names and bad options (exit 1)', async () => {
    const r = await trellis('check-access', 'nowhere/nobody', 'bookstore/bookstore');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: source nowhere\/nobody is not a Workload, Gateway, Service or ServiceAccount$/m);
    const h = await trellis('check-access', 'bookbuyer/bookbuyer', 'bookstore/bookstore', '-H', 'nocolon');
    assert.equal(h.code, 1);
    assert.match(h.stderr, /--header must be "name: value"/);
  });

  test('dashboard prints the URL, and says so when xdg-open is missing', async () => {
    const quiet = await trellis('dashboard', '--no-open');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, `${admin.url}/dashboard/\n`);
    assert.equal(quiet.stderr, '');
    const open = await trellis('dashboard');
    assert.equal(open.code, 0);
    assert.equal(open.stdout, `${admin.url}/dashboard/\n`);
    assert.match(open.stderr, /xdg-open is not available/);
  });
});
