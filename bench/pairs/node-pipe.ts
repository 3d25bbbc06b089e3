// Reference pairs node-tls-pipe and node-mux-pipe: two Node.js processes
// (node-pipe-hop.ts) that copy bytes between plain TCP and mTLS and parse no
// HTTP, with one TLS connection per client connection (tls) or every client
// connection multiplexed over one TLS connection (mux, the design Trellis's
// sidecars use between them). A lower bound for a Node.js proxy, not a
// competitor: they only take part in the interleaved max-throughput rounds.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchTls } from '../tls.js';
import { freePorts, startProcess, waitForPort } from '../procs.js';
import type { PairContext, RunningPair } from './types.js';

const HOP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node-pipe-hop.js');

async function startPipe(ctx: PairContext, name: 'node-tls-pipe' | 'node-mux-pipe', note: string): Promise<RunningPair> {
  const certDir = path.join(ctx.workDir, name);
  await createBenchTls(certDir);
  const mux = name === 'node-mux-pipe' ? ['mux'] : [];
  const [clientPort, serverPort] = await freePorts(2);
  const server = startProcess(`${name} server hop`, process.execPath, [HOP, 'server', String(serverPort), String(ctx.upstreamPort), certDir, ...mux]);
  try {
    await waitForPort(serverPort, server);
    const client = startProcess(`${name} client hop`, process.execPath, [HOP, 'client', String(clientPort), String(serverPort), certDir, ...mux]);
    try {
      await waitForPort(clientPort, client);
    } catch (err) {
      await client.stop('SIGTERM', 2000);
      throw err;
    }
    return {
      name,
      url: `http://127.0.0.1:${clientPort}`,
      port: clientPort,
      proxies: [
        { role: 'client', pid: client.pid },
        { role: 'server', pid: server.pid },
      ],
      notes: [`${name} (reference: no HTTP parsing; a lower bound, not a competitor): ${note}`],
      async stop() {
        await Promise.all([client.stop('SIGTERM', 2000), server.stop('SIGTERM', 2000)]);
      },
    };
  } catch (err) {
    await server.stop('SIGTERM', 2000);
    throw err;
  }
}

export const startNodeTlsPipe = (ctx: PairContext) =>
  startPipe(ctx, 'node-tls-pipe', 'two Node.js processes copying bytes (bench/pairs/node-pipe-hop.ts), one mTLS (TLS 1.3) connection between the hops per client connection, one nginx connection per client connection.');

export const startNodeMuxPipe = (ctx: PairContext) =>
  startPipe(
    ctx,
    'node-mux-pipe',
    'the same processes in `mux` mode: every client connection as frames (u32 id, u32 length, bytes) over ONE mTLS connection between the hops, the frames of an event-loop turn written at once; one nginx connection per client connection.',
  );
