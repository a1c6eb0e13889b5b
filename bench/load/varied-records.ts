// RAM per disk-only varied entry (issue 15): coding-keyed variants (identity and a br
// variant Strata made, per URL, ten ~40-byte stored fields each) written to a disk tier,
// heap after minus heap before, per entry; then the same entries loaded again by a new
// tier (heap with it minus with an empty one: includes the load's fixed ~16 MiB, so use
// many entries). Compare with /stats' estimate (recordBytes per entry).
//
//   node --expose-gc dist/bench/load/varied-records.js [--entries 10000]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { variantKey } from '../../src/cache/vary.js';
import type { EntryMeta } from '../../src/entry.js';
import { DiskTier } from '../../src/store/disk/tier.js';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '10000' } } });
const n = Number(values.entries);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const logger = pino({ level: 'silent' });

/** A string of its own, as a socket parse gives (not a shared literal). */
const own = (s: string) => Buffer.from(s).toString('latin1');

function meta(i: number, coding: string): EntryMeta {
  const url = own(`http://shop.example.com/catalog/category-${i % 97}/product-${i}.html?ref=home`);
  const pk = own(`GET ${url}`);
  const varyValues = { 'accept-encoding': own(coding) };
  const headers: Record<string, string> = {
    'content-type': own('text/html; charset=utf-8'),
    'cache-control': own('public, max-age=600'),
    date: own(new Date(1_796_000_000_000 + i * 1000).toUTCString()),
    etag: own(`"${((i * 2654435761) >>> 0).toString(16)}-5a1f"`),
    'last-modified': own(new Date(1_795_000_000_000 + i * 1000).toUTCString()),
    server: own('nginx/1.25.3'),
    'x-request-id': own(`req-${i}-${(i * 7919).toString(36)}`),
    'strict-transport-security': own('max-age=63072000; includeSubDomains'),
    'x-content-type-options': own('nosniff'),
    'content-security-policy': own("default-src 'self'; img-src 'self' data: https://cdn.example.com"),
  };
  if (coding !== 'identity') headers['content-encoding'] = own(coding);
  const m: EntryMeta = {
    v: 1,
    key: variantKey(pk, ['accept-encoding'], varyValues),
    primaryKey: pk,
    url,
    status: 200,
    headers,
    varyNames: [own('accept-encoding')],
    varyValues,
    requestTimeMs: 1_796_000_000_000 + i,
    responseTimeMs: 1_796_000_000_001 + i,
    initialAgeS: 0,
    freshnessLifetimeS: 600,
    cacheControl: own('public, max-age=600'),
    noCache: false,
    staleForbidden: false,
    staleWhileRevalidateS: 0,
    staleIfErrorS: 0,
    bodySize: 64,
    tags: [],
    byCoding: true,
  };
  if (coding !== 'identity') m.transform = { coding: own(coding), level: 'fast', sourceBytes: 5000 };
  return m;
}

function used(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const dir = await mkdtemp(join(tmpdir(), 'strata-varied-'));
const empty = await mkdtemp(join(tmpdir(), 'strata-varied-empty-'));
try {
  const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger });
  const body = Buffer.alloc(64, 1);
  // Warm up the writer thread and the maps: their fixed cost is not per entry.
  for (let i = 0; i < 1000; i++) await disk.putWhole(meta(1e6 + i, i % 2 ? 'br' : 'identity'), body);
  await disk.flush();
  const before = used();
  const ramBefore = disk.stats().recordBytes;
  for (let i = 0; i < n; i += 100) {
    const batch: Promise<boolean>[] = [];
    for (let j = i; j < Math.min(n, i + 100); j++) batch.push(disk.putWhole(meta(j >> 1, j % 2 ? 'br' : 'identity'), body));
    await Promise.all(batch);
  }
  await disk.flush();
  const written = { entries: n, heapBytesPerEntry: Math.round((used() - before) / n), countedPerEntry: Math.round((disk.stats().recordBytes - ramBefore) / n) };
  await disk.close();
  const none = await DiskTier.open({ dir: empty, maxBytes: 1 << 30, logger });
  await none.close();
  const base = used();
  const loaded = await DiskTier.open({ dir, maxBytes: 1 << 30, logger });
  await loaded.ready;
  const items = loaded.stats().items;
  const reloaded = { entries: items, heapBytesPerEntry: Math.round((used() - base) / items), countedPerEntry: Math.round(loaded.stats().recordBytes / items) };
  await loaded.close();
  process.stdout.write(`${JSON.stringify({ written, reloaded })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
  await rm(empty, { recursive: true, force: true });
}
