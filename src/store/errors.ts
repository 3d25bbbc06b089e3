// Coded errors of the store layer (RevisionCompactedError lives in ./types.ts with the interface).

export type StoreErrorCode =
  | 'TRELLIS_E_STORE_CLOSED'
  | 'TRELLIS_E_STORE_INVALID_OBJECT'
  | 'TRELLIS_E_STORE_DUPLICATE_REF'
  | 'TRELLIS_E_STORE_LOCKED'
  | 'TRELLIS_E_STORE_CORRUPT'
  | 'TRELLIS_E_STORE_FAILED'
  | 'TRELLIS_E_STORE_INVALID_REVISION';

export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}
