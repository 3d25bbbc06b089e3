// Control-plane scale: the real control-plane process with 1,000 services and
// 10,000 endpoints, 500 simulated proxies on the real protocol (bootstrap
// token → certificate → mTLS stream). Measures the time from the apply of a
// TrafficSplit change (admin API) to each proxy's ACK of the new version, and
// the control plane's RSS.
//
// Simulated proxies read the version of a full snapshot from its first bytes
// (parsing 500 copies of a multi-megabyte snapshot in one process would
// measure this process, not the control plane); deltas they parse whole and
// check against the version they hold, then ACK, as a real proxy does.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createBootstrapToken } from '../src/identity/bootstrap.js';
import { generateKeyPair } from '../src/identity/key-pair.js';
import { CONTROL_PLANE_SERVER_NAME } from '../src/control-plane/protocol.js';
import { statePaths } from '../src/local/state-dir.js';

/** VmRSS and VmHWM (peak) of a process, MB. */
function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONTROL_PLANE_MAIN = path.join(distRoot, 'src', 'control-plane', 'main.js');

export interface ControlPlaneScaleResult {
  services: number;
  endpoints: number;
  proxies: number;
  /** Per proxy: apply → ACK of the change. */
  p50Ms: number;
  p99Ms: number;
  /** Per change: apply → the last proxy's ACK. */
  lastAckP50Ms: number;
  lastAckP99Ms: number;
  rssMb: number;
  peakRssMb: number;
  notes: string[];
}

const NAMESPACES = 10;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
}

function meshObjects(services: number, perService: number) {
  const objects: unknown[] = [];
  for (let n = 0; n < NAMESPACES; n++) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${n}` } });
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: ns },
      spec: { selector: { app: `svc-${i}` }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
    });
    objects.push({
      apiVersion: 'specs.smi-spec.io/v1alpha4',
      kind: 'HTTPRouteGroup',
      metadata: { name: `routes-${i}`, namespace: ns },
      spec: { matches: [{ name: 'api', pathRegex: '/api/.*', methods: ['GET', 'POST'] }] },
    });
    objects.push({
      apiVersion: 'access.smi-spec.io/v1alpha3',
      kind: 'TrafficTarget',
      metadata: { name: `allow-${i}`, namespace: ns },
      spec: {
        destination: { kind: 'ServiceAccount', name: `sa-${i}`, namespace: ns },
        rules: [{ kind: 'HTTPRouteGroup', name: `routes-${i}` }],
        sources: [{ kind: 'ServiceAccount', name: `sa-${(i + NAMESPACES) % services}`, namespace: ns }],
      },
    });
  }
  const instances: { proxyId: string; ns: string; sa: string; obj: unknown }[] = [];
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    for (let r = 0; r < perService; r++) {
      const name = `svc-${i}-${r}`;
      const base = 20000 + (i * perService + r) * 4;
      instances.push({
        proxyId: `${ns}/${name}`,
        ns,
        sa: `sa-${i}`,
        obj: {
          apiVersion: 'trellis.dev/v1alpha1',
          kind: 'WorkloadInstance',
          metadata: { name, namespace: ns },
          spec: {
            workload: `svc-${i}`,
            index: r,
            serviceAccountName: `sa-${i}`,
            labels: { app: `svc-${i}` },
            zone: `zone-${r % 3}`,
            address: '127.0.0.1',
            ports: [{ name: 'http', port: base, inboundPort: base + 1 }],
            outboundPort: base + 2,
            adminPort: base + 3,
            upstreams: [],
            ready: true,
          },
        },
      });
    }
  }
  return { objects, instances };
}

const split = (i: number) => ({
  apiVersion: 'split.smi-spec.io/v1alpha4',
  kind: 'TrafficSplit',
  metadata: { name: 'canary', namespace: 'ns-0' },
  spec: { service: 'svc-0', backends: [{ service: 'svc-0', weight: 100 - i }, { service: 'svc-10', weight: i }] },
});

const FULL_PREFIX = '{"type":"snapshot","snapshot":{"version":"';

class SimulatedProxy {
  version = '';
  private socket: tls.TLSSocket | undefined;
  onVersion: ((version: string) => void) | undefined;

  constructor(readonly id: string, private readonly port: number, private readonly ca: string) {}

  /** Bootstrap with the token, then hold the mTLS stream until the first snapshot arrives. */
  async connect(token: string): Promise<void> {
    const key = generateKeyPair();
    const cert = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: this.port, ca: this.ca, servername: CONTROL_PLANE_SERVER_NAME, minVersion: 'TLSv1.3' }, () =>
        s.write(JSON.stringify({ type: 'hello', proxyId: this.id, token, csr: key.publicKeyPem }) + '\n'),
      );
      readline.createInterface({ input: s }).once('line', (line) => {
        const m = JSON.parse(line) as { type: string; certPem?: string; message?: string };
        s.end();
        if (m.certPem) resolve(m.certPem);
        else reject(new Error(m.message ?? 'no certificate'));
      });
      s.on('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port: this.port, ca: this.ca, key: key.privateKeyPem, cert, servername: CONTROL_PLANE_SERVER_NAME, minVersion: 'TLSv1.3' },
        () => s.write(JSON.stringify({ type: 'hello', proxyId: this.id }) + '\n'),
      );
      this.socket = s;
      s.on('error', reject);
      readline.createInterface({ input: s, crlfDelay: Infinity }).on('line', (line) => {
        let version: string;
        if (line.startsWith(FULL_PREFIX)) {
          version = line.slice(FULL_PREFIX.length, line.indexOf('"', FULL_PREFIX.length));
        } else {
          const m = JSON.parse(line) as { type: string; version?: string; base?: string };
          if (m.type !== 'delta' || !m.version) return;
          if (m.base !== this.version) {
            s.write('{"type":"resync"}\n');
            return;
          }
          version = m.version;
        }
        this.version = version;
        s.write(JSON.stringify({ type: 'ack', version }) + '\n');
        this.onVersion?.(version);
        resolve();
      });
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function runControlPlaneScale(opts: { smoke: boolean }): Promise<ControlPlaneScaleResult> {
  const services = Number(process.env.BENCH_CP_SERVICES ?? (opts.smoke ? 50 : 1000));
  const perService = 10;
  const proxyCount = Number(process.env.BENCH_CP_PROXIES ?? (opts.smoke ? 20 : 500));
  const changes = Number(process.env.BENCH_CP_CHANGES ?? (opts.smoke ? 3 : 20));
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-cp-scale-'));
  // BENCH_CPU_PROF=DIR writes a CPU profile of the control plane there.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // The simulated proxies serve no /stats: metrics collection would only measure refused scrapes.
  const cp = spawn(process.execPath, [...prof, CONTROL_PLANE_MAIN, '--state-dir', stateDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TRELLIS_METRICS_INTERVAL_MS: '0' },
  });
  const proxies: SimulatedProxy[] = [];
  try {
    const ports = await new Promise<{ adminPort: number; xdsPort: number }>((resolve, reject) => {
      readline.createInterface({ input: cp.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
      cp.once('exit', (code) => reject(new Error(`control plane exited with ${code}`)));
    });
    const admin = `http://127.0.0.1:${ports.adminPort}`;
    const { objects, instances } = meshObjects(services, perService);
    for (let i = 0; i < objects.length; i += 1000) await post(`${admin}/v1/apply`, { objects: objects.slice(i, i + 1000) });
    for (let i = 0; i < instances.length; i += 1000) {
      await post(`${admin}/v1/apply`, { objects: instances.slice(i, i + 1000).map((x) => x.obj) });
    }
    await post(`${admin}/v1/apply`, { objects: [split(0)] });

    const paths = statePaths(stateDir);
    const secret = fs.readFileSync(paths.secret);
    const ca = fs.readFileSync(path.join(paths.ca, 'roots.pem'), 'utf8');
    // Proxies spread over every namespace and service.
    const chosen = Array.from({ length: proxyCount }, (_, k) => instances[Math.floor((k * instances.length) / proxyCount)]!);
    await pool(chosen, 25, async (inst) => {
      const p = new SimulatedProxy(inst.proxyId, ports.xdsPort, ca);
      proxies.push(p);
      await p.connect(createBootstrapToken(secret, { proxyId: inst.proxyId, namespace: inst.ns, serviceAccount: inst.sa }));
    });

    const perProxy: number[] = [];
    const lastAck: number[] = [];
    for (let c = 1; c <= changes; c++) {
      await new Promise((r) => setTimeout(r, 200));
      const before = new Map(proxies.map((p) => [p, p.version]));
      const acked: number[] = [];
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${acked.length} of ${proxies.length} proxies acked change ${c} within 30 s`)), 30_000);
        for (const p of proxies) {
          p.onVersion = (v) => {
            if (v === before.get(p)) return;
            p.onVersion = undefined;
            acked.push(performance.now() - t0);
            if (acked.length === proxies.length) {
              clearTimeout(timer);
              resolve();
            }
          };
        }
      });
      const t0 = performance.now();
      await post(`${admin}/v1/apply`, { objects: [split(c % 100)] });
      await done;
      perProxy.push(...acked);
      lastAck.push(Math.max(...acked));
    }
    perProxy.sort((a, b) => a - b);
    lastAck.sort((a, b) => a - b);
    const rss = rssOf(cp.pid!);
    return {
      services,
      endpoints: instances.length,
      proxies: proxies.length,
      p50Ms: quantile(perProxy, 0.5),
      p99Ms: quantile(perProxy, 0.99),
      lastAckP50Ms: quantile(lastAck, 0.5),
      lastAckP99Ms: quantile(lastAck, 0.99),
      rssMb: rss.rssMb,
      peakRssMb: rss.peakMb,
      notes: [
        `${NAMESPACES} namespaces, ${services} services × ${perService} endpoints, ${services} TrafficTargets with HTTPRouteGroups, ${proxies.length} proxies connected over mTLS; ${changes} TrafficSplit weight changes, each pushed to every proxy as a delta`,
        'simulated proxies take a full snapshot’s version from its first bytes and parse deltas whole before ACKing',
      ],
    };
  } finally {
    for (const p of proxies) p.close();
    cp.kill('SIGTERM');
    await new Promise((r) => cp.once('exit', r));
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

// `node dist/bench/control-plane-scale.js [--smoke]` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  runControlPlaneScale({ smoke: process.argv.includes('--smoke') }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
