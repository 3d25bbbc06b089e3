// One supervised child process: its own process group (so a stop reaches
// everything it forked), output prefixed line by line, restarts with
// exponential backoff when it exits unexpectedly.

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Node children of ours exit when this pipe closes, even if the runner is killed. */
  holdStdin?: boolean;
  restart: boolean;
  /** Where output goes; undefined = discarded. */
  output?: (line: string) => void;
  onStart?: (pid: number) => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A process that ran this long before exiting restarts without delay growth. */
const STABLE_MS = 10_000;

export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoff = BACKOFF_MIN_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  restarts = 0;

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.stopping) return;
    const started = Date.now();
    const child = spawn(this.spec.command, this.spec.args, {
      env: this.spec.env,
      cwd: this.spec.cwd,
      detached: true,
      stdio: [this.spec.holdStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const out = this.spec.output;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      if (out) readline.createInterface({ input: stream }).on('line', out);
      else stream.resume();
    }
    child.on('spawn', () => this.spec.onStart?.(child.pid!));
    child.on('error', (err) => out?.(`cannot start ${this.spec.command}: ${err.message}`));
    child.on('exit', (code, signal) => {
      this.spec.onExit?.(code, signal);
      if (this.child === child) this.child = undefined;
      if (this.stopping || !this.spec.restart) return;
      if (Date.now() - started > STABLE_MS) this.backoff = BACKOFF_MIN_MS;
      const delay = this.backoff;
      this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
      this.restarts++;
      out?.(`exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      this.restartTimer = setTimeout(() => this.start(), delay);
    });
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    // Anything the process forked and left behind in its group goes too.
    killGroup(child.pid, 'SIGKILL');
  }

  /** Kills the process (for tests and `restart`): the supervisor restarts it. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child?.pid) killGroup(this.child.pid, signal);
  }
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
