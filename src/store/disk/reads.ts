// Reading bodies from the disk tier, and what a failed read means. Only the data's
// fault — a digest or length that does not match, a body file gone — removes an
// entry (and every entry sharing the damaged blob); any other error (EMFILE, EIO…)
// is the system's: counted, logged at most every interval, and the entry stays.

import { open as openFile, readFile } from 'node:fs/promises';
import { fileBody, IntegrityError, sha256Integrity } from '../file-body.js';
import type { Body, EntryMeta } from '../types.js';
import { blobPath, segmentPath } from './layout.js';
import type { DiskRecord } from './records.js';
import type { DiskTier } from './tier.js';

export class DiskReads {
  ioErrors = 0;
  corrupt = 0;

  constructor(private readonly tier: DiskTier) {}

  /** The record's metadata (read from its index line unless held); undefined when it cannot be read (an I/O error: kept). */
  async meta(rec: DiskRecord): Promise<EntryMeta | undefined> {
    try {
      return await this.tier.lines.read(rec);
    } catch (err) {
      this.ioErrors++;
      const e = err as NodeJS.ErrnoException;
      this.tier.warnAtMostEvery('io', { key: rec.key, code: e.code, err: e.message, ioErrors: this.ioErrors }, 'disk tier: index line read failed; the entry is kept and the request answered from elsewhere');
      return undefined;
    }
  }

  body(rec: DiskRecord, integrity: string): Body {
    return fileBody(this.pathOf(rec, integrity), rec.size, integrity, {
      offset: rec.off ?? 0,
      trusted: rec.verified === true,
      onVerified: () => (rec.verified = true),
      onCorrupt: (err) => this.failed(rec, err),
    });
  }

  async whole(rec: DiskRecord, integrity: string): Promise<Buffer | undefined> {
    let data: Buffer;
    try {
      data = await readRange(this.pathOf(rec, integrity), rec.off ?? 0, rec.size, rec.segment !== undefined);
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
      tier.warnAtMostEvery('io', { key: rec.key, code, err: err.message, ioErrors: this.ioErrors }, 'disk tier: read failed (I/O error); the entry is kept and the request answered from elsewhere');
      return;
    }
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

/** A body's bytes: a whole blob file, or a range of a segment file. */
async function readRange(path: string, off: number, size: number, inSegment: boolean): Promise<Buffer> {
  if (!inSegment) return readFile(path);
  const fh = await openFile(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(buf, got, size - got, off + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}
