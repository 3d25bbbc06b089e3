// The embedded default store: the memory store plus a journal and snapshot
// in a directory (format in ./journal.ts), locked against a second opener.
import { promises as fsp } from 'node:fs';
import { StoreError } from './errors.js';
import { acquireDirLock } from './lock.js';
import { eventsOf, FileJournal, readJournal, readSnapshot, type FileJournalOptions } from './journal.js';
import { DEFAULT_HISTORY_LIMIT, MemoryStore, type Journal, type MemoryStoreOptions } from './memory.js';
import { StoreState } from './state.js';
import type { StoreEvent } from './types.js';

export type FileStoreOptions = MemoryStoreOptions & FileJournalOptions;

/** Releases the directory lock once the journal is closed. */
class LockedJournal implements Journal {
  constructor(
    private readonly inner: FileJournal,
    private readonly release: () => Promise<void>,
  ) {}
  append(events: StoreEvent[]): Promise<void> {
    return this.inner.append(events);
  }
  afterCommit(state: StoreState): Promise<void> {
    return this.inner.afterCommit(state);
  }
  async close(): Promise<void> {
    try {
      await this.inner.close();
    } finally {
      await this.release();
    }
  }
}

/**
 * Opens (or creates) the store in `dir`: loads snapshot.json, replays
 * journal.ndjson after it (cutting off a torn last line), and keeps the
 * directory locked until close(). Revisions and uids continue where they were.
 */
export async function openFileStore(dir: string, opts: FileStoreOptions = {}): Promise<MemoryStore> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = await acquireDirLock(dir);
  try {
    const state = new StoreState(opts.historyLimit ?? DEFAULT_HISTORY_LIMIT, opts.onWatcherError);
    const snapshot = await readSnapshot(dir);
    if (snapshot) state.resetTo(snapshot.revision, snapshot.objects);
    const { records, goodBytes } = await readJournal(dir);
    for (const record of records) {
      if (record.rev <= state.revision()) continue; // already in the snapshot
      const events = eventsOf(record);
      if (events[0]!.revision !== state.revision() + 1) {
        throw new StoreError(
          'TRELLIS_E_STORE_CORRUPT',
          `journal in ${dir} jumps from revision ${state.revision()} to ${events[0]!.revision}: changes are missing`,
        );
      }
      state.commit(events, false);
    }
    const journal = await FileJournal.open(dir, goodBytes, records.length, opts);
    return new MemoryStore(state, new LockedJournal(journal, lock.release));
  } catch (err) {
    await lock.release();
    throw err;
  }
}
