// Reading the disk tier's index at start: the records it holds, in write order. Only
// the head of each line (what RAM keeps) is parsed, from the bytes, without decoding
// the metadata; each record remembers where its line is, to read the metadata on a
// disk hit. An index-v1.log of the format before is read first, whole (its records
// keep their metadata in RAM until the first compaction writes them in this format),
// unless the current index was compacted since (its first line says so): then the old
// file is obsolete and removed.

import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ENTRY_FORMAT, type EntryMeta } from '../types.js';
import { HEADER_LINE, META_MARK, metaOfLine, validSize, wellFormedMeta, type LineHead } from './index-log.js';
import { INDEX_FILE, INDEX_V1_FILE } from './layout.js';
import { DiskRecord, type RecordSummaries } from './records.js';

export interface LoadedIndex {
  /** Live records, oldest write first. */
  records: Map<string, DiskRecord>;
  /**
   * When each key's line was written (ms, wall clock), kept only when asked for
   * (purge journal records apply to older lines): a wrapper per record at load cost
   * ~40 bytes of RSS per entry for nothing when there is no journal.
   */
  times: Map<string, number> | undefined;
  /** Bytes of index-v2.log read. */
  fileBytes: number;
  /** Bytes of the index-v1.log still to convert (0 when none). */
  legacyBytes: number;
  /** Lines that could not be read or were of another format. */
  skipped: number;
}

const CHUNK = 1 << 20;
const MARK = Buffer.from(META_MARK);

/** The size of a file in the tier's directory (0 when there is none). */
export async function fileSize(dir: string, name: string): Promise<number> {
  try {
    return (await stat(join(dir, name))).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return 0;
  }
}

/**
 * The records of the first `upTo` bytes of the index (its size when the tier opened:
 * what the writer appends later is this run's own), after those of index-v1.log when
 * it is still to convert. Reading yields to other work between chunks.
 */
export async function loadIndex(dir: string, upTo: number, summaries: RecordSummaries, withTimes = false): Promise<LoadedIndex> {
  const out: LoadedIndex = { records: new Map(), times: withTimes ? new Map() : undefined, fileBytes: 0, legacyBytes: 0, skipped: 0 };
  const fh = upTo > 0 ? await open(join(dir, INDEX_FILE), 'r') : undefined;
  try {
    const first = Buffer.alloc(HEADER_LINE.length);
    if (fh && upTo >= first.length) await fh.read(first, 0, first.length, 0);
    if (first.toString() === HEADER_LINE) await rm(join(dir, INDEX_V1_FILE), { force: true });
    else {
      out.legacyBytes = await fileSize(dir, INDEX_V1_FILE);
      if (out.legacyBytes) out.skipped += await loadLegacy(join(dir, INDEX_V1_FILE), out);
    }
    if (fh) await readLines(fh, upTo, out, summaries);
  } finally {
    await fh?.close();
  }
  return out;
}

async function readLines(fh: Awaited<ReturnType<typeof open>>, upTo: number, out: LoadedIndex, summaries: RecordSummaries): Promise<void> {
  let buf = Buffer.allocUnsafe(CHUNK);
  /** File offset of buf[0]. */
  let base = 0;
  let filled = 0;
  while (base + filled < upTo) {
    if (filled === buf.length) {
      // A line longer than the buffer: grow it.
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, filled);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, filled, Math.min(buf.length - filled, upTo - base - filled), base + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0 || nl >= filled) break;
      takeLine(buf, start, nl, base + start, out, summaries);
      start = nl + 1;
    }
    buf.copy(buf, 0, start, filled);
    base += start;
    filled -= start;
  }
  out.fileBytes = base + filled;
  // A last line without its newline was torn by a crash mid-append.
  if (filled > 0) out.skipped++;
}

function takeLine(buf: Buffer, start: number, end: number, lineOff: number, out: LoadedIndex, summaries: RecordSummaries): void {
  if (end === start) return;
  const lineBytes = end - start + 1;
  const m = buf.indexOf(MARK, start);
  let head: LineHead;
  try {
    head = JSON.parse(m < 0 || m > end ? buf.toString('utf8', start, end) : buf.toString('utf8', start, m) + '}') as LineHead;
  } catch {
    out.skipped++;
    return;
  }
  if (head.h !== undefined) return;
  const key = head.k;
  if (typeof key !== 'string') {
    out.skipped++;
    return;
  }
  out.records.delete(key);
  if (head.d) return;
  const time = head.t ?? 0;
  if (!validSize(head.s)) {
    out.skipped++;
    return;
  }
  const inSegment = typeof head.g === 'number' && typeof head.o === 'number';
  if (head.x || !inSegment) {
    // A variant keeps its summary in RAM, a rich record its whole metadata (records.ts).
    const meta = metaOfLine(buf.toString('utf8', start, end), key);
    if (!meta) {
      out.skipped++;
      return;
    }
    const rec = new DiskRecord(key, head.s, inSegment ? head.g : undefined, inSegment ? head.o : undefined, lineOff, lineBytes, { meta, time });
    rec.release(summaries);
    out.records.set(key, rec);
    out.times?.set(key, time);
    return;
  }
  const more = Array.isArray(head.tg) && head.tg.length ? { tags: head.tg } : undefined;
  out.records.set(key, new DiskRecord(key, head.s, head.g, head.o, lineOff, lineBytes, more));
  out.times?.set(key, time);
}

/**
 * index-v1.log: {"i":integrity,"s":size,["g":segment,"o":offset,]"k":key,"t":ms,"m":EntryMeta}
 * or {"k":key,"t":ms,"d":1}. Its records hold their metadata until written in this format.
 */
async function loadLegacy(path: string, out: LoadedIndex): Promise<number> {
  const { records } = out;
  let skipped = 0;
  const input = createReadStream(path, { encoding: 'utf8', highWaterMark: CHUNK });
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.length === 0) continue;
    let rec: { i?: string; s?: number; g?: number; o?: number; k?: string; t?: number; m?: EntryMeta; d?: number };
    try {
      rec = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (typeof rec.k !== 'string') {
      skipped++;
      continue;
    }
    records.delete(rec.k);
    if (rec.d) continue;
    const meta = rec.m;
    if (!meta || meta.v !== ENTRY_FORMAT || meta.key !== rec.k || typeof rec.i !== 'string' || !validSize(rec.s) || !wellFormedMeta(meta)) {
      skipped++;
      continue;
    }
    meta.bodySize = rec.s;
    meta.integrity = rec.i;
    meta.tags ??= [];
    const time = rec.t ?? 0;
    const inSegment = typeof rec.g === 'number' && typeof rec.o === 'number';
    records.set(rec.k, new DiskRecord(rec.k, rec.s, inSegment ? rec.g : undefined, inSegment ? rec.o : undefined, -1, Buffer.byteLength(line) + 1, { meta, time }));
    out.times?.set(rec.k, time);
  }
  return skipped;
}
