// Store backends behind one interface (./types.ts).
export * from './types.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { createMemoryStore, MemoryStore, DEFAULT_HISTORY_LIMIT, type MemoryStoreOptions } from './memory.js';
export { openFileStore, type FileStoreOptions } from './file.js';
export type { WatcherErrorHandler } from './state.js';
