// End-to-end harness: runs the real `trellis up` on a folder, with its state
// in a temporary directory, and helps tests talk to the mesh it started.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { AdminClient } from '../../src/cli/admin-client.js';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { readMeshInfo, statePaths } from '../../src/local/state-dir.js';
import { repoRoot } from './paths.js';

export const TRELLIS_BIN = path.join(repoRoot, 'bin', 'trellis.js');

export interface RunningMesh {
  stateDir: string;
  process: ChildProcess;
  output: string[];
  client: AdminClient;
  instance(namespace: string, name: string): Promise<WorkloadInstanceResource>;
  /** Runs the CLI against this mesh. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Pids of every process the runner started (from its pids file). */
  pids(): Record<string, number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startMesh(
  dir: string,
  opts: { readyTimeoutMs?: number; quiet?: boolean; stateDir?: string; /** More `trellis up` flags (e.g. --isolation netns). */ args?: string[] } = {},
): Promise<RunningMesh> {
  const stateDir = opts.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-e2e-'));
  const args = [TRELLIS_BIN, 'up', dir, '--state-dir', stateDir, ...(opts.args ?? [])];
  if (opts.quiet !== false) args.push('--quiet');
  // The mesh stops when this test process goes away (its stdin closes), even if it is killed.
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, TRELLIS_HOME: stateDir, TRELLIS_EXIT_WITH_STDIN: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exited = code))));
  for (const s of [child.stdout!, child.stderr!]) {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        output.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
  }
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (!output.some((l) => l.startsWith('all ready'))) {
    if (exited !== undefined) throw new Error(`trellis up exited with ${exited}:\n${output.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mesh not ready in time:\n${output.slice(-40).join('\n')}`);
    }
    await sleep(100);
  }
  const info = readMeshInfo(stateDir);
  if (!info) throw new Error('no mesh.json');
  const client = new AdminClient(info.adminUrl);

  const mesh: RunningMesh = {
    stateDir,
    process: child,
    output,
    client,
    async instance(namespace, name) {
      const inst = await client.get<WorkloadInstanceResource>({ kind: 'WorkloadInstance', namespace, name });
      if (!inst) throw new Error(`no instance ${namespace}/${name}`);
      return inst;
    },
    cli: (...cliArgs) => runCli(cliArgs, { TRELLIS_HOME: stateDir, TRELLIS_STATE_DIR: stateDir }),
    pids() {
      try {
        return JSON.parse(fs.readFileSync(statePaths(stateDir).pids, 'utf8')) as Record<string, number>;
      } catch {
        return {};
      }
    },
    async stop(signal = 'SIGINT') {
      if (exited === undefined) child.kill(signal);
      const code = await Promise.race([exit, sleep(15_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error('trellis up did not stop within 15 s');
      }
      return code;
    },
  };
  return mesh;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRELLIS_BIN, ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Sends a request through a sidecar's outbound listener, as an app using HTTP_PROXY does. */
export function viaProxy(
  outboundPort: number,
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: outboundPort,
        method: opts.method ?? 'GET',
        path: url,
        headers: { host: u.host, ...opts.headers },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls `check` every 100 ms until it returns true; returns the time it took. Throws after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      if (await check()) return Date.now() - started;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not true within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Runs `concurrency` request loops until stopped; counts outcomes. */
export function loadLoop(send: () => Promise<Reply>, concurrency = 4) {
  const counts = { ok: 0, failed: 0, failures: [] as string[] };
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await send();
        if (r.status === 200) counts.ok++;
        else {
          counts.failed++;
          if (counts.failures.length < 10) counts.failures.push(`${r.status} ${r.body.slice(0, 200)}`);
        }
      } catch (err) {
        counts.failed++;
        if (counts.failures.length < 10) counts.failures.push((err as Error).message);
      }
    }
  });
  return {
    counts,
    async stop() {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

export async function metricValue(adminPort: number, name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats`);
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
