// Files that must survive a crash once written (purge journal, purge outbox): the
// bytes are fsynced before the promise resolves, and a rename or a new file is
// durable only once its directory is synced too.

import { open, readFile } from 'node:fs/promises';

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

/** The file's text, or undefined when there is no such file (any other failure throws). */
export async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}
