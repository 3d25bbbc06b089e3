import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore, RevisionCompactedError } from '../../src/store/index.js';
import { runStoreConformance, service } from './conformance.js';

runStoreConformance('memory', async () => {
  const store = createMemoryStore({ onWatcherError: () => undefined });
  return {
    store,
    compact: () => store.compactHistory(store.revision()),
    cleanup: () => store.close(),
  };
});

describe('memory store history', () => {
  it('keeps only historyLimit events for watch resume', async () => {
    const store = createMemoryStore({ historyLimit: 3 });
    for (let i = 0; i < 6; i++) await store.apply([service(`s${i}`)]);
    const seen: number[] = [];
    store.watch(3, (e) => seen.push(e.revision));
    assert.deepEqual(seen, [4, 5, 6]);
    assert.throws(() => store.watch(2, () => undefined), RevisionCompactedError);
    await store.close();
  });

  it('reports a throwing watcher to onWatcherError with the event', async () => {
    const reported: [string, number][] = [];
    const store = createMemoryStore({ onWatcherError: (err, event) => reported.push([(err as Error).message, event.revision]) });
    store.watch(0, () => {
      throw new Error('boom');
    });
    await store.apply([service('a')]);
    assert.deepEqual(reported, [['boom', 1]]);
    await store.close();
  });
});
