// trellis: the real mesh. `trellis up` on a generated folder: nginx stands in
// as the app of Workload "upstream" (pinned port, `sleep infinity` as its
// command), Workload "client" has an explicit upstream port to the Service,
// access control on (default deny + one TrafficTarget allowing everything
// from client to upstream).

import fs from 'node:fs';
import path from 'node:path';
import { isAlive, sleep, startProcess, trackPid } from '../procs.js';
import type { PairContext, RunningPair } from './types.js';

export function trellisManifests(nginxPort: number): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: bench }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: upstream, namespace: bench }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: client, namespace: bench }
---
# Like the HAProxy and node-http-proxy pairs: no per-request logs or traces
# (metrics stay on). Local mode's defaults (access log on, 100 % sampling)
# are for development; their cost is measured in docs/observability.md.
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  tracing: { samplingPercent: 0 }
  accessLog: { enabled: false }
---
apiVersion: v1
kind: Service
metadata: { name: upstream, namespace: bench }
spec:
  selector: { app: upstream }
  ports: [{ name: http, port: 8080, targetPort: http }]
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: upstream, namespace: bench, labels: { app: upstream } }
spec:
  serviceAccountName: upstream
  command: ["sleep", "infinity"]
  ports: [{ name: http, port: ${nginxPort} }]
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: client, namespace: bench, labels: { app: client } }
spec:
  serviceAccountName: client
  command: ["sleep", "infinity"]
  upstreams: [{ service: upstream, port: 8080 }]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: { name: everything, namespace: bench }
spec:
  matches: [{ name: all, pathRegex: ".*", methods: ["*"] }]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: client-to-upstream, namespace: bench }
spec:
  destination: { kind: ServiceAccount, name: upstream, namespace: bench }
  rules: [{ kind: HTTPRouteGroup, name: everything, matches: [all] }]
  sources: [{ kind: ServiceAccount, name: client, namespace: bench }]
`;
}

interface InstanceItem {
  metadata: { name: string; namespace: string };
  spec: { workload?: string; upstreams?: { service: string; port: number; localPort: number }[] };
}

export async function startTrellis(ctx: PairContext): Promise<RunningPair> {
  const dir = path.join(ctx.workDir, 'trellis');
  const manifestDir = path.join(dir, 'mesh');
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(manifestDir, { recursive: true });
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(path.join(manifestDir, 'bench.yaml'), trellisManifests(ctx.upstreamPort));

  const runner = startProcess('trellis up', process.execPath, [path.join(ctx.repoRoot, 'bin', 'trellis.js'), 'up', manifestDir, '--state-dir', stateDir, '--quiet'], {
    cwd: ctx.repoRoot,
    env: { ...process.env, TRELLIS_HOME: stateDir, TRELLIS_LOG_LEVEL: 'warn' },
  });
  const readPids = (): Record<string, number> => {
    try {
      return JSON.parse(fs.readFileSync(path.join(stateDir, 'pids.json'), 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  };
  let lastPids: Record<string, number> = {};
  const stop = async () => {
    lastPids = { ...lastPids, ...readPids() };
    await runner.stop('SIGINT', 10_000);
    // Anything the runner left behind (it should leave nothing).
    for (const pid of Object.values(lastPids)) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  };
  try {
    const deadline = Date.now() + 90_000;
    while (!runner.output.some((l) => l.startsWith('all ready'))) {
      if (runner.hasExited()) throw new Error(`trellis up exited:\n${runner.output.slice(-40).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`trellis up not ready in 90 s:\n${runner.output.slice(-40).join('\n')}`);
      await sleep(100);
    }
    lastPids = readPids();
    for (const pid of Object.values(lastPids)) trackPid(pid);
    const meshInfo = JSON.parse(fs.readFileSync(path.join(stateDir, 'mesh.json'), 'utf8')) as { adminUrl: string };
    const res = await fetch(`${meshInfo.adminUrl}/v1/resources?kind=WorkloadInstance&namespace=bench`);
    if (!res.ok) throw new Error(`admin API: GET /v1/resources answered ${res.status}: ${await res.text()}`);
    const { items } = (await res.json()) as { items: InstanceItem[] };
    const client = items.find((i) => i.spec.workload === 'client' || i.metadata.name.startsWith('client-'));
    const localPort = client?.spec.upstreams?.[0]?.localPort;
    if (!client || !localPort) throw new Error(`no client instance with an upstream localPort in ${JSON.stringify(items)}`);
    const pidOf = (prefix: string) => {
      const key = Object.keys(lastPids).find((k) => k.startsWith(`bench/${prefix}-`) && k.endsWith(' proxy'));
      if (!key) throw new Error(`no "${prefix}" proxy in pids.json: ${JSON.stringify(lastPids)}`);
      return lastPids[key]!;
    };
    return {
      name: 'trellis',
      url: `http://127.0.0.1:${localPort}`,
      port: localPort,
      proxies: [
        { role: 'client', pid: pidOf('client') },
        { role: 'server', pid: pidOf('upstream') },
      ],
      notes: ['trellis: real control plane (`trellis up`), MeshConfig with STRICT mTLS, access mode deny, tracing sampling 0 and access log off (metrics on), one TrafficTarget + HTTPRouteGroup allowing every path and method; load enters at the client sidecar\'s explicit upstream port.'],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
