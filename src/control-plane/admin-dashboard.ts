// The dashboard's static files, served by the control plane's admin API at
// /dashboard/ (docs/dashboard.md). Plain ES modules, no build step: they are
// read from src/dashboard/ of the installation, found relative to this
// compiled file (dist/src/control-plane/ → src/dashboard/), so a fresh
// `npm ci` serves them as they are in the repository. Only the files below
// are served, each with its content type.

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminError } from './admin-http.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** Every file the dashboard consists of, with its content type. Nothing else is served. */
export const DASHBOARD_FILES: Readonly<Record<string, string>> = {
  'index.html': HTML,
  'style.css': CSS,
  'app.js': JS,
  'api.js': JS,
  'dom.js': JS,
  'graph.js': JS,
  'service.js': JS,
  'access.js': JS,
  'proxy.js': JS,
  'traces.js': JS,
};

/** Where the files are: $TRELLIS_DASHBOARD_DIR, else src/dashboard/ beside dist/. */
export function dashboardDir(): string {
  if (process.env.TRELLIS_DASHBOARD_DIR) return path.resolve(process.env.TRELLIS_DASHBOARD_DIR);
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled: <root>/dist/src/control-plane → <root>/src/dashboard. Run from source: <root>/src/control-plane.
  const candidates = [path.resolve(here, '../../../src/dashboard'), path.resolve(here, '../dashboard')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[0]!;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
};

function fileHandler(dir: string, name: string, type: string): Handler {
  return async (req, res) => {
    let body: Buffer;
    try {
      body = await fs.promises.readFile(path.join(dir, name));
    } catch {
      throw new AdminError(404, 'TRELLIS_E_NOT_FOUND', `dashboard file ${name} is missing from ${dir}`);
    }
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** [path, handler] of every dashboard route (GET): /dashboard redirects to /dashboard/, which is index.html. */
export function dashboardRoutes(dir = dashboardDir()): [string, Handler][] {
  const routes: [string, Handler][] = [
    [
      '/dashboard',
      (_req, res) => {
        res.writeHead(308, { location: '/dashboard/', 'content-length': 0 });
        res.end();
      },
    ],
    ['/dashboard/', fileHandler(dir, 'index.html', HTML)],
  ];
  for (const [name, type] of Object.entries(DASHBOARD_FILES)) routes.push([`/dashboard/${name}`, fileHandler(dir, name, type)]);
  return routes;
}
