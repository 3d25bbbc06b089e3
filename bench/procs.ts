// Child processes started by the benchmark: every one is tracked so that the
// harness can kill them all at the end, on error and on SIGINT. Each runs in
// its own process group (detached), so a kill reaches its children too.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { canConnect } from '../src/local/ports.js';
import { killGroup } from '../src/local/process.js';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last lines of stdout + stderr (bounded). */
  output: string[];
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** Sends `signal` to the process group, waits up to `graceMs`, then SIGKILLs the group. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const tracked = new Set<Proc>();
/** Extra pids to SIGKILL at the end (e.g. processes started by `trellis up`). */
const extraPids = new Set<number>();

export function startProcess(name: string, command: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  const output: string[] = [];
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, sig) => {
      done = true;
      resolve(code ?? (sig ? 128 : null));
    });
    child.on('error', (err) => {
      output.push(`spawn error: ${err.message}`);
      done = true;
      resolve(-1);
    });
  });
  for (const s of [child.stdout, child.stderr]) {
    if (!s) continue;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        output.push(buf.slice(0, nl));
        if (output.length > 400) output.splice(0, output.length - 400);
        buf = buf.slice(nl + 1);
      }
    });
  }
  const proc: Proc = {
    name,
    child,
    pid: child.pid ?? -1,
    output,
    exited,
    hasExited: () => done,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (!done) {
        killGroup(proc.pid, signal);
        const t = setTimeout(() => killGroup(proc.pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      killGroup(proc.pid, 'SIGKILL'); // stragglers left in the group
      tracked.delete(proc);
    },
  };
  tracked.add(proc);
  return proc;
}


export function trackPid(pid: number): void {
  if (pid > 0) extraPids.add(pid);
}

/** Kills everything the harness started. Synchronous-safe: usable from exit handlers. */
export function killAllNow(): void {
  for (const p of tracked) if (!p.hasExited()) killGroup(p.pid, 'SIGKILL');
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...tracked].map((p) => p.stop('SIGTERM', 3000)));
  killAllNow();
  extraPids.clear();
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export { freePorts } from '../src/local/ports.js';


/** Waits until 127.0.0.1:port accepts connections, or throws with the process's output. */
export async function waitForPort(port: number, proc: Proc | undefined, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc?.hasExited()) throw new Error(`${proc.name} exited before listening on ${port}:\n${proc.output.slice(-30).join('\n')}`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms${proc ? `:\n${proc.output.slice(-30).join('\n')}` : ''}`);
}
