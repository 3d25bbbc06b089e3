// The in-memory store, optionally backed by a journal (see ./file.ts).
// Writes are serialised: each apply/delete plans against the state left by
// the previous one, is made durable by the journal (if any), and only then
// is committed and announced to watchers.
import type { Resource, ResourceRef } from '../resources/types.js';
import { StoreError } from './errors.js';
import { StoreState, type Plan, type WatcherErrorHandler } from './state.js';
import type { ApplyOutcome, ListFilter, Store, StoreEvent, WatchHandle } from './types.js';

export interface MemoryStoreOptions {
  /** Events kept for watch resume (default 10000). */
  historyLimit?: number;
  /** Called when a watch callback throws (default: a process warning). */
  onWatcherError?: WatcherErrorHandler;
}

export const DEFAULT_HISTORY_LIMIT = 10_000;

/** Durability hook: a journal that makes a batch of events durable before it is committed. */
export interface Journal {
  /** Persists one batch (events with consecutive revisions); rejects if it could not. */
  append(events: StoreEvent[]): Promise<void>;
  /** Runs after a commit, still serialised with writes (e.g. compaction). */
  afterCommit?(state: StoreState): Promise<void>;
  close(): Promise<void>;
}

export class MemoryStore implements Store {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly state: StoreState,
    private readonly journal?: Journal,
  ) {}

  revision(): number {
    return this.state.revision();
  }

  get(ref: ResourceRef): Resource | undefined {
    return this.state.get(ref);
  }

  list(filter?: ListFilter): Resource[] {
    return this.state.list(filter);
  }

  apply(resources: Resource[]): Promise<ApplyOutcome[]> {
    return this.write(() => this.state.planApply(resources));
  }

  delete(refs: ResourceRef[]): Promise<ApplyOutcome[]> {
    return this.write(() => this.state.planDelete(refs));
  }

  watch(fromRevision: number, onEvent: (event: StoreEvent) => void, filter?: ListFilter): WatchHandle {
    this.checkOpen();
    return this.state.watch(fromRevision, onEvent, filter);
  }

  /** Forgets watch history up to `revision`: watches from earlier revisions get RevisionCompactedError. */
  compactHistory(revision: number): Promise<void> {
    return this.serialised(async () => this.state.compactHistory(revision));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Wait for queued writes and the housekeeping they may have queued in turn.
    let tail: Promise<unknown>;
    do {
      tail = this.tail;
      await tail;
    } while (tail !== this.tail);
    this.state.closeWatchers();
    await this.journal?.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('TRELLIS_E_STORE_CLOSED', 'the store is closed');
  }

  private write(plan: () => Plan): Promise<ApplyOutcome[]> {
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serialised(async () => {
      const { outcomes, events } = plan();
      if (events.length > 0) {
        await this.journal?.append(events);
        this.state.commit(events);
        if (this.journal?.afterCommit) {
          // Housekeeping runs next in the queue; this write resolves without waiting for it.
          void this.serialised(() => this.journal!.afterCommit!(this.state)).catch(() => undefined);
        }
      }
      return outcomes;
    });
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** An in-memory store (tests, and the base of the file store). */
export function createMemoryStore(opts: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(new StoreState(opts.historyLimit ?? DEFAULT_HISTORY_LIMIT, opts.onWatcherError));
}
