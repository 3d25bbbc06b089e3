// kv: a tiny key-value store over HTTP, the SplitDim demo's database. Values
// are any JSON; keys are any non-empty string, `/` included (`/kv/accounts/alice`
// is the key `accounts/alice`); percent-encode `?`, `#` and `%` in a key.
// Everything is served from memory; with DATA_FILE it is also written to that
// JSON file after every change (to a temporary file, then renamed over it, so
// the file is always whole) and read back at start.
//
//   GET    /kv/<key>                 200 { key, value } | 404
//   PUT    /kv/<key>                 body: a JSON value → 200 { key, value }
//          ?ifAbsent=1               only if the key does not exist yet (else 412)
//   DELETE /kv/<key>                 200 { key, deleted: true } | 404
//   GET    /kv?prefix=p              200 { prefix, items: [{ key, value }] } sorted by key
//   POST   /kv/<key>/incr?by=N       add N (an integer, default 1; may be negative)
//                                    atomically; a missing key counts as 0 → 200 { key, value }
//                                    (any POST to a path ending in /incr is an increment)
//          &min=M                    refuse (409, nothing changes) when the result would be < M
//          &max=M                    refuse (409) when the result would be > M
//   A value that is not a number cannot be incremented (409).
//   GET    /healthz                  200 ok
//   GET    /                         200 { keys, dataFile }
//
// Env: PORT (0 = any free port), DATA_FILE (optional).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { env, exitOnSignals, listen, log, readBody, sendJson } from './lib.mjs';

const dataFile = env('DATA_FILE') ? path.resolve(env('DATA_FILE')) : '';

/** @type {Map<string, unknown>} */
const data = new Map();

function load() {
  if (!dataFile) return;
  let text;
  try {
    text = fs.readFileSync(dataFile, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return log(`no ${dataFile} yet: starting empty`);
    throw err;
  }
  const obj = JSON.parse(text);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${dataFile}: not a JSON object`);
  for (const [k, v] of Object.entries(obj)) data.set(k, v);
  log(`loaded ${data.size} keys from ${dataFile}`);
}

/** Write the whole map to DATA_FILE: temporary file + rename, so readers never see half a file. */
function persist() {
  if (!dataFile) return;
  const tmp = `${dataFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(data), null, 1) + '\n');
  fs.renameSync(tmp, dataFile);
}

function changed(res, status, obj) {
  try {
    persist();
  } catch (err) {
    log(`cannot write ${dataFile}: ${err.message}`);
    return sendJson(res, 500, { error: `change made in memory but not saved: ${err.message}`, ...obj });
  }
  sendJson(res, status, obj);
}

/** `?name=` as an integer; undefined when absent; NaN when not an integer. */
function intParam(q, name) {
  if (!q.has(name)) return undefined;
  const v = q.get(name);
  return /^-?\d+$/.test(v ?? '') && Number.isSafeInteger(Number(v)) ? Number(v) : NaN;
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://kv');
  const p = url.pathname;
  if (p === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok\n');
  }
  if (p === '/') return sendJson(res, 200, { keys: data.size, dataFile: dataFile || null });
  if (p === '/kv' || p === '/kv/') {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'use GET /kv?prefix=' }, { allow: 'GET' });
    const prefix = url.searchParams.get('prefix') ?? '';
    const items = [...data.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((key) => ({ key, value: data.get(key) }));
    return sendJson(res, 200, { prefix, items });
  }
  if (!p.startsWith('/kv/')) return sendJson(res, 404, { error: 'not found', path: p });

  let rest = p.slice('/kv/'.length);
  const incr = req.method === 'POST' && rest.endsWith('/incr');
  if (incr) rest = rest.slice(0, -'/incr'.length);
  let key;
  try {
    key = decodeURIComponent(rest);
  } catch {
    return sendJson(res, 400, { error: 'bad percent-encoding in the key' });
  }
  if (!key) return sendJson(res, 400, { error: 'empty key' });

  if (incr) {
    const q = url.searchParams;
    const by = intParam(q, 'by') ?? 1;
    const min = intParam(q, 'min');
    const max = intParam(q, 'max');
    if ([by, min, max].some((n) => Number.isNaN(n))) return sendJson(res, 400, { error: 'by, min and max must be integers' });
    const current = data.has(key) ? data.get(key) : 0;
    if (typeof current !== 'number') return sendJson(res, 409, { error: 'the value is not a number', key, value: current });
    const next = current + by;
    if (!Number.isSafeInteger(next)) return sendJson(res, 409, { error: 'the result would not be a safe integer', key, value: current });
    if (min !== undefined && next < min) return sendJson(res, 409, { error: `the result ${next} would be below min ${min}`, key, value: current });
    if (max !== undefined && next > max) return sendJson(res, 409, { error: `the result ${next} would be above max ${max}`, key, value: current });
    data.set(key, next); // no await between the read and the write: atomic
    return changed(res, 200, { key, value: next });
  }

  switch (req.method) {
    case 'GET':
    case 'HEAD':
      return data.has(key) ? sendJson(res, 200, { key, value: data.get(key) }) : sendJson(res, 404, { error: 'no such key', key });
    case 'PUT': {
      let value;
      try {
        value = JSON.parse(await readBody(req));
      } catch (err) {
        return sendJson(res, err.status ?? 400, { error: err.status ? err.message : 'the body must be a JSON value', key });
      }
      const ifAbsent = url.searchParams.get('ifAbsent');
      if (ifAbsent && ifAbsent !== '0' && data.has(key)) {
        return sendJson(res, 412, { error: 'the key exists', key, value: data.get(key) });
      }
      data.set(key, value);
      return changed(res, 200, { key, value });
    }
    case 'DELETE':
      if (!data.delete(key)) return sendJson(res, 404, { error: 'no such key', key });
      return changed(res, 200, { key, deleted: true });
    default:
      return sendJson(res, 405, { error: 'use GET, PUT, DELETE, or POST /kv/<key>/incr' }, { allow: 'GET, PUT, DELETE, POST' });
  }
}

try {
  load();
} catch (err) {
  log(`cannot read DATA_FILE ${dataFile}: ${err.message}; refusing to start rather than overwrite it`);
  process.exit(1);
}
exitOnSignals();
const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log('error:', err.message);
    if (!res.headersSent) sendJson(res, 500, { error: err.message });
    else res.destroy();
  });
});
listen(server, `kv (${dataFile ? `data in ${dataFile}` : 'in memory'})`);
