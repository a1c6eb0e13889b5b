// Reads of whole small bodies sent to a reader thread (reader-thread.ts) in batches
// (those not read at once on the event loop, reads.ts wholeNow: a first read after a
// start, metadata not in RAM, a file not open yet):
// every read asked for in one turn of the event loop goes in one message, and a few
// batches may be out at once, so under load a message each way carries many reads. Why: through libuv's pool each 16 KiB disk hit woke a
// pool thread and then the loop, ~3.7 context switches per hit on the core the
// request path runs on (bench "hit 16 KiB from disk").
//
// Invariants: the caller keeps a descriptor open until its read settles (the
// thread uses the number as it is); a thread that dies fails the reads it held as
// I/O errors (EREADER: the entries stay), and the next read starts a new thread.

import { Worker } from 'node:worker_threads';
import { perTurn } from '../../util/per-turn.js';

/** What the tier sends: [fd, offset, length] triples, flat. */
export interface ReadBatch {
  reads: number[];
}
export type ReadResult = { ab: ArrayBuffer; got: number } | { code: string; message: string };
export interface ReadReply {
  results: ReadResult[];
}

interface Pending {
  fd: number;
  off: number;
  len: number;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

/** Batches out at once: a turn's reads do not wait for the previous turn's. */
const MAX_IN_FLIGHT = 4;
/** Reads per message at most (a larger backlog goes in the next one). */
const MAX_BATCH = 256;

export class ReadThread {
  private worker: Worker | undefined;
  private waiting: Pending[] = [];
  /** Batches sent, oldest first: the thread answers them in order. */
  private inFlight: Pending[][] = [];
  /** Every read queued in this turn goes in one message, the next turn. */
  private readonly schedule = perTurn(() => this.send());
  private closed = false;

  /** `len` bytes at `off` of the open descriptor `fd` (fewer at the file's end). */
  read(fd: number, off: number, len: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(Object.assign(new Error('disk reader closed'), { code: 'EREADER' }));
      this.waiting.push({ fd, off, len, resolve, reject });
      this.schedule();
    });
  }

  /** Reads waiting or in flight (for tests). */
  get pending(): number {
    let n = this.waiting.length;
    for (const b of this.inFlight) n += b.length;
    return n;
  }

  close(): Promise<unknown> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    // The thread stops before its reads fail: their descriptors are closed only then.
    const stopped = w ? w.terminate() : Promise.resolve();
    return stopped.finally(() => this.fail(new Error('disk reader closed')));
  }

  /** As many batches as may be out at once, each of at most MAX_BATCH reads, oldest reads first. */
  private send(): void {
    while (this.inFlight.length < MAX_IN_FLIGHT && this.waiting.length > 0 && !this.closed) {
      const batch = this.waiting.length <= MAX_BATCH ? this.waiting : this.waiting.splice(0, MAX_BATCH);
      if (batch === this.waiting) this.waiting = [];
      const reads: number[] = [];
      for (const p of batch) reads.push(p.fd, p.off, p.len);
      this.inFlight.push(batch);
      const w = this.thread();
      if (this.inFlight.length === 1) w.ref();
      const msg: ReadBatch = { reads };
      w.postMessage(msg);
    }
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./reader-thread.js', import.meta.url), {
      // It holds one batch of bodies at a time.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    w.on('message', (reply: ReadReply) => this.onReply(reply));
    w.on('error', (err) => this.onCrash(w, err));
    w.on('exit', (code) => this.onCrash(w, new Error(`disk reader thread exited (${code})`)));
    this.worker = w;
    return w;
  }

  private onReply(reply: ReadReply): void {
    const batch = this.inFlight.shift() ?? [];
    batch.forEach((p, i) => {
      const r = reply.results[i];
      if (r && 'ab' in r) p.resolve(r.got === p.len ? Buffer.from(r.ab) : Buffer.from(r.ab, 0, r.got));
      else p.reject(Object.assign(new Error(r?.message ?? 'no result from the disk reader'), { code: r?.code ?? 'EREADER' }));
    });
    if (this.waiting.length) this.send();
    if (this.inFlight.length === 0) this.worker?.unref();
  }

  /** The thread died: its reads fail as I/O errors; the next read starts a new one. */
  private onCrash(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const lost = this.inFlight.flat();
    this.inFlight = [];
    for (const p of lost) p.reject(Object.assign(new Error(err.message), { code: 'EREADER' }));
    if (this.waiting.length) this.schedule();
  }

  private fail(err: Error): void {
    const all = [...this.inFlight.flat(), ...this.waiting];
    this.inFlight = [];
    this.waiting = [];
    for (const p of all) p.reject(Object.assign(err, { code: 'EREADER' }));
  }
}
