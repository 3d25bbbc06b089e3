// Interleaved latency rounds at 1,000 req/s: like the throughput rounds
// (rounds.ts), each round measures direct, haproxy and trellis seconds apart
// with the open-loop generator, so the added-p99 ratio of a round compares
// pairs under the same machine load, and the median over rounds discards a
// round hit by a burst. One 10 s phase per pair (the section above it) leaves
// the p99 ratio to whatever the shared machine did in those 30 s.

import { runOpenLoop } from './load.js';
import type { RunningPair } from './pairs/types.js';
import { sleep } from './procs.js';
import { median } from './rounds.js';

export const LATENCY_ROUND_ORDER = ['direct', 'haproxy', 'trellis'];

export interface LatencyRounds {
  rounds: number;
  durationS: number;
  rate: number;
  /** p99 in ms per pair (LATENCY_ROUND_ORDER), one per round; NaN where a run failed. */
  p99: Map<string, number[]>;
}

export interface LatencyRoundsOptions {
  rounds: number;
  durationS: number;
  rate: number;
  log: (msg: string) => void;
}

export async function runLatencyRounds(pairs: Map<string, RunningPair>, opts: LatencyRoundsOptions): Promise<LatencyRounds | undefined> {
  const order = LATENCY_ROUND_ORDER.filter((n) => pairs.has(n));
  if (order.length < LATENCY_ROUND_ORDER.length) return undefined;
  const p99 = new Map<string, number[]>(order.map((n) => [n, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const name of order) {
      const pair = pairs.get(name)!;
      await sleep(300);
      try {
        const r = await runOpenLoop({ host: '127.0.0.1', port: pair.port, path: '/', rate: opts.rate, durationS: opts.durationS, warmupS: 1, initialConnections: 16, maxConnections: 1024 });
        p99.get(name)!.push(r.errors > 0 ? NaN : r.p99Ms);
        opts.log(`latency round ${round}/${opts.rounds}: ${name}: p99 ${r.p99Ms.toFixed(3)} ms, ${r.errors} errors`);
      } catch (err) {
        p99.get(name)!.push(NaN);
        opts.log(`latency round ${round}/${opts.rounds}: ${name}: FAILED: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
      }
    }
  }
  return { rounds: opts.rounds, durationS: opts.durationS, rate: opts.rate, p99 };
}

/** Per round: trellis's added p99 over haproxy's (NaN where haproxy added nothing measurable or a run failed), and their median. */
export function addedP99Ratios(r: LatencyRounds | undefined): { perRound: number[]; added: { trellis: number; haproxy: number }[]; median: number } | undefined {
  if (!r) return undefined;
  const d = r.p99.get('direct')!;
  const h = r.p99.get('haproxy')!;
  const t = r.p99.get('trellis')!;
  const added = d.map((dv, i) => ({ trellis: t[i]! - dv, haproxy: h[i]! - dv }));
  const perRound = added.map((a) => (a.haproxy > 0 ? a.trellis / a.haproxy : NaN));
  return { perRound, added, median: median(perRound) };
}

type Fmt = (v: number | undefined, digits?: number) => string;

export function latencyRoundsSection(r: LatencyRounds, f: Fmt): string[] {
  const cols = Array.from({ length: r.rounds }, (_, i) => i + 1);
  const L = ['## Latency at 1,000 req/s, interleaved rounds', ''];
  L.push(
    `${r.rounds > 1 ? `Each of ${r.rounds} rounds runs` : 'One round runs'} the open-loop generator at ${f(r.rate, 0)} req/s for ${r.durationS} s (after a warm-up second) against ${LATENCY_ROUND_ORDER.join(', ')} in turn; the added-p99 target uses the median of the per-round ratios (a round where haproxy adds nothing measurable over direct gives no ratio).`,
    '',
  );
  L.push(`| pair | ${cols.map((i) => `round ${i} p99 ms`).join(' | ')} | median p99 ms |`);
  L.push(`|---|${cols.map(() => '---:').join('|')}|---:|`);
  for (const [name, v] of r.p99) L.push(`| ${name} | ${v.map((x) => f(x, 3)).join(' | ')} | ${f(median(v), 3)} |`);
  L.push('');
  const ratios = addedP99Ratios(r)!;
  L.push(`| added p99 over direct | ${cols.map((i) => `round ${i}`).join(' | ')} | median |`);
  L.push(`|---|${cols.map(() => '---:').join('|')}|---:|`);
  L.push(`| trellis ms | ${ratios.added.map((a) => f(a.trellis, 3)).join(' | ')} | ${f(median(ratios.added.map((a) => a.trellis)), 3)} |`);
  L.push(`| haproxy ms | ${ratios.added.map((a) => f(a.haproxy, 3)).join(' | ')} | ${f(median(ratios.added.map((a) => a.haproxy)), 3)} |`);
  L.push(`| trellis / haproxy | ${ratios.perRound.map((x) => f(x, 2)).join(' | ')} | ${f(ratios.median, 2)} |`);
  L.push('');
  return L;
}
