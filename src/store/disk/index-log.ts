// The disk tier's index on disk: one JSON line per record, appended in the order
// the writes happened, the later line for a key winning. Three shapes:
//   {"i":integrity,"s":size,["g":segment,"o":offset,]"k":key,"t":ms,"m":EntryMeta}   a body stored, or its metadata replaced
//   {"k":key,"t":ms,"d":1}                                  the key removed
// `t` is the wall clock when the line was queued: purge journal records (purge-journal.ts)
// apply at start to the lines written before them. A torn last line (a crash mid-append)
// is skipped. Compaction (tier) rewrites the file with one line per live record.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ENTRY_FORMAT, type EntryMeta } from '../types.js';
import { INDEX_FILE } from './layout.js';

export interface LoadedRecord {
  meta: EntryMeta;
  integrity: string;
  size: number;
  /** Set for a body in a segment file (segments.ts): which, and where in it. */
  segment?: number;
  off?: number;
  /** When the line was written (ms, wall clock). */
  time: number;
  /** Bytes of its line in the index. */
  lineBytes: number;
}

export interface LoadedIndex {
  /** Live records, oldest write first. */
  records: Map<string, LoadedRecord>;
  /** Size of the index file. */
  fileBytes: number;
  /** Lines that could not be read or were of another format. */
  skipped: number;
}

/** The head of a record line (everything but "i" and "s", which the writer adds). */
export function recordHead(meta: EntryMeta, nowMs: number): string {
  return JSON.stringify({ k: meta.key, t: nowMs, m: meta });
}

export function recordLine(integrity: string, size: number, meta: EntryMeta, nowMs: number, at?: { segment?: number; off?: number }): string {
  const loc = at?.segment !== undefined ? `"g":${at.segment},"o":${at.off},` : '';
  return `{"i":${JSON.stringify(integrity)},"s":${size},${loc}${recordHead(meta, nowMs).slice(1)}\n`;
}

export function removalLine(key: string, nowMs: number): string {
  return `${JSON.stringify({ k: key, t: nowMs, d: 1 })}\n`;
}

/** Bytes a record line takes beyond its head (the "i" and "s" members the writer adds). */
export const RECORD_LINE_EXTRA = 80;

/** The index file's size now (0 when there is none). */
export async function indexFileSize(dir: string): Promise<number> {
  try {
    return (await stat(join(dir, INDEX_FILE))).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return 0;
  }
}

/**
 * The records of the first `upTo` bytes of the index (its size when the tier opened:
 * what the writer appends later is this run's own). Reading yields to other work
 * between chunks, so a node can serve while it loads.
 */
export async function loadIndex(dir: string, upTo: number): Promise<LoadedIndex> {
  const records = new Map<string, LoadedRecord>();
  let fileBytes = 0;
  let skipped = 0;
  if (upTo === 0) return { records, fileBytes, skipped };
  const input = createReadStream(join(dir, INDEX_FILE), { encoding: 'utf8', highWaterMark: 1 << 20, end: upTo - 1 });
  const missing = new Promise<boolean>((resolve) => {
    input.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT'));
    input.once('open', () => resolve(false));
  });
  if (await missing) return { records, fileBytes, skipped };
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    const lineBytes = Buffer.byteLength(line) + 1;
    fileBytes += lineBytes;
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
    if (!meta || meta.v !== ENTRY_FORMAT || meta.key !== rec.k || typeof rec.i !== 'string' || typeof rec.s !== 'number') {
      skipped++;
      continue;
    }
    meta.bodySize = rec.s;
    meta.integrity = rec.i;
    meta.tags ??= [];
    const at = typeof rec.g === 'number' && typeof rec.o === 'number' ? { segment: rec.g, off: rec.o } : {};
    records.set(rec.k, { meta, integrity: rec.i, size: rec.s, ...at, time: rec.t ?? 0, lineBytes });
  }
  return { records, fileBytes, skipped };
}
