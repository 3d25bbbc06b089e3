// CPU time and resident memory of processes, from /proc (Linux only).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of the process (all its threads), in seconds; NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces and parentheses).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return (utime + stime) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

export function sumCpuSeconds(pids: number[]): number {
  return pids.reduce((s, p) => s + cpuSeconds(p), 0);
}

/** VmRSS in bytes; NaN if the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface RssSampler {
  /** Stops sampling; the maximum RSS seen per pid (bytes). */
  stop(): Map<number, number>;
}

/** Samples VmRSS of every pid every `intervalMs` (and once at start and stop). */
export function sampleRss(pids: number[], intervalMs = 200): RssSampler {
  const max = new Map<number, number>();
  const sample = () => {
    for (const pid of pids) {
      const v = rssBytes(pid);
      if (Number.isFinite(v) && v > (max.get(pid) ?? 0)) max.set(pid, v);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1]!.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}
