// One store interface for every backend (memory + file journal, etcd,
// Kubernetes). A store holds canonical resources and a single monotonically
// increasing revision; every change gets the next revision.

import type { Resource, ResourceRef } from '../resources/types.js';

export type StoreEventType = 'put' | 'delete';

export interface StoreEvent {
  type: StoreEventType;
  revision: number;
  /** For `put`, the new object; for `delete`, the object as it was. */
  resource: Resource;
}

export interface ListFilter {
  kind?: string;
  namespace?: string;
}

export interface ApplyOutcome {
  ref: ResourceRef;
  action: 'created' | 'configured' | 'unchanged' | 'deleted' | 'not-found';
}

export interface WatchHandle {
  close(): void;
}

/** A watch can no longer resume from the revision asked for (it was compacted): relist. */
export class RevisionCompactedError extends Error {
  readonly code = 'TRELLIS_E_REVISION_COMPACTED';
  constructor(readonly requested: number, readonly oldest: number) {
    super(`revision ${requested} is compacted; oldest available is ${oldest}: list again and watch from the list's revision`);
  }
}

export interface Store {
  /** Current revision (0 for an empty store). */
  revision(): number;
  get(ref: ResourceRef): Resource | undefined;
  list(filter?: ListFilter): Resource[];
  /**
   * Puts every resource in one atomic step: all of them or none. Objects equal
   * to what is stored (spec, labels, annotations, status) are left unchanged
   * and do not bump the revision. The store sets metadata.resourceVersion,
   * uid, creationTimestamp and generation.
   */
  apply(resources: Resource[]): Promise<ApplyOutcome[]>;
  /** Deletes every ref in one atomic step; refs that do not exist are reported as not-found. */
  delete(refs: ResourceRef[]): Promise<ApplyOutcome[]>;
  /**
   * Calls `onEvent` for every change after `fromRevision` (exclusive), in
   * order, then for each new change. Throws RevisionCompactedError when the
   * history no longer reaches back that far.
   */
  watch(fromRevision: number, onEvent: (event: StoreEvent) => void, filter?: ListFilter): WatchHandle;
  close(): Promise<void>;
}
