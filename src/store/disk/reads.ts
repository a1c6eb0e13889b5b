// Reading bodies from the disk tier, and what a failed read means. Only the data's
// fault — a digest or length that does not match, a body file gone — removes an
// entry (and every entry sharing the damaged blob); any other error (EMFILE, EIO…)
// is the system's: counted, logged at most every interval, and the entry stays. A
// segment body moved by a relocation after its read began, its old segment removed,
// is read again at its new place: the file gone there is not the data's fault.

import { fileBody, IntegrityError, MOVED_READ_TRIES } from '../file-body.js';
import { integrityMatches } from '../integrity.js';
import type { Body, EntryMeta, StoredEntry } from '../types.js';
import type { LineStamp } from './meta-cache.js';
import { blobPath, segmentPath } from './layout.js';
import type { DiskRecord } from './records.js';
import { memoryBody } from '../memory/memory-body.js';
import { Lease, LentBody, ReadBuffers } from './read-buffers.js';
import { perTurn } from '../../util/per-turn.js';
import { ReadHandles } from './read-handles.js';
import { ReadThread } from './read-thread.js';
import type { DiskTier } from './tier.js';

/** Segment files held open: 64 MiB each, so a few cover the hot set. */
const SEGMENT_HANDLES = 32;
/** Blob files held open for whole reads (bodies up to READ_WHOLE_BYTES): one descriptor each. */
const BLOB_HANDLES = 256;
const keepsNothing = () => false;

/** How a hit's body is given: read whole and kept by the caller, read whole into a lent buffer, or streamed from its file. */
const KEEP = 0;
const LEND = 1;
const STREAM = 2;
type How = typeof KEEP | typeof LEND | typeof STREAM;

/** Keep (a promotion to memory: a buffer of its own), lend (read whole into a pooled buffer) or stream. */
function howToRead(size: number, keeps: (size: number) => boolean, wholeUpTo: number): How {
  return keeps(size) ? KEEP : size <= wholeUpTo ? LEND : STREAM;
}

/**
 * A body up to this size is read whole on a hit (one read on a file held open, shared
 * by concurrent hits, verified once per process) even when the memory tier does not
 * take it: streaming it cost a file open, a read stream and a pipeline per hit (about
 * 0.1x a bare server for 16 KiB bodies kept out of memory by
 * cache.memoryMaxObjectBytes, bench "hit 16 KiB from disk").
 */
export const READ_WHOLE_BYTES = 256 * 1024;

export class DiskReads {
  ioErrors = 0;
  corrupt = 0;
  private segmentFiles: ReadHandles<number> | undefined;
  private blobFiles: ReadHandles<string> | undefined;
  /** Whole reads in flight, by record (as many as requests waiting on the disk at once). */
  private readonly reading = new Map<DiskRecord, Promise<Buffer | undefined>>();
  /** Whole-body verifications that ranges wait on, by record (verifyOnce). */
  private readonly verifying = new Map<DiskRecord, Promise<void>>();
  /** Whole reads go to a reader thread in batches (read-thread.ts), not one pool trip each. */
  private readonly thread = new ReadThread();
  private readonly readFd = (fd: number, off: number, len: number) => this.thread.read(fd, off, len);
  /** Buffers lent to answers of whole reads made on the event loop (wholeNow). */
  readonly lent = new ReadBuffers();
  /**
   * The last lent read of this turn of the event loop, its record and the turn's
   * reference to its buffer: another hit of that record in the same turn shares the
   * read (one hot URL: many hits per turn). Forgotten when another record is read and
   * at the end of the turn, so what a later turn reads is read again. One slot, not a
   * Map by record: a Map set per hit and cleared per turn built new hash tables every
   * turn, and under a 1,000-URL load they were promoted to the old space (~70 bytes a
   * hit, major collections; bench "hit 16 KiB from disk").
   */
  private lastRead: DiskRecord | undefined;
  private lastLease: Lease | undefined;
  private readonly forgetTurn = perTurn(() => this.forgetLastRead());

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
   * A hit: one look-up, one result. A body the caller keeps (`keeps(size)`: a promotion
   * to memory) is read whole into a buffer of its own, and its metadata handed out
   * (storedFrom()); one up to `wholeUpTo` bytes is read whole into a lent buffer
   * (Body.release); larger ones stream from their file. Synchronous when the metadata
   * is in RAM (held, or in the meta cache) and the body needs no wait (wholeNow); a
   * promise otherwise.
   */
  find(key: string, keeps: (size: number) => boolean = keepsNothing, wholeUpTo = READ_WHOLE_BYTES): StoredEntry | undefined | Promise<StoredEntry | undefined> {
    const rec = this.tier.hit(key);
    if (!rec) return undefined;
    const how = howToRead(rec.size, keeps, wholeUpTo);
    // Where the metadata came from, for storedFrom(): taken before anything is read.
    const stamp = how === KEEP ? this.tier.lines.stamp(rec) : undefined;
    const meta = this.tier.lines.peek(rec);
    return (meta && this.foundNow(rec, meta, how, stamp)) ?? this.findLater(rec, how, stamp, meta);
  }

  /**
   * find() when its answer is at hand and varies on nothing (not a slice either): then it
   * answers every request for its URL, and the caller needs no choice among variants.
   * Undefined otherwise, with nothing read and the record's recency untouched.
   */
  findUnvariedNow(key: string, keeps: (size: number) => boolean): StoredEntry | undefined {
    const { tier } = this;
    const rec = tier.live(key);
    if (rec === undefined || !rec.verified) return undefined;
    const meta = tier.lines.peek(rec);
    if (meta === undefined || meta.varyNames.length !== 0 || meta.slice !== undefined) return undefined;
    const how = howToRead(rec.size, keeps, READ_WHOLE_BYTES);
    const found = this.foundNow(rec, meta, how, how === KEEP ? tier.lines.stamp(rec) : undefined);
    if (found) tier.touch(rec);
    return found;
  }

  /** The entry when its metadata is known and its body needs no wait (streamed, or read whole at once); else undefined. */
  private foundNow(rec: DiskRecord, meta: EntryMeta, how: How, stamp: LineStamp | undefined): StoredEntry | undefined {
    if (meta.integrity === undefined) return undefined;
    if (how === STREAM) return { meta, body: this.body(rec, meta.integrity) };
    // A larger body memory keeps (a promotion: up to cache.memoryMaxObjectBytes) is read
    // by the reader thread: a read of megabytes would hold the event loop.
    if (rec.size > READ_WHOLE_BYTES) return undefined;
    const body = this.wholeNow(rec, how === LEND);
    if (body === undefined) return undefined;
    if (stamp) this.tier.lines.handOut(meta, stamp);
    return { meta, body };
  }

  /** find() when the metadata or the body needs a read first (a whole read: shared by concurrent hits, not lent). */
  private async findLater(rec: DiskRecord, how: How, stamp: LineStamp | undefined, known?: EntryMeta): Promise<StoredEntry | undefined> {
    const meta = known ?? (await this.meta(rec));
    if (meta?.integrity === undefined) return undefined;
    if (how === STREAM) return { meta, body: this.body(rec, meta.integrity) };
    const data = await this.whole(rec, meta.integrity);
    if (data === undefined) return undefined;
    if (stamp) this.tier.lines.handOut(meta, stamp);
    return { meta, body: memoryBody(data) };
  }

  /**
   * The record's body read whole at once, on the event loop (one pread of a file held
   * open), when that is cheap: this process verified its bytes (read them whole or
   * wrote them, so its pages were in the page cache lately) and its file is open.
   * Why not the reader thread: a message each way, the thread woken and the loop woken
   * again cost more than the read (bench "hit 16 KiB from disk"); as nginx reads a hot
   * file, a page evicted since costs one blocking read. `lend`: in a lent buffer
   * (the caller releases it, read-buffers.ts); else a buffer of its own (kept, e.g.
   * promoted to memory). Undefined when not read now: not verified, no handle open yet,
   * or anything unexpected (an error, a short read) — the usual read then decides
   * what it means.
   */
  wholeNow(rec: DiskRecord, lend: boolean): Body | undefined {
    if (!rec.verified) return undefined;
    if (lend) {
      // The record's body as read earlier in this turn: a new body is a new record, and a
      // relocation moves the same bytes.
      const same = this.lastLease;
      if (same !== undefined && this.lastRead === rec) return new LentBody(same.share(), rec.size);
    }
    const blob = rec.segment === undefined;
    // A blob file is asked for one byte more than its body (as readWhole()).
    const len = blob ? rec.size + 1 : rec.size;
    const buf = lend ? this.lent.take(len) : Buffer.allocUnsafeSlow(len);
    let got: number | undefined;
    try {
      got = blob ? this.blobs.readNow(rec.integrity, 0, buf, len) : this.segments.readNow(rec.segment!, rec.off!, buf, len);
    } catch {
      got = undefined;
    }
    if (got !== rec.size) {
      if (lend) this.lent.give(buf);
      return undefined;
    }
    if (!lend) return memoryBody(buf.length === rec.size ? buf : buf.subarray(0, rec.size));
    const lease = new Lease(this.lent, buf);
    // Shared by later hits of this turn; the turn's own reference is let go when it ends.
    this.forgetLastRead();
    this.lastRead = rec;
    this.lastLease = lease.share();
    this.forgetTurn();
    return new LentBody(lease, rec.size);
  }

  private forgetLastRead(): void {
    this.lastLease?.release();
    this.lastLease = undefined;
    this.lastRead = undefined;
  }

  body(rec: DiskRecord, integrity: string): Body {
    const { dir } = this.tier.opts;
    // `trusted` is asked at each read: one that verified the body makes the next ones of this Body trusted.
    const checks = { trusted: () => rec.verified === true, onVerified: () => (rec.verified = true), verifyOnce: (run: () => Promise<void>) => this.verifyOnce(rec, run) };
    if (rec.segment === undefined) return fileBody(blobPath(dir, integrity), rec.size, integrity, { ...checks, onCorrupt: (err) => this.failed(rec, err) });
    // Where its reads looked last (each looks where the body is as it opens the file): a
    // failure there says something about the body only if it is still there (failed()).
    let at = placeOf(rec);
    return fileBody(segmentPath(dir, at.segment), rec.size, integrity, {
      ...checks,
      offset: at.off,
      onCorrupt: (err) => this.failed(rec, err, at),
      placeNow: () => {
        at = placeOf(rec);
        return { path: segmentPath(dir, at.segment), offset: at.off };
      },
    });
  }

  /**
   * The whole-body verification of `rec` in flight, or `run` started as it: ranges of a
   * body not yet verified (after a restart) each waited for a whole read of their own, so
   * ten players seeking into one video read and hashed it ten times, and a multipart
   * answer once per part. Keyed by the record, as whole(): a body written again is not it.
   */
  private verifyOnce(rec: DiskRecord, run: () => Promise<void>): Promise<void> {
    let p = this.verifying.get(rec);
    if (p) return p;
    p = run();
    this.verifying.set(rec, p);
    const done = () => void this.verifying.delete(rec);
    p.then(done, done);
    return p;
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
    let data: Buffer | undefined;
    for (let tries = 1; data === undefined; tries++) {
      const at = rec.segment !== undefined ? placeOf(rec) : undefined;
      try {
        // A blob file is asked for one byte more than its body: one grown behind the tier's back fails the length check.
        data = at ? await this.segments.read(at.segment, at.off, rec.size) : await this.blobs.read(integrity, 0, rec.size + 1);
      } catch (err) {
        // Moved meanwhile (a relocation) and its old segment removed: read where it is now.
        if (at && movedFrom(rec, at) && (err as NodeJS.ErrnoException).code === 'ENOENT' && tries < MOVED_READ_TRIES) continue;
        this.failed(rec, err as Error, at);
        return undefined;
      }
    }
    if (data.length !== rec.size || (!rec.verified && !integrityMatches(data, integrity))) {
      this.failed(rec, new IntegrityError('integrity mismatch'));
      return undefined;
    }
    rec.verified = true;
    return data;
  }

  /**
   * A read failed: the data's fault (digest, length, missing file) removes the entry;
   * anything else is the system's. `at`: the segment place the read looked at.
   */
  private failed(rec: DiskRecord, err: Error, at?: SegmentPlace): void {
    const { tier } = this;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINTEGRITY' && code !== 'ENOENT' && !(err instanceof IntegrityError)) {
      this.ioErrors++;
      tier.warnings.warn('io', { key: rec.key, code, err: err.message, ioErrors: this.ioErrors }, 'disk tier: read failed (I/O error); the entry is kept and the request answered from elsewhere');
      return;
    }
    // The segment gone, but the body is no longer there (relocated, its old segment
    // removed): nothing is wrong with it. Why: removing it here removed the record at
    // its new place, a healthy entry lost as corrupt.
    if (code === 'ENOENT' && at !== undefined && movedFrom(rec, at)) {
      tier.opts.logger.debug({ key: rec.key, segment: at.segment }, 'disk tier: a body moved while its read began; the entry is kept');
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

/** A segment body's place: its segment and offset. */
interface SegmentPlace {
  segment: number;
  off: number;
}

function placeOf(rec: DiskRecord): SegmentPlace {
  return { segment: rec.segment!, off: rec.off! };
}

/** Has the body left `at` (a relocation)? */
function movedFrom(rec: DiskRecord, at: SegmentPlace): boolean {
  return rec.segment !== at.segment || rec.off !== at.off;
}
