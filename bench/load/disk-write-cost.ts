// CPU of the disk tier's write path per stored body, by thread: what every stored
// miss of a body held in memory pays after its answer (DiskTier.putWhole: the copy
// into the shared ring, the writer thread's checksum and segment append, the record
// line, the landing). No sockets: the figure is steadier than a load run's on a
// busy machine, and an old tree's dist runs the same script for an A/B.
//
//   node dist/bench/load/disk-write-cost.js [size-bytes] [count] [dir]
//
// Bodies are put 32 at a time (a backlog as under a burst of misses); prints one
// JSON line: process CPU µs per put and each busy thread's (the writer thread is
// the one started by the first put). Pin it (taskset -c 0) to compare trees.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { plainMeta } from './cache-dir.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { EntryMeta } from '../../src/store/types.js';

const size = Number(process.argv[2] ?? 16384);
const count = Number(process.argv[3] ?? 10_000);
const given = process.argv[4];
const dir = given ?? mkdtempSync(join(tmpdir(), 'strata-write-cost-'));

function meta(i: number): EntryMeta {
  return plainMeta(`http://bench.example/write-cost/${i}`, { 'content-type': 'application/octet-stream', 'content-length': String(size) }, 3600, size, Date.now());
}

/** CPU time (µs) of each thread of this process. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(t, (Number(f[11]) + Number(f[12])) * 10_000);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

const disk = await DiskTier.open({ dir, maxBytes: Math.max(8 * 1024 ** 3, size * count * 2), logger: pino({ level: 'silent' }) });
const bodies = Array.from({ length: 64 }, (_, i) => Buffer.alloc(size, i + 1));
// The writer thread starts with the first write: started (and warm) before measuring.
await disk.putWhole(meta(-1), bodies[0]!);
await disk.flush();
const before = threadCpu();
const started = process.cpuUsage();
let batch: Promise<boolean>[] = [];
let stored = 0;
for (let i = 0; i < count; i++) {
  batch.push(disk.putWhole(meta(i), [bodies[i % bodies.length]!]));
  if (batch.length === 32 || i === count - 1) {
    for (const ok of await Promise.all(batch)) if (ok) stored++;
    batch = [];
  }
}
await disk.flush();
const used = process.cpuUsage(started);
const threads: Record<string, number> = {};
for (const [t, us] of threadCpu()) {
  const d = us - (before.get(t) ?? 0);
  if (d > 0) threads[t === String(process.pid) ? 'main' : t] = Math.round((d / count) * 10) / 10;
}
process.stdout.write(JSON.stringify({ size, count, stored, processUsPerPut: Math.round(((used.user + used.system) / count) * 10) / 10, threadsUsPerPut: threads }) + '\n');
await disk.close();
if (!given) rmSync(dir, { recursive: true, force: true });
