// Where a disk record's metadata is: in its index line. A record remembers the line's
// offset and length; a disk hit reads the line back (one pread of the page cache) and
// parses it. Metadata not in the index yet (an update, a softened entry on its way to
// its line) is held in RAM until its line lands, then dropped (records.ts).
//
// Offsets belong to one index file: a compaction writes a new one. The writer thread
// says where every line landed (in the new file too, while a compaction runs); when a
// compaction ends, the records take their places in the new file (`moves`) and the
// generation advances; reads still under way finish on the old file, kept open.
// Results arrive in write order, so the last place noted for a record is its newest line.

import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryMeta, StoredEntry } from '../types.js';
import { metaOfLine, recordLine } from './index-log.js';
import { INDEX_FILE } from './layout.js';
import { MetaCache, stampOf, stillCurrent, type LineStamp } from './meta-cache.js';
import type { DiskRecord } from './records.js';
import type { DiskTier } from './tier.js';
import type { OpResult } from './write-ops.js';

/** A record's newest line in the file a compaction is writing. */
export interface Moved {
  off: number;
  bytes: number;
  /** The metadata the line carries, when it was written from RAM. */
  meta?: EntryMeta;
}

interface Reader {
  fh: Promise<FileHandle>;
  users: number;
  retired: boolean;
}

export class RecordLines {
  /** The index file's generation the records' offsets refer to. */
  gen = 0;
  /** While a compaction runs: each record's newest line in the new file. */
  moves: Map<DiskRecord, Moved> | undefined;
  private reader: Reader | undefined;
  /** Metadata handed out (a hit, a write) → the record and line it came from: has it changed since? */
  private readonly handedOut = new WeakMap<EntryMeta, LineStamp>();
  /** Parsed metadata of hot records whose metadata is on disk only (bounded; meta-cache.ts). */
  readonly cached = new MetaCache();

  constructor(private readonly tier: DiskTier) {}

  /** A line for `rec` landed (`meta`: the metadata it carries, when held for it). */
  landed(rec: DiskRecord, r: OpResult, meta?: EntryMeta): void {
    const { tier } = this;
    if (!r.ok || r.lineOff === undefined || r.lineBytes === undefined || tier.records.get(rec.key) !== rec) return;
    // A writer thread restarted across a compaction's end: the place is unknown, the metadata stays held.
    if (r.gen !== this.gen) return;
    tier.liveLineBytes += r.lineBytes - rec.lineBytes;
    rec.lineOff = r.lineOff;
    rec.lineBytes = r.lineBytes;
    if (this.moves && r.newOff !== undefined) this.moves.set(rec, { off: r.newOff, bytes: r.lineBytes, ...(meta ? { meta } : {}) });
    if (meta !== undefined && rec.held === meta) rec.release(tier.summaries);
  }

  /** Write `meta` as the record's newest line; held in RAM until it lands. */
  write(rec: DiskRecord, meta: EntryMeta, time = Date.now()): Promise<OpResult> {
    const { tier } = this;
    rec.hold(meta, time);
    if (tier.records.get(rec.key) === rec) tier.ram.update(rec);
    return this.append(recordLine(meta, time, rec), { key: rec.key }).then((r) => {
      this.landed(rec, r, meta);
      return r;
    });
  }

  /**
   * Append a line to the index, counted in the budget from now. Uncounted when it fails
   * (the writer cut the file back: none of it is there) — counted for good, each failed
   * removal line of a full disk added to the index's bytes, until eviction removed
   * entries for bytes that were not on disk. The failure is counted as a write error.
   */
  append(line: string, fields: object): Promise<OpResult> {
    const { tier } = this;
    const bytes = Buffer.byteLength(line);
    tier.indexBytes += bytes;
    return tier.queue.line(line).then((r) => {
      if (!r.ok) {
        tier.indexBytes -= bytes;
        tier.writeFailures.failed(r, fields, 'disk tier: index line write failed (I/O error); nothing stored is removed for it');
      }
      return r;
    });
  }

  /** The record's body moved (a relocation): its line again, with the new place. */
  relocated(rec: DiskRecord): void {
    const { tier } = this;
    const held = rec.held;
    if (held || rec.lineOff < 0) {
      if (held) void this.write(rec, held, rec.more?.time);
      return;
    }
    tier.indexBytes += rec.lineBytes;
    void tier.queue.op({ t: 'reline', gen: this.gen, off: rec.lineOff, bytes: rec.lineBytes, at: { segment: rec.segment!, off: rec.off! } }).then((r) => {
      if (r.ok) return this.landed(rec, r);
      tier.indexBytes -= rec.lineBytes;
      // The line could not be copied: written from its metadata instead, read here.
      void this.read(rec)
        .then((meta) => (tier.records.get(rec.key) === rec && !rec.held && !tier.landings.pending(rec.key) ? this.write(rec, meta, rec.more?.time) : undefined))
        .catch((err: unknown) => tier.opts.logger.warn({ key: rec.key, err: (err as Error).message }, "disk tier: a relocated body's index line could not be written; the entry is lost at the next start"));
    });
  }

  /**
   * New metadata for a stored body (a 304's refresh, a soft purge): its body and integrity
   * stay; held in RAM until its line lands. Refused (nothing written) when the metadata is
   * not of the record's body — another size or integrity, or a newer body of the key still
   * landing (its landing applies it, tiered.ts): a 304 of a newer body whose disk write
   * failed gave the older body that body's ETag and freshness, also after a restart.
   * `refreshes` (WriteOptions): the body the update is for must be the record's, by its
   * size and recorded integrity; a body whose integrity is not known names no record.
   * A soft purge that reaches the record while its line is read came after the update was
   * let through: the update is written stale, as the purge made it.
   */
  async update(meta: EntryMeta, refreshes?: StoredEntry): Promise<void> {
    const tier = this.tier;
    const rec = tier.live(meta.key);
    if (!rec || tier.landings.pending(meta.key)) return;
    if (meta.bodySize >= 0 && meta.bodySize !== rec.size) return this.refused(meta, 'size');
    // Known without a read when held or cached (a hit just read it): then held at once, before any await.
    let integrity = this.peek(rec)?.integrity;
    /** A soft purge that reached the record while its line was read (below). */
    let softAt: number | undefined;
    if (integrity === undefined) {
      const softBefore = rec.more?.softAt;
      integrity = (await tier.reads.meta(rec))?.integrity;
      // Another record meanwhile: checked against it instead.
      if (tier.live(meta.key) !== rec) return this.update(meta, refreshes);
      if (integrity === undefined) return;
      // Metadata written meanwhile (another update, a soft purge's line) is newer than what this one checked: it stays.
      if (rec.held) return this.refused(meta, 'written meanwhile');
      // Why: the caller let this update through before a purge that applied to the record
      // during the read (live() above). Written as it came, it took the place of the stale
      // marking, in RAM and in the line, and the purged entry was served fresh after a restart.
      if (rec.more?.softAt !== softBefore) softAt = rec.more?.softAt;
    }
    if (meta.integrity !== undefined && meta.integrity !== integrity) return this.refused(meta, 'integrity');
    if (refreshes && (refreshes.body.size !== rec.size || refreshes.meta.integrity !== integrity)) return this.refused(meta, 'refreshed body');
    const fresh: EntryMeta = { ...meta, bodySize: rec.size, integrity };
    const expire = tier.opts.expire;
    const stored = softAt !== undefined && expire ? expire(fresh, softAt) : fresh;
    tier.indexes.replaced(rec.meta, stored);
    const appended = this.write(rec, stored);
    tier.maybeCompact();
    const r = await appended;
    if (!r.ok) throw Object.assign(new Error(r.message), { code: r.code });
  }

  private refused(meta: EntryMeta, what: string): void {
    this.tier.opts.logger.debug({ key: meta.key, differs: what }, 'disk tier: metadata of another body not written over the stored one');
  }

  /** The record's metadata: held, or read from its line (a soft purge not yet written applied). */
  async read(rec: DiskRecord): Promise<EntryMeta> {
    const known = this.peek(rec);
    if (known) return known;
    // Taken before the read: what changes meanwhile makes the result out of date, not current.
    const stamp = stampOf(rec, this.gen);
    const { lineOff, lineBytes } = rec;
    const reader = this.take();
    let meta: EntryMeta | undefined;
    try {
      const fh = await reader.fh;
      const buf = Buffer.allocUnsafe(lineBytes);
      const { bytesRead } = await fh.read(buf, 0, lineBytes, lineOff);
      meta = metaOfLine(buf.toString('utf8', 0, bytesRead), rec.key);
    } finally {
      this.done(reader);
    }
    if (!meta) throw Object.assign(new Error(`index line of ${rec.key} unreadable`), { code: 'EINDEX' });
    const expire = this.tier.opts.expire;
    const out = stamp.softAt !== undefined && expire ? expire(meta, stamp.softAt) : meta;
    this.cached.set(stamp, out, lineBytes);
    return out;
  }

  /** The record's metadata when RAM has it (held, or cached and still its newest line's), without a read. */
  peek(rec: DiskRecord): EntryMeta | undefined {
    return rec.held ?? this.cached.get(rec, this.gen);
  }

  /** The record's place now: take it before reading its metadata, hand it out with what was read (handOut). */
  stamp(rec: DiskRecord): LineStamp {
    return stampOf(rec, this.gen);
  }

  /** Remember which record and line handed-out metadata came from (`stamp`: taken when the metadata was known current). */
  handOut(meta: EntryMeta, stamp: LineStamp): void {
    this.handedOut.set(meta, stamp);
  }

  /** Is `meta` (handed out by get() or a write) still what the tier stores under its key? */
  storedFrom(key: string, meta: EntryMeta): boolean {
    const rec = this.tier.records.get(key);
    const from = this.handedOut.get(meta);
    if (!rec || !from || from.rec !== rec) return false;
    const held = rec.held;
    if (held) return held === meta;
    // The generation too: after a compaction, the same offset in the new file is another line.
    return stillCurrent(from, rec, this.gen);
  }

  /** A compaction ended: offsets now refer to the new file, of the writer's generation `gen` (the next one when not said). */
  compacted(gen = this.gen + 1): void {
    const moves = this.moves;
    this.moves = undefined;
    this.gen = gen;
    const old = this.reader;
    this.reader = undefined;
    if (old) this.retire(old);
    // Opened now, after the rename: a lazy open later could race the next compaction's.
    this.done(this.take());
    const { tier } = this;
    for (const [rec, m] of moves ?? []) {
      if (tier.records.get(rec.key) !== rec) continue;
      tier.liveLineBytes += m.bytes - rec.lineBytes;
      rec.lineOff = m.off;
      rec.lineBytes = m.bytes;
      if (m.meta !== undefined && rec.held === m.meta) rec.release(tier.summaries);
    }
  }

  /** Close the reader (the tier is closing). */
  async close(): Promise<void> {
    this.cached.clear();
    const r = this.reader;
    this.reader = undefined;
    if (r) this.retire(r);
  }

  private take(): Reader {
    if (!this.reader) {
      const fh = open(join(this.tier.opts.dir, INDEX_FILE), 'r');
      const r: Reader = { fh, users: 0, retired: false };
      this.reader = r;
      // A failed open (no index yet) is retried by the next read.
      fh.catch(() => {
        if (this.reader === r) this.reader = undefined;
      });
    }
    this.reader.users++;
    return this.reader;
  }

  private done(r: Reader): void {
    r.users--;
    if (r.retired && r.users === 0) void r.fh.then((fh) => fh.close()).catch(() => undefined);
  }

  private retire(r: Reader): void {
    r.retired = true;
    if (r.users === 0) void r.fh.then((fh) => fh.close()).catch(() => undefined);
  }
}
