// The on-disk form of the file store.
//
//   journal.ndjson  one line per committed batch: {"rev":R,"events":[{"type":"put"|"delete","resource":{...}}]}
//                   R is the store revision after the batch; its n events carry revisions
//                   R-n+1 .. R in order. A put carries the stored object (server fields set);
//                   a delete carries the object as it was.
//   snapshot.json   {"format":"trellis.store.snapshot/v1","revision":R,"objects":[...]}: every object
//                   at revision R. Journal lines with rev <= R are already in it and skipped on replay.
//
// A batch is durable when apply() resolves: the line is appended and fdatasync'ed.
// Measured on ext4 (virtio disk, Node 20), ~0.5 KB per line: append alone ~40 µs,
// append + fdatasync ~360 µs, append + fsync ~360 µs (same here: an append changes the
// file size, which fdatasync must flush too). fdatasync is used; writes are serialised,
// so the store sustains roughly 2,500 durable batches per second.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Resource } from '../resources/types.js';
import { StoreError } from './errors.js';
import type { Journal } from './memory.js';
import type { StoreState } from './state.js';
import type { StoreEvent, StoreEventType } from './types.js';

export const SNAPSHOT_FORMAT = 'trellis.store.snapshot/v1';

export interface JournalRecord {
  rev: number;
  events: { type: StoreEventType; resource: Resource }[];
}

export interface Snapshot {
  format: typeof SNAPSHOT_FORMAT;
  revision: number;
  objects: Resource[];
}

export interface FileJournalOptions {
  /** Compact when the journal holds more lines than this (default 10000). */
  compactAfterLines?: number;
  /** ... or more bytes than this (default 64 MiB). */
  compactAfterBytes?: number;
  /** fdatasync each batch (default true). Off only for tests and benchmarks that do not care about crashes. */
  sync?: boolean;
}

export const journalFile = (dir: string): string => path.join(dir, 'journal.ndjson');
export const snapshotFile = (dir: string): string => path.join(dir, 'snapshot.json');

/** Events of a record, with their revisions. */
export function eventsOf(record: JournalRecord): StoreEvent[] {
  const first = record.rev - record.events.length + 1;
  return record.events.map((e, i) => ({ type: e.type, revision: first + i, resource: e.resource }));
}

function isRecord(v: unknown): v is JournalRecord {
  const r = v as JournalRecord;
  return (
    typeof r === 'object' && r !== null && Number.isInteger(r.rev) && Array.isArray(r.events) && r.events.length > 0 &&
    r.events.every((e) => (e?.type === 'put' || e?.type === 'delete') && typeof e.resource === 'object' && e.resource !== null)
  );
}

export async function readSnapshot(dir: string): Promise<Snapshot | undefined> {
  let raw: string;
  try {
    raw = await fsp.readFile(snapshotFile(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let snap: Snapshot;
  try {
    snap = JSON.parse(raw) as Snapshot;
  } catch (err) {
    throw new StoreError('TRELLIS_E_STORE_CORRUPT', `${snapshotFile(dir)} is not valid JSON`, { cause: err });
  }
  if (snap?.format !== SNAPSHOT_FORMAT || !Number.isInteger(snap.revision) || !Array.isArray(snap.objects)) {
    throw new StoreError('TRELLIS_E_STORE_CORRUPT', `${snapshotFile(dir)} is not a ${SNAPSHOT_FORMAT} snapshot`);
  }
  return snap;
}

/**
 * Reads the journal. Only the last line may be torn (a crash during an
 * append: unparsable, or missing its newline); its bytes are reported in
 * `goodBytes` so the caller can cut it off. A bad line before the last is
 * corruption and an error.
 */
export async function readJournal(dir: string): Promise<{ records: JournalRecord[]; goodBytes: number; totalBytes: number }> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(journalFile(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], goodBytes: 0, totalBytes: 0 };
    throw err;
  }
  const records: JournalRecord[] = [];
  let pos = 0;
  let lineNo = 0;
  while (pos < buf.length) {
    lineNo++;
    const nl = buf.indexOf(0x0a, pos);
    const end = nl < 0 ? buf.length : nl;
    let record: unknown;
    try {
      record = JSON.parse(buf.subarray(pos, end).toString('utf8'));
    } catch {
      record = undefined;
    }
    const complete = nl >= 0 && isRecord(record);
    if (!complete) {
      if (nl < 0 || nl + 1 === buf.length) break; // the last line: a torn tail
      throw new StoreError(
        'TRELLIS_E_STORE_CORRUPT',
        `${journalFile(dir)} line ${lineNo} is damaged and is not the last line; restore the directory from a backup or remove the line to lose that change`,
      );
    }
    records.push(record as JournalRecord);
    pos = nl + 1;
  }
  return { records, goodBytes: pos, totalBytes: buf.length };
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // some file systems do not support syncing a directory
  } finally {
    await fh.close();
  }
}

/** Writes `file` atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

export class FileJournal implements Journal {
  private failed: Error | undefined;

  private constructor(
    private readonly dir: string,
    private readonly fh: fsp.FileHandle,
    private bytes: number,
    private lines: number,
    private readonly opts: Required<FileJournalOptions>,
  ) {}

  /** Opens the journal for appending, cutting off a torn tail at `goodBytes`. */
  static async open(dir: string, goodBytes: number, lines: number, opts: FileJournalOptions = {}): Promise<FileJournal> {
    const fh = await fsp.open(journalFile(dir), 'a+', 0o600);
    const { size } = await fh.stat();
    if (size > goodBytes) {
      await fh.truncate(goodBytes);
      await fh.sync();
    }
    return new FileJournal(dir, fh, goodBytes, lines, {
      compactAfterLines: opts.compactAfterLines ?? 10_000,
      compactAfterBytes: opts.compactAfterBytes ?? 64 * 1024 * 1024,
      sync: opts.sync ?? true,
    });
  }

  async append(events: StoreEvent[]): Promise<void> {
    if (this.failed) {
      throw new StoreError('TRELLIS_E_STORE_FAILED', `the journal in ${this.dir} failed earlier; reopen the store`, { cause: this.failed });
    }
    const record: JournalRecord = { rev: events[events.length - 1]!.revision, events: events.map((e) => ({ type: e.type, resource: e.resource })) };
    const data = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      let off = 0;
      while (off < data.length) off += (await this.fh.write(data, off, data.length - off, null)).bytesWritten;
      if (this.opts.sync) await this.fh.datasync();
    } catch (err) {
      // Cut off whatever part of the line got written, so later lines do not follow a torn one.
      try {
        await this.fh.truncate(this.bytes);
      } catch (truncErr) {
        this.failed = truncErr as Error;
      }
      throw err;
    }
    this.bytes += data.length;
    this.lines++;
  }

  async afterCommit(state: StoreState): Promise<void> {
    if (this.lines > this.opts.compactAfterLines || this.bytes > this.opts.compactAfterBytes) await this.compact(state);
  }

  /** Writes a snapshot of the whole state, then empties the journal. */
  async compact(state: StoreState): Promise<void> {
    if (this.failed) return;
    const snapshot: Snapshot = { format: SNAPSHOT_FORMAT, revision: state.revision(), objects: state.list() };
    await writeFileAtomic(snapshotFile(this.dir), JSON.stringify(snapshot));
    // A crash here leaves lines the snapshot already holds; replay skips them.
    try {
      await this.fh.truncate(0);
      if (this.opts.sync) await this.fh.datasync();
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
    this.bytes = 0;
    this.lines = 0;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
