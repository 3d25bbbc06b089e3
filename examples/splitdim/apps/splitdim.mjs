// splitdim: the SplitDim demo app. Accounts with balances and a list of recent
// transfers, all kept in the kv store (apps/kv.mjs), which it reaches through
// the mesh: with HTTP_PROXY set (the runner sets it to the sidecar) every kv
// call goes to the sidecar as `http://kv.splitdim:80/...`, so it carries this
// instance's identity and needs a TrafficTarget; without HTTP_PROXY it
// connects to KV_URL directly (tests). Two deployments run the same code with
// a different VERSION; the mesh decides which one answers (header route).
//
//   GET  /api/accounts    { accounts: [{ name, balance }] }
//   POST /api/transfer    JSON { from, to, amount } (amount: a whole number > 0)
//                         200 { transfer, accounts } | 400 bad input or unknown account
//                         | 409 insufficient funds (nothing changes) | 502 kv store unreachable
//   GET  /api/list        { transfers: [...] }: the most recent, newest first, at most 50
//   POST /api/clear       { cleared: N }: forget every transfer
//   POST /api/reset       { accounts }: accounts back to the seed (alice, bob, carol: 100 each)
//   GET  /                an HTML page: which deployment (VERSION, instance) served it, the accounts
//   GET  /healthz         200 ok
// Every JSON answer has `version` (VERSION) and `instance` (TRELLIS_INSTANCE_NAME),
// and every answer the header `x-splitdim-version`.
//
// Money moves with atomic kv increments: the debit is
// `POST /kv/accounts/<from>/incr?by=-N&min=0`, which the store refuses (409)
// when the balance would go negative, so concurrent transfers from any number
// of replicas never overdraw an account; then the credit; then the record.
// At start, when the store has no accounts, it seeds them (create-if-absent,
// so replicas starting together do not race), retrying until kv answers.
//
// Env: PORT, VERSION (splitdim), TRELLIS_INSTANCE_NAME, KV_URL (http://kv.splitdim:80),
// HTTP_PROXY / NO_PROXY (set by the runner), REQUEST_TIMEOUT_MS (2000).

import http from 'node:http';
import { call, env, errorText, exitOnSignals, intEnv, listen, log, readBody, sendJson, sleep, snippet } from './lib.mjs';

const version = env('VERSION', 'splitdim');
const instance = env('TRELLIS_INSTANCE_NAME', env('HOSTNAME', ''));
const kvUrl = env('KV_URL', 'http://kv.splitdim:80').replace(/\/+$/, '');
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 2000);

const SEED = { alice: 100, bob: 100, carol: 100 };
const MAX_LISTED = 50;
const ACCOUNTS = 'accounts/';
const TRANSFERS = 'transfers/';
const SEQ = 'meta/transfer-seq';
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** A failure that becomes an HTTP answer: status + message (+ extra fields). */
class Failure extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
}

// ---- the kv store ----------------------------------------------------------

/** A key in a kv path: `/` stays (kv keys may contain it), the rest is percent-encoded. */
const enc = (key) => key.split('/').map(encodeURIComponent).join('/');

/** One kv call; any answer but the `ok` statuses becomes a 502 Failure that says what kv (or the mesh) said. */
async function kv(method, path, { body, ok = [200] } = {}) {
  let r;
  try {
    r = await call(method, `${kvUrl}${path}`, { body, timeoutMs });
  } catch (err) {
    throw new Failure(502, `kv store ${kvUrl} unreachable: ${errorText(err)}`);
  }
  if (!ok.includes(r.status)) throw new Failure(502, `kv store ${method} ${path}: ${r.status} ${snippet(r.body)}`);
  let json = null;
  try {
    json = JSON.parse(r.body);
  } catch {
    throw new Failure(502, `kv store ${method} ${path}: ${r.status} with a body that is not JSON: ${snippet(r.body)}`);
  }
  return { status: r.status, json };
}

async function list(prefix) {
  return (await kv('GET', `/kv?prefix=${encodeURIComponent(prefix)}`)).json.items ?? [];
}

async function accounts() {
  return (await list(ACCOUNTS))
    .map(({ key, value }) => ({ name: key.slice(ACCOUNTS.length), balance: value }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The balance of one account, or undefined when it does not exist. */
async function balance(name) {
  const r = await kv('GET', `/kv/${enc(ACCOUNTS + name)}`, { ok: [200, 404] });
  return r.status === 200 ? r.json.value : undefined;
}

/** Add `by` to an account; with `min`, kv refuses (409) when the result would be lower: returns null then. */
async function incr(key, by, min) {
  const q = `by=${by}${min === undefined ? '' : `&min=${min}`}`;
  const r = await kv('POST', `/kv/${enc(key)}/incr?${q}`, { ok: [200, 409] });
  return r.status === 200 ? r.json.value : null;
}

async function transfers() {
  return (await list(TRANSFERS))
    .map(({ value }) => value)
    .sort((a, b) => b.id - a.id)
    .slice(0, MAX_LISTED);
}

async function transfer(input) {
  const { from, to, amount } = input && typeof input === 'object' ? input : {};
  if (typeof from !== 'string' || !NAME_RE.test(from)) throw new Failure(400, '`from` must be an account name');
  if (typeof to !== 'string' || !NAME_RE.test(to)) throw new Failure(400, '`to` must be an account name');
  if (from === to) throw new Failure(400, '`from` and `to` must be different accounts');
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new Failure(400, '`amount` must be a whole number greater than 0');
  const [fromBalance, toBalance] = await Promise.all([balance(from), balance(to)]);
  if (fromBalance === undefined) throw new Failure(400, `no account ${from}`);
  if (toBalance === undefined) throw new Failure(400, `no account ${to}`);

  // Debit only if the balance stays ≥ 0: one atomic kv operation.
  const left = await incr(ACCOUNTS + from, -amount, 0);
  if (left === null) {
    const now = await balance(from);
    throw new Failure(409, `insufficient funds: ${from} has ${now}, the transfer needs ${amount}`, { balance: now });
  }
  try {
    await incr(ACCOUNTS + to, amount);
  } catch (err) {
    // Give the money back; if that fails too, say so loudly.
    try {
      await incr(ACCOUNTS + from, amount);
    } catch (again) {
      log(`LOST ${amount} from ${from}: credit to ${to} failed (${err.message}) and the refund failed (${again.message})`);
    }
    throw err;
  }
  const id = await incr(SEQ, 1);
  const record = { id, from, to, amount, at: new Date().toISOString(), version, instance };
  try {
    await kv('PUT', `/kv/${enc(`${TRANSFERS}${String(id).padStart(12, '0')}`)}`, { body: record });
    // Keep the store small: the record MAX_LISTED older than this one goes.
    if (id > MAX_LISTED) {
      await kv('DELETE', `/kv/${enc(`${TRANSFERS}${String(id - MAX_LISTED).padStart(12, '0')}`)}`, { ok: [200, 404] });
    }
  } catch (err) {
    log(`transfer ${id} done but not recorded: ${err.message}`);
    return { transfer: { ...record, recorded: false } };
  }
  return { transfer: record };
}

async function clearTransfers() {
  const items = await list(TRANSFERS);
  await Promise.all(items.map(({ key }) => kv('DELETE', `/kv/${enc(key)}`, { ok: [200, 404] })));
  return items.length;
}

async function resetAccounts() {
  const extra = (await list(ACCOUNTS)).filter(({ key }) => !(key.slice(ACCOUNTS.length) in SEED));
  await Promise.all(extra.map(({ key }) => kv('DELETE', `/kv/${enc(key)}`, { ok: [200, 404] })));
  await Promise.all(Object.entries(SEED).map(([name, value]) => kv('PUT', `/kv/${enc(ACCOUNTS + name)}`, { body: value })));
}

/** At start: seed the accounts when the store has none, retrying until kv answers. */
async function seed() {
  for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
    try {
      if ((await list(ACCOUNTS)).length > 0) return log(`kv ${kvUrl} has accounts: not seeding`);
      // Create-if-absent: another replica seeding at the same time is harmless.
      const created = await Promise.all(
        Object.entries(SEED).map(async ([name, value]) => {
          const r = await kv('PUT', `/kv/${enc(ACCOUNTS + name)}?ifAbsent=1`, { body: value, ok: [200, 412] });
          return r.status === 200 ? name : null;
        }),
      );
      const names = created.filter(Boolean);
      return log(names.length ? `seeded ${names.join(', ')} in ${kvUrl}` : `kv ${kvUrl}: another replica seeded the accounts`);
    } catch (err) {
      log(`seeding: ${err.message}; again in ${wait} ms`);
      await sleep(wait);
    }
  }
}

// ---- serving ---------------------------------------------------------------

const HEADERS = { 'x-splitdim-version': version };
const answer = (res, status, obj) => sendJson(res, status, { version, instance, ...obj }, HEADERS);

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(accts, error) {
  const rows = accts.map((a) => `<tr><td>${esc(a.name)}</td><td class="n">${esc(a.balance)}</td></tr>`).join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>SplitDim (${esc(version)})</title>
<style>body{font:15px system-ui,sans-serif;margin:2em}td{padding:.2em 1.5em .2em 0;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}.v{font-size:1.4em;font-weight:600}.err{color:#b00}</style>
</head><body>
<h1>SplitDim</h1>
<p>Served by deployment <span class="v" id="version">${esc(version)}</span>, instance <b id="instance">${esc(instance || '?')}</b>.</p>
${error ? `<p class="err">kv store: ${esc(error)}</p>` : ''}
<table id="accounts"><tr><th align="left">account</th><th>balance</th></tr>${rows}</table>
<p><small>JSON: <a href="/api/accounts">/api/accounts</a>, <a href="/api/list">/api/list</a>;
POST /api/transfer {"from","to","amount"}, /api/clear, /api/reset.</small></p>
</body></html>
`;
}

async function route(req, res, url) {
  const p = url.pathname;
  const get = req.method === 'GET' || req.method === 'HEAD';
  const post = req.method === 'POST';
  if (p === '/healthz' && get) {
    res.writeHead(200, { 'content-type': 'text/plain', ...HEADERS });
    return res.end('ok\n');
  }
  if (p === '/' && get) {
    let accts = [];
    let error = '';
    try {
      accts = await accounts();
    } catch (err) {
      error = err.message;
    }
    const html = page(accts, error);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), ...HEADERS });
    return res.end(req.method === 'HEAD' ? undefined : html);
  }
  const routes = {
    '/api/accounts': ['GET', async () => answer(res, 200, { accounts: await accounts() })],
    '/api/list': ['GET', async () => answer(res, 200, { transfers: await transfers() })],
    '/api/transfer': [
      'POST',
      async () => {
        let input;
        try {
          input = JSON.parse(await readBody(req));
        } catch (err) {
          throw new Failure(err.status ?? 400, err.status ? err.message : 'the body must be JSON: {"from", "to", "amount"}');
        }
        const done = await transfer(input);
        answer(res, 200, { ...done, accounts: await accounts() });
      },
    ],
    '/api/clear': ['POST', async () => answer(res, 200, { cleared: await clearTransfers() })],
    '/api/reset': [
      'POST',
      async () => {
        await resetAccounts();
        answer(res, 200, { accounts: await accounts() });
      },
    ],
  };
  const r = routes[p];
  if (!r) return answer(res, 404, { error: 'not found', path: p });
  const [method, run] = r;
  if ((method === 'GET' && !get) || (method === 'POST' && !post)) {
    res.setHeader('allow', method);
    return answer(res, 405, { error: `use ${method}` });
  }
  return run();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://splitdim');
  route(req, res, url).catch((err) => {
    const status = err instanceof Failure || err.status ? err.status : 500;
    if (status >= 500) log(`${req.method} ${url.pathname}: ${status} ${err.message}`);
    if (!res.headersSent) answer(res, status, { error: err.message, ...(err.extra ?? {}) });
    else res.destroy();
  });
});

exitOnSignals();
listen(server, `splitdim (${version}, kv ${kvUrl}${env('HTTP_PROXY', env('http_proxy')) ? ` through ${env('HTTP_PROXY', env('http_proxy'))}` : ', direct'})`);
void seed();
