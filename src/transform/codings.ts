// The content codings Strata can produce and undo, from node:zlib only (no native
// dependency): br and gzip everywhere, zstd where the runtime's zlib has it (Node
// 22.15 and later; detected at run time, never assumed). Every stream here is
// zlib's asynchronous one: the work runs on libuv's thread pool, off the event
// loop, so a burst of compressions does not stall hits.
//
// Levels: "fast" while a first client is waiting, "best" for the background
// recompression that replaces it (transform/variants.ts).

import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { StrataError } from '../errors.js';

export type Level = 'fast' | 'best';

interface ZstdZlib {
  createZstdCompress(opts?: { params?: Record<number, number> }): Transform;
  createZstdDecompress(): Transform;
  constants: Record<string, number>;
}

const zstd: ZstdZlib | undefined = typeof (zlib as unknown as Partial<ZstdZlib>).createZstdCompress === 'function' ? (zlib as unknown as ZstdZlib) : undefined;

/** Codings this runtime can produce. */
export const PRODUCIBLE: readonly string[] = zstd ? ['br', 'gzip', 'zstd'] : ['br', 'gzip'];

/** Codings this runtime can decode (an origin's Content-Encoding). */
export const DECODABLE: ReadonlySet<string> = new Set(['gzip', 'x-gzip', 'deflate', 'br', ...(zstd ? ['zstd'] : [])]);

/** Levels per coding: fast enough for a waiting client; best for the stored copy. */
export const LEVELS = {
  gzip: { fast: 1, best: 9 },
  br: { fast: 4, best: 11 },
  zstd: { fast: 3, best: 19 },
} as const;

/** A compressing stream for `coding` at `level`; `sizeHint` (bytes, or -1) tunes brotli. */
export function compressor(coding: string, level: Level, sizeHint = -1): Transform {
  switch (coding) {
    case 'gzip':
      return zlib.createGzip({ level: LEVELS.gzip[level] });
    case 'br': {
      const params: Record<number, number> = {
        [zlib.constants.BROTLI_PARAM_QUALITY]: LEVELS.br[level],
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      };
      if (sizeHint > 0) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
      return zlib.createBrotliCompress({ params });
    }
    case 'zstd':
      if (zstd) return zstd.createZstdCompress({ params: { [zstd.constants['ZSTD_c_compressionLevel']!]: LEVELS.zstd[level] } });
  }
  throw new Error(`no compressor for ${coding}`);
}

/** A decoding stream for an origin's `coding`. */
function zlibDecoder(coding: string, first: Buffer): Transform {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      // HTTP's deflate is zlib-wrapped (RFC 9110 §8.4.1.2), but raw deflate is common:
      // a zlib header is CM 8 with a check making the first two bytes a multiple of 31.
      return first.length >= 2 && (first[0]! & 0x0f) === 8 && ((first[0]! << 8) | first[1]!) % 31 === 0 ? zlib.createInflate() : zlib.createInflateRaw();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      if (zstd) return zstd.createZstdDecompress();
  }
  throw new Error(`no decoder for ${coding}`);
}

/**
 * A decoder made on the body's first bytes: an empty body decodes to nothing (zlib
 * would call it truncated), and deflate is told zlib-wrapped or raw by its header.
 */
class LazyDecoder extends Transform {
  private inner: Transform | undefined;
  private head: Buffer | undefined;
  constructor(private readonly coding: string) {
    super();
    if (!SUPPORTED.has(coding) && !(coding === 'zstd' && zstd)) throw new Error(`no decoder for ${coding}`);
  }
  private begin(first: Buffer): Transform {
    const d = zlibDecoder(this.coding, first);
    d.on('data', (out: Buffer) => {
      if (!this.push(out)) d.pause();
    });
    d.on('error', (err: Error) => this.destroy(err));
    this.inner = d;
    return d;
  }
  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length === 0) return cb();
    let d = this.inner;
    if (d === undefined) {
      // Two bytes tell deflate's framing: a one-byte first chunk waits for the next.
      if (this.coding === 'deflate' && (this.head?.length ?? 0) + chunk.length < 2) {
        this.head = this.head ? Buffer.concat([this.head, chunk]) : chunk;
        return cb();
      }
      if (this.head) chunk = Buffer.concat([this.head, chunk]);
      this.head = undefined;
      d = this.begin(chunk);
    }
    if (d.write(chunk)) cb();
    else d.once('drain', () => cb());
  }
  override _flush(cb: TransformCallback): void {
    let d = this.inner;
    if (d === undefined) {
      if (!this.head) return cb();
      d = this.begin(this.head);
      d.write(this.head);
    }
    d.once('end', () => cb());
    d.end();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }
}

const SUPPORTED = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

function decoder(coding: string): Transform {
  return new LazyDecoder(coding);
}

/** Counts bytes through and fails once they exceed `limit` (a zip bomb is cut, never stored). */
class OutputLimit extends Transform {
  private total = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.limit) {
      cb(new StrataError('DECODED_TOO_LARGE', `the origin's compressed body decodes to more than ${this.limit} bytes (compress.maxDecodedBytes); cut, not stored`));
      return;
    }
    cb(null, chunk);
  }
}

/**
 * `source` decoded from `coding`, bounded by `maxBytes`. The result errors (never
 * ends cleanly) on a corrupt body (ORIGIN_BAD_ENCODING) or one that decodes to too
 * much (DECODED_TOO_LARGE); the source is destroyed with it.
 */
export function decoded(source: NodeJS.ReadableStream & { destroy(err?: Error): void }, coding: string, maxBytes: number): Transform {
  const d = decoder(coding);
  const limit = new OutputLimit(maxBytes);
  let sourceFailed = false;
  source.on('error', () => (sourceFailed = true));
  d.on('error', (err: Error) => {
    if (sourceFailed || err instanceof StrataError) limit.destroy(err);
    else limit.destroy(new StrataError('ORIGIN_BAD_ENCODING', `the origin's ${coding} body is corrupt (${err.message}); cut, not stored`));
  });
  return through(through(source, d), limit);
}

/** A decoding failure of an origin's body (corrupt, or past compress.maxDecodedBytes), as opposed to a transport one. */
export function isBadCoding(err: unknown): boolean {
  return err instanceof StrataError && (err.code === 'ORIGIN_BAD_ENCODING' || err.code === 'DECODED_TOO_LARGE');
}

/**
 * The bytes of an origin body in `coding` passed on as they are, and decoded
 * alongside (zlib's asynchronous stream: off the event loop) with the output
 * counted and dropped. The end is held until the decoder has ended: a corrupt
 * body, or one that decodes past `limit`, errors instead (ORIGIN_BAD_ENCODING,
 * DECODED_TOO_LARGE), so a fill of it stores nothing and its clients are cut.
 */
class DecodeCheck extends Transform {
  private readonly d: Transform;
  private total = 0;
  private failed?: Error;
  private flushed?: TransformCallback;
  constructor(coding: string, limit: number) {
    super();
    this.d = decoder(coding);
    this.d.on('data', (out: Buffer) => {
      this.total += out.length;
      if (this.total > limit) this.fail(new StrataError('DECODED_TOO_LARGE', `the origin's ${coding} body decodes to more than ${limit} bytes (compress.maxDecodedBytes); cut, not stored`));
    });
    this.d.on('error', (err: Error) => this.fail(new StrataError('ORIGIN_BAD_ENCODING', `the origin's ${coding} body is corrupt (${err.message}); cut, not stored`)));
    this.d.on('end', () => {
      const cb = this.flushed;
      this.flushed = undefined;
      cb?.();
    });
  }
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.d.destroy();
    this.destroy(err);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.failed) return cb(this.failed);
    this.push(chunk);
    // Paced by the decoder: the check never holds more than zlib's buffers of the body.
    if (this.d.write(chunk)) cb();
    else this.d.once('drain', () => cb());
  }
  override _flush(cb: TransformCallback): void {
    if (this.failed) return cb(this.failed);
    this.flushed = cb;
    this.d.end();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.d.destroy();
    cb(err);
  }
}

/** `source` as it is, checked to decode from `coding` within `maxBytes` (DecodeCheck). */
export function checkedDecoding(source: NodeJS.ReadableStream & { destroy(err?: Error): void }, coding: string, maxBytes: number): Transform {
  return through(source, new DecodeCheck(coding, maxBytes));
}

/** `source` run through `t`; an error on either side destroys both and surfaces on the result; `t` closed closes `source`. */
export function through(source: NodeJS.ReadableStream & { destroy(err?: Error): void }, t: Transform): Transform {
  source.on('error', (err: Error) => t.destroy(err));
  // However `t` ends (an error, or destroyed by the stage after it, as a decode past
  // its limit is), the source goes too: unpiped and left open it would hold the
  // origin's connection until its body timeout. Destroying an ended source is a no-op.
  t.on('close', () => source.destroy());
  // A source closed before its end (an origin cut mid-body) must not look like a clean end.
  source.on('close', () => {
    if (!(source as unknown as { readableEnded?: boolean }).readableEnded) t.destroy(new Error('source closed before its end'));
  });
  return source.pipe(t);
}

/** Was this variant's body encoded by Strata (compressed from a stored body), not sent so by the origin nor decoded? */
export function madeByStrata(meta: { transform?: { level: string } | undefined }): boolean {
  return meta.transform !== undefined && meta.transform.level !== 'decoded';
}
