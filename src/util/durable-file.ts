// Files that must survive a crash once written (purge journal, purge outbox): the
// bytes are fsynced before the promise resolves, and a rename or a new file is
// durable only once its directory is synced too.

import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

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
