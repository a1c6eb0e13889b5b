// Helpers for the disk engine suites (disk-engine-*.test.ts): real directories,
// captured logs, waiting on a condition with a deadline, a stream's outcome.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { DiskTier } from '../../src/store/disk/tier.js';
import type { EntryMeta } from '../../src/store/types.js';
import { freshDir, removeDir } from './store.contract.js';

export const silent = pino({ level: 'silent' });

export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await freshDir('strata-engine-');
  try {
    await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

/** Every blob file under the tier's directory (cacache's content layout). */
export async function blobFiles(dir: string): Promise<string[]> {
  const root = join(dir, 'content-v2');
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

/** Names in a subdirectory of the tier's directory ([] when it does not exist). */
export async function namesIn(dir: string, sub: string): Promise<string[]> {
  try {
    return (await readdir(join(dir, sub))).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Every write landed and no compaction running (one may start as the last writes land: flush() does not wait for it). */
export async function quiet(disk: DiskTier): Promise<void> {
  await waitFor('writes landed, no compaction running', async () => {
    await disk.flush();
    return !disk.compacting;
  });
}

/** A random body of `size` bytes stored whole under each of `metas`, landed; each body by its key. */
export async function putBodies(disk: DiskTier, metas: EntryMeta[], size: number): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  for (const m of metas) {
    const b = randomBytes(size);
    bodies.set(m.key, b);
    if (!(await disk.putWhole(m, b))) throw new Error(`${m.key} not stored`);
  }
  await quiet(disk);
  return bodies;
}

/** The keys of a disk tier's records by the segment that holds them, segments in ascending order. */
export function keysBySegment(records: Iterable<[string, { segment?: number | undefined }]>): Map<number, string[]> {
  const by = new Map<number, string[]>();
  for (const [k, r] of records) if (r.segment !== undefined) by.set(r.segment, [...(by.get(r.segment) ?? []), k]);
  return new Map([...by].sort((a, b) => a[0] - b[0]));
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Poll `cond` until it holds; fails after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger whose lines are kept (parsed) for the test to look at. */
export function capturingLogger(): { logger: Logger; lines: LogLine[]; has: (level: 'warn' | 'error' | 'info', msg: RegExp) => boolean } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const levels = { info: 30, warn: 40, error: 50 };
  return { logger, lines, has: (level, msg) => lines.some((l) => l.level === levels[level] && msg.test(l.msg)) };
}

export interface StreamOutcome {
  error?: NodeJS.ErrnoException;
  /** 'end' was emitted: the stream finished cleanly. */
  ended: boolean;
  data: Buffer;
}

/** Read a stream to its end or its error (whichever first), within a deadline. */
export function outcome(s: Readable, timeoutMs = 10_000): Promise<StreamOutcome> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('stream neither ended nor failed in time')), timeoutMs);
    const done = (o: Omit<StreamOutcome, 'data'>) => {
      clearTimeout(timer);
      resolve({ ...o, data: Buffer.concat(parts) });
    };
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('end', () => done({ ended: true }));
    s.once('error', (error: NodeJS.ErrnoException) => done({ error, ended: false }));
  });
}

/** Flip the bits of one byte of a file, in place (damage behind the tier's back). */
export async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await fh.read(b, 0, 1, at);
    if (bytesRead !== 1) throw new Error(`${path} has no byte at ${at}`);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

/**
 * Run an ES module `script` in a child node process under shell limits (`ulimit` commands,
 * e.g. 'ulimit -n 256'), with `args`; its stdout. Rejects when it exits other than 0.
 * Why a child: a limit low enough to hit at will (descriptors, file size) is the
 * process's own, and would hit the test runner too.
 */
export async function runLimited(script: string, limits: string, args: string[]): Promise<string> {
  const scriptDir = await freshDir('strata-child-');
  try {
    const path = join(scriptDir, 'child.mjs');
    await writeFile(path, script);
    const child = spawn('sh', ['-c', `${limits} && exec "$0" "$@"`, process.execPath, path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    if (code !== 0) throw new Error(`child exited ${code}: ${err}`);
    return out;
  } finally {
    await removeDir(scriptDir);
  }
}
