// Reading bodies from the disk tier, and what a failed read means. Only the data's
// fault — a digest or length that does not match, a body file gone — removes an
// entry (and every entry sharing the damaged blob); any other error (EMFILE, EIO…)
// is the system's: counted, logged at most every interval, and the entry stays.

import { fileBody, IntegrityError, sha256Integrity } from '../file-body.js';
import type { Body, EntryMeta } from '../types.js';
import { blobPath, segmentPath } from './layout.js';
import type { DiskRecord } from './records.js';
import { ReadHandles } from './read-handles.js';
import { ReadThread } from './read-thread.js';
import type { DiskTier } from './tier.js';

/** Segment files held open: 64 MiB each, so a few cover the hot set. */
const SEGMENT_HANDLES = 32;
/** Blob files held open for whole reads (disk-only bodies up to the read-whole size, tiered.ts): one descriptor each. */
const BLOB_HANDLES = 256;

export class DiskReads {
  ioErrors = 0;
  corrupt = 0;
  private segmentFiles: ReadHandles<number> | undefined;
  private blobFiles: ReadHandles<string> | undefined;
  /** Whole reads in flight, by record (as many as requests waiting on the disk at once). */
  private readonly reading = new Map<DiskRecord, Promise<Buffer | undefined>>();
  /** Whole reads go to a reader thread in batches (read-thread.ts), not one pool trip each. */
  private readonly thread = new ReadThread();
  private readonly readFd = (fd: number, off: number, len: number) => this.thread.read(fd, off, len);

  constructor(private readonly tier: DiskTier) {}

  /** Segment files held open for reads (made on first use: the tier's options are set after its fields). */
  get segments(): ReadHandles<number> {
    return (this.segmentFiles ??= new ReadHandles((segment) => segmentPath(this.tier.opts.dir, segment), SEGMENT_HANDLES, this.readFd));
  }

  /** Blob files held open for whole reads, by integrity. */
  get blobs(): ReadHandles<string> {
    return (this.blobFiles ??= new ReadHandles((integrity) => blobPath(this.tier.opts.dir, integrity), BLOB_HANDLES, this.readFd));
  }

  closeAll(): void {
    this.segmentFiles?.closeAll();
    this.blobFiles?.closeAll();
    void this.thread.close();
  }

  /** The record's metadata (read from its index line unless held); undefined when it cannot be read (an I/O error: kept). */
  async meta(rec: DiskRecord): Promise<EntryMeta | undefined> {
    try {
      return await this.tier.lines.read(rec);
    } catch (err) {
      this.ioErrors++;
      const e = err as NodeJS.ErrnoException;
      this.tier.warnings.warn('io', { key: rec.key, code: e.code, err: e.message, ioErrors: this.ioErrors }, 'disk tier: index line read failed; the entry is kept and the request answered from elsewhere');
      return undefined;
    }
  }

  /**
   * A disk hit read whole (tiered.ts, bodies up to its read-whole size): the metadata,
   * without a promise when RAM has it, and the bytes (undefined when they cannot be
   * read: corrupt, removed; I/O error, kept). Why beside get(): no file body is made,
   * and `handOut` (only a promotion asks storedFrom() later) adds no WeakMap entry per hit.
   */
  async hitWhole(key: string, handOut: boolean): Promise<{ meta: EntryMeta; data: Buffer | undefined } | undefined> {
    const rec = this.tier.hit(key);
    if (!rec) return undefined;
    const meta = this.tier.lines.peek(rec) ?? (await this.meta(rec));
    if (!meta) return undefined;
    if (handOut) this.tier.lines.handOut(meta, rec);
    return { meta, data: meta.integrity === undefined ? undefined : await this.whole(rec, meta.integrity) };
  }

  body(rec: DiskRecord, integrity: string): Body {
    return fileBody(this.pathOf(rec, integrity), rec.size, integrity, {
      offset: rec.off ?? 0,
      trusted: rec.verified === true,
      onVerified: () => (rec.verified = true),
      onCorrupt: (err) => this.failed(rec, err),
    });
  }

  /**
   * A whole small body, verified unless this process verified it already; undefined
   * when it cannot be (corrupt: removed; I/O error: kept). Concurrent reads of the same
   * record share one read (why: a hot body kept out of memory was read once per
   * request, and each read is a trip through libuv's pool, ~7 context switches). Keyed
   * by the record, so a body written again (a new record) never joins an older read.
   */
  whole(rec: DiskRecord, integrity: string): Promise<Buffer | undefined> {
    let p = this.reading.get(rec);
    if (p) return p;
    p = this.readWhole(rec, integrity);
    this.reading.set(rec, p);
    const done = () => this.reading.delete(rec);
    p.then(done, done);
    return p;
  }

  private async readWhole(rec: DiskRecord, integrity: string): Promise<Buffer | undefined> {
    let data: Buffer;
    try {
      // A blob file is asked for one byte more than its body: one grown behind the tier's back fails the length check.
      data = rec.segment !== undefined ? await this.segments.read(rec.segment, rec.off!, rec.size) : await this.blobs.read(integrity, 0, rec.size + 1);
    } catch (err) {
      this.failed(rec, err as Error);
      return undefined;
    }
    if (data.length !== rec.size || (!rec.verified && sha256Integrity(data) !== integrity)) {
      this.failed(rec, new IntegrityError('integrity mismatch'));
      return undefined;
    }
    rec.verified = true;
    return data;
  }

  private pathOf(rec: DiskRecord, integrity: string): string {
    const { dir } = this.tier.opts;
    return rec.segment !== undefined ? segmentPath(dir, rec.segment) : blobPath(dir, integrity);
  }

  /** A read failed: the data's fault (digest, length, missing file) removes the entry; anything else is the system's. */
  private failed(rec: DiskRecord, err: Error): void {
    const { tier } = this;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINTEGRITY' && code !== 'ENOENT' && !(err instanceof IntegrityError)) {
      this.ioErrors++;
      tier.warnings.warn('io', { key: rec.key, code, err: err.message, ioErrors: this.ioErrors }, 'disk tier: read failed (I/O error); the entry is kept and the request answered from elsewhere');
      return;
    }
    // Damaged or gone: the next read opens whatever is at the path then.
    if (rec.segment === undefined) this.blobFiles?.forget(rec.integrity);
    if (tier.records.get(rec.key) !== rec) return;
    this.corrupt++;
    tier.opts.logger.error({ key: rec.key, err: err.message }, 'disk tier: corrupted or missing blob removed; treated as a miss');
    if (rec.segment !== undefined) {
      void tier.removeRecord(rec, 'corrupt');
      return;
    }
    // Every record sharing the blob shares its bad bytes.
    for (const other of [...tier.records.values()]) if (other.integrity === rec.integrity && other.segment === undefined) void tier.removeRecord(other, 'corrupt');
  }
}
