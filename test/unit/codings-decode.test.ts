// Decoding an origin's coded body, for a client without the coding (decoded) and
// alongside a fill a client takes as it is (checkedDecoding): an empty body and
// raw deflate (sent as "deflate" by many servers) are valid, a corrupt body is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { checkedDecoding, decoded } from '../../src/transform/codings.js';

const text = Buffer.from('hello '.repeat(10_000));

async function drain(s: NodeJS.ReadableStream): Promise<{ bytes: number } | { code: string }> {
  let bytes = 0;
  try {
    for await (const c of s) bytes += (c as Buffer).length;
    return { bytes };
  } catch (err) {
    return { code: (err as { code: string }).code };
  }
}

test('decoding: empty bodies, zlib and raw deflate, brotli, one-byte chunks are valid; a corrupt body is refused', async () => {
  const cases: [string, string, Buffer, boolean, boolean?][] = [
    ['gzip', 'gzip', zlib.gzipSync(text), true],
    ['empty gzip', 'gzip', Buffer.alloc(0), true],
    ['zlib deflate', 'deflate', zlib.deflateSync(text), true],
    ['raw deflate', 'deflate', zlib.deflateRawSync(text), true],
    ['raw deflate in one-byte chunks', 'deflate', zlib.deflateRawSync(text), true, true],
    ['br', 'br', zlib.brotliCompressSync(text), true],
    ['corrupt gzip', 'gzip', Buffer.concat([zlib.gzipSync(text).subarray(0, 40), Buffer.alloc(40, 7)]), false],
  ];
  for (const [name, coding, body, ok, bytewise] of cases) {
    const chunks = () => (bytewise ? [...body].map((b) => Buffer.from([b])) : body.length ? [body.subarray(0, 7), body.subarray(7)] : []);
    const d = await drain(decoded(Readable.from(chunks()), coding, 10_000_000));
    const c = await drain(checkedDecoding(Readable.from(chunks()), coding, 10_000_000));
    if (ok) {
      assert.deepEqual(d, { bytes: body.length === 0 ? 0 : text.length }, `${name}: decoded`);
      assert.deepEqual(c, { bytes: body.length }, `${name}: checked, passed on as it came`);
    } else {
      assert.deepEqual(d, { code: 'ORIGIN_BAD_ENCODING' }, name);
      assert.deepEqual(c, { code: 'ORIGIN_BAD_ENCODING' }, name);
    }
  }
});

test('decoding: a body cut for decoding past the limit (a zip bomb) releases the origin stream it reads', async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(4_000_000));
  // An origin body that never ends by itself: only a destroy releases it (and its connection).
  let sent = false;
  const source = new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(bomb);
      }
    },
  });
  const d = await drain(decoded(source, 'gzip', 100_000));
  assert.deepEqual(d, { code: 'DECODED_TOO_LARGE' });
  await new Promise<void>((resolve, reject) => {
    if (source.destroyed) return resolve();
    const t = setTimeout(() => reject(new Error('the origin stream was left open')), 5_000);
    source.once('close', () => (clearTimeout(t), resolve()));
  });
  assert.equal(source.destroyed, true);
});
