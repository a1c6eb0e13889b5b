// limits.requestBodyDir is checked where it is taken, at start and at each reload,
// not first by the request that spools a body there: a missing directory, a file
// in its place or one this process cannot write then failed every large request
// body (500), while start-up and the reload had reported success.

import { open, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StrataError } from '../errors.js';
import type { ReloadHook } from '../node-api.js';

/** Refuses (CONFIG_INVALID, one line naming the key, the path and the cause) a directory request bodies cannot be spooled to. */
export async function checkRequestBodyDir(dir: string): Promise<void> {
  const path = resolve(dir || tmpdir());
  const named = dir === '' ? `${path} (the OS temp dir, limits.requestBodyDir being empty)` : path;
  const refuse = (what: string, err?: unknown): StrataError => {
    const cause = err === undefined ? '' : ` (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    return new StrataError('CONFIG_INVALID', `limits.requestBodyDir: ${named}: ${what}${cause}; request bodies over limits.requestBodyMemoryBytes are spooled there`);
  };
  try {
    if (!(await stat(path)).isDirectory()) throw refuse('is not a directory');
  } catch (err) {
    if (err instanceof StrataError) throw err;
    throw refuse((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read', err);
  }
  // The spool's own way in (request-body.ts Spool.create): an exclusive new file, unlinked at once.
  const probe = join(path, `.strata-body-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await (await open(probe, 'wx', 0o600)).close();
  } catch (err) {
    throw refuse('cannot write', err);
  }
  await unlink(probe).catch(() => undefined);
}

/** Every reload checks the directory it would run with (it may have gone since the start): a bad one refuses the reload. */
export const requestBodyDirReloadStep: ReloadHook = {
  name: 'request body directory',
  check: (next) => checkRequestBodyDir(next.limits.requestBodyDir),
  apply: () => undefined,
};
