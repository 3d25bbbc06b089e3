// The dashboard in a real browser: headless Chromium (Debian's `chromium`,
// driven by playwright-core, which never downloads a browser) opens the
// dashboard of the running bookstore demo and checks what a person would see:
// the graph's nodes and edges with non-zero rates and the thief's denied edge,
// the v2 edge appearing after the 50/50 split, the access explorer's answer,
// a service page, a proxy page and a trace's waterfall. Screenshots go to
// test-results/ (gitignored).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { examplesDir, repoRoot } from '../support/paths.js';
import { startMesh, type RunningMesh } from '../support/mesh.js';

const CHROMIUM = process.env.TRELLIS_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(repoRoot, 'test-results');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const skip = fs.existsSync(CHROMIUM) ? false : `chromium is not installed at ${CHROMIUM}: apt-get install chromium (or set TRELLIS_CHROMIUM)`;

const BUYER = 'workload/bookbuyer/bookbuyer';
const THIEF = 'workload/bookthief/bookthief';
const STORE = 'service/bookstore/bookstore';
const STORE_V2 = 'service/bookstore/bookstore-v2';

/** An edge of the graph as the page draws it. */
interface DrawnEdge {
  kind: 'edge' | 'edge-denied';
  source: string;
  target: string;
  rps: number;
  denied?: number;
  splitWeight?: number;
  label: string;
}

describe('dashboard in headless Chromium (bookstore demo)', { skip, timeout: 240_000 }, () => {
  let mesh: RunningMesh;
  let context: BrowserContext;
  let page: Page;
  let adminUrl: string;
  let userDataDir: string;
  const pageErrors: string[] = [];

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`), fullPage: true });
  };

  /** Nodes (ids) and edges the graph page shows now. */
  const graphState = () =>
    page.evaluate(() => {
      // Runs in the page (this file is compiled without the DOM types).
      const doc = (globalThis as any).document;
      const nodes: string[] = [...doc.querySelectorAll('[data-testid="node"]')].map((n: any) => n.dataset.id);
      const edges: DrawnEdge[] = [...doc.querySelectorAll('[data-testid="edge"], [data-testid="edge-denied"]')].map((e: any) => ({
        kind: e.dataset.testid,
        source: e.dataset.source,
        target: e.dataset.target,
        rps: Number(e.dataset.rps),
        denied: e.dataset.denied !== undefined ? Number(e.dataset.denied) : undefined,
        splitWeight: e.dataset.splitWeight !== undefined ? Number(e.dataset.splitWeight) : undefined,
        label: e.querySelector('title')?.textContent ?? '',
      }));
      const error: string = doc.querySelector('[data-testid="graph-error"]')?.textContent ?? '';
      return { nodes, edges, error };
    });

  /** Polls the graph page until `check` passes; fails with what the page showed last. */
  async function graphUntil(what: string, timeoutMs: number, check: (s: { nodes: string[]; edges: DrawnEdge[] }) => boolean): Promise<number> {
    const started = Date.now();
    let last: Awaited<ReturnType<typeof graphState>> | undefined;
    while (Date.now() - started < timeoutMs) {
      last = await graphState();
      if (check(last)) return Date.now() - started;
      await page.waitForTimeout(250);
    }
    throw new Error(
      `${what}: not shown within ${timeoutMs} ms.\n` +
        (last?.error ? `The page says: ${last.error}\n` : '') +
        `nodes: ${last?.nodes.join(', ')}\nedges:\n${last?.edges.map((e) => `  ${e.kind} ${e.source} → ${e.target} rps=${e.rps} ${e.label}`).join('\n')}\n` +
        `what the thief's instance logged last:\n${thiefLogs()}`,
    );
  }

  /** The last lines of the bookthief instance's logs (app and sidecar), to tell a quiet thief from a graph that misses it. */
  const thiefLogs = () => {
    const dir = path.join(mesh.stateDir, 'logs', 'bookthief');
    if (!fs.existsSync(dir)) return `  (no ${dir})`;
    return fs
      .readdirSync(dir)
      .map((f) => `  ${f}:\n${fs.readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n').slice(-4).map((l) => `    ${l.slice(0, 300)}`).join('\n')}`)
      .join('\n');
  };

  const edge = (s: { edges: DrawnEdge[] }, kind: DrawnEdge['kind'], source: string, target: string) =>
    s.edges.find((e) => e.kind === kind && e.source === source && e.target === target);

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    mesh = await startMesh(path.join(examplesDir, 'bookstore'), { readyTimeoutMs: 90_000 });
    adminUrl = mesh.client.baseUrl;
    // The graph is built from the metrics the control plane collects: say so plainly if it cannot.
    const res = await fetch(`${adminUrl}/v1/graph?window=30s`);
    if (!res.ok) {
      const body = await res.text();
      throw new Error(`GET /v1/graph answered ${res.status} (${body.slice(0, 300)}): the dashboard's graph needs the control plane's metrics/graph API`);
    }
    const { chromium } = await import('playwright-core');
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1500, height: 950 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      // A failed API call is the page's to explain (it does, in its notices); script errors are bugs.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await mesh?.stop();
  });

  test('the graph shows the bookstore workloads and services, live rates and the denied thief edge', async () => {
    await page.goto(`${adminUrl}/dashboard/`);
    assert.equal(await page.title(), 'Trellis dashboard');
    await page.getByTestId('graph').waitFor({ timeout: 20_000 });
    await graphUntil('bookbuyer → bookstore with a rate and bookthief → bookstore denied', 45_000, (s) => {
      const buyer = edge(s, 'edge', BUYER, STORE);
      const thief = edge(s, 'edge-denied', THIEF, STORE);
      return (buyer?.rps ?? 0) > 0 && (thief?.denied ?? 0) > 0;
    });
    const s = await graphState();
    for (const id of [BUYER, THIEF, STORE, 'workload/bookstore/bookstore-v1', 'service/bookwarehouse/bookwarehouse', 'workload/bookwarehouse/bookwarehouse']) {
      assert.ok(s.nodes.includes(id), `node ${id} in ${s.nodes.join(', ')}`);
    }
    const buyer = edge(s, 'edge', BUYER, STORE)!;
    assert.match(buyer.label, /bookbuyer → bookstore: [\d.]+ rps · [\d.]+% · p95 [\d.]+ m?s/);
    // Nothing of the thief gets through: calls that were not denied (503s while the store started) failed.
    // The client side (a 403 it received) and the server side (the denial) are scraped separately,
    // every 2 s: within one collection the two agree, so the check waits that long at most.
    await graphUntil('no thief call counted as a success', 10_000, (x) => {
      const leaked = edge(x, 'edge', THIEF, STORE);
      return !leaked || / · 0% · /.test(leaked.label);
    });
    const thief = edge(s, 'edge-denied', THIEF, STORE)!;
    assert.match(thief.label, /denied \d+ \(rbac\)/);
    // The store serves the buyer and restocks from the warehouse.
    await graphUntil('bookstore-v1 → bookwarehouse with a rate', 30_000, (x) => (edge(x, 'edge', 'workload/bookstore/bookstore-v1', 'service/bookwarehouse/bookwarehouse')?.rps ?? 0) > 0);
    // The denied edge is drawn dashed, with its label.
    const dash = await page.locator(`[data-testid="edge-denied"][data-source="${THIEF}"] path`).first().evaluate((p) => (globalThis as any).getComputedStyle(p).strokeDasharray as string);
    assert.notEqual(dash, 'none');
    assert.ok((await page.getByTestId('edge-label').filter({ hasText: /denied \d+ \(rbac\)/ }).count()) >= 1);
    await shot('graph');
  });

  test('applying the 50/50 split makes bookstore-v2 appear within 15 s, with its weight', async (t) => {
    const r = await mesh.cli('apply', '-f', path.join(examplesDir, 'bookstore', 'split-50-50.yaml'));
    assert.equal(r.code, 0, r.stderr);
    const took = await graphUntil('bookbuyer → bookstore-v2 after the 50/50 split', 15_000, (s) => (edge(s, 'edge', BUYER, STORE_V2)?.rps ?? 0) > 0);
    const s = await graphState();
    assert.equal(edge(s, 'edge', BUYER, STORE_V2)!.splitWeight, 50);
    assert.ok(s.nodes.includes('workload/bookstore/bookstore-v2'));
    t.diagnostic(`bookstore-v2 edge shown ${took} ms after the apply`);
    await graphUntil('bookstore-v2 serving (service → workload edge)', 15_000, (x) => (edge(x, 'edge', STORE_V2, 'workload/bookstore/bookstore-v2')?.rps ?? 0) > 0);
    await shot('graph-split');
  });

  test('the access explorer says bookthief → bookstore is denied, and why; bookbuyer is allowed by its TrafficTarget', async () => {
    await page.getByTestId('nav-access').click();
    await page.getByLabel('From', { exact: true }).fill('bookthief/bookthief');
    await page.getByLabel('To', { exact: true }).fill('bookstore/bookstore');
    await page.getByLabel('Path', { exact: true }).fill('/books-bought');
    await page.getByTestId('access-submit').click();
    const verdict = page.getByTestId('access-verdict');
    await verdict.waitFor();
    assert.equal(await verdict.getAttribute('data-allowed'), 'false');
    assert.match((await page.getByTestId('access-reason').textContent()) ?? '', /no TrafficTarget allows spiffe:\/\/cluster\.local\/ns\/bookthief\/sa\/bookthief to reach this destination/);
    assert.match(page.url(), /#\/access\?from=bookthief%2Fbookthief&to=bookstore%2Fbookstore/);
    await shot('access-denied');

    await page.getByLabel('From', { exact: true }).fill('bookbuyer/bookbuyer');
    await page.getByLabel('Headers', { exact: true }).fill('user-agent: bookbuyer-http-client/1.0\nclient-app: bookbuyer');
    await page.getByTestId('access-submit').click();
    await page.locator('[data-testid="access-verdict"][data-allowed="true"]').waitFor();
    assert.match((await page.getByTestId('access-rule').textContent()) ?? '', /TrafficTarget bookstore\/bookstore, HTTPRouteGroup match bookstore\/bookstore-service-routes\/books-bought/);
    // With the 50/50 split both versions are checked.
    assert.equal(await page.getByTestId('access-backend').count(), 2);
    await shot('access-allowed');
  });

  test('the service page shows endpoints, the policies that apply and golden signals', async () => {
    await page.getByTestId('nav-graph').click();
    await page.locator(`[data-testid="node"][data-id="${STORE}"]`).click();
    await page.getByTestId('service-name').waitFor();
    assert.equal(await page.getByTestId('service-name').textContent(), 'bookstore/bookstore');
    await page.locator('[data-testid="endpoint"][data-instance="bookstore/bookstore-v1-0"]').waitFor({ timeout: 15_000 });
    await page.getByTestId('policy-access').waitFor();
    assert.match((await page.getByTestId('policy-access').textContent()) ?? '', /TrafficTarget bookstore\/bookstore/);
    assert.match((await page.getByTestId('policy-split').textContent()) ?? '', /bookstore=50, bookstore-v2=50/);
    assert.equal(await page.getByTestId('chart').count(), 4);
    await page.locator('[data-testid="chart"] path.chart-line').first().waitFor({ timeout: 15_000 });
    await shot('service');
  });

  test('the proxy page shows the snapshot it runs, its ACK state and certificate expiry', async () => {
    await page.goto(`${adminUrl}/dashboard/#/proxies`);
    await page.locator('[data-testid="proxy-row"][data-proxy-id="bookstore/bookstore-v1-0"]').waitFor();
    await page.locator('[data-testid="proxy-row"][data-proxy-id="bookstore/bookstore-v1-0"] a').click();
    await page.getByTestId('proxy-facts').waitFor();
    const sent = (await page.getByTestId('proxy-version').textContent())?.trim();
    const running = (await page.getByTestId('proxy-running-version').textContent())?.trim();
    assert.ok(sent && sent !== '–', 'a version was sent');
    assert.equal(running, sent, 'the sidecar runs the version the control plane sent');
    assert.match((await page.getByTestId('proxy-ack').textContent()) ?? '', /ACK \(in sync\)/);
    assert.match((await page.getByTestId('proxy-cert').textContent()) ?? '', /expires in \d+ h/);
    assert.match((await page.getByTestId('proxy-listeners').textContent()) ?? '', /bookstore\/bookstore:14001/);
    await shot('proxy');
  });

  test('a trace opens as a waterfall of at least two spans, children indented under their parent', async () => {
    // The demo samples every request (local mode's default): a two-span trace arrives within seconds.
    let withSpans: { traceId: string; spanCount: number } | undefined;
    for (let i = 0; i < 60 && !withSpans; i++) {
      const reply = (await (await fetch(`${adminUrl}/v1/traces?service=bookbuyer&limit=50`)).json().catch(() => ({}))) as { traces?: { traceId: string; spanCount: number }[] };
      withSpans = (reply.traces ?? []).find((x) => x.spanCount >= 2);
      if (!withSpans) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(withSpans, 'no trace with two spans reached the control plane (GET /v1/traces) within 15 s');
    await page.goto(`${adminUrl}/dashboard/#/traces?service=bookbuyer`);
    const link = page.locator(`[data-testid="trace-row"][data-trace-id="${withSpans.traceId}"] [data-testid="trace-link"]`);
    await link.waitFor({ timeout: 10_000 });
    await link.click();
    await page.getByTestId('waterfall').waitFor();
    const spans = page.getByTestId('span');
    assert.ok((await spans.count()) >= 2, `spans: ${await spans.count()}`);
    const depths = await spans.evaluateAll((els) => els.map((e) => Number((e as any).dataset.depth)));
    assert.equal(depths[0], 0);
    assert.ok(depths.some((d) => d >= 1), `a child span: depths ${depths.join(',')}`);
    const services = await spans.evaluateAll((els) => els.map((e) => (e as any).dataset.service as string));
    assert.ok(services.includes('bookbuyer'), services.join(','));
    await shot('trace');
  });

  test('no script error on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
