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
