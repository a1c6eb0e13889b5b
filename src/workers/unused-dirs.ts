// The worker directories a start of `count` workers does not serve, read from the cache
// directory's root: the primary names them in its log, and the process serving the root
// (worker 0, or a single process) keeps them purged (store/purge/unserved-journals.ts).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { unusedWorkerDirs } from './plan.js';

/** Absolute paths of `<dir>/w<i>` for i ≥ count; none when the directory cannot be read. */
export async function unusedDirsOf(dir: string, count: number): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  return unusedWorkerDirs(entries, count).map((e) => join(dir, e));
}
