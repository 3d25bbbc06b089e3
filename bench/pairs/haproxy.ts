// haproxy: two haproxy processes as the client and server sidecars, mTLS
// (ECDSA P-256, TLS 1.3) between them, one thread each.
import fs from 'node:fs';
import path from 'node:path';
import { createBenchTls } from '../tls.js';
import { freePorts, startProcess, waitForPort } from '../procs.js';
import type { PairContext, RunningPair } from './types.js';

export const HAPROXY_BIN = '/usr/sbin/haproxy';

const common = `global
  nbthread 1
  maxconn 4096
  tune.bufsize 16384
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  timeout http-request 10s
`;

export async function startHaproxy(ctx: PairContext): Promise<RunningPair> {
  const dir = path.join(ctx.workDir, 'haproxy');
  const tls = await createBenchTls(path.join(dir, 'tls'));
  const [clientPort, serverPort] = await freePorts(2);
  const serverCfg = `${common}
frontend inbound
  bind 127.0.0.1:${serverPort} ssl crt ${tls.server.pemFile} ca-file ${tls.caFile} verify required ssl-min-ver TLSv1.3
  default_backend app
backend app
  http-reuse always
  server nginx 127.0.0.1:${ctx.upstreamPort}
`;
  const clientCfg = `${common}
frontend outbound
  bind 127.0.0.1:${clientPort}
  default_backend mesh
backend mesh
  http-reuse always
  server upstream 127.0.0.1:${serverPort} ssl verify required ca-file ${tls.caFile} crt ${tls.client.pemFile} sni str(localhost) ssl-min-ver TLSv1.3
`;
  const serverFile = path.join(dir, 'server.cfg');
  const clientFile = path.join(dir, 'client.cfg');
  fs.writeFileSync(serverFile, serverCfg);
  fs.writeFileSync(clientFile, clientCfg);
  const server = startProcess('haproxy server hop', HAPROXY_BIN, ['-db', '-f', serverFile]);
  await waitForPort(serverPort, server);
  const client = startProcess('haproxy client hop', HAPROXY_BIN, ['-db', '-f', clientFile]);
  await waitForPort(clientPort, client);
  return {
    name: 'haproxy',
    url: `http://127.0.0.1:${clientPort}`,
    port: clientPort,
    proxies: [
      { role: 'client', pid: client.pid },
      { role: 'server', pid: server.pid },
    ],
    notes: ['haproxy: `nbthread 1` per sidecar (one core each, like one Node.js process), `http-reuse always`, server verifies the client certificate against the mesh CA (no per-request identity authorisation).'],
    async stop() {
      await Promise.all([client.stop('SIGTERM', 2000), server.stop('SIGTERM', 2000)]);
    },
  };
}
