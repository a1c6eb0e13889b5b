// Open files kept for reads (as nginx's open_file_cache keeps descriptors): a whole
// small body read through a held handle is one pread instead of open, fstat, read
// and close (four trips through libuv's pool on every disk hit). Bounded (least
// recently used closed first). A file's handle is dropped when the tier removes the
// file (a segment reclaimed, a blob no record refers to, a body found damaged or
// missing), so a removed file's blocks are not held and the next read opens whatever
// is at the path then. Segment numbers are never reused within a process, and a blob
// path names its content, so a handle held for a name reads the bytes that name was
// written with (verification, reads.ts, decides whether they are still intact).

import { read, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

interface Held {
  fh: Promise<FileHandle>;
  /** The descriptor once open: a read on the event loop needs it without a promise. */
  fd?: number;
  users: number;
  retired: boolean;
}

export class ReadHandles<K> {
  /** Map order is recency: least recently used first. */
  private readonly held = new Map<K, Held>();
  /** The name last moved to the end of `held` (a read of it again moves nothing: one hot file, many reads). */
  private youngest: K | undefined;

  /**
   * `readFd`: reads `len` bytes at `off` of an open descriptor (reads.ts gives the
   * reader thread's, read-thread.ts); without it, preads through libuv's pool.
   */
  constructor(
    private readonly pathOf: (name: K) => string,
    private readonly max: number,
    private readonly readFd: (fd: number, off: number, len: number) => Promise<Buffer> = poolRead,
  ) {}

  /** Handles held now (for tests and /stats). */
  get size(): number {
    return this.held.size;
  }

  /** `size` bytes at `off` of the file named `name` (fewer at its end). */
  async read(name: K, off: number, size: number): Promise<Buffer> {
    const h = this.take(name);
    try {
      const fh = await h.fh;
      return await this.readFd(fh.fd, off, size);
    } catch (err) {
      // Whatever the file became (replaced, a directory, gone), the next read opens it again.
      if (this.held.get(name) === h) this.forget(name);
      throw err;
    } finally {
      h.users--;
      if (h.retired && h.users === 0) close(h);
    }
  }

  /**
   * Up to `len` bytes at `off` of the file named `name` into `into`, read now on the
   * calling thread by one synchronous pread; the count read, or undefined when no open
   * handle is held for it yet (read() opens one). Errors are thrown as they are. One
   * pread, not a loop until `len` or the end: a regular file's pread returns fewer
   * bytes than asked only at its end, so a whole blob asked for one byte more than its
   * body (reads.ts) is known complete without a second pread that returns 0.
   */
  readNow(name: K, off: number, into: Buffer, len: number): number | undefined {
    const h = this.held.get(name);
    if (h === undefined || h.fd === undefined) return undefined;
    // Most recently used: moved to the end (without take(): nothing to count, the read ends here).
    if (this.youngest !== name) {
      this.held.delete(name);
      this.held.set(name, h);
      this.youngest = name;
    }
    return readSync(h.fd, into, 0, len, off);
  }

  /** The file is being removed (or was found damaged): its handle closes once its reads are done. */
  forget(name: K): void {
    const h = this.held.get(name);
    if (!h) return;
    this.held.delete(name);
    this.retire(h);
  }

  closeAll(): void {
    for (const name of [...this.held.keys()]) this.forget(name);
  }

  private take(name: K): Held {
    let h = this.held.get(name);
    if (h) this.held.delete(name);
    else {
      const opened: Held = { fh: open(this.pathOf(name), 'r'), users: 0, retired: false };
      // A failed open (a missing file: reads.ts decides what it means) is not kept.
      opened.fh.then(
        (fh) => (opened.fd = fh.fd),
        () => {
          if (this.held.get(name) === opened) this.held.delete(name);
        },
      );
      h = opened;
    }
    this.held.set(name, h);
    this.youngest = name;
    while (this.held.size > this.max) {
      const [oldest, o] = this.held.entries().next().value as [K, Held];
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

/** `len` bytes at `off` of `fd` through libuv's pool (fewer at the file's end). */
async function poolRead(fd: number, off: number, len: number): Promise<Buffer> {
  // Not from Node's shared 8 KiB pool: a body promoted to memory would keep a whole pool slab alive.
  const buf = Buffer.allocUnsafeSlow(len);
  let got = 0;
  while (got < buf.length) {
    const bytesRead = await readAt(fd, buf, got, off + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === buf.length ? buf : buf.subarray(0, got);
}

/**
 * One pread into `buf` from `at`. Why the callback API on the handle's descriptor (the
 * handle stays open while `users` counts this read): FileHandle.read allocates a
 * promise request and a result object per call, a few µs of every disk hit.
 */
function readAt(fd: number, buf: Buffer, at: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, at, buf.length - at, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

function close(h: Held): void {
  void h.fh.then((fh) => fh.close()).catch(() => undefined);
}
