// products-api: the product catalogue of Widgetario, read from PostgreSQL
// (products-db) with the `pg` client.
//
// In the mesh it reaches the database through its sidecar's explicit upstream
// port for products-db:5432 ($UPSTREAM_PRODUCTS_DB_5432, set by the runner):
// the sidecar carries the connection whole over mTLS to products-db's sidecar,
// which lets it in only if a TrafficTarget allows this service account (the
// TCPRoute rule of db-allow-api). Without the mesh, DATABASE_HOST/DATABASE_PORT.
//
// Each request opens its own database connection and closes it after the
// query. The mesh authorises a TCP connection once, when it opens, so a pool
// of long-lived connections would keep working after its TrafficTarget is
// deleted; one connection per request shows the revocation at once.
//
// VERSION (v1 | v2) says which deployment answers; v2 sells at a discount of
// DISCOUNT_PERCENT (default 10 for v2, 0 for v1).
//
// GET /products       { version, instance, products: [{ id, name, description, price[, listPrice, discount] }] }
// GET /products/<id>  { version, instance, product } | 404
// GET /healthz        ok (does not touch the database)
// A database failure answers 503 { version, instance, error }.
// Every answer carries the header x-products-version.
//
// Env: PORT, VERSION (v1), DISCOUNT_PERCENT, UPSTREAM_PRODUCTS_DB_5432 or
// DATABASE_HOST (127.0.0.1) + DATABASE_PORT (5432), POSTGRES_USER, POSTGRES_PASSWORD,
// POSTGRES_DB (all three default to widgetario), DB_TIMEOUT_MS (3000).

import http from 'node:http';
import pg from 'pg';
import { env, errorText, exitOnSignals, hostPort, intEnv, listen, log, sendJson } from './lib.mjs';

const version = env('VERSION', 'v1');
const instance = env('TRELLIS_INSTANCE_NAME', 'products-api');
const discount = intEnv('DISCOUNT_PERCENT', version === 'v2' ? 10 : 0);
const upstream = env('UPSTREAM_PRODUCTS_DB_5432');
const db = upstream
  ? hostPort(upstream, 5432)
  : { host: env('DATABASE_HOST', '127.0.0.1'), port: intEnv('DATABASE_PORT', 5432) };
const timeoutMs = intEnv('DB_TIMEOUT_MS', 3000);
const connection = {
  host: db.host,
  port: db.port,
  user: env('POSTGRES_USER', 'widgetario'),
  password: env('POSTGRES_PASSWORD', 'widgetario'),
  database: env('POSTGRES_DB', 'widgetario'),
  connectionTimeoutMillis: timeoutMs,
  query_timeout: timeoutMs,
  application_name: `products-api-${version}`,
};

async function query(sql, params = []) {
  const client = new pg.Client(connection);
  client.on('error', () => {}); // a connection the mesh closes later must not crash the process
  try {
    await client.connect();
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

const cents = (n) => Math.round(n * 100) / 100;

function present(row) {
  const listPrice = Number(row.price);
  const product = { id: row.id, name: row.name, description: row.description, price: listPrice };
  if (discount > 0) {
    product.price = cents(listPrice * (1 - discount / 100));
    product.listPrice = listPrice;
    product.discount = `${discount}%`;
  }
  return product;
}

let failuresLogged = 0;
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers = { 'x-products-version': version };
  const answer = (status, body) => sendJson(res, status, { version, instance, ...body }, headers);
  try {
    if (url.pathname === '/healthz') return answer(200, { status: 'ok' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { error: 'only GET' });
    if (url.pathname === '/products') {
      const rows = await query('SELECT id, name, description, price FROM products ORDER BY id');
      return answer(200, { products: rows.map(present) });
    }
    const one = /^\/products\/(\d+)$/.exec(url.pathname);
    if (one) {
      const rows = await query('SELECT id, name, description, price FROM products WHERE id = $1', [Number(one[1])]);
      if (rows.length === 0) return answer(404, { error: `no product ${one[1]}` });
      return answer(200, { product: present(rows[0]) });
    }
    return answer(404, { error: `no route for ${req.method} ${url.pathname}` });
  } catch (err) {
    const error = `database ${db.host}:${db.port}${upstream ? ' (products-db:5432 through the sidecar)' : ''} failed: ${errorText(err)}`;
    if (failuresLogged++ % 20 === 0) log(error);
    return answer(503, { error });
  }
});

exitOnSignals(() => new Promise((resolve) => server.close(() => resolve())));
listen(server, `products-api ${version} (database ${db.host}:${db.port}, discount ${discount}%)`);
