// Small bodies live in segment files (layout.ts): appended one after another by the
// writer thread, a file per 64 MiB (less under a small budget) instead of a file per
// body. This module keeps their books: bytes live and written per segment, which
// segment is open, and reclaiming — a closed segment nobody refers to is removed, and
// one whose live bytes fall under two thirds of it has them copied into the open
// segment (relocate), so dead space stays under half of the live bytes.

import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SEGMENT_BYTES, SEGMENT_DIR, segmentOfName, segmentPath } from './layout.js';
import type { SegmentLocation } from './write-ops.js';

interface SegmentBooks {
  /** Bytes of bodies records refer to. */
  live: number;
  /** Bytes written to the file. */
  size: number;
}

/** Records scanned per turn while a relocation collects its bodies. */
const SCAN_SLICE = 10_000;

export interface SegmentRecord {
  segment?: number;
  off?: number;
  size: number;
}

export interface SegmentHost {
  /** Every record a purge leaves, for a relocation's scan (over a Map's iterator: valid across turns). */
  records(): IterableIterator<SegmentRecord & { key: string }>;
  /** Copy bodies out of `from`; resolves with their new places (in order), or undefined on failure. */
  relocate(from: number, items: { off: number; size: number }[]): Promise<SegmentLocation[] | undefined>;
  /** Is this record still the tier's record for its key (not removed, replaced or purged meanwhile)? */
  current(rec: SegmentRecord): boolean;
  /** Point a record at its new place (and write its index line). */
  moved(rec: SegmentRecord, to: SegmentLocation): void;
  unlinkSegment(segment: number): void;
  logger: Logger;
}

export class Segments {
  private readonly books = new Map<number, SegmentBooks>();
  /** The highest segment the writer has used: the open one (never reclaimed). */
  private open = -1;
  private liveBytes = 0;
  private writtenBytes = 0;
  private relocating = false;
  readonly maxSegmentBytes: number;

  constructor(private readonly host: SegmentHost, maxBytes: number) {
    this.maxSegmentBytes = Segments.segmentBytes(maxBytes);
  }

  /** Where the writer closes a segment and opens the next, under a budget of `maxBytes`. */
  static segmentBytes(maxBytes: number): number {
    return Math.max(64 * 1024, Math.min(SEGMENT_BYTES, Math.floor(maxBytes / 16)));
  }

  /** Bodies up to this size go to segments; larger ones get a blob file of their own. */
  static smallBodyLimit(maxBytes: number): number {
    return Math.min(1024 * 1024, Math.floor(maxBytes / 64));
  }

  /** The first segment number above every segment file on disk (the writer's first). */
  static async nextNumber(dir: string): Promise<number> {
    let next = 0;
    for (const name of await segmentNames(dir)) {
      const n = segmentOfName(name);
      if (n !== undefined) next = Math.max(next, n + 1);
    }
    return next;
  }

  /**
   * At start, once the index is loaded: the sizes of the segment files below `below`
   * (the writer's own start here); those no loaded record refers to are removed.
   */
  static async scan(dir: string, referenced: ReadonlySet<number>, below: number, logger: Logger): Promise<Map<number, number>> {
    const sizes = new Map<number, number>();
    let removed = 0;
    for (const name of await segmentNames(dir)) {
      const n = segmentOfName(name);
      if (n === undefined || n >= below) continue;
      if (!referenced.has(n)) {
        await rm(segmentPath(dir, n), { force: true });
        removed++;
        continue;
      }
      sizes.set(n, (await stat(segmentPath(dir, n))).size);
    }
    if (removed) logger.info({ removed }, 'disk tier: segment files no record refers to removed');
    return sizes;
  }

  /** Bytes the segment files take on disk. */
  get bytes(): number {
    return this.writtenBytes;
  }

  /** Bytes of bodies records refer to. */
  get liveBytesNow(): number {
    return this.liveBytes;
  }

  /** Bytes in segment files that no record refers to (reclaimed by relocation and removal). */
  get deadBytes(): number {
    return this.writtenBytes - this.liveBytes;
  }

  /** What eviction must hold under the budget for segments: live bytes, the dead share reclaiming allows, the open segment. */
  get committedBytes(): number {
    return Math.ceil(this.liveBytes * 1.5) + (this.books.size ? this.maxSegmentBytes : 0);
  }

  /**
   * At start: the writer opens `segment` first (one above every file on disk), so every
   * segment found is closed. Why: until the first write told the books which segment was
   * open, none counted as closed, and a segment emptied or mostly dead before that write
   * was never removed or relocated (until the next start).
   */
  writerStartsAt(segment: number): void {
    this.open = Math.max(this.open, segment);
  }

  /** A segment's file size as found at start. */
  known(segment: number, size: number): void {
    const b = this.bookOf(segment);
    this.writtenBytes += size - b.size;
    b.size = size;
  }

  /** A body was written to `at` (by a put or a relocation). */
  written(at: SegmentLocation, size: number): void {
    const b = this.bookOf(at.segment);
    const end = at.off + size;
    if (end > b.size) {
      this.writtenBytes += end - b.size;
      b.size = end;
    }
    if (at.segment > this.open) {
      const closed = this.open;
      this.open = at.segment;
      if (closed >= 0) this.check(closed);
    }
  }

  /**
   * At start, once every loaded record is tracked: reclaim the closed segments left
   * without live bodies, relocate the mostly dead ones. Why: records the load dropped
   * (by a purge journalled before a crash, a key deleted while loading) were never
   * tracked, so no untrack() ever checked their segments; after a crash right after a
   * purge of everything, every segment stayed on disk as dead bytes for the whole run.
   */
  checkClosed(): void {
    for (const segment of [...this.books.keys()]) this.check(segment);
  }

  track(rec: SegmentRecord): void {
    if (rec.segment === undefined) return;
    this.bookOf(rec.segment).live += rec.size;
    this.liveBytes += rec.size;
  }

  untrack(rec: SegmentRecord): void {
    if (rec.segment === undefined) return;
    const b = this.books.get(rec.segment);
    if (!b) return;
    b.live -= rec.size;
    this.liveBytes -= rec.size;
    this.check(rec.segment);
  }

  private bookOf(segment: number): SegmentBooks {
    let b = this.books.get(segment);
    if (!b) this.books.set(segment, (b = { live: 0, size: 0 }));
    return b;
  }

  /** Reclaim a closed segment when it is empty, or relocate its bodies when it is mostly dead. */
  private check(segment: number): void {
    if (segment >= this.open) return;
    const b = this.books.get(segment);
    if (!b) return;
    if (b.live <= 0) {
      this.books.delete(segment);
      this.writtenBytes -= b.size;
      this.host.unlinkSegment(segment);
      return;
    }
    if (this.sparse(b) && !this.relocating) {
      this.relocating = true;
      void this.relocateSparse()
        .catch((err: unknown) => this.host.logger.warn({ err: (err as Error).message }, 'disk tier: segment relocation failed; retried when a segment shrinks again'))
        .finally(() => {
          this.relocating = false;
        });
    }
  }

  /** Less than two thirds of it live: worth copying out. */
  private sparse(b: SegmentBooks): boolean {
    return b.live > 0 && b.live < (b.size * 2) / 3;
  }

  /**
   * Copy the live bodies out of every closed sparse segment, with one scan of the
   * records for all of them (why: a purge of half the entries makes many segments
   * sparse at once, and a scan per segment cost seconds of the event loop), and again
   * while segments became sparse meanwhile.
   */
  private async relocateSparse(): Promise<void> {
    // Bounded: what is still sparse after these rounds waits for the next removal.
    for (let round = 0; round < 4; round++) {
      const sparse = new Set<number>();
      for (const [segment, b] of this.books) if (segment < this.open && this.sparse(b)) sparse.add(segment);
      if (sparse.size === 0) return;
      const bySegment = new Map<number, SegmentRecord[]>();
      let n = 0;
      for (const rec of this.host.records()) {
        if (rec.segment !== undefined && sparse.has(rec.segment)) {
          let list = bySegment.get(rec.segment);
          if (!list) bySegment.set(rec.segment, (list = []));
          list.push(rec);
        }
        if (++n % SCAN_SLICE === 0) await new Promise((r) => setImmediate(r));
      }
      for (const [segment, recs] of bySegment) await this.relocate(segment, recs);
      // A sparse segment no live record was found in is empty: reclaim it.
      for (const segment of sparse) this.check(segment);
    }
  }

  private async relocate(segment: number, recs: SegmentRecord[]): Promise<void> {
    const items = recs.map((r) => ({ off: r.off!, size: r.size }));
    const moved = await this.host.relocate(segment, items);
    if (!moved) throw new Error(`segment ${segment}: its bodies could not be copied`);
    recs.forEach((rec, i) => {
      const to = moved[i]!;
      this.written(to, rec.size);
      // Removed, replaced or moved meanwhile: its copy is dead on arrival. (Why the first
      // test: a record removed during the copy keeps its old place, and moving it counted
      // its bytes live in the new segment forever, so segments were never reclaimed.)
      if (!this.host.current(rec) || rec.segment !== segment || rec.off !== items[i]!.off) return;
      this.untrack(rec);
      rec.segment = to.segment;
      rec.off = to.off;
      this.track(rec);
      this.host.moved(rec, to);
    });
    this.check(segment);
  }
}

async function segmentNames(dir: string): Promise<string[]> {
  try {
    return await readdir(join(dir, SEGMENT_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return [];
  }
}
