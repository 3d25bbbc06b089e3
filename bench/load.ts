// Load generators: wrk (closed loop, max throughput) and the open-loop
// generator in openloop.ts (fixed rate, latency from intended send times),
// run as a child process so the harness's own work does not disturb it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from './procs.js';
import type { OpenLoopOptions, OpenLoopResult } from './openloop.js';

export const WRK_BIN = '/usr/bin/wrk';

export interface WrkOptions {
  url: string;
  threads?: number;
  connections: number;
  durationS: number;
  headers?: string[];
  /** Lua script file (-s). */
  script?: string;
  timeoutS?: number;
}

export interface WrkResult {
  requests: number;
  elapsedS: number;
  rps: number;
  bytesRead: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  errors: number;
  latencyMs: { p50?: number; p75?: number; p90?: number; p99?: number };
  raw: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNIT_B: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : NaN;
  };
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read/.exec(out);
  const requests = total ? Number(total[1]) : NaN;
  const elapsedS = total ? (Number(total[2]) * UNIT_MS[total[3]!]!) / 1000 : NaN;
  const bytesRead = total ? Number(total[4]) * UNIT_B[total[5]!]! : NaN;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se
    ? { connect: Number(se[1]), read: Number(se[2]), write: Number(se[3]), timeout: Number(se[4]) }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const non2xxM = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const non2xx = non2xxM ? Number(non2xxM[1]) : 0;
  const latencyMs: WrkResult['latencyMs'] = {};
  const dist = /Latency Distribution\n([\s\S]*?)\n\s*\d+ requests in/.exec(out);
  if (dist) {
    for (const m of dist[1]!.matchAll(/^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm)) {
      (latencyMs as Record<string, number>)[`p${m[1]}`] = Number(m[2]) * UNIT_MS[m[3]!]!;
    }
  }
  return {
    requests,
    elapsedS,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    bytesRead,
    non2xx,
    socketErrors,
    errors: non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
    latencyMs,
    raw: out,
  };
}

export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(opts.threads ?? 2), '-c', String(opts.connections), '-d', `${opts.durationS}s`, '--latency', '--timeout', `${opts.timeoutS ?? 5}s`];
  for (const h of opts.headers ?? []) args.push('-H', h);
  if (opts.script) args.push('-s', opts.script);
  args.push(opts.url);
  const proc = startProcess('wrk', WRK_BIN, args);
  const code = await proc.exited;
  await proc.stop();
  const out = proc.output.join('\n');
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${code}:\n${out}`);
  const result = parseWrk(out);
  if (!Number.isFinite(result.rps)) throw new Error(`cannot parse wrk output:\n${out}`);
  return result;
}

/** A wrk Lua script that POSTs a body of `bytes` bytes. */
export function writePostScript(dir: string, bytes: number): string {
  const file = path.join(dir, `post-${bytes}.lua`);
  fs.writeFileSync(
    file,
    `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`,
  );
  return file;
}

const OPENLOOP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'openloop.js');

export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const proc = startProcess('open-loop generator', process.execPath, [OPENLOOP, JSON.stringify(opts)]);
  const code = await proc.exited;
  await proc.stop();
  const line = proc.output.find((l) => l.startsWith('{"result"'));
  if (code !== 0 || !line) throw new Error(`open-loop generator exited with ${code}:\n${proc.output.slice(-30).join('\n')}`);
  return (JSON.parse(line) as { result: OpenLoopResult }).result;
}
