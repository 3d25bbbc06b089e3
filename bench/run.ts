// `npm run bench`: every data-plane scenario in one go, then bench/RESULTS.md.
//
//   node dist/bench/run.js [--duration S] [--smoke] [--out FILE] [--only NAME,...]
//
// NAME: direct, trellis, haproxy, node-http-proxy, node-tls-pipe,
// node-mux-pipe, control-plane (default: all). Every pair stays up until the
// interleaved max-throughput rounds (bench/rounds.ts) after the per-pair
// phases, then interleaved latency rounds at 1,000 req/s (bench/latency-rounds.ts);
// node-tls-pipe and node-mux-pipe are references that only take part in the
// throughput rounds.
// --smoke: 1 s per phase, only max throughput and latency at 1,000 rps, one
// round, and writes nothing unless --out is given. Every process started here
// is killed at the end, on error and on SIGINT/SIGTERM.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOpenLoop, runWrk, writePostScript, WRK_BIN, type WrkResult } from './load.js';
import type { OpenLoopResult } from './openloop.js';
import { startDirect } from './pairs/direct.js';
import { HAPROXY_BIN, startHaproxy } from './pairs/haproxy.js';
import { startNodeHttpProxy } from './pairs/node-http-proxy.js';
import { startNodeMuxPipe, startNodeTlsPipe } from './pairs/node-pipe.js';
import { startTrellis } from './pairs/trellis.js';
import type { PairContext, RunningPair } from './pairs/types.js';
import { killAllNow, sleep, stopAll } from './procs.js';
import { cpuModel, rssBytes, sampleRss, sumCpuSeconds } from './procstat.js';
import { addedP99Ratios, latencyRoundsSection, runLatencyRounds } from './latency-rounds.js';
import { roundRatios, roundsProblems, roundsSection, runInterleavedRounds, type RoundsResult } from './rounds.js';
import { MIB, NGINX_BIN, SMALL_BODY, startUpstream } from './upstream.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PAIRS = ['haproxy', 'direct', 'trellis', 'node-http-proxy'] as const; // haproxy first: its max sets the 50 % rate
/** Reference pairs: started after the others, measured only in the interleaved rounds. */
const REFERENCES = ['node-tls-pipe', 'node-mux-pipe'] as const;
type PairName = (typeof PAIRS)[number] | (typeof REFERENCES)[number];
const NAMES = [...PAIRS, ...REFERENCES, 'control-plane'];
const STARTERS: Record<PairName, (ctx: PairContext) => Promise<RunningPair>> = {
  direct: startDirect,
  trellis: startTrellis,
  haproxy: startHaproxy,
  'node-http-proxy': startNodeHttpProxy,
  'node-tls-pipe': startNodeTlsPipe,
  'node-mux-pipe': startNodeMuxPipe,
};
const MAX_CONNECTIONS = 32;
const STREAM_CONCURRENCY = 16;
const MB = 1e6;

interface Options {
  durationS: number;
  smoke: boolean;
  out?: string;
  only?: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { durationS: 10, smoke: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--duration') {
      opts.durationS = Number(value());
      if (!(opts.durationS > 0)) throw new Error('--duration must be a positive number of seconds');
    } else if (a === '--smoke') opts.smoke = true;
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--only') {
      opts.only = new Set(value().split(',').map((s) => s.trim()).filter(Boolean));
      for (const n of opts.only) {
        if (!NAMES.includes(n)) throw new Error(`--only: unknown name "${n}" (use ${NAMES.join(', ')})`);
      }
    } else if (a === '--help' || a === '-h') {
      console.log(`usage: node dist/bench/run.js [--duration S] [--smoke] [--out FILE] [--only ${NAMES.join(',')}]`);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (opts.smoke && !process.argv.includes('--duration')) opts.durationS = 1;
  return opts;
}

interface MaxResult {
  wrk: WrkResult;
  cpuS: number;
  cpuPer10k: number;
  cpuPer10kByRole: Record<string, number>;
  rssMaxByRole: Record<string, number>;
}

interface TransferResult {
  rps: number;
  mibPerS: number;
  errors: number;
}

interface StreamResult {
  direction: 'GET /1m' | 'POST /upload';
  baselineByRole: Record<string, number>;
  peakByRole: Record<string, number>;
  /** (peak − baseline) / concurrency, bytes. */
  perRequestByRole: Record<string, number>;
  /** (peak − idle at start) / concurrency, bytes. */
  perRequestVsIdleByRole: Record<string, number>;
  rps: number;
  errors: number;
}

interface PairResult {
  name: string;
  error?: string;
  sanity: string[];
  notes: string[];
  idleRssByRole: Record<string, number>;
  max?: MaxResult;
  lat1000?: OpenLoopResult;
  latHalf?: OpenLoopResult;
  newConn?: WrkResult;
  upload?: TransferResult;
  download?: TransferResult;
  streams: StreamResult[];
  rssEndByRole: Record<string, number>;
}

function log(msg: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function sanityCheck(url: string): Promise<string[]> {
  const problems: string[] = [];
  const small = await fetch(`${url}/`);
  const body = await small.text();
  if (small.status !== 200 || body !== SMALL_BODY) throw new Error(`GET ${url}/ answered ${small.status} ${JSON.stringify(body.slice(0, 300))}`);
  const big = await fetch(`${url}/1m`);
  const bigLen = (await big.arrayBuffer()).byteLength;
  if (big.status !== 200 || bigLen !== MIB) problems.push(`GET /1m answered ${big.status} with ${bigLen} bytes`);
  const up = await fetch(`${url}/upload`, { method: 'POST', body: Buffer.alloc(MIB, 'y'), headers: { 'content-type': 'application/octet-stream' } });
  const upBody = await up.text();
  if (up.status !== 200 || upBody !== 'ok') problems.push(`POST /upload (1 MiB) answered ${up.status} ${JSON.stringify(upBody.slice(0, 200))}`);
  return problems;
}

function rssByRole(pair: RunningPair): Record<string, number> {
  return Object.fromEntries(pair.proxies.map((p) => [p.role, rssBytes(p.pid)]));
}

async function measurePair(pair: RunningPair, opts: Options, haproxyMaxRps: number | undefined, scriptDir: string): Promise<PairResult> {
  const d = opts.durationS;
  const result: PairResult = { name: pair.name, sanity: [], notes: [...pair.notes], idleRssByRole: {}, streams: [], rssEndByRole: {} };
  result.sanity = await sanityCheck(pair.url);
  for (const s of result.sanity) log(`${pair.name}: sanity: ${s}`);
  await sleep(500);
  result.idleRssByRole = rssByRole(pair);
  const pids = pair.proxies.map((p) => p.pid);
  const roleOf = new Map(pair.proxies.map((p) => [p.pid, p.role]));

  // Max throughput, with CPU and RSS of the proxies.
  log(`${pair.name}: max throughput (wrk -t2 -c${MAX_CONNECTIONS} ${d}s)`);
  const cpuBefore = pair.proxies.map((p) => sumCpuSeconds([p.pid]));
  const sampler = sampleRss(pids, 200);
  const wrk = await runWrk({ url: `${pair.url}/`, connections: MAX_CONNECTIONS, durationS: d });
  const rssMax = sampler.stop();
  const cpuAfter = pair.proxies.map((p) => sumCpuSeconds([p.pid]));
  const cpuByRole: Record<string, number> = {};
  pair.proxies.forEach((p, i) => (cpuByRole[p.role] = ((cpuAfter[i]! - cpuBefore[i]!) / wrk.requests) * 10_000));
  const cpuS = cpuAfter.reduce((s, v, i) => s + v - cpuBefore[i]!, 0);
  result.max = {
    wrk,
    cpuS,
    cpuPer10k: pair.proxies.length ? (cpuS / wrk.requests) * 10_000 : NaN,
    cpuPer10kByRole: cpuByRole,
    rssMaxByRole: Object.fromEntries([...rssMax].map(([pid, v]) => [roleOf.get(pid)!, v])),
  };
  log(`${pair.name}: ${wrk.rps.toFixed(0)} req/s, ${wrk.errors} errors`);

  const [host, port] = [new URL(pair.url).hostname, Number(new URL(pair.url).port)];
  const openLoop = (rate: number) =>
    runOpenLoop({ host, port, path: '/', rate, durationS: d, warmupS: opts.smoke ? 0.2 : 1, initialConnections: 16, maxConnections: 1024 });
  await sleep(500);
  log(`${pair.name}: open loop at 1,000 req/s for ${d}s`);
  result.lat1000 = await openLoop(1000);
  log(`${pair.name}: p50 ${result.lat1000.p50Ms} ms p99 ${result.lat1000.p99Ms} ms, ${result.lat1000.errors} errors`);
  if (haproxyMaxRps && !opts.smoke) {
    const rate = Math.round(haproxyMaxRps / 2);
    await sleep(500);
    log(`${pair.name}: open loop at ${rate} req/s (50 % of haproxy's max) for ${d}s`);
    result.latHalf = await openLoop(rate);
    log(`${pair.name}: p50 ${result.latHalf.p50Ms} ms p99 ${result.latHalf.p99Ms} ms, achieved ${result.latHalf.achievedRps.toFixed(0)}/s, ${result.latHalf.errors} errors`);
  }
  if (opts.smoke) {
    result.rssEndByRole = rssByRole(pair);
    return result;
  }
  const half = Math.max(1, Math.round(d / 2));

  await sleep(500);
  log(`${pair.name}: new connection per request (Connection: close) for ${half}s`);
  result.newConn = await runWrk({ url: `${pair.url}/`, connections: MAX_CONNECTIONS, durationS: half, headers: ['Connection: close'] });

  const postScript = writePostScript(scriptDir, MIB);
  await sleep(500);
  log(`${pair.name}: 1 MiB POST /upload, 4 connections, ${half}s`);
  const up = await runWrk({ url: `${pair.url}/upload`, connections: 4, durationS: half, script: postScript });
  result.upload = { rps: up.rps, mibPerS: up.rps, errors: up.errors };
  await sleep(500);
  log(`${pair.name}: 1 MiB GET /1m, 4 connections, ${half}s`);
  const down = await runWrk({ url: `${pair.url}/1m`, connections: 4, durationS: half });
  result.download = { rps: down.rps, mibPerS: down.bytesRead / MIB / down.elapsedS, errors: down.errors };

  if (pair.proxies.length) {
    for (const direction of ['GET /1m', 'POST /upload'] as const) {
      await sleep(1500);
      const baseline = rssByRole(pair);
      log(`${pair.name}: streaming memory, ${STREAM_CONCURRENCY} concurrent ${direction}, 3s`);
      const s = sampleRss(pids, 100);
      const w =
        direction === 'GET /1m'
          ? await runWrk({ url: `${pair.url}/1m`, connections: STREAM_CONCURRENCY, durationS: 3 })
          : await runWrk({ url: `${pair.url}/upload`, connections: STREAM_CONCURRENCY, durationS: 3, script: postScript });
      const peak = Object.fromEntries([...s.stop()].map(([pid, v]) => [roleOf.get(pid)!, v]));
      const per: Record<string, number> = {};
      const perIdle: Record<string, number> = {};
      for (const role of Object.keys(peak)) {
        per[role] = (peak[role]! - baseline[role]!) / STREAM_CONCURRENCY;
        perIdle[role] = (peak[role]! - result.idleRssByRole[role]!) / STREAM_CONCURRENCY;
      }
      result.streams.push({ direction, baselineByRole: baseline, peakByRole: peak, perRequestByRole: per, perRequestVsIdleByRole: perIdle, rps: w.rps, errors: w.errors });
    }
  }
  result.rssEndByRole = rssByRole(pair);
  return result;
}

// ---------------------------------------------------------------- report

interface CpScale {
  services: number;
  endpoints: number;
  proxies: number;
  p50Ms: number;
  p99Ms: number;
  lastAckP50Ms?: number;
  lastAckP99Ms?: number;
  rssMb: number;
  peakRssMb?: number;
  notes: string[];
}

const f = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const mb = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : f(bytes / MB, 1));
const mib = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : f(bytes / MIB, 2));

function versionOf(cmd: string, args: string[]): string {
  // nginx -v prints on stderr, wrk -v exits 1: take the first line of either stream.
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? `${cmd} (version unknown)`;
}

function wrkErrors(w: WrkResult | undefined): string {
  if (!w) return 'n/a';
  const s = w.socketErrors;
  if (w.errors === 0) return '0';
  const parts = [];
  if (w.non2xx) parts.push(`${w.non2xx} non-2xx`);
  for (const k of ['connect', 'read', 'write', 'timeout'] as const) if (s[k]) parts.push(`${s[k]} ${k}`);
  return parts.join(', ');
}

interface Target {
  what: string;
  measured: string;
  pass: boolean | undefined;
}

function buildTargets(results: Map<string, PairResult>, rounds: RoundsResult | undefined, cp: CpScale | undefined, cpError: string | undefined, smoke: boolean): Target[] {
  const t: Target[] = [];
  const tr = results.get('trellis');
  const ha = results.get('haproxy');
  const di = results.get('direct');
  const rps = (r?: PairResult) => r?.max?.wrk.rps;
  const cmp = (what: string, a: number | undefined, b: number | undefined, factor: number, text: (ratio: number) => string) => {
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) t.push({ what, measured: 'not measured', pass: undefined });
    else t.push({ what, measured: text(a / b), pass: a >= factor * b });
  };
  // Max throughput: the median of the per-round ratios when the interleaved rounds measured both pairs, else the single max-throughput phases.
  const maxRatio = (what: string, other: string, factor: number) => {
    const rr = roundRatios(rounds, 'trellis', other);
    if (rr && Number.isFinite(rr.median)) {
      const n = rr.perRound.length;
      t.push({ what, measured: `median of ${n} interleaved round${n > 1 ? 's' : ''}: ${f(rr.median, 2)} × (rounds ${rr.perRound.map((v) => f(v, 2)).join(', ')})`, pass: rr.median >= factor });
    } else {
      const o = results.get(other);
      cmp(what, rps(tr), rps(o), factor, (r) => `single max-throughput phase: ${f(rps(tr), 0)} vs ${f(rps(o), 0)} req/s = ${f(r, 2)} ×`);
    }
  };
  maxRatio('trellis max rps ≥ 0.7 × haproxy', 'haproxy', 0.7);
  maxRatio('trellis max rps ≥ 2.5 × node-http-proxy', 'node-http-proxy', 2.5);
  {
    const what = 'added p99 at 1,000 rps: trellis ≤ 1.5 × haproxy';
    const lr = addedP99Ratios(rounds?.latency);
    const d = di?.lat1000?.p99Ms;
    const a = tr?.lat1000?.p99Ms;
    const b = ha?.lat1000?.p99Ms;
    if (lr && Number.isFinite(lr.median)) {
      // The median of the interleaved rounds, like the throughput targets.
      const n = lr.perRound.length;
      const single = d !== undefined && a !== undefined && b !== undefined && b - d > 0 ? `; single phase ${f((a - d) / (b - d), 2)} ×` : '';
      t.push({ what, measured: `median of ${n} interleaved round${n > 1 ? 's' : ''}: ${f(lr.median, 2)} × (rounds ${lr.perRound.map((v) => f(v, 2)).join(', ')})${single}`, pass: lr.median <= 1.5 });
    } else if (d === undefined || a === undefined || b === undefined) t.push({ what, measured: 'not measured', pass: undefined });
    else {
      const addT = a - d;
      const addH = b - d;
      // A negative or zero added p99 for haproxy means the difference is below this run's noise: no ratio, no verdict.
      t.push({
        what,
        measured:
          `trellis +${f(addT, 3)} ms vs haproxy +${f(addH, 3)} ms (p99 ${f(a, 3)} / ${f(b, 3)} / direct ${f(d, 3)} ms)` +
          (addH > 0 ? ` = ${f(addT / addH, 2)} ×` : ' — haproxy adds nothing measurable over direct in this run (p99 noise of the shared machine), so no ratio'),
        pass: addH > 0 ? addT <= 1.5 * addH : undefined,
      });
    }
  }
  const idle = tr?.idleRssByRole.client;
  t.push({ what: 'trellis sidecar RSS idle ≤ 60 MB (client hop)', measured: idle ? `${mb(idle)} MB (server hop ${mb(tr?.idleRssByRole.server)} MB)` : 'not measured', pass: idle ? idle <= 60 * MB : undefined });
  const load = tr?.max?.rssMaxByRole.client;
  t.push({ what: 'trellis sidecar RSS under max load ≤ 100 MB (client hop)', measured: load ? `${mb(load)} MB (server hop ${mb(tr?.max?.rssMaxByRole.server)} MB)` : 'not measured', pass: load ? load <= 100 * MB : undefined });
  if (tr && tr.streams.length) {
    let worst = -Infinity;
    const parts: string[] = [];
    for (const s of tr.streams) {
      for (const [role, v] of Object.entries(s.perRequestByRole)) {
        worst = Math.max(worst, v);
        parts.push(`${s.direction} ${role} ${mib(v)}`);
      }
    }
    t.push({ what: 'trellis streaming: RSS growth ≤ 2 MiB per concurrent 1 MiB request (each sidecar)', measured: `worst ${mib(worst)} MiB (${parts.join('; ')})`, pass: worst <= 2 * MIB });
  } else t.push({ what: 'trellis streaming: RSS growth ≤ 2 MiB per concurrent 1 MiB request (each sidecar)', measured: 'not measured', pass: undefined });
  const cpWhat = 'control plane: change-to-last-ACK p99 ≤ 250 ms at 1,000 services / 10,000 endpoints / 500 proxies';
  const cpRssWhat = 'control plane RSS ≤ 400 MB at that scale';
  if (cp) {
    const full = cp.services >= 1000 && cp.endpoints >= 10_000 && cp.proxies >= 500;
    const last = cp.lastAckP99Ms ?? cp.p99Ms;
    const scale = `${cp.services} services / ${cp.endpoints} endpoints / ${cp.proxies} proxies${full ? '' : ' — smaller than the target scale, so no verdict'}`;
    t.push({ what: cpWhat, measured: `${f(last, 0)} ms (${scale})`, pass: full && !smoke ? last <= 250 : undefined });
    t.push({ what: cpRssWhat, measured: `${f(cp.rssMb, 0)} MB${cp.peakRssMb ? ` (peak ${f(cp.peakRssMb, 0)} MB)` : ''}`, pass: full && !smoke ? Math.max(cp.rssMb, cp.peakRssMb ?? 0) <= 400 : undefined });
  } else {
    t.push({ what: cpWhat, measured: `not measured${cpError ? ` (${cpError})` : ''}`, pass: undefined });
    t.push({ what: cpRssWhat, measured: 'not measured', pass: undefined });
  }
  return t;
}

function report(results: Map<string, PairResult>, rounds: RoundsResult | undefined, opts: Options, cp: CpScale | undefined, cpError: string | undefined, haproxyMaxRps: number | undefined): { md: string; targets: Target[] } {
  const order = ['direct', 'trellis', 'haproxy', 'node-http-proxy'].filter((n) => results.has(n));
  const rows = order.map((n) => results.get(n)!);
  const refs = REFERENCES.filter((n) => results.has(n)).map((n) => results.get(n)!);
  const L: string[] = [];
  L.push('# Trellis data-plane benchmark results', '');
  L.push(`Generated by \`npm run bench\` (\`node dist/bench/run.js${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`). Do not edit by hand.`, '');
  L.push(`- date: ${new Date().toISOString()}`);
  L.push(`- CPU: ${cpuModel()}, ${os.cpus().length} cores (shared machine: every process below competes for them)`);
  L.push(`- Node.js ${process.version}, ${versionOf(NGINX_BIN, ['-v'])}, ${versionOf(HAPROXY_BIN, ['-v'])}, ${versionOf(WRK_BIN, ['-v'])}`);
  L.push(`- load average (1/5/15 min) at the start: ${loadAtStart}; at the end: ${loadavg()}${otherCpuNote}`);
  L.push(`- duration per load phase: ${opts.durationS} s${opts.smoke ? ' (smoke run: only max throughput and latency at 1,000 rps, one interleaved round of 1 s)' : ''}`);
  L.push('');
  L.push('## Setup', '');
  L.push('- Everything on 127.0.0.1. One upstream for all pairs: nginx, `worker_processes 1`, access log off; `/` answers a 100-byte body, `/1m` a 1 MiB file, `POST /upload` reads the whole body (proxy request buffering to an internal sink) before answering `ok`.');
  L.push('- Each pair: client → client sidecar (plain HTTP/1.1) → mTLS (ECDSA P-256 certificates from one mesh CA, TLS 1.3) → server sidecar → nginx.');
  for (const r of [...rows, ...refs]) for (const n of r.notes) L.push(`- ${n}`);
  L.push(`- Max throughput: \`wrk -t2 -c${MAX_CONNECTIONS} -d${opts.durationS}s --latency\` (closed loop). CPU = utime+stime of the proxy processes (/proc/PID/stat) over that run, per 10,000 requests, both hops summed. RSS = VmRSS sampled every 200 ms.`);
  L.push('- Latency at fixed rates: the open-loop generator in bench/openloop.ts (raw sockets, keep-alive pool opened as needed up to 1,024 connections, log-linear µs histogram): every request is timed from its INTENDED send time, so stalls are charged to the requests they delay (no coordinated omission). A warm-up second precedes each measured phase. Its timers have ~1 ms resolution: "send lag" shows how late the generator itself sent, a floor under every figure.');
  L.push('- The load generators (wrk, the open-loop child) run on the same 2 cores as the proxies and nginx.');
  L.push('');

  L.push('## Max throughput', '');
  L.push('| pair | req/s | errors | wrk p50 ms | wrk p99 ms | CPU s / 10k req (both hops) | client hop | server hop |');
  L.push('|---|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    if (!r.max) {
      L.push(`| ${r.name} | ${r.error ? 'failed' : 'n/a'} | | | | | | |`);
      continue;
    }
    const m = r.max;
    L.push(`| ${r.name} | ${f(m.wrk.rps, 0)} | ${wrkErrors(m.wrk)} | ${f(m.wrk.latencyMs.p50, 3)} | ${f(m.wrk.latencyMs.p99, 3)} | ${r.name === 'direct' ? 'n/a (no proxy)' : f(m.cpuPer10k, 3)} | ${f(m.cpuPer10kByRole.client, 3)} | ${f(m.cpuPer10kByRole.server, 3)} |`);
  }
  L.push('');
  if (rounds) L.push(...roundsSection(rounds, f, [...REFERENCES]));

  L.push('## Latency at fixed rates (open loop, from intended send time)', '');
  L.push('| pair | target req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | added p99 vs direct ms | errors | connections | send lag p50 / p99 ms |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const direct = results.get('direct');
  for (const key of ['lat1000', 'latHalf'] as const) {
    for (const r of rows) {
      const o = r[key];
      if (!o) continue;
      const base = direct?.[key]?.p99Ms;
      L.push(`| ${r.name} | ${f(o.rate, 0)} | ${f(o.achievedRps, 0)} | ${f(o.p50Ms, 3)} | ${f(o.p90Ms, 3)} | ${f(o.p99Ms, 3)} | ${f(o.p999Ms, 3)} | ${f(o.maxMs, 1)} | ${r.name === 'direct' || base === undefined ? '—' : f(o.p99Ms - base, 3)} | ${o.errors + o.non2xx}${o.non2xx ? ` (${o.non2xx} non-2xx)` : ''} | ${o.connectionsOpened} | ${f(o.sendLagP50Ms, 3)} / ${f(o.sendLagP99Ms, 3)} |`);
    }
  }
  if (haproxyMaxRps && !opts.smoke) L.push('', `The second rate is 50 % of haproxy's max throughput in this run (${f(haproxyMaxRps, 0)} req/s).`);
  if (rounds?.latency) L.push('', ...latencyRoundsSection(rounds.latency, f));
  L.push('');

  L.push('## Sidecar memory (RSS, MB = 10^6 bytes)', '');
  L.push('| pair | client hop idle | client hop max under max-throughput load | server hop idle | server hop max under load | client hop at the end of the run |');
  L.push('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    if (r.name === 'direct') continue;
    L.push(`| ${r.name} | ${mb(r.idleRssByRole.client)} | ${mb(r.max?.rssMaxByRole.client)} | ${mb(r.idleRssByRole.server)} | ${mb(r.max?.rssMaxByRole.server)} | ${mb(r.rssEndByRole.client)} |`);
  }
  L.push('');

  if (!opts.smoke) {
    L.push('## 1 MiB bodies (wrk, 4 connections)', '');
    L.push('| pair | POST /upload req/s (= MiB/s) | errors | GET /1m req/s | GET MiB/s | errors |');
    L.push('|---|---:|---|---:|---:|---|');
    for (const r of rows) {
      L.push(`| ${r.name} | ${f(r.upload?.rps, 1)} | ${r.upload ? r.upload.errors : 'n/a'} | ${f(r.download?.rps, 1)} | ${f(r.download?.mibPerS, 1)} | ${r.download ? r.download.errors : 'n/a'} |`);
    }
    L.push('');
    L.push(`## Streaming memory (${STREAM_CONCURRENCY} concurrent 1 MiB transfers, wrk -c${STREAM_CONCURRENCY}, 3 s each)`, '');
    L.push(`Growth per concurrent request = (peak RSS during the phase − RSS just before it) / ${STREAM_CONCURRENCY}, in MiB; in brackets the same against the idle RSS measured before any load.`, '');
    L.push('| pair | transfer | req/s | errors | client hop before → peak MB | client hop MiB / request | server hop before → peak MB | server hop MiB / request |');
    L.push('|---|---|---:|---:|---|---:|---|---:|');
    for (const r of rows) {
      for (const s of r.streams) {
        L.push(`| ${r.name} | ${s.direction} | ${f(s.rps, 1)} | ${s.errors} | ${mb(s.baselineByRole.client)} → ${mb(s.peakByRole.client)} | ${mib(s.perRequestByRole.client)} (${mib(s.perRequestVsIdleByRole.client)}) | ${mb(s.baselineByRole.server)} → ${mb(s.peakByRole.server)} | ${mib(s.perRequestByRole.server)} (${mib(s.perRequestVsIdleByRole.server)}) |`);
      }
    }
    L.push('');
    L.push(`## New connection per request (\`wrk -c${MAX_CONNECTIONS} -H 'Connection: close'\`)`, '');
    L.push('| pair | req/s | errors |');
    L.push('|---|---:|---|');
    for (const r of rows) L.push(`| ${r.name} | ${f(r.newConn?.rps, 0)} | ${wrkErrors(r.newConn)} |`);
    L.push('');
  }

  L.push('## Control-plane scale', '');
  if (cp) {
    L.push('| services | endpoints | proxies | apply → ACK p50 ms (per proxy) | p99 ms (per proxy) | apply → last ACK p50 ms | apply → last ACK p99 ms | RSS MB | peak RSS MB |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    L.push(`| ${cp.services} | ${cp.endpoints} | ${cp.proxies} | ${f(cp.p50Ms, 1)} | ${f(cp.p99Ms, 1)} | ${f(cp.lastAckP50Ms, 1)} | ${f(cp.lastAckP99Ms, 1)} | ${f(cp.rssMb, 0)} | ${f(cp.peakRssMb, 0)} |`);
    L.push('');
    for (const n of cp.notes) L.push(`- ${n}`);
  } else L.push(`not measured${cpError ? `: ${cpError}` : ''}`);
  L.push('');

  const targets = buildTargets(results, rounds, cp, cpError, opts.smoke);
  L.push('## Targets (ratios from this run)', '');
  L.push('| target | measured | result |');
  L.push('|---|---|---|');
  for (const t of targets) L.push(`| ${t.what} | ${t.measured} | ${t.pass === undefined ? '—' : t.pass ? 'PASS' : '**FAIL**'} |`);
  L.push('');

  const problems: string[] = [];
  for (const r of [...rows, ...refs]) {
    if (r.error) problems.push(`${r.name}: failed: ${r.error.split('\n')[0]}`);
    for (const s of r.sanity) problems.push(`${r.name}: ${s}`);
    if (r.max && r.max.wrk.errors) problems.push(`${r.name}: ${wrkErrors(r.max.wrk)} during max throughput`);
    for (const o of [r.lat1000, r.latHalf]) {
      if (!o) continue;
      if (o.achievedRps < 0.9 * o.rate) {
        problems.push(
          `${r.name}: overloaded at ${f(o.rate, 0)} req/s (above its max throughput of ${f(r.max?.wrk.rps, 0)} req/s): it answered ${f(o.achievedRps, 0)} req/s, the generator opened ${o.connectionsOpened} connections and its latency is queueing time; ` +
            `${o.unfinished} requests were still unanswered 5 s after the last send, ${o.errors - o.unfinished} socket errors, ${o.non2xx} non-2xx`,
        );
      } else if (o.errors || o.non2xx) problems.push(`${r.name}: open loop at ${o.rate} req/s: ${o.errors - o.unfinished} socket errors, ${o.unfinished} unanswered, ${o.non2xx} non-2xx`);
    }
    if (r.newConn?.errors) problems.push(`${r.name}: ${wrkErrors(r.newConn)} with a new connection per request`);
    if (r.upload?.errors) problems.push(`${r.name}: ${r.upload.errors} errors on 1 MiB uploads`);
    if (r.download?.errors) problems.push(`${r.name}: ${r.download.errors} errors on 1 MiB downloads`);
    for (const s of r.streams) if (s.errors) problems.push(`${r.name}: ${s.errors} errors with ${STREAM_CONCURRENCY} concurrent ${s.direction}`);
  }
  problems.push(...roundsProblems(rounds));
  L.push('## Errors and anomalies', '');
  if (problems.length) for (const p of problems) L.push(`- ${p}`);
  else L.push('none');
  L.push('');
  return { md: L.join('\n'), targets };
}

// ---------------------------------------------------------------- main

function loadavg(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}
const loadAtStart = loadavg();
let otherCpuNote = '';
/** CPU used by processes this benchmark did not start, over the run (another engineer's tests, …). */
function totalCpuSeconds(): number {
  try {
    const [cpu] = fs.readFileSync('/proc/stat', 'utf8').split('\n');
    const v = cpu!.trim().split(/\s+/).slice(1).map(Number);
    return (v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!) / 100;
  } catch {
    return NaN;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  for (const bin of [NGINX_BIN, HAPROXY_BIN, WRK_BIN]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: apt-get install nginx-light haproxy wrk`);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'));
  const t0 = Date.now();
  const busy0 = totalCpuSeconds();
  const results = new Map<string, PairResult>();
  let haproxyMaxRps: number | undefined;
  let rounds: RoundsResult | undefined;
  let cp: CpScale | undefined;
  let cpError: string | undefined;
  let failed = false;
  try {
    const upstream = await startUpstream();
    log(`nginx on 127.0.0.1:${upstream.port}`);
    const ctx: PairContext = { upstreamPort: upstream.port, workDir, repoRoot };
    // Pairs stay up (idle: ~0 CPU) until the interleaved rounds are done.
    const live = new Map<string, RunningPair>();
    try {
      for (const name of [...PAIRS, ...REFERENCES]) {
        if (opts.only && !opts.only.has(name)) continue;
        log(`${name}: starting`);
        let pair: RunningPair | undefined;
        try {
          pair = await STARTERS[name](ctx);
          if ((REFERENCES as readonly string[]).includes(name)) {
            const sanity = await sanityCheck(pair.url);
            for (const s of sanity) log(`${name}: sanity: ${s}`);
            results.set(name, { name, sanity, notes: [...pair.notes], idleRssByRole: rssByRole(pair), streams: [], rssEndByRole: {} });
          } else {
            const r = await measurePair(pair, opts, haproxyMaxRps, workDir);
            results.set(name, r);
            if (name === 'haproxy') haproxyMaxRps = r.max?.wrk.rps;
          }
          live.set(name, pair);
        } catch (err) {
          failed = true;
          const msg = err instanceof Error ? err.message : String(err);
          log(`${name}: FAILED: ${msg}`);
          results.set(name, { name, error: msg, sanity: [], notes: pair?.notes ?? [], idleRssByRole: {}, streams: [], rssEndByRole: {} });
          await pair?.stop();
        }
      }
      if (live.size) {
        const durationS = opts.smoke ? 1 : Math.max(3, Math.round(opts.durationS / 2));
        rounds = await runInterleavedRounds(live, { rounds: opts.smoke ? 1 : 3, durationS, connections: MAX_CONNECTIONS, log });
        rounds.latency = await runLatencyRounds(live, { rounds: opts.smoke ? 1 : 3, durationS: opts.smoke ? 1 : 5, rate: 1000, log });
      }
    } finally {
      for (const pair of live.values()) await pair.stop();
    }
    await upstream.stop();
    if (!opts.only || opts.only.has('control-plane')) {
      log('control-plane scale');
      try {
        const mod = (await import('./control-plane-scale.js')) as { runControlPlaneScale: (o: { smoke: boolean }) => Promise<CpScale> };
        cp = await withTimeout(mod.runControlPlaneScale({ smoke: opts.smoke }), opts.smoke ? 90_000 : 300_000, 'control-plane scale');
        log(`control-plane scale: last-ACK p99 ${cp.lastAckP99Ms ?? cp.p99Ms} ms, RSS ${cp.rssMb} MB`);
      } catch (err) {
        cpError = err instanceof Error ? err.message : String(err);
        log(`control-plane scale: not measured: ${cpError}`);
      }
    }
  } finally {
    await stopAll();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  const wall = (Date.now() - t0) / 1000;
  const busy = totalCpuSeconds() - busy0;
  if (Number.isFinite(busy)) otherCpuNote = ` (machine CPU busy over the run: ${f(busy / wall / os.cpus().length * 100, 0)} % of ${os.cpus().length} cores, benchmark included)`;
  const { md, targets } = report(results, rounds, opts, cp, cpError, haproxyMaxRps);
  const out = opts.out ?? (opts.smoke ? undefined : path.join(repoRoot, 'bench', 'RESULTS.md'));
  if (out) {
    fs.writeFileSync(out, md);
    log(`wrote ${out}`);
  }
  for (const t of targets) log(`${t.pass === undefined ? '—   ' : t.pass ? 'PASS' : 'FAIL'} ${t.what}: ${t.measured}`);
  return failed ? 1 : 0;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n[bench] ${sig}: stopping every process started by the benchmark`);
    killAllNow();
    process.exit(130);
  });
}
process.on('exit', () => killAllNow());

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.stack : err);
    killAllNow();
    process.exit(1);
  },
);
