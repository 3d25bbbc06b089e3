// Isolated mode end to end (`trellis up DIR --isolation netns`): an app calls
// another by plain hostname and port, with no HTTP_PROXY, through both
// sidecars; access control applies; nothing reaches another instance except
// through its sidecar with mTLS; and nothing is left on the machine after the
// mesh stops, also after `trellis up` was killed. Needs root and iptables;
// skipped with the reason otherwise.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { proxyGid } from '../../../src/local/netns/constants.js';
import { meshId } from '../../../src/local/netns/network.js';
import { netnsUnavailableReason } from '../../../src/local/netns/prerequisites.js';
import { ECHO_APP, clientToEcho, echoMesh } from '../../support/echo-mesh.js';
import { repoRoot } from '../../support/paths.js';
import { TRELLIS_BIN, forceCleanup, leftovers, nodeInNamespace, runCli, sleep, startIsolatedMesh, type IsolatedMesh } from './harness.js';

const skip = netnsUnavailableReason();

/** The client app: answers on its PORT with what a call from inside its namespace got. */
const CLIENT_APP = `
import http from 'node:http';
import net from 'node:net';
const send = (res, o) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://client');
  let done = false;
  const once = (o) => { if (!done) { done = true; send(res, o); } };
  if (u.pathname === '/env') return once({ HTTP_PROXY: process.env.HTTP_PROXY ?? null, http_proxy: process.env.http_proxy ?? null });
  if (u.pathname === '/fetch') {
    const r = http.get(u.searchParams.get('url'), { timeout: 5000 }, (up) => {
      let body = '';
      up.on('data', (d) => (body += d));
      up.on('end', () => once({ status: up.statusCode, headers: up.headers, body }));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (e) => once({ error: e.code ?? e.message }));
    return;
  }
  if (u.pathname === '/connect') {
    const s = net.connect(Number(u.searchParams.get('port')), u.searchParams.get('host'));
    s.setTimeout(3000, () => { s.destroy(); once({ result: 'timeout' }); });
    s.on('connect', () => { s.destroy(); once({ result: 'connected' }); });
    s.on('error', (e) => once({ result: e.code ?? e.message }));
    return;
  }
  res.writeHead(404);
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface Fetched {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
}

describe('isolated mode (--isolation netns)', { skip, timeout: 110_000 }, () => {
  let dir: string;
  let stateDir: string;
  let mesh: IsolatedMesh | undefined;
  /** The client app's address and port, reachable from the host (the runner probes it there). */
  let clientUrl: string;

  const call = async (p: string): Promise<Record<string, unknown>> => (await (await fetch(`${clientUrl}${p}`, { signal: AbortSignal.timeout(10_000) })).json()) as Record<string, unknown>;
  const fetchFromClient = (url: string) => call(`/fetch?url=${encodeURIComponent(url)}`) as Promise<Fetched>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-netns-'));
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-netns-state-'));
    fs.writeFileSync(path.join(dir, 'client.mjs'), CLIENT_APP);
    // No TrafficTarget yet: the tests start from deny by default and apply clientToEcho() later.
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), echoMesh({ clientApp: path.join(dir, 'client.mjs'), allowClient: false }));
    mesh = await startIsolatedMesh(dir, stateDir);
    const client = await mesh.instance('demo', 'client-0');
    clientUrl = `http://${client.spec.address}:${client.spec.ports[0]!.port}`;
  });

  after(async () => {
    await mesh?.stop().catch(() => mesh?.process.kill('SIGKILL'));
    forceCleanup(stateDir);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('gives each instance its own namespace and address in 198.18.0.0/16, and apps no HTTP_PROXY', async () => {
    const echo = await mesh!.instance('demo', 'echo-0');
    const client = await mesh!.instance('demo', 'client-0');
    for (const i of [echo, client]) {
      assert.match(i.spec.address, /^198\.18\.\d+\.\d+$/);
      assert.equal(i.metadata.annotations['trellis.dev/isolation'], 'netns');
      assert.match(i.metadata.annotations['trellis.dev/netns'] ?? '', new RegExp(`^tr-${meshId(stateDir)}-\\d+$`));
    }
    assert.notEqual(echo.spec.address, client.spec.address);
    assert.deepEqual(await call('/env'), { HTTP_PROXY: null, http_proxy: null });
    // The client reaches echo through a transparent upstream: one per Service port.
    assert.ok(client.spec.upstreams.some((u) => u.service === 'echo' && u.port === 8080));
  });

  it('denies by default: a plain http://echo.demo:8080/ from the app gets 403 from the echo sidecar', async () => {
    const r = await fetchFromClient('http://echo.demo:8080/');
    assert.equal(r.status, 403, JSON.stringify(r));
    assert.equal(r.headers?.['x-trellis-denied'], 'rbac');
    assert.match(r.body ?? '', /source: spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client/);
  });

  it('with a TrafficTarget, plain hostnames work through both sidecars (the echo app sees the caller identity)', async () => {
    fs.writeFileSync(path.join(dir, 'tt.yaml'), clientToEcho());
    const applied = await runCli(['apply', '-f', path.join(dir, 'tt.yaml')], { TRELLIS_STATE_DIR: stateDir, TRELLIS_HOME: stateDir });
    assert.equal(applied.code, 0, applied.stderr);
    let r: Fetched = {};
    for (let i = 0; i < 50 && r.status !== 200; i++) {
      r = await fetchFromClient('http://echo.demo:8080/hello');
      if (r.status !== 200) await sleep(100);
    }
    assert.equal(r.status, 200, JSON.stringify(r));
    const seen = JSON.parse(r.body!) as { path: string; pod: string; headers: Record<string, string> };
    assert.equal(seen.pod, 'echo-0');
    assert.equal(seen.path, '/hello');
    assert.equal(seen.headers['x-trellis-peer-identity'], 'spiffe://cluster.local/ns/demo/sa/client');
    for (const url of ['http://echo:8080/short', 'http://echo.demo.svc.cluster.local:8080/long']) {
      const o = await fetchFromClient(url);
      assert.equal(o.status, 200, `${url}: ${JSON.stringify(o)}`);
    }
    // A name the mesh does not have does not resolve; a VIP port no Service has is refused.
    assert.equal((await fetchFromClient('http://nothing.demo:8080/')).error, 'ENOTFOUND');
    assert.equal((await fetchFromClient('http://echo.demo:9999/')).error, 'ECONNREFUSED');
  });

  it('an app cannot reach another instance except through both sidecars', async () => {
    const echo = (await mesh!.instance('demo', 'echo-0')).spec;
    const client = (await mesh!.instance('demo', 'client-0')).spec;
    const hostAddress = echo.address.replace(/\.\d+$/, '.1');
    // From the client app: the echo app port, its sidecar's inbound and admin ports, the host (control plane): all refused.
    for (const port of [echo.ports[0]!.port, echo.ports[0]!.inboundPort, echo.adminPort]) {
      assert.deepEqual(await call(`/connect?host=${echo.address}&port=${port}`), { result: 'ECONNREFUSED' }, `echo port ${port}`);
    }
    const { xdsPort } = JSON.parse(fs.readFileSync(path.join(stateDir, 'mesh.json'), 'utf8')) as { xdsPort: number };
    assert.deepEqual(await call(`/connect?host=${hostAddress}&port=${xdsPort}`), { result: 'ECONNREFUSED' }, 'control plane');
    assert.deepEqual(await call(`/connect?host=127.0.0.1&port=${client.adminPort}`), { result: 'connected' }, 'its own loopback is fine');

    // Even a process that gets past the client's OUTPUT rules (it has the sidecar's group) meets the echo
    // namespace's rules: the app port is captured by the sidecar, which wants mTLS; admin is closed.
    const netns = (await mesh!.instance('demo', 'client-0')).metadata.annotations['trellis.dev/netns']!;
    const script = `
      const net = require('node:net');
      const [host, ...ports] = process.argv.slice(1);
      const attempt = (port) => new Promise((resolve) => {
        const s = net.connect(Number(port), host);
        let data = '';
        s.setTimeout(12000, () => { s.destroy(); resolve('timeout'); });
        s.on('connect', () => s.write('GET / HTTP/1.1\\r\\nHost: echo\\r\\n\\r\\n'));
        s.on('data', (d) => (data += d));
        s.on('error', (e) => resolve(e.code));
        s.on('close', () => resolve(data ? 'answered: ' + data.split('\\r\\n')[0] : 'closed without an answer'));
      });
      (async () => { const out = {}; for (const p of ports) out[p] = await attempt(p); console.log(JSON.stringify(out)); })();
    `;
    const got = JSON.parse(
      await nodeInNamespace(netns, script, [echo.address, String(echo.ports[0]!.port), String(echo.ports[0]!.inboundPort), String(echo.adminPort)], { gid: proxyGid() }),
    ) as Record<string, string>;
    assert.equal(got[echo.ports[0]!.port], 'closed without an answer', 'app port → sidecar inbound, plaintext refused');
    assert.equal(got[echo.ports[0]!.inboundPort], 'closed without an answer', 'inbound port without mTLS');
    assert.equal(got[echo.adminPort], 'ECONNREFUSED', 'admin port');
  });

  it('trellis exec runs a command inside the instance namespace, captured like the app', async () => {
    const r = await runCli(
      [
        'exec', 'client', '-n', 'demo', '--',
        process.execPath, '-e',
        `require('node:http').get('http://echo.demo:8080/from-exec', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, proxy: process.env.HTTP_PROXY ?? null, body: b }))); }).on('error', (e) => { console.log(JSON.stringify({ error: e.code })); });`,
      ],
      { TRELLIS_STATE_DIR: stateDir, TRELLIS_HOME: stateDir },
    );
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout) as { status: number; proxy: string | null; body: string };
    assert.equal(o.status, 200, r.stdout);
    assert.equal(o.proxy, null);
    assert.equal((JSON.parse(o.body) as { headers: Record<string, string> }).headers['x-trellis-peer-identity'], 'spiffe://cluster.local/ns/demo/sa/client');
  });

  it('leaves no namespace, link, /etc/netns entry or rule after it stops', async () => {
    assert.ok(leftovers(stateDir).length >= 3, 'bridge, two namespaces while running');
    assert.equal(await mesh!.stop(), 0);
    mesh = undefined;
    assert.deepEqual(leftovers(stateDir), []);
    assert.ok(!fs.existsSync(path.join(stateDir, 'netns', 'network.json')));
  });
});

describe('isolated mode after a crash', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let stateDir: string;
  let mesh: IsolatedMesh | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-netns-crash-'));
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-netns-crash-state-'));
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), echoMesh({ clientApp: ECHO_APP, allowClient: false }));
  });

  after(async () => {
    await mesh?.stop().catch(() => mesh?.process.kill('SIGKILL'));
    forceCleanup(stateDir);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('a new trellis up removes what a SIGKILLed one left, and its own on exit', async () => {
    mesh = await startIsolatedMesh(dir, stateDir);
    const before = leftovers(stateDir);
    assert.ok(before.some((l) => l.startsWith('netns ')), before.join(', '));
    await mesh.stop('SIGKILL');
    mesh = undefined;
    await sleep(200);
    assert.deepEqual(leftovers(stateDir).sort(), before.sort(), 'a killed runner cannot clean up');

    mesh = await startIsolatedMesh(dir, stateDir);
    assert.ok(mesh.output.some((l) => /^cleaning up namespace tr-[0-9a-f]{6}-\d+ left by an earlier run$/.test(l)), mesh.output.join('\n'));
    const now = leftovers(stateDir);
    assert.equal(now.filter((l) => l.startsWith('netns ')).length, 2, now.join(', '));
    assert.equal(await mesh.stop(), 0);
    mesh = undefined;
    assert.deepEqual(leftovers(stateDir), []);
  });
});

describe('isolated mode without root', { timeout: 30_000 }, () => {
  it('says that it needs root and how process mode differs', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-netns-noroot-'));
    try {
      fs.chmodSync(dir, 0o755);
      const argv = [process.execPath, TRELLIS_BIN, 'up', dir, '--isolation', 'netns'];
      // As root, become nobody for this one command (when setpriv exists); otherwise we are not root already.
      const isRoot = process.getuid?.() === 0;
      if (isRoot && spawnSync('setpriv', ['--version']).status !== 0) return t.skip('root without setpriv: cannot run as another user');
      const [cmd, ...args] = isRoot ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', ...argv] : argv;
      const r = spawnSync(cmd!, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, TRELLIS_HOME: dir } });
      if (isRoot && /EACCES|permission denied/i.test(r.stderr)) return t.skip('the repository is not readable by nobody');
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stdout, /isolated mode \(--isolation netns\) needs root/);
      assert.match(r.stdout, /Process mode \(the default, without --isolation\) needs no root .*127\.0\.0\.1/);
      assert.ok(!fs.existsSync(path.join(dir, '.trellis')), 'nothing was started');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
