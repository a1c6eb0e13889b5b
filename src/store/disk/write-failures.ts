// The disk tier's failed writes: a body, an index line or a temp file the disk refused
// (ENOSPC, EIO, EFBIG, a writer thread that died). Each is an I/O error, not corruption:
// the answer was served from memory or the origin, nothing stored is removed for it.
// Each is counted (stats().writeErrors, strata_disk_write_errors_total) and warned
// about at most once per interval, with the running count in the fields.

import type { WarnLimiter } from '../../util/warn-limiter.js';

export class WriteFailures {
  /** Writes that failed, since start. */
  count = 0;

  constructor(private readonly warnings: WarnLimiter) {}

  failed(err: { code?: string; message: string }, fields: object, msg: string): void {
    this.count++;
    this.warnings.warn('write', { ...fields, code: err.code, err: err.message, writeErrors: this.count }, msg);
  }
}
