// Interleaved max-throughput rounds. Every pair stays up for the whole
// data-plane part; each round runs one closed-loop wrk phase against every
// live pair in a fixed order, so the per-round ratio of two pairs compares
// measurements taken seconds apart and slow drifts of the shared machine's
// load cancel; the median over rounds discards a round hit by a burst.

import type { LatencyRounds } from './latency-rounds.js';
import { runWrk, type WrkResult } from './load.js';
import type { RunningPair } from './pairs/types.js';
import { sleep } from './procs.js';
import { sumCpuSeconds } from './procstat.js';

export const ROUND_ORDER = ['haproxy', 'trellis', 'node-http-proxy', 'node-tls-pipe', 'node-mux-pipe', 'direct'];
/** Ratios reported per round: [numerator, denominator]. */
export const ROUND_RATIOS: [string, string][] = [
  ['trellis', 'haproxy'],
  ['trellis', 'node-http-proxy'],
  ['trellis', 'node-mux-pipe'],
];

export interface RoundRun {
  /** NaN when the run failed. */
  rps: number;
  /** CPU seconds of the pair's proxy processes per 10,000 requests (NaN for direct). */
  cpuPer10k: number;
  wrk?: WrkResult;
  error?: string;
}

export interface RoundsResult {
  rounds: number;
  durationS: number;
  connections: number;
  /** Per pair (in ROUND_ORDER), one run per round. */
  runs: Map<string, RoundRun[]>;
  /** The latency rounds at 1,000 req/s that follow (latency-rounds.ts). */
  latency?: LatencyRounds;
}

export interface RoundsOptions {
  rounds: number;
  durationS: number;
  connections: number;
  log: (msg: string) => void;
}

export async function runInterleavedRounds(pairs: Map<string, RunningPair>, opts: RoundsOptions): Promise<RoundsResult> {
  const order = ROUND_ORDER.filter((n) => pairs.has(n));
  const runs = new Map<string, RoundRun[]>(order.map((n) => [n, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const name of order) {
      const pair = pairs.get(name)!;
      const pids = pair.proxies.map((p) => p.pid);
      await sleep(500);
      opts.log(`round ${round}/${opts.rounds}: ${name}: wrk -t2 -c${opts.connections} ${opts.durationS}s`);
      try {
        const cpuBefore = sumCpuSeconds(pids);
        const wrk = await runWrk({ url: `${pair.url}/`, connections: opts.connections, durationS: opts.durationS });
        const cpu = sumCpuSeconds(pids) - cpuBefore;
        runs.get(name)!.push({ rps: wrk.rps, cpuPer10k: pids.length ? (cpu / wrk.requests) * 10_000 : NaN, wrk });
        opts.log(`round ${round}/${opts.rounds}: ${name}: ${wrk.rps.toFixed(0)} req/s, ${wrk.errors} errors`);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        runs.get(name)!.push({ rps: NaN, cpuPer10k: NaN, error });
        opts.log(`round ${round}/${opts.rounds}: ${name}: FAILED: ${error.split('\n')[0]}`);
      }
    }
  }
  return { rounds: opts.rounds, durationS: opts.durationS, connections: opts.connections, runs };
}

/** Median of the finite values; NaN if there is none. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Per-round ratios a/b (NaN where either run failed) and their median; undefined if a pair was not in the rounds. */
export function roundRatios(r: RoundsResult | undefined, a: string, b: string): { perRound: number[]; median: number } | undefined {
  const ra = r?.runs.get(a);
  const rb = r?.runs.get(b);
  if (!ra || !rb) return undefined;
  const perRound = ra.map((x, i) => (rb[i] && rb[i]!.rps > 0 ? x.rps / rb[i]!.rps : NaN));
  return { perRound, median: median(perRound) };
}

type Fmt = (v: number | undefined, digits?: number) => string;

/** The report section "Max throughput, interleaved rounds". */
export function roundsSection(r: RoundsResult, f: Fmt, references: string[]): string[] {
  const L: string[] = [];
  const cols = Array.from({ length: r.rounds }, (_, i) => i + 1);
  const names = [...r.runs.keys()];
  L.push('## Max throughput, interleaved rounds', '');
  L.push(
    `Every pair stays up until the end of the data-plane part; ${r.rounds === 1 ? 'one round runs' : `each of ${r.rounds} rounds runs`} \`wrk -t2 -c${r.connections} -d${r.durationS}s\` against each pair in turn (${names.join(', ')}). ` +
      'Each ratio below compares pairs measured seconds apart, so slow drifts of the shared machine\'s load cancel out of it, and the median over rounds discards a round hit by a burst; the max-throughput targets use these medians.',
    '',
  );
  const refs = names.filter((n) => references.includes(n));
  if (refs.length) L.push(`${refs.join(' and ')}: reference${refs.length > 1 ? 's' : ''}, no HTTP parsing; a lower bound, not a competitor (see Setup).`, '');
  L.push(`| pair | ${cols.map((i) => `round ${i} req/s`).join(' | ')} | median req/s | median CPU s / 10k req (both hops) | errors |`);
  L.push(`|---|${cols.map(() => '---:').join('|')}|---:|---:|---|`);
  for (const [name, runs] of r.runs) {
    const errors = runs.reduce((s, x) => s + (x.wrk?.errors ?? 0), 0);
    const failed = runs.filter((x) => x.error).length;
    const label = references.includes(name) ? `${name} (reference)` : name;
    const cpu = name === 'direct' ? 'n/a (no proxy)' : f(median(runs.map((x) => x.cpuPer10k)), 3);
    L.push(`| ${label} | ${runs.map((x) => (x.error ? 'failed' : f(x.rps, 0))).join(' | ')} | ${f(median(runs.map((x) => x.rps)), 0)} | ${cpu} | ${errors}${failed ? `, ${failed} failed run${failed > 1 ? 's' : ''}` : ''} |`);
  }
  L.push('');
  const ratios = ROUND_RATIOS.map(([a, b]) => [`${a} / ${b}`, roundRatios(r, a, b)] as const).filter(([, x]) => x);
  if (ratios.length) {
    L.push(`| ratio of req/s | ${cols.map((i) => `round ${i}`).join(' | ')} | median |`);
    L.push(`|---|${cols.map(() => '---:').join('|')}|---:|`);
    for (const [label, x] of ratios) L.push(`| ${label} | ${x!.perRound.map((v) => f(v, 2)).join(' | ')} | ${f(x!.median, 2)} |`);
    L.push('');
  }
  return L;
}

/** Failed runs and wrk errors, for the anomalies section. */
export function roundsProblems(r: RoundsResult | undefined): string[] {
  const problems: string[] = [];
  for (const [name, runs] of r?.runs ?? []) {
    runs.forEach((x, i) => {
      if (x.error) problems.push(`${name}: interleaved round ${i + 1} failed: ${x.error.split('\n')[0]}`);
      else if (x.wrk?.errors) problems.push(`${name}: ${x.wrk.errors} errors in interleaved round ${i + 1}`);
    });
  }
  return problems;
}
