// examples/redis-lab end to end, with a real redis-server in namespace d, in
// both isolation modes. Every request comes in through the lab's ingress
// gateway (a/ingress, mesh/a-gateway.yaml) from the host:
//   case 1  /count/get        gateway (a) → apache (b) → counter (c) → Redis (d)   works
//   case 2  /redis/GET/time   gateway (a) → apache (b) → Redis (d) directly   fails:
//           d's sidecar closes b's connection (no TrafficTarget allows
//           b/apache), apache answers 502 naming the closed connection, and d's
//           sidecar counts a denial for b's identity
// before and after a restart of everything (stop the mesh, `up` again on the
// same state directory), and nothing is left once it stops.
// allow-apache-redis.yaml shows case 2 fails because of the mesh: with it,
// case 2 answers; without it, it fails again.
//
// Process mode (`trellis up`): the apps reach the mesh through HTTP_PROXY and
// the upstream port for redis.d:6379; nothing stops b from opening Redis's app
// port on the shared loopback (shown, as the reason isolated mode exists).
// Isolated mode (`trellis up --isolation netns`, root and iptables; skipped
// with the reason otherwise): the apps use plain counter.c:80 and
// redis.d:6379, and b cannot reach Redis even by address: only through its
// sidecar, which d's sidecar refuses.
//
// The lab is run from a temporary copy of examples/redis-lab/mesh whose only
// changes are the gateway's listener port (a free one instead of 18480, so two
// runs, or a lab left running, never clash) and workingDir (absolute, pointing
// at the example's apps).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AdminClient } from '../../src/cli/admin-client.js';
import { netnsUnavailableReason } from '../../src/local/netns/prerequisites.js';
import { listenerPorts } from '../support/ports.js';
import { statePaths } from '../../src/local/state-dir.js';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { eventually, processAlive, runCli, startMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';
import { missingSystemPackages } from '../support/system.js';
import { forceCleanup, leftovers, startIsolatedMesh } from './netns/harness.js';

const example = path.join(examplesDir, 'redis-lab');
const allowFile = path.join(example, 'allow-apache-redis.yaml');
/** The gateway listener port in mesh/a-gateway.yaml (the README documents it). */
const LAB_GATEWAY_PORT = 18480;
const APACHE = 'spiffe://cluster.local/ns/b/sa/apache';
const INGRESS = 'spiffe://cluster.local/ns/a/sa/ingress';

export interface LabOptions {
  /** `process` (the default of `trellis up`) or `netns` (`trellis up --isolation netns`). */
  isolation: 'process' | 'netns';
}

/** What the suite needs of a running mesh, in either mode. */
interface Lab {
  client: AdminClient;
  instance(namespace: string, name: string): Promise<WorkloadInstanceResource>;
  /** Runs the CLI against this mesh (`trellis exec`). */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Pids of every process the runner started (its pids file), by name. */
  pids(): Record<string, number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill(): void;
}

interface Answer {
  status: number;
  body: string;
  json?: Record<string, unknown>;
}

/** Every process `up` starts for the lab: the control plane, the gateway proxy, three apps with their sidecars. */
const LAB_PROCESSES = [
  'a/ingress-gateway-0 proxy',
  'b/apache-0',
  'b/apache-0 proxy',
  'c/counter-0',
  'c/counter-0 proxy',
  'control-plane',
  'd/redis-0',
  'd/redis-0 proxy',
];

/** A copy of the example's mesh/ with the gateway on `port`; the apps stay where they are. */
function copyLab(port: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-redis-lab-'));
  fs.mkdirSync(path.join(dir, 'mesh'));
  let workingDirs = 0;
  let ports = 0;
  for (const f of fs.readdirSync(path.join(example, 'mesh'))) {
    let text = fs.readFileSync(path.join(example, 'mesh', f), 'utf8');
    text = text.replace(/^(\s*)workingDir: \.\.$/gm, (_, indent: string) => (workingDirs++, `${indent}workingDir: ${JSON.stringify(example)}`));
    if (f === 'a-gateway.yaml') text = text.replace(new RegExp(`^(\\s*)port: ${LAB_GATEWAY_PORT}$`, 'gm'), (_, indent: string) => (ports++, `${indent}port: ${port}`));
    fs.writeFileSync(path.join(dir, 'mesh', f), text);
  }
  assert.equal(workingDirs, 2, 'apache and counter run from the example folder (workingDir: ..)');
  assert.equal(ports, 1, `mesh/a-gateway.yaml has one listener on port ${LAB_GATEWAY_PORT}`);
  return dir;
}

async function startLab(opts: LabOptions, dir: string, stateDir: string): Promise<Lab> {
  const pids = () => {
    try {
      return JSON.parse(fs.readFileSync(statePaths(stateDir).pids, 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  };
  if (opts.isolation === 'process') {
    const mesh = await startMesh(dir, { stateDir, readyTimeoutMs: 60_000 });
    return { client: mesh.client, instance: mesh.instance, cli: mesh.cli, pids, stop: mesh.stop, kill: () => mesh.process.kill('SIGKILL') };
  }
  const mesh = await startIsolatedMesh(dir, stateDir, 60_000);
  return {
    client: mesh.client,
    instance: mesh.instance,
    cli: (...args) => runCli(args, { TRELLIS_HOME: stateDir, TRELLIS_STATE_DIR: stateDir }),
    pids,
    stop: mesh.stop,
    kill: () => mesh.process.kill('SIGKILL'),
  };
}

/** GET http://127.0.0.1:<port><p>: the gateway's listener on the host. */
function get(port: number, p: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const answer: Answer = { status: res.statusCode ?? 0, body };
        try {
          answer.json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          // not JSON (a mesh answer)
        }
        resolve(answer);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

/** Sum of a counter on a sidecar's admin /stats, at the instance's address (127.0.0.1, or its namespace's address). */
async function metric(inst: WorkloadInstanceResource, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${inst.spec.address}:${inst.spec.adminPort}/stats`, { signal: AbortSignal.timeout(5000) })).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

/** A Node one-liner for `trellis exec`: for each host:port argument, connect, send a Redis PING, report what happened. */
const PROBE = `
const net = require('node:net');
const attempt = (host, port) => new Promise((resolve) => {
  const s = net.connect(Number(port), host);
  let data = '';
  s.setTimeout(5000, () => { s.destroy(); resolve('timeout'); });
  s.on('connect', () => s.write('*1\\r\\n$4\\r\\nPING\\r\\n'));
  s.on('data', (d) => { data += d; if (data.includes('\\r\\n')) s.end(); });
  s.on('error', (e) => resolve(e.code || e.message));
  s.on('close', () => resolve(data ? 'answered ' + data.trim() : 'closed without an answer'));
});
(async () => {
  const out = {};
  for (const a of process.argv.slice(1)) { const i = a.lastIndexOf(':'); out[a] = await attempt(a.slice(0, i), a.slice(i + 1)); }
  console.log(JSON.stringify(out));
})();
`;

export function redisLabSuite(opts: LabOptions, skip: string | false | undefined = false): void {
  describe(`examples/redis-lab (${opts.isolation} mode)`, { timeout: 170_000, skip: skip || false }, () => {
    let mesh: Lab | undefined;
    let dir: string;
    let stateDir: string;
    let port: number;

    const lab = () => {
      assert.ok(mesh, 'the lab is running');
      return mesh;
    };
    const fromGateway = (p: string) => get(port, p);

    /** Case 1: b → c → d works, and the count moves. */
    const expectCase1 = async () => {
      const first = await fromGateway('/count/get');
      assert.equal(first.status, 200, first.body);
      assert.equal(typeof first.json?.count, 'number', first.body);
      const set = await fromGateway('/count/set');
      assert.equal(set.status, 200, set.body);
      assert.equal(set.json?.count, (first.json!.count as number) + 1);
      const again = await fromGateway('/count/get');
      assert.equal(again.json?.count, set.json?.count);
      const version = await fromGateway('/count/version');
      assert.equal(version.status, 200, version.body);
      assert.match(String(version.json?.redis), /^\d+\.\d+/, 'the counter read redis_version from Redis');
    };

    /** Case 2: b → d directly fails with an error naming the closed connection, and d's sidecar counts the denial. */
    const expectCase2Fails = async () => {
      const redis = await lab().instance('d', 'redis-0');
      const deniedBefore = await metric(redis, 'trellis_denied_total', { source: APACHE, reason: 'rbac' });
      const r = await fromGateway('/redis/GET/time');
      assert.equal(r.status, 502, r.body);
      // Process mode: "... at redis.d:6379 (sidecar upstream port 127.0.0.1:N) failed: ECLOSED 127.0.0.1:N closed ...";
      // isolated mode: "... at redis.d:6379 failed: ECLOSED redis.d:6379 closed ...".
      const how = opts.isolation === 'process' ? ' \\(sidecar upstream port 127\\.0\\.0\\.1:\\d+\\)' : '';
      assert.match(String(r.json?.error), new RegExp(`^GET on Redis at redis\\.d:6379${how} failed: .*(closed the connection|ECONNRESET)`), r.body);
      await eventually(
        async () => (await metric(redis, 'trellis_denied_total', { source: APACHE, reason: 'rbac' })) > deniedBefore,
        5000,
        `d's sidecar counted a denial for ${APACHE}`,
      );
    };

    /** Runs PROBE in an instance of `workload` with `trellis exec` (inside its namespace in isolated mode). */
    const probeFrom = async (workload: string, ns: string, targets: string[]): Promise<Record<string, string>> => {
      const r = await lab().cli('exec', workload, '-n', ns, '--', process.execPath, '-e', PROBE, ...targets);
      assert.equal(r.code, 0, `trellis exec ${workload} -n ${ns}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, string>;
    };

    /** Isolated mode: b reaches Redis neither by name nor by address; c does by name. */
    const expectNoBypass = async () => {
      const redis = (await lab().instance('d', 'redis-0')).spec;
      const app = `${redis.address}:${redis.ports[0]!.port}`;
      const inbound = `${redis.address}:${redis.ports[0]!.inboundPort}`;
      const sameLoopback = `127.0.0.1:${redis.ports[0]!.port}`;
      // b's own upstream port for redis.d:6379 (mesh/b-apache.yaml) leads to its sidecar too.
      const apache = (await lab().instance('b', 'apache-0')).spec;
      const upstream = apache.upstreams.find((u) => u.service === 'redis' && u.namespace === 'd');
      assert.ok(upstream, 'b has an upstream port for redis.d:6379');
      const viaUpstream = `127.0.0.1:${upstream.localPort}`;
      const fromB = await probeFrom('apache', 'b', ['redis.d:6379', viaUpstream, app, inbound, sameLoopback]);
      assert.deepEqual(
        fromB,
        {
          'redis.d:6379': 'closed without an answer', // b's sidecar → d's sidecar, which refuses b/apache
          [viaUpstream]: 'closed without an answer', // the same way, by b's upstream port
          [app]: 'ECONNREFUSED', // Redis's app port at d's address: refused in b's namespace
          [inbound]: 'ECONNREFUSED', // d's sidecar inbound port, not through b's sidecar: refused too
          [sameLoopback]: 'ECONNREFUSED', // b's loopback is its own: Redis is not on it
        },
        JSON.stringify(fromB),
      );
      assert.deepEqual(await probeFrom('counter', 'c', ['redis.d:6379']), { 'redis.d:6379': 'answered +PONG' }, 'c may: redis-allow-counter');
    };

    /** Every process gone, the gateway port free again and, in isolated mode, no namespace, link or rule left. */
    const expectNothingLeft = async (pids: number[]) => {
      await eventually(() => pids.every((pid) => !processAlive(pid)), 5000, 'every process of the lab stopped');
      await eventually(async () => (await freePortIs(port)) === true, 5000, `the gateway listener 127.0.0.1:${port} is closed`);
      if (opts.isolation === 'netns') {
        assert.deepEqual(leftovers(stateDir), [], 'no namespace, link, /etc/netns entry or host rule left');
        assert.ok(!fs.existsSync(path.join(stateDir, 'netns', 'network.json')), 'network.json removed');
      }
    };

    /** Stops the lab with Ctrl-C; returns the pids it had. */
    const stopLab = async (): Promise<number[]> => {
      const pids = lab().pids();
      assert.deepEqual(Object.keys(pids).sort(), LAB_PROCESSES, 'the processes of the lab');
      const m = mesh!;
      mesh = undefined;
      assert.equal(await m.stop('SIGINT'), 0, 'trellis up exits 0 on Ctrl-C');
      return Object.values(pids);
    };

    before(async () => {
      [port] = await listenerPorts(1);
      dir = copyLab(port!);
      stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-redis-lab-state-'));
      mesh = await startLab(opts, dir, stateDir);
      // The counter connects to Redis in the background after its start.
      await eventually(async () => (await fromGateway('/count/get')).status === 200, 30_000, 'case 1 answers');
    });

    after(async () => {
      if (mesh) await mesh.stop().catch(() => mesh?.kill());
      if (opts.isolation === 'netns' && stateDir) forceCleanup(stateDir);
      for (const d of [dir, stateDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    });

    it('the ingress gateway a/ingress runs with its own identity and routes to apache in b', async () => {
      const gw = await lab().instance('a', 'ingress-gateway-0');
      assert.equal(gw.spec.gateway, 'a/ingress');
      assert.equal(gw.spec.serviceAccountName, 'ingress');
      // b's sidecar sees the gateway's requests arrive with the gateway's identity.
      const apache = await lab().instance('b', 'apache-0');
      const fromIngress = { direction: 'inbound', source_identity: INGRESS };
      const served = await metric(apache, 'trellis_requests_total', fromIngress);
      assert.equal((await fromGateway('/healthz')).body, 'ok\n');
      await eventually(async () => (await metric(apache, 'trellis_requests_total', fromIngress)) > served, 5000, `b's sidecar served a request from ${INGRESS}`);
      if (opts.isolation === 'netns') {
        for (const [ns, name] of [['b', 'apache-0'], ['c', 'counter-0'], ['d', 'redis-0']] as const) {
          const i = await lab().instance(ns, name);
          assert.equal(i.metadata.annotations['trellis.dev/isolation'], 'netns', `${ns}/${name} has a namespace of its own`);
          assert.match(i.spec.address, /^198\.18\.\d+\.\d+$/);
        }
      }
    });

    it('case 1: /count/get through b reaches c, which reaches Redis in d', async () => {
      await expectCase1();
      const reset = await fromGateway('/count/reset');
      assert.equal(reset.status, 200, reset.body);
      assert.equal((await fromGateway('/count/get')).json?.count, 0);
    });

    it('case 2: /redis/GET/time through b fails: d accepts connections from c only', async () => {
      await expectCase2Fails();
    });

    if (opts.isolation === 'netns') {
      it('nothing bypasses the mesh: b cannot reach Redis by name or by address, c can by name', async () => {
        await expectNoBypass();
      });
    } else {
      it("process mode does not stop b from opening Redis's app port on the shared loopback (what isolated mode is for)", async () => {
        const redis = (await lab().instance('d', 'redis-0')).spec;
        const direct = `127.0.0.1:${redis.ports[0]!.port}`;
        assert.deepEqual(await probeFrom('apache', 'b', [direct]), { [direct]: 'answered +PONG' });
      });
    }

    it('case 2 answers once allow-apache-redis.yaml lets b in, and fails again when it is deleted', async () => {
      const allow = { files: [{ path: 'allow-apache-redis.yaml', content: fs.readFileSync(allowFile, 'utf8') }] };
      const set = await fromGateway('/count/set');
      assert.equal(set.status, 200, set.body);
      await lab().client.apply(allow);
      try {
        await eventually(async () => (await fromGateway('/redis/GET/time')).status === 200, 10_000, 'case 2 allowed');
        const r = await fromGateway('/redis/GET/time');
        assert.deepEqual(r.json, { GET: set.json?.time }, 'the time the counter wrote');
      } finally {
        await lab().client.delete(allow);
      }
      await eventually(async () => (await fromGateway('/redis/GET/time')).status === 502, 10_000, 'case 2 refused again');
      await expectCase1();
    });

    it('after a restart of everything (stop, `up` again on the same state) case 1 works and case 2 fails', async () => {
      await expectNothingLeft(await stopLab());

      mesh = await startLab(opts, dir, stateDir);
      await eventually(async () => (await fromGateway('/count/get')).status === 200, 30_000, 'case 1 answers after the restart');
      // Redis keeps nothing on disk (--save ''): the count starts again.
      assert.equal((await fromGateway('/count/get')).json?.count, 0);
      await expectCase1();
      await expectCase2Fails();
      if (opts.isolation === 'netns') await expectNoBypass();
    });

    it('leaves nothing behind when it stops', async () => {
      await expectNothingLeft(await stopLab());
    });
  });
}

/** True when 127.0.0.1:port can be bound (nothing listens there). */
function freePortIs(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = http.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const needs = missingSystemPackages(['redis-server']);
redisLabSuite({ isolation: 'process' }, needs);
// Skipped with the reason (e.g. "isolated mode (--isolation netns) needs root: ...") when it cannot run here.
redisLabSuite({ isolation: 'netns' }, needs || netnsUnavailableReason());
