// bookthief: tries to take books from the bookstore, forever, through the
// sidecar. No TrafficTarget lets it in, so the mesh denies it (403 with a body
// that says why) until `allow-thief.yaml` is applied.
//
// Env: PORT (its page), HTTP_PROXY / NO_PROXY (set by the runner),
// BOOKSTORE_SVC (bookstore), BOOKSTORE_NAMESPACE (bookstore), BOOKSTORE_PORT (14001),
// BUY_INTERVAL_MS (1000), REQUEST_TIMEOUT_MS (2000),
// BOOKTHIEF_EXPECTED_RESPONSE_CODE (403: the status the demo expects the thief to get).

import { call, env, errorText, exitOnSignals, intEnv, log, serve, sleep, snippet } from './lib.mjs';

const store = `http://${env('BOOKSTORE_SVC', 'bookstore')}.${env('BOOKSTORE_NAMESPACE', 'bookstore')}:${env('BOOKSTORE_PORT', '14001')}`;
const interval = intEnv('BUY_INTERVAL_MS', 1000);
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 2000);
const expected = intEnv('BOOKTHIEF_EXPECTED_RESPONSE_CODE', 403);
// Not the bookbuyer's headers: the HTTPRouteGroup's books-bought match wants client-app: bookbuyer.
const headers = { 'user-agent': 'bookthief-http-client/1.0', 'client-app': 'bookthief' };

const c = {
  booksStolen: 0,
  denials: 0,
  errors: 0,
  byIdentity: {},
  expectedResponseCode: expected,
  asExpected: 0, // responses to /buy-a-book/new with the expected status
  unexpected: 0,
  lastStatus: null,
  lastBooksBoughtStatus: null,
  lastDenial: '', // status and body of the last refusal: the mesh explains who was denied and why
  lastDenialAt: '',
  lastError: '',
  attempts: 0,
  bookstore: store,
};

async function stealOnce() {
  c.attempts++;
  try {
    const r = await call('GET', `${store}/buy-a-book/new`, { headers, timeoutMs });
    c.lastStatus = r.status;
    if (r.status === expected) c.asExpected++;
    else c.unexpected++;
    if (r.status >= 200 && r.status < 300) {
      c.booksStolen++;
      const id = String(r.headers.identity ?? 'unknown');
      c.byIdentity[id] = (c.byIdentity[id] ?? 0) + 1;
    } else {
      c.denials++;
      c.lastDenial = `GET /buy-a-book/new → ${r.status} ${snippet(r.body)}`;
      c.lastDenialAt = new Date().toISOString();
    }
  } catch (err) {
    c.errors++;
    c.lastStatus = 'error';
    c.unexpected++;
    c.lastError = `GET /buy-a-book/new: ${errorText(err)}`;
  }
  try {
    const r = await call('GET', `${store}/books-bought`, { headers, timeoutMs });
    c.lastBooksBoughtStatus = r.status;
  } catch (err) {
    c.lastBooksBoughtStatus = 'error';
    c.lastError = `GET /books-bought: ${errorText(err)}`;
  }
  if (c.attempts % 10 === 0) {
    log(`attempts=${c.attempts} stolen=${c.booksStolen} denied=${c.denials} errors=${c.errors}` +
      ` (expected ${expected}: ${c.asExpected}, other: ${c.unexpected})` +
      (c.lastDenial ? ` | last denial: ${c.lastDenial}` : '') +
      (c.lastError ? ` | last error: ${c.lastError}` : ''));
  }
}

exitOnSignals();
serve({ title: 'bookthief', getCounters: () => c });
log(`stealing from ${store} every ${interval} ms through ${env('HTTP_PROXY', env('http_proxy', '(no proxy)'))}`);
for (;;) {
  try {
    await stealOnce();
  } catch (err) {
    c.errors++;
    c.lastError = `loop: ${errorText(err)}`;
  }
  await sleep(interval);
}
