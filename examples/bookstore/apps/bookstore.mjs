// bookstore: sells books and says which version it is (response header
// `identity`), so a TrafficSplit shows in the buyer's counts. Every few sales
// it restocks from the bookwarehouse, through the sidecar.
//
// Env: PORT, HTTP_PROXY / NO_PROXY (set by the runner), IDENTITY (bookstore-v1),
// RESTOCK_EVERY (5), BOOKWAREHOUSE_SVC (bookwarehouse),
// BOOKWAREHOUSE_NAMESPACE (bookwarehouse), BOOKWAREHOUSE_PORT (14001),
// REQUEST_TIMEOUT_MS (2000).

import { call, env, errorText, exitOnSignals, intEnv, log, sendJson, serve, snippet } from './lib.mjs';

const identity = env('IDENTITY', 'bookstore-v1');
const restockEvery = Math.max(1, intEnv('RESTOCK_EVERY', 5));
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 2000);
const warehouse = `http://${env('BOOKWAREHOUSE_SVC', 'bookwarehouse')}.${env('BOOKWAREHOUSE_NAMESPACE', 'bookwarehouse')}:${env('BOOKWAREHOUSE_PORT', '14001')}`;

const c = {
  identity,
  booksSold: 0,
  restocked: 0, // restock calls the warehouse accepted
  restockFailures: 0,
  lastRestockError: '',
  lastRestockErrorAt: '',
  bySource: {}, // sales per user-agent, to tell the buyer from the thief
  bookwarehouse: warehouse,
};

async function restock() {
  try {
    const r = await call('POST', `${warehouse}/restock-books`, {
      headers: { 'user-agent': `${identity}-http-client/1.0` },
      body: { identity, books: restockEvery },
      timeoutMs,
    });
    if (r.status >= 200 && r.status < 300) {
      c.restocked++;
      return;
    }
    c.lastRestockError = `${r.status} ${snippet(r.body)}`;
  } catch (err) {
    c.lastRestockError = errorText(err);
  }
  c.restockFailures++;
  c.lastRestockErrorAt = new Date().toISOString();
  if (c.restockFailures % 10 === 1) log(`restock failed (${c.restockFailures} so far): ${c.lastRestockError}`);
}

function handler(req, res, url) {
  const ok = req.method === 'GET';
  if (url.pathname === '/buy-a-book/new') {
    if (!ok) return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET', identity });
    c.booksSold++;
    const ua = String(req.headers['user-agent'] ?? 'unknown');
    c.bySource[ua] = (c.bySource[ua] ?? 0) + 1;
    if (c.booksSold % 10 === 0) log(`sold ${c.booksSold} books, restocked ${c.restocked} times, ${c.restockFailures} restock failures`);
    if (c.booksSold % restockEvery === 0) void restock();
    return sendJson(res, 200, { identity, booksSold: c.booksSold }, { identity });
  }
  if (url.pathname === '/books-bought') {
    if (!ok) return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET', identity });
    return sendJson(res, 200, { identity, booksSold: c.booksSold }, { identity });
  }
  return false;
}

exitOnSignals();
serve({ title: `bookstore (${identity})`, getCounters: () => c, handler });
