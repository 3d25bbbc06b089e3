// The bookstore demo, end to end: `trellis up examples/bookstore` with real
// processes, real mTLS, SMI access control and traffic split, as a user runs it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createCA } from '../../src/identity/ca.js';
import { issueCertificate } from '../../src/identity/issue.js';
import { generateKeyPair } from '../../src/identity/keys.js';
import { examplesDir } from '../support/paths.js';
import {
  eventually,
  loadLoop,
  metricValue,
  processAlive,
  startMesh,
  viaProxy,
  type RunningMesh,
} from '../support/mesh.js';

const bookstoreDir = path.join(examplesDir, 'bookstore');
const BUYER_HEADERS = { 'user-agent': 'bookbuyer-http-client/1.0', 'client-app': 'bookbuyer' };
const BUY = 'http://bookstore.bookstore:14001/buy-a-book/new';

describe('bookstore demo (trellis up examples/bookstore)', { timeout: 240_000 }, () => {
  let mesh: RunningMesh;
  let buyerOut: number;
  let thiefOut: number;
  const buy = () => viaProxy(buyerOut, BUY, { headers: BUYER_HEADERS });

  before(async () => {
    mesh = await startMesh(bookstoreDir);
    buyerOut = (await mesh.instance('bookbuyer', 'bookbuyer-0')).spec.outboundPort;
    thiefOut = (await mesh.instance('bookthief', 'bookthief-0')).spec.outboundPort;
  });

  after(async () => {
    if (!mesh) return;
    const pids = mesh.pids();
    const code = await mesh.stop('SIGINT');
    assert.equal(code, 0, 'trellis up exits 0 on SIGINT');
    // No process the runner started may outlive it.
    await eventually(() => Object.values(pids).every((pid) => !processAlive(pid)), 5000, 'every started process is gone');
    fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('buys books through two sidecars over mTLS', async () => {
    const buyer = await mesh.instance('bookbuyer', 'bookbuyer-0');
    const store = await mesh.instance('bookstore', 'bookstore-v1-0');
    // The demo's own buyer loop buys books: its counters page shows them.
    await eventually(async () => {
      const c = (await (await fetch(`http://127.0.0.1:${buyer.spec.ports[0]!.port}/counters`)).json()) as { booksBought?: number };
      return (c.booksBought ?? 0) > 0;
    }, 10_000, 'the bookbuyer bought a book');
    const r = await buy();
    assert.equal(r.status, 200);
    assert.equal(r.headers.identity, 'bookstore-v1');
    const out = await metricValue(buyer.spec.adminPort, 'trellis_outbound_requests_total', {
      destination: 'bookstore/bookstore:14001',
      code: '200',
      tls: 'mtls',
    });
    const inbound = await metricValue(store.spec.adminPort, 'trellis_inbound_requests_total', {
      source: 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer',
      code: '200',
      tls: 'mtls',
    });
    assert.ok(out > 0, 'the buyer sidecar counted mTLS requests to bookstore');
    assert.ok(inbound > 0, 'the bookstore sidecar counted mTLS requests from the buyer identity');
    // Those requests went as streams of one multiplexed session to the bookstore sidecar.
    const dump = (await (await fetch(`http://127.0.0.1:${buyer.spec.adminPort}/config_dump`)).json()) as {
      upstreamSessions: { sessions: { identity: string; connected: boolean }[]; http1Peers: string[] };
    };
    assert.ok(
      dump.upstreamSessions.sessions.some((s) => s.connected && s.identity === 'spiffe://cluster.local/ns/bookstore/sa/bookstore'),
      JSON.stringify(dump.upstreamSessions),
    );
    assert.deepEqual(dump.upstreamSessions.http1Peers, []);
  });

  it('serves the bookstore through its ingress gateway, which the mesh authorises like any client', async () => {
    await eventually(async () => (await fetch('http://127.0.0.1:14080/books-bought')).status === 200, 30_000, 'the gateway answers');
    const store = await mesh.instance('bookstore', 'bookstore-v1-0');
    const fromGateway = await metricValue(store.spec.adminPort, 'trellis_inbound_requests_total', {
      source: 'spiffe://cluster.local/ns/bookstore/sa/bookstore-gateway',
      code: '200',
    });
    assert.ok(fromGateway > 0, 'the bookstore saw the gateway identity');
    // Only what the gateway's TrafficTarget names: buying is not allowed from outside.
    assert.equal((await fetch('http://127.0.0.1:14080/buy-a-book/new')).status, 403);
  });

  it('denies the thief with 403 and an explanation, allows it after allow-thief.yaml, denies it again after delete', async () => {
    const denied = await viaProxy(thiefOut, BUY);
    assert.equal(denied.status, 403);
    assert.match(denied.body, /source: spiffe:\/\/cluster\.local\/ns\/bookthief\/sa\/bookthief/);
    assert.match(denied.body, /destination: bookstore\/bookstore:14001/);
    assert.match(denied.body, /reason: no TrafficTarget allows/);

    const allowFile = path.join(bookstoreDir, 'allow-thief.yaml');
    const applied = await mesh.cli('apply', '-f', allowFile);
    assert.equal(applied.code, 0, applied.stderr);
    const tookAllow = await eventually(async () => (await viaProxy(thiefOut, BUY)).status === 200, 2000, 'thief allowed');
    const deleted = await mesh.cli('delete', '-f', allowFile);
    assert.equal(deleted.code, 0, deleted.stderr);
    const tookDeny = await eventually(async () => (await viaProxy(thiefOut, BUY)).status === 403, 2000, 'thief denied again');
    assert.ok(tookAllow < 2000 && tookDeny < 2000);
  });

  it('shifts about half the purchases to bookstore-v2 after split-50-50.yaml, and all after split-v2.yaml', async () => {
    const apply = async (file: string) => {
      const r = await mesh.cli('apply', '-f', path.join(bookstoreDir, file));
      assert.equal(r.code, 0, r.stderr);
    };
    await apply('split-50-50.yaml');
    await eventually(async () => (await buy()).headers.identity === 'bookstore-v2', 5000, 'v2 sells a book');
    let v2 = 0;
    for (let i = 0; i < 400; i++) {
      const r = await buy();
      assert.equal(r.status, 200, r.body);
      if (r.headers.identity === 'bookstore-v2') v2++;
    }
    assert.ok(v2 >= 160 && v2 <= 240, `v2 sold ${v2} of 400`);

    await apply('split-v2.yaml');
    await eventually(async () => {
      for (let i = 0; i < 20; i++) if ((await buy()).headers.identity !== 'bookstore-v2') return false;
      return true;
    }, 5000, 'only v2 sells');
    for (let i = 0; i < 100; i++) assert.equal((await buy()).headers.identity, 'bookstore-v2');

    await apply('mesh/traffic-split.yaml');
    await eventually(async () => (await buy()).headers.identity === 'bookstore-v1', 5000, 'back to v1');
  });

  it('refuses plaintext and certificates from another CA on an inbound port (STRICT mTLS)', async () => {
    const store = await mesh.instance('bookstore', 'bookstore-v1-0');
    const inboundPort = store.spec.ports[0]!.inboundPort;
    const plain = await fetch(`http://127.0.0.1:${inboundPort}/buy-a-book/new`).then(
      (r) => `status ${r.status}`,
      (err: Error) => `refused: ${err.message}`,
    );
    assert.match(plain, /^refused/);

    const other = await createCA({ trustDomain: 'cluster.local' });
    const key = generateKeyPair();
    const forged = await issueCertificate(other, {
      spiffeId: 'spiffe://cluster.local/ns/bookbuyer/sa/bookbuyer',
      publicKeyPem: key.publicKeyPem,
      lifetimeMs: 60_000,
    });
    const outcome = await new Promise<string>((resolve) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: inboundPort,
          path: '/buy-a-book/new',
          key: key.privateKeyPem,
          cert: forged.certPem,
          rejectUnauthorized: false,
          headers: BUYER_HEADERS,
        },
        (res) => resolve(`status ${res.statusCode}`),
      );
      req.on('error', (err) => resolve(`refused: ${err.message}`));
      req.end();
    });
    assert.match(outcome, /^refused/, 'a certificate from another CA is refused');
  });

  it('answers the CLI: exec runs curl as the thief (403), get shows the split, status lists every instance', async () => {
    const exec = await mesh.cli('exec', 'bookthief', '-n', 'bookthief', '--', 'curl', '-s', 'http://bookstore.bookstore:14001/books-bought');
    assert.equal(exec.code, 0, exec.stderr);
    assert.match(exec.stdout, /RBAC: access denied/);
    assert.match(exec.stdout, /bookthief/);

    const get = await mesh.cli('get', 'trafficsplits', '-n', 'bookstore');
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /bookstore-split/);
    assert.match(get.stdout, /bookstore=100/);

    const status = await mesh.cli('status', '--json');
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { instances: { name: string; ready: boolean }[]; proxies: { connected: boolean; ackedVersion?: string; version?: string }[] };
    assert.deepEqual(parsed.instances.map((i) => i.name).sort(), ['bookbuyer-0', 'bookstore-gateway-gateway-0', 'bookstore-v1-0', 'bookstore-v2-0', 'bookthief-0', 'bookwarehouse-0']);
    assert.ok(parsed.instances.every((i) => i.ready));
    assert.equal(parsed.proxies.length, 6);
    assert.ok(parsed.proxies.every((p) => p.connected && p.ackedVersion === p.version));
  });

  it('rejects an invalid manifest with file, line and field, and keeps the running configuration', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bad-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      [
        'apiVersion: split.smi-spec.io/v1alpha2',
        'kind: TrafficSplit',
        'metadata: { name: bookstore-split, namespace: bookstore }',
        'spec:',
        '  service: bookstore',
        '  backends:',
        '  - service: bookstore',
        '    weight: 0',
        '  - service: bookstore-v2',
        '    weight: -5',
        '---',
        'apiVersion: specs.smi-spec.io/v1alpha4',
        'kind: HTTPRouteGroup',
        'metadata: { name: broken, namespace: bookstore }',
        'spec:',
        '  matches:',
        '  - name: x',
        '    pathRegex: "(unclosed"',
        '---',
        'apiVersion: trellis.dev/v1alpha1',
        'kind: Workload',
        'metadata: { name: w, namespace: bookstore }',
        'spec: { command: ["true"], replicas: "two" }',
        '---',
        'apiVersion: v1',
        'kind: Servise',
        'metadata: { name: typo }',
        '',
      ].join('\n'),
    );
    const before = await mesh.client.list('TrafficSplit', { namespace: 'bookstore' });
    const r = await mesh.cli('apply', '-f', file);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(out, /bad\.yaml:10\b.*spec\.backends\[1\]\.weight/);
    assert.match(out, /bad\.yaml:18\b.*spec\.matches\[0\]\.pathRegex/);
    assert.match(out, /bad\.yaml:23\b.*spec\.replicas/);
    assert.match(out, /bad\.yaml:26\b.*Servise/);
    const afterList = await mesh.client.list('TrafficSplit', { namespace: 'bookstore' });
    assert.deepEqual(afterList.items, before.items, 'nothing changed');
    assert.equal((await buy()).headers.identity, 'bookstore-v1');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving with zero failed requests while the control plane is killed, and applies changes after it restarts', async () => {
    const load = loadLoop(buy, 4);
    await new Promise((r) => setTimeout(r, 500));
    const cpPid = mesh.pids()['control-plane']!;
    process.kill(cpPid, 'SIGKILL');
    await eventually(() => !processAlive(cpPid), 5000, 'control plane gone');
    await new Promise((r) => setTimeout(r, 1500));
    await eventually(() => mesh.client.healthy(), 20_000, 'control plane back');
    const r = await mesh.cli('apply', '-f', path.join(bookstoreDir, 'split-v2.yaml'));
    assert.equal(r.code, 0, r.stderr);
    await eventually(async () => (await buy()).headers.identity === 'bookstore-v2', 5000, 'v2 after restart');
    const counts = await load.stop();
    assert.equal(counts.failed, 0, `failed requests: ${counts.failures.join(' | ')}`);
    assert.ok(counts.ok > 50, `only ${counts.ok} requests completed`);
    await mesh.cli('apply', '-f', path.join(bookstoreDir, 'mesh/traffic-split.yaml'));
  });
});
