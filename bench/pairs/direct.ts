// direct: the client talks to nginx itself; the baseline for added latency.
import type { PairContext, RunningPair } from './types.js';

export async function startDirect(ctx: PairContext): Promise<RunningPair> {
  return {
    name: 'direct',
    url: `http://127.0.0.1:${ctx.upstreamPort}`,
    port: ctx.upstreamPort,
    proxies: [],
    notes: [],
    async stop() {},
  };
}
