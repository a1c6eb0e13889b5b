// A disk tier's cache directory written directly, as fast as the disk takes it: one
// segment file of `entries` small bodies and their index lines, with ~60-byte URLs
// (restart.ts, disk-hit.ts).

import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { newEntryMeta } from '../../src/cache/entry.js';
import { recordLine } from '../../src/store/disk/index-log.js';
import { INDEX_FILE, INDEX_V1_FILE, SEGMENT_DIR, segmentPath } from '../../src/store/disk/layout.js';
import type { EntryMeta } from '../../src/store/types.js';

/** A record line of index-v1.log (the format before). */
function v1Line(integrity: string, size: number, meta: EntryMeta, time: number, at: { segment: number; off: number }): string {
  return `{"i":${JSON.stringify(integrity)},"s":${size},"g":${at.segment},"o":${at.off},${JSON.stringify({ k: meta.key, t: time, m: meta }).slice(1)}\n`;
}

/** Metadata of a plain stored 200 answer of `bodyBytes` (fresh for `maxAgeS`), as a bench writes it straight into a tier. */
export function plainMeta(url: string, headers: Record<string, string>, maxAgeS: number, bodyBytes: number, nowMs: number): EntryMeta {
  const key = `GET ${url}`;
  return newEntryMeta(
    {
      headers: { ...headers, 'cache-control': `max-age=${maxAgeS}` },
      cacheControl: `max-age=${maxAgeS}`,
      freshnessLifetimeS: maxAgeS,
      initialAgeS: 0,
      varyNames: [],
      noCache: false,
      staleForbidden: false,
      staleWhileRevalidateS: 0,
      staleIfErrorS: 0,
    },
    { key, primaryKey: key, url, status: 200, varyValues: {}, requestTimeMs: nowMs, responseTimeMs: nowMs, bodySize: bodyBytes },
  );
}

/** Write a cache directory of `entries` small segment entries (`v1`: index-v1.log, the format before issue 15). */
export function buildCacheDir(dir: string, entries: number, bodyBytes: number, v1: boolean): void {
  mkdirSync(join(dir, SEGMENT_DIR), { recursive: true });
  const body = Buffer.alloc(bodyBytes, 'x');
  const integrity = 'sha256-' + createHash('sha256').update(body).digest('base64');
  const seg = openSync(segmentPath(dir, 0), 'w');
  const index = openSync(join(dir, v1 ? INDEX_V1_FILE : INDEX_FILE), 'w');
  const now = Date.now();
  let lines: string[] = [];
  let segChunk: Buffer[] = [];
  for (let i = 0; i < entries; i++) {
    // ~60 bytes: a typical media URL.
    const url = `http://media.example.com/v/${(i * 2654435761) % 99991}/seg-${String(i).padStart(8, '0')}.ts`;
    const meta = plainMeta(url, { 'content-type': 'video/mp2t', etag: `"${i.toString(36)}"`, 'last-modified': 'Mon, 30 Nov 2026 08:00:00 GMT', date: 'Mon, 30 Nov 2026 08:00:00 GMT' }, 86_400, bodyBytes, now);
    meta.integrity = integrity;
    const at = { segment: 0, off: i * bodyBytes };
    lines.push(v1 ? v1Line(integrity, bodyBytes, meta, now, at) : recordLine(meta, now, at));
    segChunk.push(body);
    if (lines.length === 10_000) {
      writeSync(index, lines.join(''));
      writeSync(seg, Buffer.concat(segChunk));
      lines = [];
      segChunk = [];
    }
  }
  if (lines.length) {
    writeSync(index, lines.join(''));
    writeSync(seg, Buffer.concat(segChunk));
  }
  closeSync(seg);
  closeSync(index);
}
