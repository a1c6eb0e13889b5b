// Blob files are shared by identical bodies (content-addressed): a reference count
// per integrity, and the bytes they take. A blob is removed when its last record
// goes (PITFALLS cacache 2), never under a write of the same bytes (the write
// queue's guarded removal checks the count again when it sends the removal).

import { allocated } from './layout.js';

export class BlobRefs {
  private readonly refs = new Map<string, number>();
  /** Bytes of blob files (whole blocks). */
  bytes = 0;

  has(integrity: string): boolean {
    return this.refs.has(integrity);
  }

  add(integrity: string, size: number): void {
    const n = this.refs.get(integrity) ?? 0;
    this.refs.set(integrity, n + 1);
    if (n === 0) this.bytes += allocated(size);
  }

  /** Drop one reference; true when it was the last (the blob is to be removed). */
  drop(integrity: string, size: number): boolean {
    const n = (this.refs.get(integrity) ?? 1) - 1;
    if (n > 0) {
      this.refs.set(integrity, n);
      return false;
    }
    this.refs.delete(integrity);
    this.bytes -= allocated(size);
    return true;
  }
}
