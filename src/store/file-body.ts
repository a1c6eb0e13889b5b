// A body stored in a file of the disk tier. Whole-body reads are hashed as they
// stream and fail at the end if the digest differs (the caller cuts the client
// connection, so a corrupted body never looks complete); range reads touch only
// the requested bytes.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import type { Body } from './types.js';

export class IntegrityError extends Error {
  readonly code = 'EINTEGRITY';
}

/** sha256-<base64> of a buffer, in cacache's SRI form. */
export function sha256Integrity(data: Buffer): string {
  return 'sha256-' + createHash('sha256').update(data).digest('base64');
}

export function fileBody(path: string, size: number, integrity: string, onCorrupt: (err: Error) => void): Body {
  return {
    size,
    stream(start = 0, end = size - 1): Readable {
      if (size === 0) return createReadStream(path, { start: 0, end: -1 });
      const file = createReadStream(path, { start, end });
      if (start !== 0 || end !== size - 1 || !integrity.startsWith('sha256-')) return file;
      const hash = createHash('sha256');
      const expected = integrity.slice('sha256-'.length);
      let seen = 0;
      const check = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          hash.update(chunk);
          cb(null, chunk);
        },
        flush(cb) {
          const actual = hash.digest('base64');
          if (seen !== size || actual !== expected) {
            const err = new IntegrityError(`stored body failed its integrity check (${seen}/${size} bytes)`);
            onCorrupt(err);
            cb(err);
            return;
          }
          cb();
        },
      });
      file.on('error', (err) => {
        onCorrupt(err);
        check.destroy(err);
      });
      return file.pipe(check);
    },
  };
}
