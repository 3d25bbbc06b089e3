// Helpers for the tests of the example apps: start an app as a child process
// on a free loopback port (PORT=0; the app prints the port it got), call it
// over HTTP, stop it.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** examples/ in the repository (tests run from dist/test/examples/). */
export const examplesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples');

export interface App {
  child: ChildProcess;
  port: number;
  /** Everything the app printed so far (stdout and stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node <script>` with PORT=0 and `env`, without the runner's proxy
 * variables (the test process may have some), and waits for its
 * `listening on ...<port>` line.
 */
export function startApp(script: string, env: Record<string, string> = {}, timeoutMs = 10_000): Promise<App> {
  const base = { ...process.env };
  for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'PORT', 'TRELLIS_INSTANCE_NAME', 'VERSION', 'KV_URL', 'DATA_FILE']) {
    delete base[k];
  }
  const child = spawn(process.execPath, [script], { env: { ...base, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const app: App = {
    child,
    port: 0,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void app.stop();
      reject(new Error(`${script} did not say it was listening within ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (?:http:\/\/127\.0\.0\.1:)?(\d+)/.exec(out);
      if (m && app.port === 0) {
        app.port = Number(m[1]);
        clearTimeout(timer);
        resolve(app);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before listening; output:\n${out}`));
    });
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

/** One HTTP/1.1 request to 127.0.0.1:port on a fresh connection. Rejects on network errors and timeouts. */
export function request(
  port: number,
  method: string,
  pathAndQuery: string,
  opts: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: pathAndQuery,
        agent: false,
        headers: {
          ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          ...opts.headers,
        },
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The error a request failed with (rejects when it did not fail). */
export async function failure(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await p;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected the request to fail, it got an answer');
}
