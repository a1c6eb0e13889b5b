// Durable files (util/durable-file.ts): a replacement leaves the old file or the
// new one, whole, and no temporary file behind; one that fails leaves the old.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { replaceSynced } from '../../src/util/durable-file.js';

test('replaceSynced: the file holds the new text, no temporary file is left; a failed replacement leaves the old text', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-durable-'));
  try {
    const path = join(dir, 'f.jsonl');
    await replaceSynced(path, 'one\n');
    assert.equal(await readFile(path, 'utf8'), 'one\n', 'created');
    await writeFile(path, 'old\n');
    await replaceSynced(path, 'new\n');
    assert.equal(await readFile(path, 'utf8'), 'new\n', 'replaced');
    assert.equal(existsSync(`${path}.tmp`), false, 'renamed over, not left beside it');
    // The temporary file cannot be written (a directory stands in its place).
    await mkdir(`${path}.tmp`);
    await assert.rejects(replaceSynced(path, 'lost\n'), /EISDIR|directory/i);
    assert.equal(await readFile(path, 'utf8'), 'new\n', 'the old file stands');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
