// bookbuyer: buys a book from the bookstore, then asks how many were bought,
// forever, through the sidecar. The mesh decides which bookstore version
// answers (TrafficSplit) and whether the buyer may ask at all (TrafficTarget).
//
// Env: PORT (its page), HTTP_PROXY / NO_PROXY (set by the runner),
// BOOKSTORE_SVC (bookstore), BOOKSTORE_NAMESPACE (bookstore), BOOKSTORE_PORT (14001),
// BUY_INTERVAL_MS (1000), REQUEST_TIMEOUT_MS (2000).

import { call, env, errorText, exitOnSignals, intEnv, log, serve, sleep, snippet } from './lib.mjs';

const store = `http://${env('BOOKSTORE_SVC', 'bookstore')}.${env('BOOKSTORE_NAMESPACE', 'bookstore')}:${env('BOOKSTORE_PORT', '14001')}`;
const interval = intEnv('BUY_INTERVAL_MS', 1000);
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 2000);
// The demo's HTTPRouteGroup only lets /books-bought through with these headers.
const headers = { 'user-agent': 'bookbuyer-http-client/1.0', 'client-app': 'bookbuyer' };

const c = {
  booksBought: 0,
  failures: 0, // purchases that failed (status or network error)
  booksBoughtCheckFailures: 0, // failed GET /books-bought
  byIdentity: {},
  booksBoughtReported: null, // what the store says it has sold, from /books-bought
  lastStatus: null,
  lastError: '',
  lastErrorAt: '',
  attempts: 0,
  bookstore: store,
};

function failed(what, text) {
  if (what.includes('buy-a-book')) c.failures++;
  else c.booksBoughtCheckFailures++;
  c.lastError = `${what}: ${text}`;
  c.lastErrorAt = new Date().toISOString();
}

async function buyOnce() {
  c.attempts++;
  try {
    const r = await call('GET', `${store}/buy-a-book/new`, { headers, timeoutMs });
    c.lastStatus = r.status;
    if (r.status >= 200 && r.status < 300) {
      c.booksBought++;
      const id = String(r.headers.identity ?? 'unknown');
      c.byIdentity[id] = (c.byIdentity[id] ?? 0) + 1;
    } else {
      failed('GET /buy-a-book/new', `${r.status} ${snippet(r.body)}`);
    }
  } catch (err) {
    c.lastStatus = 'error';
    failed('GET /buy-a-book/new', errorText(err));
  }
  try {
    const r = await call('GET', `${store}/books-bought`, { headers, timeoutMs });
    if (r.status >= 200 && r.status < 300) {
      try {
        c.booksBoughtReported = JSON.parse(r.body).booksSold ?? c.booksBoughtReported;
      } catch {
        /* not JSON: keep the previous number */
      }
    } else {
      failed('GET /books-bought', `${r.status} ${snippet(r.body)}`);
    }
  } catch (err) {
    failed('GET /books-bought', errorText(err));
  }
  if (c.attempts % 10 === 0) {
    const ids = Object.entries(c.byIdentity).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
    log(`attempts=${c.attempts} bought=${c.booksBought} failures=${c.failures} books-bought-check-failures=${c.booksBoughtCheckFailures} by identity: ${ids}` +
      (c.lastError ? ` | last error (${c.lastErrorAt}): ${c.lastError}` : ''));
  }
}

exitOnSignals();
serve({ title: 'bookbuyer', getCounters: () => c });
log(`buying from ${store} every ${interval} ms through ${env('HTTP_PROXY', env('http_proxy', '(no proxy)'))}`);
for (;;) {
  try {
    await buyOnce();
  } catch (err) {
    c.lastError = `loop: ${errorText(err)}`; // never expected; never fatal either
  }
  await sleep(interval);
}
