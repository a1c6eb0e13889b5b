// A ring of shared memory that carries bodies to the writer thread (write-queue.ts,
// writer-thread.ts). Why: posting a Buffer to a thread structured-clones it — the
// bytes are copied into the message, then into a new allocation in the thread
// (whose fresh pages fault in) — about 12 µs of the request path's core per 16 KiB
// body and 57 µs per 256 KiB. Here the tier copies a body once into the ring and
// posts its place; the thread hashes and writes it from there, copying nothing.
//
// Invariants: a region is written only by the tier, before its op is posted, and
// read only by the thread until the op's result comes back; regions are freed in
// the order they were taken (results come back in queue order), so the ring is a
// FIFO of regions, each contiguous. A body that does not fit (the ring is full, or
// the body is larger than the ring) is posted as before, cloned. A new region goes
// back to the ring's start once that has room for the backlog again, so the pages
// written (resident from then on) follow the deepest backlog, not the ring's size.

export class BodyRing {
  readonly memory: SharedArrayBuffer;
  private readonly bytes: Buffer;
  /** Start of each region in use, oldest first: regions[first..]. */
  private regions: number[] = [];
  private first = 0;
  /** Where the next region starts (just past the newest). */
  private head = 0;

  constructor(readonly size: number) {
    this.memory = new SharedArrayBuffer(size);
    this.bytes = Buffer.from(this.memory);
  }

  /** Copy a body (its chunks, `len` bytes in all) into a region of its own; its offset, or -1 when it does not fit now. */
  put(chunks: readonly Uint8Array[], len: number): number {
    if (len === 0 || len > this.size) return -1;
    const at = this.place(len);
    if (at < 0) return -1;
    let to = at;
    for (const c of chunks) {
      this.bytes.set(c, to);
      to += c.length;
    }
    this.regions.push(at);
    this.head = at + len;
    return at;
  }

  /** The oldest region is no longer read by the thread. */
  release(): void {
    if (this.first >= this.regions.length) return;
    this.first++;
    if (this.first === this.regions.length) {
      this.regions = [];
      this.first = 0;
      this.head = 0;
    } else if (this.first > 1024 && this.first * 2 > this.regions.length) {
      this.regions = this.regions.slice(this.first);
      this.first = 0;
    }
  }

  /** Regions in use now. */
  get inUse(): number {
    return this.regions.length - this.first;
  }

  private place(len: number): number {
    if (this.inUse === 0) return 0;
    const tail = this.regions[this.first]!;
    if (tail < this.head) {
      // In use: [tail, head). Free: the end of the ring, else its start (the end is skipped).
      // Back to the start as soon as it has room for the backlog and this body again: a
      // ring that went on to its end walked all its pages under a backlog that never
      // emptied (a storm), and a page once written stays resident.
      if (len + (this.head - tail) <= tail) return 0;
      if (this.head + len <= this.size) return this.head;
      return len <= tail ? 0 : -1;
    }
    // Wrapped: in use [tail, end) and [0, head). Free: [head, tail).
    return this.head + len <= tail ? this.head : -1;
  }
}
