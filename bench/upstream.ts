// The upstream every pair forwards to: nginx with its config in a temp dir.
//   GET  /        a small fixed body (SMALL_BODY, 100 bytes)
//   GET  /1m      a 1 MiB file
//   POST /upload  reads the whole body (up to 2 MiB) before answering 200 "ok"

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts, startProcess, waitForPort, type Proc } from './procs.js';

export const NGINX_BIN = '/usr/sbin/nginx';
export const SMALL_BODY = 'Hello from the Trellis benchmark upstream. This body is exactly one hundred bytes long, padded: ok.\n';
export const MIB = 1024 * 1024;

export interface Upstream {
  port: number;
  dir: string;
  proc: Proc;
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-nginx-'));
  // Workers may run as another user when we are root: let them read the files.
  fs.chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  fs.mkdirSync(www, { mode: 0o755 });
  fs.writeFileSync(path.join(www, '1m'), Buffer.alloc(MIB, 'x'), { mode: 0o644 });
  const [port, sinkPort] = await freePorts(2);
  const temp = (name: string) => path.join(dir, name);
  const conf = `
worker_processes 1;
error_log ${temp('error.log')} warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  # /upload: proxy_pass with request buffering reads the WHOLE body before
  # anything is answered (a bare "return 200" would answer first and discard
  # the body afterwards); the body itself is not forwarded to the sink.
  upstream sink { server 127.0.0.1:${sinkPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = / { default_type text/plain; return 200 ${JSON.stringify(SMALL_BODY)}; }
    location = /1m { root ${www}; }
    location = /upload {
      client_max_body_size 2m;
      client_body_buffer_size 2m;
      proxy_request_buffering on;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Connection "";
      proxy_http_version 1.1;
      proxy_pass http://sink/ok;
    }
  }
  server {
    listen 127.0.0.1:${sinkPort};
    location / { default_type text/plain; return 200 "ok"; }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const proc = startProcess('nginx', NGINX_BIN, ['-p', dir, '-c', confFile, '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')};`]);
  await waitForPort(port, proc);
  return {
    port,
    dir,
    proc,
    async stop() {
      await proc.stop('SIGQUIT', 3000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
