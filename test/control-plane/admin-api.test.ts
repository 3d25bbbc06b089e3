import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store, StoreEvent } from '../../src/store/types.js';
import { AdminApiError, AdminClient } from '../../src/cli/admin-client.js';
import type { WatchLine } from '../../src/control-plane/admin-types.js';
import { BROKEN_YAML, PROXIES, SERVICE_YAML, SPLIT_YAML, startAdmin, workloadInstanceObject, type RunningAdmin } from '../cli/fixtures.js';

const MESH = { trustDomain: 'trellis.local', mtls: 'STRICT' };

async function withAdmin(store: Store, fn: (admin: RunningAdmin, client: AdminClient) => Promise<void>, extra = {}) {
  const admin = await startAdmin({ store, getProxies: () => PROXIES, getMesh: () => MESH, ...extra });
  try {
    await fn(admin, new AdminClient(admin.url, { timeoutMs: 5000 }));
  } finally {
    await admin.close();
    await store.close();
  }
}

async function post(url: string, body: string | Buffer): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('admin API', () => {
  test('answers /healthz with ok', async () => {
    await withAdmin(createMemoryStore(), async (admin) => {
      const res = await fetch(admin.url + '/healthz');
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
    });
  });

  test('applies nothing when one document of a file is invalid and names file, line and field', async () => {
    const store = createMemoryStore();
    await withAdmin(store, async (admin) => {
      const res = await post(admin.url + '/v1/apply', JSON.stringify({ files: [{ path: 'manifests/broken.yaml', content: BROKEN_YAML }] }));
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'TRELLIS_E_INVALID_MANIFEST');
      assert.ok(res.body.errors.length >= 1);
      const e = res.body.errors[0];
      assert.equal(e.file, 'manifests/broken.yaml');
      assert.equal(e.document, 1);
      assert.equal(e.path, 'spec.backends[0].weight');
      assert.equal(e.line, 24);
      assert.equal(store.revision(), 0);
      assert.deepEqual(store.list(), []);
    });
  });

  test('reports created, then unchanged on an identical re-apply without a new revision', async () => {
    await withAdmin(createMemoryStore(), async (_admin, client) => {
      const files = [{ path: 'split.yaml', content: `${SERVICE_YAML}---\n${SPLIT_YAML}` }];
      const first = await client.apply({ files });
      assert.deepEqual(
        first.results.map((r) => `${r.kind}/${r.namespace}/${r.name} ${r.action}`).sort(),
        ['Service/bookstore/bookstore created', 'TrafficSplit/bookstore/bookstore-split created'],
      );
      const second = await client.apply({ files });
      assert.deepEqual(second.results.map((r) => r.action), ['unchanged', 'unchanged']);
      assert.equal(second.revision, first.revision);
    });
  });

  test('dry run reports what would change and changes nothing', async () => {
    const store = createMemoryStore();
    await withAdmin(store, async (_admin, client) => {
      const reply = await client.apply({ files: [{ path: 'split.yaml', content: SPLIT_YAML }], dryRun: true });
      assert.equal(reply.dryRun, true);
      assert.deepEqual(reply.results.map((r) => r.action), ['created']);
      assert.equal(store.revision(), 0);
    });
  });

  test('rejects what the cross-resource validator rejects, atomically', async () => {
    const store = createMemoryStore();
    const validate = () => [
      { code: 'TRELLIS_E_DANGLING_REF', file: 'split.yaml', document: 0, line: 9, path: 'spec.backends[1].service', message: 'no Service bookstore-v2' },
    ];
    await withAdmin(
      store,
      async (_admin, client) => {
        await assert.rejects(client.apply({ files: [{ path: 'split.yaml', content: SPLIT_YAML }] }), (err: AdminApiError) => {
          assert.equal(err.status, 400);
          assert.equal(err.code, 'TRELLIS_E_VALIDATION_FAILED');
          assert.equal(err.errors[0].path, 'spec.backends[1].service');
          return true;
        });
        assert.equal(store.revision(), 0);
      },
      { validate },
    );
  });

  test('lists by kind alias and namespace, gets by name, 404s a missing name, deletes by ref', async () => {
    await withAdmin(createMemoryStore(), async (admin, client) => {
      await client.apply({ files: [{ path: 'split.yaml', content: `${SERVICE_YAML}---\n${SPLIT_YAML}` }] });
      const list = await client.list('trafficsplits', { namespace: 'bookstore' });
      assert.equal(list.items.length, 1);
      assert.equal(list.items[0].kind, 'TrafficSplit');
      assert.equal((await client.list('ts', { namespace: 'other' })).items.length, 0);
      assert.equal((await client.list()).items.length, 2);
      const got = await client.get({ kind: 'svc', namespace: 'bookstore', name: 'bookstore' });
      assert.equal(got?.kind, 'Service');
      const missing = await fetch(admin.url + '/v1/resources?kind=ts&namespace=bookstore&name=nope');
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as any).error.code, 'TRELLIS_E_RESOURCE_NOT_FOUND');
      const del = await client.delete({ refs: [{ kind: 'ts', namespace: 'bookstore', name: 'bookstore-split' }] });
      assert.deepEqual(del.results, [{ kind: 'TrafficSplit', namespace: 'bookstore', name: 'bookstore-split', action: 'deleted' }]);
      const again = await client.delete({ refs: [{ kind: 'TrafficSplit', namespace: 'bookstore', name: 'bookstore-split' }] });
      assert.equal(again.results[0].action, 'not-found');
    });
  });

  test('deletes the objects a manifest file names', async () => {
    const store = createMemoryStore();
    await withAdmin(store, async (_admin, client) => {
      const files = [{ path: 'split.yaml', content: `${SERVICE_YAML}---\n${SPLIT_YAML}` }];
      await client.apply({ files });
      const reply = await client.delete({ files });
      assert.deepEqual(reply.results.map((r) => r.action), ['deleted', 'deleted']);
      assert.deepEqual(store.list(), []);
    });
  });

  test('rejects an unknown kind with its code', async () => {
    await withAdmin(createMemoryStore(), async (admin) => {
      const res = await fetch(admin.url + '/v1/resources?kind=deploymentz');
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as any).error.code, 'TRELLIS_E_UNKNOWN_KIND');
    });
  });

  test('streams store events from a revision, then new ones, with heartbeats', async () => {
    await withAdmin(
      createMemoryStore(),
      async (_admin, client) => {
        const first = await client.apply({ files: [{ path: 'svc.yaml', content: SERVICE_YAML }] });
        const controller = new AbortController();
        const seen: WatchLine[] = [];
        const done = (async () => {
          for await (const line of client.watch({ from: 0, heartbeats: true, signal: controller.signal })) {
            seen.push(line);
            if (seen.some((l) => l.type === 'put' && l.resource.kind === 'TrafficSplit') && seen.some((l) => l.type === 'heartbeat')) {
              controller.abort();
            }
          }
        })();
        await new Promise((r) => setTimeout(r, 100));
        await client.apply({ files: [{ path: 'split.yaml', content: SPLIT_YAML }] });
        await done;
        const events = seen.filter((l): l is StoreEvent => l.type !== 'heartbeat');
        assert.deepEqual(events.map((e) => `${e.type} ${e.resource.kind}`), ['put Service', 'put TrafficSplit']);
        assert.equal(events[0].revision, first.revision);
      },
      { heartbeatMs: 50 },
    );
  });

  test('filters a watch by kind', async () => {
    await withAdmin(createMemoryStore(), async (_admin, client) => {
      await client.apply({ files: [{ path: 'all.yaml', content: `${SERVICE_YAML}---\n${SPLIT_YAML}` }] });
      const controller = new AbortController();
      for await (const line of client.watch({ from: 0, kind: 'trafficsplit', signal: controller.signal })) {
        assert.equal(line.type === 'put' && line.resource.kind, 'TrafficSplit');
        controller.abort();
      }
    });
  });

  test('answers 410 with TRELLIS_E_REVISION_COMPACTED when the revision is compacted', async () => {
    await withAdmin(createMemoryStore({ historyLimit: 2 }), async (admin, client) => {
      for (let i = 0; i < 5; i++) {
        await client.apply({ objects: [{ ...workloadInstanceObject(15100 + i) }] });
      }
      const res = await fetch(admin.url + '/v1/watch?from=0');
      assert.equal(res.status, 410);
      assert.equal(((await res.json()) as any).error.code, 'TRELLIS_E_REVISION_COMPACTED');
      await assert.rejects(
        (async () => {
          for await (const _ of client.watch({ from: 1 })) break;
        })(),
        (err: AdminApiError) => err.status === 410 && err.code === 'TRELLIS_E_REVISION_COMPACTED',
      );
    });
  });

  test('ends open watch streams when the server closes', async () => {
    const store = createMemoryStore();
    const admin = await startAdmin({ store, getProxies: () => [], getMesh: () => ({}) });
    const client = new AdminClient(admin.url);
    const iterating = (async () => {
      for await (const _ of client.watch({ from: 0 })) {
        // no events
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await admin.close();
    await iterating;
    await store.close();
  });

  test('reports status: revision, mesh, proxies and workload instances', async () => {
    await withAdmin(createMemoryStore(), async (_admin, client) => {
      await client.apply({ objects: [workloadInstanceObject()] });
      const status = await client.status();
      assert.equal(status.revision, 1);
      assert.deepEqual(status.mesh, MESH);
      assert.deepEqual(status.proxies, PROXIES);
      assert.equal(status.instances.length, 1);
      assert.equal(status.instances[0].kind, 'WorkloadInstance');
      assert.equal(status.instances[0].spec.outboundPort, 15123);
    });
  });

  test('refuses a body over 8 MiB with 413', async () => {
    await withAdmin(createMemoryStore(), async (admin) => {
      const big = Buffer.alloc(8 * 1024 * 1024 + 10, 0x20);
      const res = await post(admin.url + '/v1/apply', big);
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'TRELLIS_E_BODY_TOO_LARGE');
    });
  });

  test('answers 404, 405 and 400 with coded JSON errors', async () => {
    await withAdmin(createMemoryStore(), async (admin) => {
      const notFound = await fetch(admin.url + '/v2/nothing');
      assert.equal(notFound.status, 404);
      assert.equal(((await notFound.json()) as any).error.code, 'TRELLIS_E_NOT_FOUND');
      const wrong = await fetch(admin.url + '/v1/apply');
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get('allow'), 'POST');
      assert.equal(((await wrong.json()) as any).error.code, 'TRELLIS_E_METHOD_NOT_ALLOWED');
      const bad = await post(admin.url + '/v1/apply', '{not json');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'TRELLIS_E_BAD_JSON');
      const shape = await post(admin.url + '/v1/apply', JSON.stringify({ files: 'x' }));
      assert.equal(shape.status, 400);
      assert.equal(shape.body.error.code, 'TRELLIS_E_BAD_REQUEST');
    });
  });
});
