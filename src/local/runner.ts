// The local-mode runner: starts the control plane, then keeps every Workload's
// replicas running as processes, each with its sidecar, registered in the
// store as WorkloadInstances so the compiler sees them. It reconciles against
// the Workloads in the store, so `trellis apply` of a Workload starts it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '../cli/admin-client.js';
import { createBootstrapToken, loadOrCreateSecret } from '../identity/bootstrap.js';
import type { GatewayResource, WorkloadInstanceResource, WorkloadResource } from '../resources/types.js';
import { instanceEnv } from './env.js';
import type { NetnsIsolation } from './netns/isolation.js';
import type { ProcessSpec } from './process.js';
import { canConnect, freePorts } from './ports.js';
import { SupervisedProcess } from './process.js';
import { statePaths, type StatePaths } from './state-dir.js';

const distSrc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROXY_MAIN = path.join(distSrc, 'proxy', 'main.js');
const CONTROL_PLANE_MAIN = path.join(distSrc, 'control-plane', 'main.js');

/**
 * V8 flags for sidecars. A 2 MB semi-space (Node's default grows to 16 MB) keeps
 * the young generation small: the proxy's garbage is short-lived, so scavenges
 * stay cheap, and RSS under load is ~10 MB lower (bench/NOTES.md).
 */
const PROXY_NODE_FLAGS = ['--max-semi-space-size=2'];

const RECONCILE_MS = 500;
const PROBE_MS = 250;
/** How long an app waits for its sidecar before starting anyway. */
const APP_HOLD_MS = 15_000;

export interface RunnerOptions {
  stateDir: string;
  trustDomain: string;
  quiet: boolean;
  log: (line: string) => void;
  onControlPlaneStart?: (pid: number) => void;
  /** Isolated mode (`--isolation netns`, src/local/netns): each instance in a network namespace of its own. */
  isolation?: NetnsIsolation;
}

interface Instance {
  key: string;
  workload: WorkloadResource;
  resource: WorkloadInstanceResource;
  /** Undefined for a gateway instance: a proxy without an app. */
  app?: SupervisedProcess;
  proxy: SupervisedProcess;
  /** Readiness as last written to the store. */
  published: boolean;
  publishedStatus?: string;
  ready: boolean;
  /** Consecutive failed probes; a ready instance leaves rotation after FAILURE_THRESHOLD of them. */
  failures?: number;
}

/** Marks the Workload-like entries the runner makes for Gateways. */
const GATEWAY_ANNOTATION = 'trellis.dev/gateway';
export const GATEWAY_URLS_ANNOTATION = 'trellis.dev/gateway-urls';

/** A small positive number that changes when `s` changes (restarts a gateway when its identity changes). */
function hashGeneration(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return (h % 1_000_000) + 1;
}

/** As Kubernetes' readinessProbe failureThreshold: one slow probe on a busy machine does not pull an endpoint. */
const FAILURE_THRESHOLD = 3;

export class LocalRunner {
  readonly paths: StatePaths;
  readonly instances = new Map<string, Instance>();
  controlPlane: SupervisedProcess | undefined;
  client!: AdminClient;
  adminPort = 0;
  xdsPort = 0;
  private timers: NodeJS.Timeout[] = [];
  private reconciling = false;
  private stopped = false;
  private readonly pids = new Map<string, number>();

  constructor(private readonly opts: RunnerOptions) {
    this.paths = statePaths(opts.stateDir);
  }

  /** Starts the control plane and waits until its admin API answers. */
  async startControlPlane(): Promise<void> {
    [this.adminPort, this.xdsPort] = await freePorts(2);
    this.client = new AdminClient(`http://127.0.0.1:${this.adminPort}`, { timeoutMs: 10_000 });
    this.controlPlane = new SupervisedProcess({
      name: 'control-plane',
      command: process.execPath,
      args: [
        CONTROL_PLANE_MAIN,
        '--state-dir', this.opts.stateDir,
        '--admin-port', String(this.adminPort),
        '--xds-port', String(this.xdsPort),
        '--trust-domain', this.opts.trustDomain,
      ],
      env: { ...process.env, TRELLIS_EXIT_WITH_STDIN: '1' },
      holdStdin: true,
      restart: true,
      output: (l) => this.opts.log(`[control-plane] ${l}`),
      onStart: (pid) => {
        this.track('control-plane', pid);
        this.opts.onControlPlaneStart?.(pid);
      },
    });
    this.controlPlane.start();
    await this.waitFor(() => this.client.healthy(), 20_000, 'the control plane did not start');
  }

  /** Reconciles now and then periodically; probes readiness. */
  startReconciling(): void {
    this.timers.push(setInterval(() => void this.reconcile(), RECONCILE_MS));
    this.timers.push(setInterval(() => void this.probe(), PROBE_MS));
  }

  async reconcile(): Promise<void> {
    if (this.reconciling || this.stopped) return;
    this.reconciling = true;
    try {
      const { items } = await this.client.list('Workload');
      await this.opts.isolation?.sync(this.client, this.instances.values()); // isolated mode: VIPs, DNS, transparent upstreams
      const workloads = [...(items as WorkloadResource[]), ...(await this.gatewayWorkloads())];
      const wanted = new Set<string>();
      for (const w of workloads) {
        for (let i = 0; i < w.spec.replicas; i++) {
          const key = `${w.metadata.namespace}/${w.metadata.name}-${i}`;
          wanted.add(key);
          const existing = this.instances.get(key);
          if (existing && existing.workload.metadata.generation === w.metadata.generation) continue;
          if (existing) await this.stopInstance(existing);
          await this.startInstance(w, i);
        }
      }
      for (const [key, inst] of this.instances) if (!wanted.has(key)) await this.stopInstance(inst);
    } catch {
      // The control plane may be restarting; try again on the next tick.
    } finally {
      this.reconciling = false;
    }
  }

  /**
   * Each Gateway runs as a proxy without an app: a Workload-like entry named
   * `<gateway>-gateway` whose instances carry `spec.gateway`. Its generation
   * follows only its identity: listener and route changes arrive as snapshots.
   */
  private async gatewayWorkloads(): Promise<WorkloadResource[]> {
    const { items } = await this.client.list('Gateway');
    return (items as GatewayResource[]).map((gw) => ({
      apiVersion: 'trellis.dev/v1alpha1',
      kind: 'Workload',
      metadata: {
        name: `${gw.metadata.name}-gateway`,
        namespace: gw.metadata.namespace,
        labels: { 'gateway.networking.k8s.io/gateway-name': gw.metadata.name },
        annotations: {
          [GATEWAY_ANNOTATION]: gw.metadata.name,
          // For the readiness table: where to reach it.
          [GATEWAY_URLS_ANNOTATION]: gw.spec.listeners
            .filter((l) => l.protocol === 'HTTP' || l.protocol === 'HTTPS')
            .map((l) => `${l.protocol.toLowerCase()}://${l.hostname && !l.hostname.startsWith('*') ? l.hostname : '127.0.0.1'}:${l.port}/`)
            .join(' '),
        },
        generation: hashGeneration(gw.spec.serviceAccountName),
      },
      spec: { command: [], env: {}, replicas: 1, serviceAccountName: gw.spec.serviceAccountName, ports: [], upstreams: [] },
    }));
  }

  private async startInstance(w: WorkloadResource, index: number): Promise<void> {
    const ns = w.metadata.namespace;
    const name = `${w.metadata.name}-${index}`;
    const key = `${ns}/${name}`;
    const portsNeeded = w.spec.ports.length * 2 + 2 + w.spec.upstreams.length;
    const free = await freePorts(portsNeeded);
    const take = () => free.shift()!;
    const resource: WorkloadInstanceResource = {
      apiVersion: 'trellis.dev/v1alpha1',
      kind: 'WorkloadInstance',
      metadata: { name, namespace: ns, labels: { ...w.metadata.labels }, annotations: { ...w.metadata.annotations } },
      spec: {
        workload: w.metadata.name,
        index,
        serviceAccountName: w.spec.serviceAccountName,
        labels: { ...w.metadata.labels },
        ...(w.spec.zone ? { zone: w.spec.zone } : {}),
        address: '127.0.0.1',
        ports: w.spec.ports.map((p) => {
          const inbound = take();
          const app = take();
          return { name: p.name, port: p.port ?? app, inboundPort: inbound };
        }),
        outboundPort: take(),
        adminPort: take(),
        upstreams: w.spec.upstreams.map((u) => ({ ...u, localPort: u.localPort ?? take() })),
        ready: false,
        ...(w.metadata.annotations[GATEWAY_ANNOTATION] ? { gateway: `${ns}/${w.metadata.annotations[GATEWAY_ANNOTATION]}` } : {}),
      },
    };
    await this.opts.isolation?.prepareInstance(resource, this.xdsPort); // isolated mode: namespace, address, upstreams
    await this.client.apply({ objects: [resource] });

    const secret = loadOrCreateSecret(this.paths.secret);
    const token = createBootstrapToken(secret, { proxyId: key, namespace: ns, serviceAccount: w.spec.serviceAccountName });
    const prefix = `[${key}]`;
    const proxy = new SupervisedProcess(this.isolated('proxy', resource, {
      name: `${key} proxy`,
      command: process.execPath,
      // TRELLIS_PROXY_NODE_ARGS adds Node flags to every sidecar (e.g. --cpu-prof for profiling).
      args: [...PROXY_NODE_FLAGS, ...(process.env.TRELLIS_PROXY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), PROXY_MAIN],
      env: {
        ...process.env,
        TRELLIS_PROXY_ID: key,
        TRELLIS_XDS_ADDRESS: this.opts.isolation?.xdsAddress(resource, this.xdsPort) ?? `127.0.0.1:${this.xdsPort}`,
        TRELLIS_CA_FILE: path.join(this.paths.ca, 'roots.pem'),
        TRELLIS_TOKEN: token,
        TRELLIS_ADMIN_PORT: String(resource.spec.adminPort),
        TRELLIS_LOG_LEVEL: this.opts.quiet ? 'warn' : 'info',
        TRELLIS_EXIT_WITH_STDIN: '1',
        // Spans to the control plane's trace store (an isolated sidecar cannot reach its loopback admin port).
        ...(this.opts.isolation?.xdsAddress(resource, this.xdsPort) ? {} : { TRELLIS_CONTROL_PLANE_URL: `http://127.0.0.1:${this.adminPort}` }),
        TRELLIS_ACCESS_LOG_FILE: process.env.TRELLIS_ACCESS_LOG_FILE === '-' ? '-' : path.join(this.paths.root, 'logs', ns, `${name}.access.log`),
      },
      holdStdin: true,
      restart: true,
      output: (l) => this.opts.log(`${prefix} proxy: ${l}`),
      onStart: (pid) => this.track(`${key} proxy`, pid),
    }));
    const [command, ...args] = w.spec.command;
    const baseDir = w.source?.file ? path.dirname(path.resolve(w.source.file)) : process.cwd();
    const app = command === undefined ? undefined : new SupervisedProcess(this.isolated('app', resource, {
      name: key,
      command,
      args,
      env: { ...process.env, ...instanceEnv(resource, w.spec.env) },
      cwd: path.resolve(baseDir, w.spec.workingDir ?? '.'),
      restart: true,
      output: this.opts.quiet ? undefined : (l) => this.opts.log(`${prefix} ${l}`),
      onStart: (pid) => this.track(key, pid),
    }));
    const inst: Instance = { key, workload: w, resource, app, proxy, published: false, ready: false };
    this.instances.set(key, inst);
    proxy.start();
    // Like Istio's holdApplicationUntilProxyStarts: the app's first calls find a working sidecar.
    void this.waitFor(
      () => fetch(`http://${resource.spec.address}:${resource.spec.adminPort}/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false),
      APP_HOLD_MS,
      'sidecar',
    )
      .catch(() => this.opts.log(`${prefix} sidecar not ready after ${APP_HOLD_MS / 1000} s; starting the app anyway`))
      .then(() => {
        if (this.instances.get(key) === inst) app?.start();
      });
  }

  private async stopInstance(inst: Instance): Promise<void> {
    this.instances.delete(inst.key);
    await Promise.all([inst.app?.stop(), inst.proxy.stop()]);
    await this.opts.isolation?.releaseInstance(inst.resource); // isolated mode: its namespace goes
    this.pids.delete(inst.key);
    this.pids.delete(`${inst.key} proxy`);
    this.writePids();
    await this.client.delete({ refs: [{ kind: 'WorkloadInstance', namespace: inst.resource.metadata.namespace, name: inst.resource.metadata.name }] }).catch(() => {});
  }

  /** Probes every instance: ready = the sidecar's /ready answers 200 and the app accepts connections. */
  async probe(): Promise<void> {
    await Promise.all(
      [...this.instances.values()].map(async (inst) => {
        const s = inst.resource.spec;
        const [proxyReady, appReady] = await Promise.all([
          fetch(`http://${s.address}:${s.adminPort}/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false),
          s.ports.length === 0 ? Promise.resolve(inst.app?.running ?? true) : canConnect(s.ports[0]!.port, s.address),
        ]);
        if (proxyReady && appReady) {
          inst.failures = 0;
          inst.ready = true;
        } else {
          inst.failures = (inst.failures ?? 0) + 1;
          // A process that exited is out at once; a probe that timed out needs company.
          const exited = (inst.app !== undefined && !inst.app.running) || !inst.proxy.running;
          inst.ready = inst.ready && !exited && inst.failures < FAILURE_THRESHOLD;
        }
        // Readiness goes into spec (the compiler reads it); pids into status, for `trellis status`.
        const status = { pid: inst.app?.pid, proxyPid: inst.proxy.pid, restarts: inst.app?.restarts ?? inst.proxy.restarts };
        const statusKey = JSON.stringify(status);
        if (inst.ready !== inst.published || statusKey !== inst.publishedStatus) {
          const resource = { ...inst.resource, spec: { ...inst.resource.spec, ready: inst.ready }, status };
          try {
            await this.client.apply({ objects: [resource] });
            inst.published = inst.ready;
            inst.publishedStatus = statusKey;
          } catch {
            // retried on the next probe
          }
        }
      }),
    );
  }

  allReady(): boolean {
    return [...this.instances.values()].every((i) => i.ready && i.published);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.instances.values()].flatMap((i) => [i.app?.stop(), i.proxy.stop()]));
    this.instances.clear();
    await this.controlPlane?.stop();
    fs.rmSync(this.paths.pids, { force: true });
  }

  /** Isolated mode: the process runs in the instance's network namespace (src/local/netns). */
  private isolated(role: 'app' | 'proxy', resource: WorkloadInstanceResource, spec: ProcessSpec): ProcessSpec {
    return this.opts.isolation?.wrap(role, resource, spec) ?? spec;
  }

  private track(name: string, pid: number): void {
    this.pids.set(name, pid);
    this.writePids();
  }

  private writePids(): void {
    if (this.stopped) return;
    fs.mkdirSync(this.paths.root, { recursive: true });
    fs.writeFileSync(this.paths.pids, JSON.stringify(Object.fromEntries(this.pids), null, 1));
  }

  private async waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} within ${timeoutMs / 1000} s`);
  }
}
