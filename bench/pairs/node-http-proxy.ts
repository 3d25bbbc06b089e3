// node-http-proxy: the `http-proxy` npm package as both sidecars, one Node.js
// process per hop (node-http-proxy-hop.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchTls } from '../tls.js';
import { freePorts, startProcess, waitForPort } from '../procs.js';
import type { PairContext, RunningPair } from './types.js';

const HOP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node-http-proxy-hop.js');

export async function startNodeHttpProxy(ctx: PairContext): Promise<RunningPair> {
  const certDir = path.join(ctx.workDir, 'node-http-proxy');
  await createBenchTls(certDir);
  const [clientPort, serverPort] = await freePorts(2);
  const server = startProcess('node-http-proxy server hop', process.execPath, [HOP, 'server', String(serverPort), String(ctx.upstreamPort), certDir]);
  await waitForPort(serverPort, server);
  const client = startProcess('node-http-proxy client hop', process.execPath, [HOP, 'client', String(clientPort), String(serverPort), certDir]);
  await waitForPort(clientPort, client);
  return {
    name: 'node-http-proxy',
    url: `http://127.0.0.1:${clientPort}`,
    port: clientPort,
    proxies: [
      { role: 'client', pid: client.pid },
      { role: 'server', pid: server.pid },
    ],
    notes: ['node-http-proxy: http-proxy with keep-alive agents on both hops (https.Agent with the client certificate, TLS 1.3).'],
    async stop() {
      await Promise.all([client.stop('SIGTERM', 2000), server.stop('SIGTERM', 2000)]);
    },
  };
}
