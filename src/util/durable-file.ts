// Files that must survive a crash once written (purge journal, purge outbox): the
// bytes are fsynced before the promise resolves, and a rename or a new file is
// durable only once its directory is synced too. An append that fails leaves the
// file as it was, or (cutting back failed too) its owner rewrites it.

import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What an append needs of an open file (node's FileHandle has it all): the seam a test fails writes through. */
export interface AppendHandle {
  stat(): Promise<{ size: number }>;
  writeFile(text: string): Promise<void>;
  sync(): Promise<void>;
  truncate(len?: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens `path` to append to it (creating it); passed in by the owners of appended files. */
export type OpenForAppend = (path: string) => Promise<AppendHandle>;

export const openForAppend: OpenForAppend = (path) => open(path, 'a');

/**
 * Append `text` to the file at `path`, fsynced. A write that fails part-way (ENOSPC after
 * some bytes, a failed fsync) is cut back to the size the file had before: a torn line
 * left there would have the next append glued to it, and both lost at the next load. If
 * cutting back fails too, the torn bytes stay: the caller must rewrite the file before it
 * appends again (its owners do, after any failed append).
 */
export async function appendSynced(path: string, text: string, openFile: OpenForAppend = openForAppend): Promise<void> {
  const fh = await openFile(path);
  try {
    const { size } = await fh.stat();
    try {
      await fh.writeFile(text);
      await fh.sync();
    } catch (err) {
      await fh
        .truncate(size)
        .then(() => fh.sync())
        .catch(() => undefined);
      throw err;
    }
  } finally {
    await fh.close();
  }
}

export async function writeSynced(path: string, text: string, flags: 'a' | 'w' = 'w'): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A rename or a new file is durable only once its directory is synced. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replace the file at `path` with `text` so that a crash leaves either the old file
 * or the new one, whole: written to `<path>.tmp`, fsynced, renamed over, directory synced.
 */
export async function replaceSynced(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeSynced(tmp, text, 'w');
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** The file's text, or undefined when there is no such file (any other failure throws). */
export async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}
