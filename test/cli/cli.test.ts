import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { writeMeshInfo } from '../../src/local/state-dir.js';
import { AdminClient } from '../../src/cli/admin-client.js';
import { conformanceDir, repoRoot } from '../support/paths.js';
import { BROKEN_YAML, PROXIES, SERVICE_YAML, SPLIT_YAML, startAdmin, workloadInstanceObject, workloadObject, type RunningAdmin } from './fixtures.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let tmp: string;
let stateDir: string;
let store: Store;
let admin: RunningAdmin;

/** Runs the built CLI asynchronously (the admin server lives in this process). */
function trellis(args: string[], opts: { cwd?: string } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_HOME: path.join(tmp, "home") };
  delete env.TRELLIS_STATE_DIR;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/trellis.js'), ...args], { cwd: opts.cwd ?? tmp, env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

const withState = (...args: string[]) => [...args, '--state-dir', stateDir];

describe('trellis CLI', () => {
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-cli-'));
    stateDir = path.join(tmp, 'state');
    store = createMemoryStore();
    admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => ({ trustDomain: 'trellis.local' }) });
    writeMeshInfo(stateDir, {
      runnerPid: process.pid,
      adminUrl: admin.url,
      xdsPort: 0,
      manifestDir: tmp,
      startedAt: new Date().toISOString(),
    });
    fs.writeFileSync(path.join(tmp, 'split.yaml'), `${SERVICE_YAML}---\n${SPLIT_YAML}`);
    fs.writeFileSync(path.join(tmp, 'broken.yaml'), BROKEN_YAML);
    fs.mkdirSync(path.join(tmp, 'good/nested'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'good/nested/split.yaml'), SPLIT_YAML);
  });

  after(async () => {
    await admin.close();
    await store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('lists every command in --help', async () => {
    const r = await trellis(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['up', 'apply', 'delete', 'get', 'status', 'validate', 'exec']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  });

  test('validate accepts the OSM bookstore manifests', async () => {
    const r = await trellis(['validate', path.join(conformanceDir, 'osm-bookstore')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+ documents valid \(\d+ resources, \d+ recognised Kubernetes\/foreign documents\)$/m);
    assert.match(r.stderr, /Deployment/);
  });

  test('validate rejects a broken file naming file, line and field path', async () => {
    const r = await trellis(['validate', 'broken.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.yaml:24: document 1: spec\.backends\[0\]\.weight: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('apply -f creates resources and get shows the split backends', async () => {
    const applied = await trellis(withState('apply', '-f', 'split.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^service\/bookstore created$/m);
    assert.match(applied.stdout, /^trafficsplit\.split\.smi-spec\.io\/bookstore-split created$/m);
    const again = await trellis(withState('apply', '-f', path.join(tmp, 'good')));
    assert.match(again.stdout, /^trafficsplit\.split\.smi-spec\.io\/bookstore-split unchanged$/m);

    const got = await trellis(withState('get', 'trafficsplits', '-n', 'bookstore'));
    assert.equal(got.code, 0, got.stderr);
    const [header, row] = got.stdout.trim().split('\n');
    assert.match(header, /^NAMESPACE\s+NAME\s+SERVICE\s+BACKENDS\s+AGE$/);
    assert.match(row, /^bookstore\s+bookstore-split\s+bookstore\s+bookstore=50,bookstore-v2=50\s+\d+s$/);
  });

  test('apply of a file with an invalid document prints file:line errors and applies nothing', async () => {
    const before = store.revision();
    const r = await trellis(withState('apply', '-f', 'broken.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.yaml:24: document 1: spec\.backends\[0\]\.weight: .*\(TRELLIS_E_INVALID_FIELD\)/);
    assert.match(r.stderr, /^error: 1 error: nothing was applied$/m);
    assert.equal(store.revision(), before);
  });

  test('get -o yaml prints the stored objects as manifests', async () => {
    await trellis(withState('apply', '-f', 'split.yaml'));
    const r = await trellis(withState('get', 'ts', 'bookstore-split', '-n', 'bookstore', '-o', 'yaml'));
    assert.equal(r.code, 0, r.stderr);
    const doc = parseYaml(r.stdout);
    assert.equal(doc.kind, 'TrafficSplit');
    assert.equal(doc.apiVersion, 'split.smi-spec.io/v1alpha2');
    assert.equal(doc.metadata.name, 'bookstore-split');
    assert.deepEqual(doc.spec.backends, [
      { service: 'bookstore', weight: 50 },
      { service: 'bookstore-v2', weight: 50 },
    ]);
    const json = await trellis(withState('get', 'services', '-A', '-o', 'json'));
    const list = JSON.parse(json.stdout);
    assert.equal(list.kind, 'List');
    assert.equal(list.items[0].kind, 'Service');
  });

  test('get in the default namespace hints at other namespaces when empty', async () => {
    await trellis(withState('apply', '-f', 'split.yaml'));
    const r = await trellis(withState('get', 'trafficsplit'));
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /No resources found in default namespace\./);
    assert.match(r.stderr, /hint: 1 trafficsplits in other namespaces \(bookstore\)/);
  });

  test('get of a missing name fails with a clear message', async () => {
    const r = await trellis(withState('get', 'ts', 'nope', '-n', 'bookstore'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: trafficsplit "nope" not found in namespace bookstore$/m);
  });

  test('delete KIND NAME removes one object', async () => {
    await trellis(withState('apply', '-f', 'split.yaml'));
    const r = await trellis(withState('delete', 'trafficsplit', 'bookstore-split', '-n', 'bookstore'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^trafficsplit\.split\.smi-spec\.io\/bookstore-split deleted$/m);
    assert.equal(store.get({ kind: 'TrafficSplit', namespace: 'bookstore', name: 'bookstore-split' }), undefined);
    const again = await trellis(withState('delete', 'ts', 'bookstore-split', '-n', 'bookstore'));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found in namespace bookstore/);
  });

  test('delete -f removes what the manifests name', async () => {
    await trellis(withState('apply', '-f', 'split.yaml'));
    const r = await trellis(withState('delete', '-f', 'split.yaml'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service\/bookstore deleted$/m);
  });

  test("exec runs a command with the instance's environment and exit code", async () => {
    const client = new AdminClient(admin.url);
    await client.apply({ objects: [workloadInstanceObject(15123), workloadObject()] });
    const r = await trellis(
      ['exec', '--state-dir', stateDir, 'bookbuyer', '-n', 'bookbuyer', '--', 'node', '-e', 'console.log(process.env.HTTP_PROXY, process.env.BOOKS_WANTED); process.exit(3)'],
    );
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout.trim(), 'http://127.0.0.1:15123 3');
  });

  test('exec fails clearly for a workload without instances', async () => {
    const r = await trellis(['exec', '--state-dir', stateDir, 'ghost', '--', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: workload "ghost" has no running instance in namespace default/m);
  });

  test('status --json reports revision, mesh, instances and proxies', async () => {
    const client = new AdminClient(admin.url);
    await client.apply({ objects: [workloadInstanceObject(15123)] });
    const r = await trellis(withState('status', '--json'));
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.revision, store.revision());
    assert.deepEqual(s.mesh, { trustDomain: 'trellis.local' });
    assert.deepEqual(s.proxies, PROXIES);
    assert.deepEqual(s.instances, [
      {
        namespace: 'bookbuyer',
        workload: 'bookbuyer',
        name: 'bookbuyer-0',
        index: 0,
        appPort: 18080,
        ports: [{ name: 'http', port: 18080, inboundPort: 18443 }],
        inboundPorts: [18443],
        outboundPort: 15123,
        adminPort: 15000,
        ready: true,
      },
    ]);
    const human = await trellis(withState('status'));
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /bookbuyer\s+bookbuyer\s+bookbuyer-0\s+-\s+http=18080\s+18443\s+15123\s+15000\s+yes/);
    assert.match(human.stdout, /bookbuyer\/bookbuyer-0\s+yes\s+v3\s+v3\s+in \d+m/);
  });

  test('commands that need a mesh say how to start one when none runs', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    for (const args of [['get', 'ts'], ['status'], ['apply', '-f', path.join(tmp, 'split.yaml')]]) {
      const r = await trellis(args, { cwd: empty });
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.trim(), 'error: no running mesh found: start one with "trellis up DIR" or pass --state-dir');
    }
  });
});
