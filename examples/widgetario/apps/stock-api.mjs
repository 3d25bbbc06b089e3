// stock-api: how many of each product are in stock, kept in memory (the
// counts start from INITIAL_STOCK at every start).
//
// GET /stock          { instance, stock: [{ id, stock }] }
// GET /stock/<id>     { instance, id, stock } | 404
// PUT /stock/<id>     body { "stock": n } → { instance, id, stock } (the mesh's
//                     HTTPRouteGroup lets web GET only, so web cannot change it)
// GET /healthz        ok
//
// Env: PORT, INITIAL_STOCK ("1:12,2:3,3:0,4:25").

import http from 'node:http';
import { env, exitOnSignals, listen, readBody, sendJson } from './lib.mjs';

const instance = env('TRELLIS_INSTANCE_NAME', 'stock-api');
const stock = new Map(
  env('INITIAL_STOCK', '1:12,2:3,3:0,4:25')
    .split(',')
    .map((pair) => pair.split(':').map((s) => Number(s.trim())))
    .filter(([id, n]) => Number.isInteger(id) && Number.isInteger(n)),
);

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const answer = (status, body) => sendJson(res, status, { instance, ...body });
  if (url.pathname === '/healthz') return answer(200, { status: 'ok' });
  if (url.pathname === '/stock' && req.method === 'GET') {
    return answer(200, { stock: [...stock].map(([id, n]) => ({ id, stock: n })) });
  }
  const one = /^\/stock\/(\d+)$/.exec(url.pathname);
  if (!one) return answer(404, { error: `no route for ${req.method} ${url.pathname}` });
  const id = Number(one[1]);
  if (req.method === 'PUT') {
    let n;
    try {
      n = JSON.parse(await readBody(req)).stock;
    } catch {
      return answer(400, { error: 'body must be JSON: {"stock": <whole number ≥ 0>}' });
    }
    if (!Number.isInteger(n) || n < 0) return answer(400, { error: 'stock must be a whole number ≥ 0' });
    stock.set(id, n);
    return answer(200, { id, stock: n });
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { error: 'GET or PUT' });
  if (!stock.has(id)) return answer(404, { error: `no stock record for product ${id}` });
  return answer(200, { id, stock: stock.get(id) });
});

exitOnSignals(() => new Promise((resolve) => server.close(() => resolve())));
listen(server, 'stock-api');
