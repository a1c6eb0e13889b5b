// Open segment files kept for reads: a whole small body read through a cached handle
// is one pread instead of open, read and close (three trips through libuv's pool on
// every disk hit). Bounded (least recently used closed first); a segment's handle is
// closed when the segment is removed, so a removed file's blocks are not held.

import { open, type FileHandle } from 'node:fs/promises';
import { segmentPath } from './layout.js';

interface Held {
  fh: Promise<FileHandle>;
  users: number;
  retired: boolean;
}

export class SegmentHandles {
  /** Map order is recency: least recently used first. */
  private readonly held = new Map<number, Held>();

  constructor(
    private readonly dir: string,
    private readonly max = 32,
  ) {}

  /** `size` bytes at `off` of a segment (fewer at its end). */
  async read(segment: number, off: number, size: number): Promise<Buffer> {
    const h = this.take(segment);
    try {
      const fh = await h.fh;
      // Not from Node's shared 8 KiB pool: a body promoted to memory would keep a whole pool slab alive.
      const buf = Buffer.allocUnsafeSlow(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await fh.read(buf, got, size - got, off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === size ? buf : buf.subarray(0, got);
    } catch (err) {
      // Whatever the file became (replaced, a directory, gone), the next read opens it again.
      if (this.held.get(segment) === h) this.forget(segment);
      throw err;
    } finally {
      h.users--;
      if (h.retired && h.users === 0) close(h);
    }
  }

  /** The segment is being removed: its handle closes once its reads are done. */
  forget(segment: number): void {
    const h = this.held.get(segment);
    if (!h) return;
    this.held.delete(segment);
    this.retire(h);
  }

  closeAll(): void {
    for (const segment of [...this.held.keys()]) this.forget(segment);
  }

  private take(segment: number): Held {
    let h = this.held.get(segment);
    if (h) this.held.delete(segment);
    else {
      const opened: Held = { fh: open(segmentPath(this.dir, segment), 'r'), users: 0, retired: false };
      // A failed open (a missing file: reads.ts decides what it means) is not kept.
      opened.fh.catch(() => {
        if (this.held.get(segment) === opened) this.held.delete(segment);
      });
      h = opened;
    }
    this.held.set(segment, h);
    while (this.held.size > this.max) {
      const [oldest, o] = this.held.entries().next().value as [number, Held];
      this.held.delete(oldest);
      this.retire(o);
    }
    h.users++;
    return h;
  }

  private retire(h: Held): void {
    h.retired = true;
    if (h.users === 0) close(h);
  }
}

function close(h: Held): void {
  void h.fh.then((fh) => fh.close()).catch(() => undefined);
}
