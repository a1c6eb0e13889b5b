import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { checksumIntegrity, integrityCheck, integrityMatches, sha256Integrity } from '../../src/store/integrity.js';

test('integrity: a segment body is checked by CRC-32 (crc32-<8 hex>), a blob by SHA-256 in SRI form', () => {
  // CRC-32 of "abc" (ISO-HDLC, as zlib and gzip compute it).
  assert.equal(checksumIntegrity(Buffer.from('abc')), 'crc32-352441c2');
  // Leading zeros kept: always 8 digits.
  assert.match(checksumIntegrity(Buffer.alloc(0)), /^crc32-[0-9a-f]{8}$/);
  assert.equal(sha256Integrity(Buffer.from('abc')), 'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
});

test('integrity: a body read in chunks matches, a flipped byte or a missing byte does not, for either kind', () => {
  const body = randomBytes(100_000);
  const damaged = Buffer.from(body);
  damaged[54_321]! ^= 0x10;
  for (const integrity of [checksumIntegrity(body), sha256Integrity(body)]) {
    const whole = integrityCheck(integrity)!;
    for (let at = 0; at < body.length; at += 7_000) whole.update(body.subarray(at, at + 7_000));
    assert.equal(whole.matches(), true, `${integrity}: chunked read of the intact body`);
    const flipped = integrityCheck(integrity)!;
    flipped.update(damaged);
    assert.equal(flipped.matches(), false, `${integrity}: a flipped byte`);
    const short = integrityCheck(integrity)!;
    short.update(body.subarray(0, body.length - 1));
    assert.equal(short.matches(), false, `${integrity}: one byte short`);
    assert.equal(integrityMatches(body, integrity), true);
    assert.equal(integrityMatches(damaged, integrity), false);
  }
});

test('integrity: a kind Strata does not know has no check and never matches', () => {
  const body = Buffer.from('x');
  assert.equal(integrityCheck('sha512-AAAA'), undefined);
  assert.equal(integrityMatches(body, 'sha512-AAAA'), false);
  assert.equal(integrityMatches(body, ''), false);
});

test('a stored body whose integrity is of an unknown kind is corrupt on a range or streamed read too, never served unchecked', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fileBody, IntegrityError } = await import('../../src/store/file-body.js');
  const dir = await mkdtemp(join(tmpdir(), 'strata-integrity-'));
  try {
    const body = randomBytes(10_000);
    const path = join(dir, 'body');
    await writeFile(path, body);
    const read = async (integrity: string): Promise<{ bytes?: Buffer; err?: unknown; corrupt: number }> => {
      let corrupt = 0;
      const b = fileBody(path, body.length, integrity, { trusted: () => false, verifyOnce: (run) => run(), onVerified: () => {}, onCorrupt: () => corrupt++ });
      const chunks: Buffer[] = [];
      try {
        for await (const c of b.stream(2, 5)) chunks.push(c as Buffer);
        return { bytes: Buffer.concat(chunks), corrupt };
      } catch (err) {
        return { err, corrupt };
      }
    };
    // A known kind: verified whole, then the range.
    const ok = await read(checksumIntegrity(body));
    assert.deepEqual(ok.bytes, body.subarray(2, 6));
    assert.equal(ok.corrupt, 0);
    // A damaged kind and an empty one: an error, the entry reported corrupt, no bytes.
    for (const integrity of ['crc3x-00000000', '']) {
      const r = await read(integrity);
      assert.ok(r.err instanceof IntegrityError, `${JSON.stringify(integrity)}: ${String(r.err)}`);
      assert.equal(r.corrupt, 1);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
