// examples/widgetario end to end, with a real PostgreSQL as products-db:
// the page lists the seeded products with their stock; the TrafficSplit sends
// ~70 % of products-api calls to v1 and ~30 % to v2; deleting a TrafficTarget
// breaks exactly the calls it allowed (db-allow-api: products-api → the
// database over TCP; api-allow-web: web → the APIs), and applying it again
// mends them.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { eventually, startMesh, viaProxy, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';
import { missingSystemPackages } from '../support/system.js';

const example = path.join(examplesDir, 'widgetario');
const accessFile = path.join(example, 'mesh', 'access.yaml');

/** The seed (apps/products-db.sql) and the initial stock (mesh/stock-api.yaml). */
const SEEDED = [
  { id: 1, name: 'Arm64 SBC', listPrice: 94.99, stock: 12 },
  { id: 2, name: 'Portable Monitor', listPrice: 249.0, stock: 3 },
  { id: 3, name: 'Slim Keyboard', listPrice: 59.5, stock: 0 },
  { id: 4, name: 'Travel Mouse', listPrice: 24.99, stock: 25 },
];

interface PageRow {
  id: number;
  name: string;
  stock: string;
  priceCell: string;
}

/** The product rows of web's page. */
function productRows(html: string): PageRow[] {
  const rows: PageRow[] = [];
  const re = /<tr class="product" data-id="(\d+)"[^>]*data-stock="([^"]*)"><td class="name">([^<]*)<\/td><td>[^<]*<\/td><td class="price">(.*?)<\/td>/g;
  for (const m of html.matchAll(re)) rows.push({ id: Number(m[1]), stock: m[2]!, name: m[3]!, priceCell: m[4]! });
  return rows;
}

const money = (n: number) => `$${n.toFixed(2)}`;

describe('examples/widgetario', { timeout: 170_000, skip: missingSystemPackages(['postgresql']) }, () => {
  let mesh: RunningMesh;
  let web: WorkloadInstanceResource;
  /** A call as web makes it: through web's sidecar, with web's identity. */
  const asWeb = (url: string): Promise<Reply> => viaProxy(web.spec.outboundPort, url, { timeoutMs: 8000 });
  const products = () => asWeb('http://products-api.widgetario/products');
  const stock = (id: number) => asWeb(`http://stock-api.widgetario/stock/${id}`);
  /** web's page, from its app port (the PAGE column of `trellis up`). */
  const page = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${web.spec.ports[0]!.port}/`, { signal: AbortSignal.timeout(15_000) });
    assert.equal(res.status, 200);
    return res.text();
  };
  const applyAccess = () => mesh.client.apply({ files: [{ path: 'access.yaml', content: fs.readFileSync(accessFile, 'utf8') }] });

  before(async () => {
    mesh = await startMesh(example, { readyTimeoutMs: 90_000 });
    web = await mesh.instance('widgetario', 'web-0');
  });

  after(async () => {
    await mesh?.stop();
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('the page lists the seeded products with their prices and stock', async () => {
    await eventually(async () => productRows(await page()).length === SEEDED.length, 30_000, 'the page lists every product');
    const html = await page();
    const rows = productRows(html);
    assert.deepEqual(
      rows.map((r) => ({ id: r.id, name: r.name, stock: r.stock })),
      SEEDED.map((p) => ({ id: p.id, name: p.name, stock: String(p.stock) })),
    );
    // v1 shows the list price; v2 strikes it through and shows 10 % off.
    for (const [i, r] of rows.entries()) assert.ok(r.priceCell.includes(money(SEEDED[i]!.listPrice)), r.priceCell);
    assert.match(html, /Products from products-api <b id="products-version">v[12]<\/b>/);
    assert.doesNotMatch(html, /class="error"/);
  });

  it('the TrafficSplit sends 70 % ± 10 % of products-api calls to v1 and the rest to v2', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const r = await products();
      assert.equal(r.status, 200, r.body);
      const body = JSON.parse(r.body) as { version: string; products: { id: number; price: number; listPrice?: number }[] };
      assert.equal(r.headers['x-products-version'], body.version);
      assert.equal(body.products.length, SEEDED.length);
      if (body.version === 'v2') assert.equal(body.products[0]!.listPrice, SEEDED[0]!.listPrice);
      counts[body.version] = (counts[body.version] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(counts).sort(), ['v1', 'v2'], JSON.stringify(counts));
    assert.ok(counts.v1! >= 120 && counts.v1! <= 160, `v1 answered ${counts.v1}/200, v2 ${counts.v2}/200`);
  });

  it('without db-allow-api products-api cannot reach the database (5xx) while stock still works; applying it again mends it', async () => {
    await mesh.client.delete({ refs: [{ kind: 'TrafficTarget', namespace: 'widgetario', name: 'db-allow-api' }] });
    try {
      await eventually(async () => (await products()).status >= 500, 10_000, 'products calls fail');
      // Every call now fails, on both versions (each opens a new, refused TCP connection).
      for (let i = 0; i < 20; i++) {
        const r = await products();
        assert.ok(r.status >= 500 && r.status < 600, `${r.status} ${r.body}`);
        assert.match(r.body, /database .* failed/);
      }
      for (const p of SEEDED) {
        const r = await stock(p.id);
        assert.equal(r.status, 200, r.body);
        assert.equal((JSON.parse(r.body) as { stock: number }).stock, p.stock);
      }
      const html = await page();
      assert.match(html, /id="products-error">Products are unavailable: http:\/\/products-api\.widgetario\/products answered 50\d/);
      assert.equal(productRows(html).length, 0);
      for (const p of SEEDED) assert.ok(html.includes(`data-id="${p.id}" data-stock="${p.stock}"`), `stock of ${p.id} on the page`);
    } finally {
      await applyAccess();
    }
    await eventually(async () => (await products()).status === 200, 10_000, 'products calls work again');
    await eventually(async () => productRows(await page()).length === SEEDED.length, 10_000, 'the page lists the products again');
  });

  it('without api-allow-web the api sidecars answer web with 403', async () => {
    await mesh.client.delete({ refs: [{ kind: 'TrafficTarget', namespace: 'widgetario', name: 'api-allow-web' }] });
    try {
      // Every API sidecar (products-api v1, v2, stock-api) has to get the change: ask each of them.
      await eventually(
        async () => (await Promise.all([stock(1), ...Array.from({ length: 10 }, products)])).every((r) => r.status === 403),
        10_000,
        'calls to both APIs denied',
      );
      for (const r of [await products(), await products(), await stock(1), await asWeb('http://stock-api.widgetario/stock')]) {
        assert.equal(r.status, 403, r.body);
        assert.equal(r.headers['x-trellis-denied'], 'rbac');
        assert.match(r.body, /source: spiffe:\/\/cluster\.local\/ns\/widgetario\/sa\/web/);
        assert.match(r.body, /service account widgetario\/api/);
        assert.match(r.body, /reason: no TrafficTarget has this service account as its destination/);
      }
      const html = await page();
      assert.match(html, /Products are unavailable: http:\/\/products-api\.widgetario\/products answered 403/);
      assert.match(html, /http:\/\/stock-api\.widgetario\/stock answered 403/);
    } finally {
      await applyAccess();
    }
    await eventually(
      async () => (await Promise.all([stock(1), ...Array.from({ length: 10 }, products)])).every((r) => r.status === 200),
      10_000,
      'web may call the APIs again',
    );
  });
});
