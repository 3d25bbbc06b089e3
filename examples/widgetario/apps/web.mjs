// web: the Widgetario shop front. GET / renders an HTML page listing the
// products (from products-api GET /products) with their price and how many are
// in stock (from stock-api GET /stock/<id>, one call per product).
//
// Both APIs are called through the sidecar (HTTP_PROXY), so the mesh decides
// which products-api version answers (the TrafficSplit) and whether web may
// call at all (TrafficTarget api-allow-web). Failures are shown on the page,
// not hidden: when products-api fails the page says so (with the status and
// body the mesh or the API answered) and lists the stock levels from
// stock-api GET /stock instead; when a stock call fails, that cell says why.
//
// GET /         the page (200 even when a call failed: the failure is on it)
// GET /healthz  ok
//
// Env: PORT, PRODUCTS_API_URL (http://products-api.widgetario),
// STOCK_API_URL (http://stock-api.widgetario), REQUEST_TIMEOUT_MS (3000).

import http from 'node:http';
import { call, env, errorText, exitOnSignals, intEnv, listen, sendText, snippet } from './lib.mjs';

const productsUrl = env('PRODUCTS_API_URL', 'http://products-api.widgetario').replace(/\/+$/, '');
const stockUrl = env('STOCK_API_URL', 'http://stock-api.widgetario').replace(/\/+$/, '');
const timeoutMs = intEnv('REQUEST_TIMEOUT_MS', 3000);
const instance = env('TRELLIS_INSTANCE_NAME', 'web');

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const money = (n) => `$${Number(n).toFixed(2)}`;

/** GET a JSON document; resolves { ok, status, data, error }. */
async function getJson(url) {
  try {
    const r = await call('GET', url, { timeoutMs });
    if (r.status !== 200) {
      // An API's JSON error says what failed; the mesh's own answers (403, 503) are plain text.
      let why = snippet(r.body);
      try {
        why = JSON.parse(r.body).error ?? why;
      } catch {
        // not JSON
      }
      return { ok: false, status: r.status, error: `${url} answered ${r.status}: ${why}` };
    }
    return { ok: true, status: 200, data: JSON.parse(r.body) };
  } catch (err) {
    return { ok: false, status: 0, error: `${url} failed: ${errorText(err)}` };
  }
}

async function page() {
  const products = await getJson(`${productsUrl}/products`);
  const parts = [];
  const errors = [];
  if (products.ok) {
    const list = products.data.products ?? [];
    const stocks = await Promise.all(list.map((p) => getJson(`${stockUrl}/stock/${p.id}`)));
    parts.push(
      '<table id="products">',
      '<tr><th>Product</th><th>Description</th><th>Price</th><th>In stock</th></tr>',
    );
    list.forEach((p, i) => {
      const s = stocks[i];
      if (!s.ok) errors.push(s.error);
      const price = p.listPrice !== undefined ? `<s>${money(p.listPrice)}</s> ${money(p.price)} (${esc(p.discount)} off)` : money(p.price);
      const stockCell = s.ok ? String(s.data.stock) : `unavailable (${s.status || 'error'})`;
      parts.push(
        `<tr class="product" data-id="${esc(p.id)}" data-price="${esc(p.price)}" data-stock="${s.ok ? esc(s.data.stock) : ''}">` +
          `<td class="name">${esc(p.name)}</td><td>${esc(p.description)}</td><td class="price">${price}</td><td class="stock">${esc(stockCell)}</td></tr>`,
      );
    });
    parts.push('</table>', `<p id="served-by">Products from products-api <b id="products-version">${esc(products.data.version)}</b> (${esc(products.data.instance)}).</p>`);
  } else {
    parts.push(`<p class="error" id="products-error">Products are unavailable: ${esc(products.error)}</p>`);
    const stock = await getJson(`${stockUrl}/stock`);
    if (stock.ok) {
      parts.push('<h2>Stock levels</h2>', '<table id="stock">', '<tr><th>Product id</th><th>In stock</th></tr>');
      for (const s of stock.data.stock ?? []) parts.push(`<tr class="stock-level" data-id="${esc(s.id)}" data-stock="${esc(s.stock)}"><td>${esc(s.id)}</td><td>${esc(s.stock)}</td></tr>`);
      parts.push('</table>');
    } else {
      errors.push(stock.error);
    }
  }
  for (const e of errors) parts.push(`<p class="error">${esc(e)}</p>`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Widgetario</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}.error{color:#b00}</style>
</head><body>
<h1>Widgetario</h1>
${parts.join('\n')}
<p><small>served by ${esc(instance)}</small></p>
</body></html>
`;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') return sendText(res, 200, 'ok\n');
  if (url.pathname !== '/') return sendText(res, 404, `no page ${url.pathname}\n`);
  try {
    sendText(res, 200, await page(), 'text/html; charset=utf-8');
  } catch (err) {
    sendText(res, 500, `web failed: ${errorText(err)}\n`);
  }
});

exitOnSignals(() => new Promise((resolve) => server.close(() => resolve())));
listen(server, `web (products ${productsUrl}, stock ${stockUrl})`);
