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
function decoder(coding: string): Transform {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      if (zstd) return zstd.createZstdDecompress();
  }
  throw new Error(`no decoder for ${coding}`);
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

/** `source` run through `t`; an error on either side destroys both and surfaces on the result. */
export function through(source: NodeJS.ReadableStream & { destroy(err?: Error): void }, t: Transform): Transform {
  source.on('error', (err: Error) => t.destroy(err));
  t.on('error', () => source.destroy());
  // A source closed before its end (an origin cut mid-body) must not look like a clean end.
  source.on('close', () => {
    if (!(source as unknown as { readableEnded?: boolean }).readableEnded) t.destroy(new Error('source closed before its end'));
  });
  return source.pipe(t);
}
