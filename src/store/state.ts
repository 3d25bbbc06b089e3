// The in-memory heart shared by every local backend: objects, the revision,
// the event history kept for watch resume, and the watchers. Changes are
// planned without side effects (planApply, planDelete), persisted by the
// caller if it has a journal, then committed and announced (commit).
import { randomUUID } from 'node:crypto';
import { keyOf, refOf, type Resource, type ResourceRef } from '../resources/types.js';
import { StoreError } from './errors.js';
import { compareResources, deepFreeze, jsonClone, jsonEqual, sameContent } from './object.js';
import { RevisionCompactedError, type ApplyOutcome, type ListFilter, type StoreEvent, type WatchHandle } from './types.js';

/** A change ready to commit: outcomes for the caller, events (consecutive revisions) for the state. */
export interface Plan {
  outcomes: ApplyOutcome[];
  events: StoreEvent[];
}

/** Called when a watcher throws; the store and the other watchers carry on. */
export type WatcherErrorHandler = (error: unknown, event: StoreEvent) => void;

interface Watcher {
  onEvent: (event: StoreEvent) => void;
  filter?: ListFilter;
  /** Revision of the last event this watcher has been offered. */
  seen: number;
  closed: boolean;
}

const defaultWatcherErrorHandler: WatcherErrorHandler = (error, event) => {
  process.emitWarning(
    `a store watcher threw on revision ${event.revision} (${event.type} ${keyOf(refOf(event.resource))}); it stays subscribed: ${
      error instanceof Error ? error.stack ?? error.message : String(error)
    }`,
    { code: 'TRELLIS_W_STORE_WATCHER_THREW' },
  );
};

function matches(filter: ListFilter | undefined, r: Resource): boolean {
  return (filter?.kind === undefined || filter.kind === r.kind) && (filter?.namespace === undefined || filter.namespace === r.metadata.namespace);
}

function validate(r: Resource, i: number): void {
  const where = `object #${i}`;
  if (r === null || typeof r !== 'object') throw new StoreError('TRELLIS_E_STORE_INVALID_OBJECT', `${where} is not an object`);
  if (typeof r.kind !== 'string' || (r.kind as string) === '') throw new StoreError('TRELLIS_E_STORE_INVALID_OBJECT', `${where} has no kind`);
  const m = r.metadata as Partial<Resource['metadata']> | undefined;
  if (!m || typeof m !== 'object') throw new StoreError('TRELLIS_E_STORE_INVALID_OBJECT', `${where} (${r.kind}) has no metadata`);
  if (typeof m.name !== 'string' || m.name === '') throw new StoreError('TRELLIS_E_STORE_INVALID_OBJECT', `${where} (${r.kind}) has no metadata.name`);
  if (typeof m.namespace !== 'string') {
    throw new StoreError('TRELLIS_E_STORE_INVALID_OBJECT', `${r.kind} ${m.name}: metadata.namespace must be a string ('' for cluster-scoped kinds)`);
  }
}

export class StoreState {
  private readonly objects = new Map<string, Resource>();
  private rev = 0;
  /** History covers revisions (compactedThrough, rev]. */
  private compactedThrough = 0;
  private history: StoreEvent[] = [];
  private sorted: Resource[] | undefined;
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly historyLimit: number,
    private readonly onWatcherError: WatcherErrorHandler = defaultWatcherErrorHandler,
  ) {
    if (!Number.isInteger(historyLimit) || historyLimit < 0) throw new RangeError(`historyLimit must be a non-negative integer, got ${historyLimit}`);
  }

  revision(): number {
    return this.rev;
  }

  /** Oldest revision a watch can resume after. */
  oldestResumable(): number {
    return this.compactedThrough;
  }

  get(ref: ResourceRef): Resource | undefined {
    return this.objects.get(keyOf(ref));
  }

  list(filter?: ListFilter): Resource[] {
    if (!this.sorted) this.sorted = [...this.objects.values()].sort(compareResources);
    return filter?.kind === undefined && filter?.namespace === undefined ? [...this.sorted] : this.sorted.filter((r) => matches(filter, r));
  }

  planApply(resources: Resource[], now = new Date()): Plan {
    resources.forEach(validate);
    const seen = new Set<string>();
    const outcomes: ApplyOutcome[] = [];
    const events: StoreEvent[] = [];
    let rev = this.rev;
    for (const input of resources) {
      const ref = refOf(input);
      const key = keyOf(ref);
      if (seen.has(key)) throw new StoreError('TRELLIS_E_STORE_DUPLICATE_REF', `${key} appears twice in one apply`);
      seen.add(key);
      const next = jsonClone(input);
      next.metadata.labels ??= {};
      next.metadata.annotations ??= {};
      const stored = this.objects.get(key);
      if (stored && sameContent(stored, next)) {
        outcomes.push({ ref, action: 'unchanged' });
        continue;
      }
      rev++;
      next.metadata.resourceVersion = String(rev);
      next.metadata.uid = stored?.metadata.uid ?? randomUUID();
      next.metadata.creationTimestamp = stored?.metadata.creationTimestamp ?? now.toISOString();
      next.metadata.generation = !stored
        ? 1
        : jsonEqual(stored.spec, next.spec)
          ? (stored.metadata.generation ?? 1)
          : (stored.metadata.generation ?? 1) + 1;
      events.push(deepFreeze({ type: 'put', revision: rev, resource: next }));
      outcomes.push({ ref, action: stored ? 'configured' : 'created' });
    }
    return { outcomes, events };
  }

  planDelete(refs: ResourceRef[]): Plan {
    const seen = new Set<string>();
    const outcomes: ApplyOutcome[] = [];
    const events: StoreEvent[] = [];
    let rev = this.rev;
    for (const input of refs) {
      const ref = { kind: input.kind, namespace: input.namespace, name: input.name };
      const key = keyOf(ref);
      if (seen.has(key)) throw new StoreError('TRELLIS_E_STORE_DUPLICATE_REF', `${key} appears twice in one delete`);
      seen.add(key);
      const stored = this.objects.get(key);
      if (!stored) {
        outcomes.push({ ref, action: 'not-found' });
        continue;
      }
      events.push(deepFreeze({ type: 'delete', revision: ++rev, resource: stored }));
      outcomes.push({ ref, action: 'deleted' });
    }
    return { outcomes, events };
  }

  /**
   * Applies planned (or replayed) events, which must continue the revision
   * sequence, then offers them to the watchers: all of a batch is in the
   * state before the first watcher hears of it.
   */
  commit(events: StoreEvent[], notify = true): void {
    if (events.length === 0) return;
    for (const event of events) {
      deepFreeze(event);
      if (event.revision !== this.rev + 1) {
        throw new StoreError('TRELLIS_E_STORE_CORRUPT', `event revision ${event.revision} does not follow revision ${this.rev}`);
      }
      const key = keyOf(refOf(event.resource));
      if (event.type === 'put') this.objects.set(key, event.resource);
      else this.objects.delete(key);
      this.rev = event.revision;
      this.history.push(event);
    }
    this.sorted = undefined;
    this.trimHistory();
    if (notify) for (const w of [...this.watchers]) this.deliver(w, events);
  }

  /** Drops the history up to and including `revision` (watches from before it must relist). */
  compactHistory(revision: number): void {
    const through = Math.min(revision, this.rev);
    if (through <= this.compactedThrough) return;
    this.history = this.history.filter((e) => e.revision > through);
    this.compactedThrough = through;
  }

  /** For a store reopened from a snapshot: the history starts at `revision`. */
  resetTo(revision: number, objects: Resource[]): void {
    this.objects.clear();
    for (const o of objects) this.objects.set(keyOf(refOf(o)), deepFreeze(o));
    this.rev = revision;
    this.compactedThrough = revision;
    this.history = [];
    this.sorted = undefined;
  }

  watch(fromRevision: number, onEvent: (event: StoreEvent) => void, filter?: ListFilter): WatchHandle {
    if (!Number.isInteger(fromRevision) || fromRevision < 0) {
      throw new StoreError('TRELLIS_E_STORE_INVALID_REVISION', `watch revision must be a non-negative integer, got ${fromRevision}`);
    }
    if (fromRevision < this.compactedThrough) throw new RevisionCompactedError(fromRevision, this.compactedThrough + 1);
    const watcher: Watcher = { onEvent, filter: filter ? { ...filter } : undefined, seen: fromRevision, closed: false };
    this.watchers.add(watcher);
    // Replay synchronously: no commit can interleave, so replay and live events are gap-free and in order.
    const start = this.history.findIndex((e) => e.revision > fromRevision);
    if (start >= 0) this.deliver(watcher, this.history.slice(start));
    return {
      close: () => {
        watcher.closed = true;
        this.watchers.delete(watcher);
      },
    };
  }

  /** Forgets every watcher (store closed). */
  closeWatchers(): void {
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
  }

  private deliver(w: Watcher, events: StoreEvent[]): void {
    for (const event of events) {
      if (w.closed) return;
      if (event.revision <= w.seen) continue;
      w.seen = event.revision;
      if (!matches(w.filter, event.resource)) continue;
      try {
        w.onEvent(event);
      } catch (err) {
        try {
          this.onWatcherError(err, event);
        } catch {
          // an error handler that throws must not break the store either
        }
      }
    }
  }

  private trimHistory(): void {
    const excess = this.history.length - this.historyLimit;
    // Trim in chunks so that a full history does not cost an array shift per event.
    if (excess > 0 && (excess >= 1024 || excess * 8 >= this.historyLimit || this.historyLimit < 1024)) {
      const dropped = this.history.splice(0, excess);
      this.compactedThrough = dropped[dropped.length - 1]!.revision;
    }
  }
}
