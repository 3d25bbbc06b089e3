import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openFileStore, RevisionCompactedError, type FileStoreOptions, type MemoryStore } from '../../src/store/index.js';
import { runStoreConformance, service } from './conformance.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'trellis-store-'));
}

runStoreConformance('file', async () => {
  const dir = await tempDir();
  const opts: FileStoreOptions = { onWatcherError: () => undefined };
  let store: MemoryStore = await openFileStore(dir, opts);
  return {
    get store() {
      return store;
    },
    reopen: async () => {
      await store.close();
      store = await openFileStore(dir, opts);
      return store;
    },
    compact: () => store.compactHistory(store.revision()),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const journalLines = async (dir: string) =>
  (await readFile(path.join(dir, 'journal.ndjson'), 'utf8')).split('\n').filter((l) => l !== '');

const ref = (name: string) => ({ kind: 'Service', namespace: 'shop', name });

describe('file store', () => {
  it('writes one journal line per committed batch before apply resolves', async () => {
    await withDir(async (dir) => {
      const store = await openFileStore(dir);
      await store.apply([service('a'), service('b')]);
      await store.apply([service('a')]); // unchanged: no line
      await store.delete([ref('b')]);
      const lines = (await journalLines(dir)).map((l) => JSON.parse(l));
      assert.equal(lines.length, 2);
      assert.equal(lines[0].rev, 2);
      assert.deepEqual(lines[0].events.map((e: { type: string; resource: { metadata: { name: string } } }) => [e.type, e.resource.metadata.name]), [
        ['put', 'a'],
        ['put', 'b'],
      ]);
      assert.deepEqual([lines[1].rev, lines[1].events[0].type, lines[1].events[0].resource.metadata.name], [3, 'delete', 'b']);
      await store.close();
    });
  });

  it('continues revisions and keeps uids after reopen, and resumes watches from the journal', async () => {
    await withDir(async (dir) => {
      let store = await openFileStore(dir);
      await store.apply([service('a')]);
      await store.apply([service('b')]);
      const uid = store.get(ref('a'))!.metadata.uid;
      await store.close();
      store = await openFileStore(dir);
      assert.equal(store.revision(), 2);
      assert.equal(store.get(ref('a'))!.metadata.uid, uid);
      const seen: number[] = [];
      store.watch(1, (e) => seen.push(e.revision));
      await store.apply([service('c')]);
      assert.deepEqual(seen, [2, 3]);
      await store.close();
    });
  });

  it('ignores a torn last line and truncates the journal to the last good line', async () => {
    await withDir(async (dir) => {
      let store = await openFileStore(dir);
      await store.apply([service('a')]);
      await store.apply([service('b')]);
      await store.close();
      await appendFile(path.join(dir, 'journal.ndjson'), '{"rev":3,"events":[{"type":"put","reso');
      store = await openFileStore(dir);
      assert.equal(store.revision(), 2);
      assert.deepEqual(store.list().map((r) => r.metadata.name), ['a', 'b']);
      await store.apply([service('c')]);
      await store.close();
      assert.equal((await journalLines(dir)).length, 3);
      store = await openFileStore(dir);
      assert.equal(store.revision(), 3);
      assert.deepEqual(store.list().map((r) => r.metadata.name), ['a', 'b', 'c']);
      await store.close();
    });
  });

  it('treats a complete last line without its newline as torn', async () => {
    await withDir(async (dir) => {
      let store = await openFileStore(dir);
      await store.apply([service('a')]);
      await store.close();
      const line = JSON.stringify({ rev: 2, events: [{ type: 'put', resource: { ...service('b'), metadata: { ...service('b').metadata, resourceVersion: '2' } } }] });
      await appendFile(path.join(dir, 'journal.ndjson'), line);
      store = await openFileStore(dir);
      assert.equal(store.revision(), 1);
      await store.close();
    });
  });

  it('refuses to open a journal damaged before its last line', async () => {
    await withDir(async (dir) => {
      const store = await openFileStore(dir);
      await store.apply([service('a')]);
      await store.apply([service('b')]);
      await store.close();
      const lines = await journalLines(dir);
      await writeFile(path.join(dir, 'journal.ndjson'), `${lines[0]!.slice(0, 10)}\n${lines[1]}\n`);
      await assert.rejects(openFileStore(dir), { code: 'TRELLIS_E_STORE_CORRUPT' });
      // the failed open released the lock
      await writeFile(path.join(dir, 'journal.ndjson'), `${lines[0]}\n`);
      const reopened = await openFileStore(dir);
      assert.equal(reopened.revision(), 1);
      await reopened.close();
    });
  });

  it('compacts into a snapshot, truncates the journal and reopens to the same state', async () => {
    await withDir(async (dir) => {
      let store = await openFileStore(dir, { compactAfterLines: 3 });
      for (let i = 0; i < 10; i++) await store.apply([service(`s${i}`)]);
      await store.delete([ref('s0')]);
      await store.apply([service('s1', 'shop', 81)]);
      const before = store.list();
      await store.close();
      const snapshot = JSON.parse(await readFile(path.join(dir, 'snapshot.json'), 'utf8'));
      assert.equal(snapshot.format, 'trellis.store.snapshot/v1');
      assert.ok(snapshot.revision > 0);
      assert.ok((await journalLines(dir)).length <= 3);
      store = await openFileStore(dir, { compactAfterLines: 3 });
      assert.equal(store.revision(), 12);
      assert.deepEqual(store.list(), before);
      assert.equal(store.get(ref('s1'))!.metadata.generation, 2);
      // history before the snapshot is gone after a reopen
      assert.throws(() => store.watch(0, () => undefined), RevisionCompactedError);
      await store.close();
    });
  });

  it('skips journal lines already contained in the snapshot (crash between snapshot and truncate)', async () => {
    await withDir(async (dir) => {
      let store = await openFileStore(dir);
      await store.apply([service('a')]);
      await store.apply([service('b')]);
      const stale = await readFile(path.join(dir, 'journal.ndjson'), 'utf8');
      await store.close();
      store = await openFileStore(dir, { compactAfterLines: 0 });
      await store.apply([service('c')]); // triggers compaction
      await store.close();
      await writeFile(path.join(dir, 'journal.ndjson'), stale);
      store = await openFileStore(dir);
      assert.equal(store.revision(), 3);
      assert.deepEqual(store.list().map((r) => r.metadata.name), ['a', 'b', 'c']);
      await store.apply([service('d')]);
      assert.equal(store.revision(), 4);
      await store.close();
    });
  });

  it('refuses a second open of the same directory until the first is closed', async () => {
    await withDir(async (dir) => {
      const first = await openFileStore(dir);
      await assert.rejects(openFileStore(dir), { code: 'TRELLIS_E_STORE_LOCKED' });
      await first.close();
      const second = await openFileStore(dir);
      await second.close();
    });
  });

  it('refuses a directory locked by another live process', async () => {
    await withDir(async (dir) => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      try {
        await writeFile(path.join(dir, 'lock'), JSON.stringify({ pid: child.pid, hostname: os.hostname(), acquiredAt: new Date().toISOString() }));
        await assert.rejects(openFileStore(dir), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'TRELLIS_E_STORE_LOCKED');
          assert.match(err.message, new RegExp(`process ${child.pid}`));
          return true;
        });
      } finally {
        child.kill();
      }
    });
  });

  it('takes over a stale lock left by a dead process', async () => {
    await withDir(async (dir) => {
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await once(child, 'exit');
      await writeFile(path.join(dir, 'lock'), JSON.stringify({ pid: child.pid, hostname: os.hostname(), acquiredAt: new Date().toISOString() }));
      const store = await openFileStore(dir);
      assert.equal(JSON.parse(await readFile(path.join(dir, 'lock'), 'utf8')).pid, process.pid);
      await store.close();
    });
  });
});
