// The crash soak's origin and its view of a cache directory (bench/crash-soak.ts).
//
// Every body is a pure function of (object id, version): any answer Strata serves,
// whole or a range, can be checked byte for byte against it, and its ETag (a hash of
// the body) names the version it claims to be. Objects of class "a" are fresh for an
// hour; class "r" for one second, so they are revalidated (If-None-Match → 304 when
// the version is unchanged, 200 with the new body when it changed). Sizes run from
// 100 B to 2 MiB (log-uniform by id), so both segment files and blob files are used.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Body length of object `id` (the same for every version: ranges stay valid across changes). */
export function sizeOf(id: number): number {
  const u = mix(id, 7) / 0x1_0000_0000;
  return Math.round(100 * Math.exp(u * Math.log((2 * MiB) / 100)));
}

export function classOf(id: number): 'a' | 'r' {
  return mix(id, 11) % 5 === 0 ? 'r' : 'a';
}

export const pathOf = (id: number) => `/c/${classOf(id)}${id}`;

export function idOfPath(path: string): number | undefined {
  const m = /\/c\/[ar](\d+)$/.exec(path);
  return m ? Number(m[1]) : undefined;
}

const bodies = new Map<string, { body: Buffer; etag: string }>();

/** The body of version `v` of object `id` and its ETag (a few recent ones kept). */
export function bodyOf(id: number, v: number): { body: Buffer; etag: string } {
  const k = `${id}:${v}`;
  const got = bodies.get(k);
  if (got) return got;
  const size = sizeOf(id);
  const b = Buffer.allocUnsafe(size);
  let x = mix(id, v + 1000) | 1;
  for (let i = 0; i < size; i++) {
    if ((i & 3) === 0) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    b[i] = (x >>> ((i & 3) * 8)) & 0xff;
  }
  const etag = `"${createHash('sha256').update(b).digest('hex').slice(0, 24)}"`;
  const made = { body: b, etag };
  bodies.set(k, made);
  if (bodies.size > 64) bodies.delete(bodies.keys().next().value!);
  return made;
}

export class Origin {
  /** Current version per id (absent: 0). */
  readonly versions = new Map<number, number>();
  /** ETag → the object and version it names. */
  readonly etags = new Map<string, { id: number; v: number }>();
  requests = 0;
  notModified = 0;

  current(id: number): { v: number; body: Buffer; etag: string } {
    const v = this.versions.get(id) ?? 0;
    const b = bodyOf(id, v);
    this.etags.set(b.etag, { id, v });
    return { v, ...b };
  }

  change(id: number): void {
    this.versions.set(id, (this.versions.get(id) ?? 0) + 1);
    this.current(id);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    this.requests++;
    const id = idOfPath(new URL(req.url ?? '/', 'http://x').pathname);
    if (id === undefined) {
      res.writeHead(404, { 'content-length': 0 });
      return void res.end();
    }
    const { body, etag } = this.current(id);
    const h = { etag, 'cache-control': classOf(id) === 'a' ? 'max-age=3600' : 'max-age=1', 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (req.headers['if-none-match'] === etag) {
      this.notModified++;
      res.writeHead(304, h);
      return void res.end();
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && Number(m[1]) < body.length) {
      const start = Number(m[1]);
      const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
      res.writeHead(206, { ...h, 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
      return void res.end(body.subarray(start, end + 1));
    }
    res.writeHead(200, { ...h, 'content-length': body.length });
    res.end(body);
  };
}

// --- The cache directory, read while the node is dead or after its repair ----------

/** Files the disk tier does not count against --disk-size (storage/README.md). */
const UNCOUNTED = /^purge-(journal|outbox|times)/;

export interface DirView {
  /** Allocated bytes of every counted file. */
  countedBytes: number;
  /** Allocated bytes of the directories themselves (not counted by the tier; reported). */
  dirBytes: number;
  tmpFiles: string[];
  compacting: boolean;
}

export function viewDir(root: string): DirView {
  const v: DirView = { countedBytes: 0, dirBytes: 0, tmpFiles: [], compacting: false };
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      const r = rel ? `${rel}/${name}` : name;
      if (st.isDirectory()) {
        v.dirBytes += st.blocks * 512;
        walk(p, r);
        continue;
      }
      if (rel === '' && UNCOUNTED.test(name)) continue;
      if (name.endsWith('.compacting')) v.compacting = true;
      if (r.startsWith('tmp/') || name.endsWith('.compacting')) v.tmpFiles.push(r);
      v.countedBytes += st.blocks * 512;
    }
  };
  walk(root, '');
  return v;
}

export interface DurableEntry {
  key: string;
  id: number;
  etag: string;
  size: number;
  /** The line's metadata says it varies (skipped: one variant per request here). */
  varies: boolean;
}

/** Live entries per index-v2.log: the last complete line of each key, unless a removal. */
export function durableEntries(root: string): Map<string, DurableEntry> {
  const live = new Map<string, DurableEntry>();
  let text: string;
  try {
    text = readFileSync(join(root, 'index-v2.log'), 'utf8');
  } catch {
    return live;
  }
  const end = text.lastIndexOf('\n');
  for (const line of text.slice(0, end + 1).split('\n')) {
    if (!line) continue;
    let rec: { k?: string; d?: number; s?: number; m?: { headers?: Record<string, string>; varyNames?: string[] } };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (typeof rec.k !== 'string') continue;
    if (rec.d) {
      live.delete(rec.k);
      continue;
    }
    const id = idOfPath(rec.k.split('?')[0]!);
    const etag = rec.m?.headers?.['etag'];
    if (id === undefined || typeof etag !== 'string') {
      live.delete(rec.k);
      continue;
    }
    live.set(rec.k, { key: rec.k, id, etag, size: rec.s ?? -1, varies: (rec.m?.varyNames?.length ?? 0) > 0 });
  }
  return live;
}
