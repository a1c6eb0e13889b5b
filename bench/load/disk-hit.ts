// A disk hit's latency: what the tiered store does on a hit for an entry only on
// disk — the tier's get() (metadata: from the entry's index line since issue 15),
// then the whole small body read and verified (readVerified) — one hit at a time,
// on a directory built as restart.ts builds it, after a restart (bodies not verified
// yet: each read is hashed).
//
//   node dist/bench/load/disk-hit.js [--entries 200000] [--hits 3000] [--dir DIR]
//
// Page-cache reads through libuv's pool: sensitive to other load on the machine; run
// it on a quiet one for figures to compare.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DiskTier } from '../../src/store/disk/tier.js';
import { buildCacheDir } from './cache-dir.js';
import { removeDir, trackDir } from './children.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    hits: { type: 'string', default: '3000' },
    dir: { type: 'string' },
  },
});
const entries = Number(values.entries);
const hits = Number(values.hits);
const dir = values.dir ?? trackDir(mkdtempSync(join(tmpdir(), 'strata-disk-hit-')));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

try {
  if (!values.dir) buildCacheDir(dir, entries, 100, false);
  const tier = await DiskTier.open({ dir, maxBytes: 64 * 2 ** 30, logger: pino({ level: 'warn' }) });
  const keys = [...tier.records.keys()];
  const meta: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < hits; i++) {
    const key = keys[(i * 7919) % keys.length]!;
    const t0 = performance.now();
    const e = await tier.get(key);
    const t1 = performance.now();
    const body = await tier.readVerified(key, e?.meta);
    const t2 = performance.now();
    if (!e || !body) throw new Error(`${key}: no hit`);
    meta.push((t1 - t0) * 1000);
    whole.push((t2 - t0) * 1000);
  }
  await tier.close();
  meta.sort((a, b) => a - b);
  whole.sort((a, b) => a - b);
  const out = { entries: keys.length, hits, getP50Us: Math.round(percentile(meta, 50)), getP99Us: Math.round(percentile(meta, 99)), hitP50Us: Math.round(percentile(whole, 50)), hitP99Us: Math.round(percentile(whole, 99)) };
  console.log(JSON.stringify(out));
  console.log(`disk hit over ${out.entries.toLocaleString('en')} entries: get() p50 ${out.getP50Us} µs p99 ${out.getP99Us} µs; get() + whole body verified p50 ${out.hitP50Us} µs p99 ${out.hitP99Us} µs`);
} finally {
  if (!values.dir) await removeDir(dir);
}
