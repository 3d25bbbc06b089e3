// Behaviour every Store backend must have. A backend's test file calls
// runStoreConformance with a factory that creates a fresh, empty store.
// Nothing here knows about a particular backend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, ResourceRef, ServiceResource } from '../../src/resources/types.js';
import { RevisionCompactedError, type Store, type StoreEvent } from '../../src/store/types.js';

export interface StoreFixture {
  store: Store;
  /** Closes the store and opens the same data again (persistent backends). */
  reopen?: () => Promise<Store>;
  /** Forgets watch history up to the current revision (backends that can force compaction). */
  compact?: () => Promise<void>;
  /** Closes whatever store is open and removes its data. */
  cleanup(): Promise<void>;
}

export function service(name: string, namespace = 'shop', port = 80, labels: Record<string, string> = {}): ServiceResource {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels, annotations: {} },
    spec: { selector: { app: name }, ports: [{ port, targetPort: port, protocol: 'TCP', appProtocol: 'http' }] },
  };
}

export function namespace(name: string): Resource {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, namespace: '', labels: {}, annotations: {} }, spec: {} };
}

const ref = (kind: string, namespace: string, name: string): ResourceRef => ({ kind, namespace, name });

export function runStoreConformance(name: string, factory: () => Promise<StoreFixture>): void {
  const withStore = (fn: (fx: StoreFixture) => Promise<void>) => async () => {
    const fx = await factory();
    try {
      await fn(fx);
    } finally {
      await fx.cleanup();
    }
  };

  describe(`${name} store conformance`, () => {
    it('starts empty at revision 0', withStore(async ({ store }) => {
      assert.equal(store.revision(), 0);
      assert.deepEqual(store.list(), []);
      assert.equal(store.get(ref('Service', 'shop', 'web')), undefined);
    }));

    it('creates an object and sets resourceVersion, uid, creationTimestamp and generation', withStore(async ({ store }) => {
      const outcomes = await store.apply([service('web')]);
      assert.deepEqual(outcomes, [{ ref: ref('Service', 'shop', 'web'), action: 'created' }]);
      assert.equal(store.revision(), 1);
      const got = store.get(ref('Service', 'shop', 'web'))!;
      assert.equal(got.metadata.resourceVersion, '1');
      assert.match(got.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(got.metadata.creationTimestamp ?? '')));
      assert.equal(got.metadata.generation, 1);
      assert.deepEqual(got.spec, service('web').spec);
    }));

    it('keeps uid and creationTimestamp on update and bumps generation only when spec changes', withStore(async ({ store }) => {
      await store.apply([service('web')]);
      const created = store.get(ref('Service', 'shop', 'web'))!;
      assert.deepEqual(await store.apply([service('web', 'shop', 80, { tier: 'front' })]), [
        { ref: ref('Service', 'shop', 'web'), action: 'configured' },
      ]);
      const relabelled = store.get(ref('Service', 'shop', 'web'))!;
      assert.equal(relabelled.metadata.generation, 1);
      assert.equal(relabelled.metadata.resourceVersion, '2');
      await store.apply([service('web', 'shop', 8080, { tier: 'front' })]);
      const respecced = store.get(ref('Service', 'shop', 'web'))!;
      assert.equal(respecced.metadata.generation, 2);
      assert.equal(respecced.metadata.resourceVersion, '3');
      assert.equal(respecced.metadata.uid, created.metadata.uid);
      assert.equal(respecced.metadata.creationTimestamp, created.metadata.creationTimestamp);
    }));

    it('reports an identical apply as unchanged without bumping the revision, ignoring source and server fields', withStore(async ({ store }) => {
      await store.apply([service('web')]);
      const again = {
        ...service('web'),
        source: { file: 'other.yaml', document: 3, line: 40 },
      };
      again.metadata.resourceVersion = '999';
      again.metadata.uid = 'not-the-uid';
      again.metadata.generation = 7;
      const events: StoreEvent[] = [];
      store.watch(store.revision(), (e) => events.push(e));
      assert.deepEqual(await store.apply([again]), [{ ref: ref('Service', 'shop', 'web'), action: 'unchanged' }]);
      assert.equal(store.revision(), 1);
      assert.equal(events.length, 0);
      assert.notEqual(store.get(ref('Service', 'shop', 'web'))!.metadata.uid, 'not-the-uid');
    }));

    it('treats a change of annotations, status or apiVersion as a change', withStore(async ({ store }) => {
      await store.apply([service('web')]);
      const annotated = service('web');
      annotated.metadata.annotations = { note: 'x' };
      assert.equal((await store.apply([annotated]))[0]!.action, 'configured');
      assert.equal((await store.apply([{ ...annotated, status: { ready: true } }]))[0]!.action, 'configured');
      assert.equal((await store.apply([{ ...annotated, status: { ready: true }, apiVersion: 'core/v1' }]))[0]!.action, 'configured');
      assert.equal(store.revision(), 4);
    }));

    it('gives each changed object of a batch its own consecutive revision and reports outcomes in input order', withStore(async ({ store }) => {
      await store.apply([service('a')]);
      const outcomes = await store.apply([service('c'), service('a'), service('b')]);
      assert.deepEqual(outcomes.map((o) => `${o.ref.name}:${o.action}`), ['c:created', 'a:unchanged', 'b:created']);
      assert.equal(store.revision(), 3);
      assert.equal(store.get(ref('Service', 'shop', 'c'))!.metadata.resourceVersion, '2');
      assert.equal(store.get(ref('Service', 'shop', 'b'))!.metadata.resourceVersion, '3');
    }));

    it('applies nothing from a batch that contains an invalid object', withStore(async ({ store }) => {
      const bad = { ...service('bad'), metadata: { ...service('bad').metadata, name: '' } };
      await assert.rejects(store.apply([service('good'), bad]), { code: 'TRELLIS_E_STORE_INVALID_OBJECT' });
      await assert.rejects(store.apply([service('good'), service('good')]), { code: 'TRELLIS_E_STORE_DUPLICATE_REF' });
      assert.equal(store.revision(), 0);
      assert.equal(store.get(ref('Service', 'shop', 'good')), undefined);
    }));

    it('neither changes nor keeps a reference to the object passed to apply', withStore(async ({ store }) => {
      const input = service('web');
      const before = structuredClone(input);
      await store.apply([input]);
      assert.deepEqual(input, before);
      input.spec.ports[0]!.port = 1;
      assert.equal((store.get(ref('Service', 'shop', 'web')) as ServiceResource).spec.ports[0]!.port, 80);
    }));

    it('does not let callers mutate stored objects through get, list or events', withStore(async ({ store }) => {
      await store.apply([service('web')]);
      const events: StoreEvent[] = [];
      store.watch(0, (e) => events.push(e));
      const viaGet = store.get(ref('Service', 'shop', 'web')) as ServiceResource;
      const viaList = store.list()[0] as ServiceResource;
      const viaEvent = events[0]!.resource as ServiceResource;
      for (const obj of [viaGet, viaList, viaEvent]) {
        try {
          obj.spec.ports[0]!.port = 1;
          obj.metadata.labels.evil = 'yes';
        } catch {
          // frozen objects throw in strict mode; copies accept the write: both are fine
        }
      }
      try {
        store.list().pop();
      } catch {
        // a frozen list is fine too
      }
      const fresh = store.get(ref('Service', 'shop', 'web')) as ServiceResource;
      assert.equal(fresh.spec.ports[0]!.port, 80);
      assert.deepEqual(fresh.metadata.labels, {});
      assert.equal(store.list().length, 1);
    }));

    it('deletes objects, reports missing ones as not-found and returns the deleted objects in events', withStore(async ({ store }) => {
      await store.apply([service('a'), service('b')]);
      const events: StoreEvent[] = [];
      store.watch(store.revision(), (e) => events.push(e));
      const outcomes = await store.delete([ref('Service', 'shop', 'a'), ref('Service', 'shop', 'zzz'), ref('Service', 'shop', 'b')]);
      assert.deepEqual(outcomes.map((o) => `${o.ref.name}:${o.action}`), ['a:deleted', 'zzz:not-found', 'b:deleted']);
      assert.deepEqual(store.list(), []);
      assert.equal(store.revision(), 4);
      assert.deepEqual(events.map((e) => [e.type, e.revision, e.resource.metadata.name, e.resource.metadata.resourceVersion]), [
        ['delete', 3, 'a', '1'],
        ['delete', 4, 'b', '2'],
      ]);
      assert.deepEqual((await store.delete([ref('Service', 'shop', 'a')]))[0]!.action, 'not-found');
      assert.equal(store.revision(), 4);
    }));

    it('gives a re-created object a new uid and generation 1', withStore(async ({ store }) => {
      await store.apply([service('web')]);
      await store.apply([service('web', 'shop', 81)]);
      const first = store.get(ref('Service', 'shop', 'web'))!;
      await store.delete([ref('Service', 'shop', 'web')]);
      await store.apply([service('web')]);
      const second = store.get(ref('Service', 'shop', 'web'))!;
      assert.notEqual(second.metadata.uid, first.metadata.uid);
      assert.equal(second.metadata.generation, 1);
    }));

    it('keeps revisions strictly increasing under concurrent writers', withStore(async ({ store }) => {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.apply([service(`s${i}`)])));
      assert.ok(outcomes.every((o) => o[0]!.action === 'created'));
      assert.equal(store.revision(), 20);
      const revs = store.list().map((r) => Number(r.metadata.resourceVersion)).sort((a, b) => a - b);
      assert.deepEqual(revs, Array.from({ length: 20 }, (_, i) => i + 1));
    }));

    it('lists sorted by kind, namespace and name, filtered by kind and namespace', withStore(async ({ store }) => {
      await store.apply([service('b', 'zeta'), service('b', 'alpha'), service('a', 'zeta'), namespace('zeta'), namespace('alpha')]);
      const keys = (rs: Resource[]) => rs.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
      assert.deepEqual(keys(store.list()), ['Namespace//alpha', 'Namespace//zeta', 'Service/alpha/b', 'Service/zeta/a', 'Service/zeta/b']);
      assert.deepEqual(keys(store.list({ kind: 'Service' })), ['Service/alpha/b', 'Service/zeta/a', 'Service/zeta/b']);
      assert.deepEqual(keys(store.list({ namespace: 'zeta' })), ['Service/zeta/a', 'Service/zeta/b']);
      assert.deepEqual(keys(store.list({ kind: 'Namespace', namespace: '' })), ['Namespace//alpha', 'Namespace//zeta']);
      assert.deepEqual(store.list({ kind: 'TrafficSplit' }), []);
    }));

    it('replays changes after the watched revision, then streams new ones in order', withStore(async ({ store }) => {
      await store.apply([service('a')]);
      await store.apply([service('b')]);
      await store.apply([service('c')]);
      const seen: string[] = [];
      const handle = store.watch(1, (e) => seen.push(`${e.revision}:${e.type}:${e.resource.metadata.name}`));
      assert.deepEqual(seen, ['2:put:b', '3:put:c']);
      await store.apply([service('d'), service('e')]);
      await store.delete([ref('Service', 'shop', 'a')]);
      assert.deepEqual(seen, ['2:put:b', '3:put:c', '4:put:d', '5:put:e', '6:delete:a']);
      handle.close();
      await store.apply([service('f')]);
      assert.equal(seen.length, 5);
    }));

    it('replays nothing when watching from the current revision, and everything from 0', withStore(async ({ store }) => {
      await store.apply([service('a'), service('b')]);
      const fromNow: number[] = [];
      const fromZero: number[] = [];
      store.watch(store.revision(), (e) => fromNow.push(e.revision));
      store.watch(0, (e) => fromZero.push(e.revision));
      assert.deepEqual(fromNow, []);
      assert.deepEqual(fromZero, [1, 2]);
    }));

    it('filters watch events by kind and namespace', withStore(async ({ store }) => {
      const byKind: string[] = [];
      const byNs: string[] = [];
      store.watch(0, (e) => byKind.push(e.resource.metadata.name), { kind: 'Namespace' });
      store.watch(0, (e) => byNs.push(e.resource.metadata.name), { namespace: 'shop' });
      await store.apply([namespace('shop'), service('web', 'shop'), service('db', 'data')]);
      assert.deepEqual(byKind, ['shop']);
      assert.deepEqual(byNs, ['web']);
    }));

    it('announces a batch only after all of it is applied', withStore(async ({ store }) => {
      const visible: number[] = [];
      store.watch(0, () => visible.push(store.list().length));
      await store.apply([service('a'), service('b'), service('c')]);
      assert.deepEqual(visible, [3, 3, 3]);
    }));

    it('keeps the store and other watchers working when a watcher throws', withStore(async ({ store }) => {
      const seen: number[] = [];
      store.watch(0, () => {
        throw new Error('watcher bug (expected in this test)');
      });
      store.watch(0, (e) => seen.push(e.revision));
      assert.equal((await store.apply([service('a')]))[0]!.action, 'created');
      assert.equal((await store.apply([service('b')]))[0]!.action, 'created');
      assert.deepEqual(seen, [1, 2]);
      assert.equal(store.revision(), 2);
    }));

    it('lets a watcher close itself or start another watch from its callback', withStore(async ({ store }) => {
      const nested: number[] = [];
      let calls = 0;
      const handle = store.watch(0, (e) => {
        calls++;
        handle?.close();
        store.watch(e.revision - 1, (n) => nested.push(n.revision));
      });
      await store.apply([service('a'), service('b')]);
      await store.apply([service('c')]);
      assert.equal(calls, 1);
      assert.deepEqual(nested, [1, 2, 3]);
    }));

    it('refuses a negative or fractional watch revision', withStore(async ({ store }) => {
      assert.throws(() => store.watch(-1, () => undefined));
      assert.throws(() => store.watch(1.5, () => undefined));
    }));

    it('throws RevisionCompactedError when watching from before the kept history', withStore(async (fx) => {
      if (!fx.compact) return;
      const { store } = fx;
      for (let i = 0; i < 5; i++) await store.apply([service(`s${i}`)]);
      await fx.compact();
      assert.throws(() => store.watch(2, () => undefined), (err: unknown) => {
        assert.ok(err instanceof RevisionCompactedError);
        assert.equal(err.code, 'TRELLIS_E_REVISION_COMPACTED');
        assert.equal(err.requested, 2);
        return true;
      });
      const seen: number[] = [];
      store.watch(store.revision(), (e) => seen.push(e.revision));
      await store.apply([service('after')]);
      assert.deepEqual(seen, [6]);
    }));

    it('rejects writes after close', withStore(async ({ store }) => {
      await store.close();
      await assert.rejects(store.apply([service('a')]), { code: 'TRELLIS_E_STORE_CLOSED' });
      await assert.rejects(store.delete([ref('Service', 'shop', 'a')]), { code: 'TRELLIS_E_STORE_CLOSED' });
    }));

    it('keeps objects, revision and uids across a reopen', withStore(async (fx) => {
      if (!fx.reopen) return;
      await fx.store.apply([service('a'), service('b'), namespace('shop')]);
      await fx.store.delete([ref('Service', 'shop', 'b')]);
      const before = fx.store.list();
      const revision = fx.store.revision();
      const store = await fx.reopen();
      assert.equal(store.revision(), revision);
      assert.deepEqual(store.list(), before);
      const outcome = await store.apply([service('c')]);
      assert.equal(outcome[0]!.action, 'created');
      assert.equal(store.get(ref('Service', 'shop', 'c'))!.metadata.resourceVersion, String(revision + 1));
      assert.equal((await store.apply([service('a')]))[0]!.action, 'unchanged');
    }));
  });
}
