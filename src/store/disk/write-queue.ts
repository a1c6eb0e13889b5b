// The disk tier's bounded queue of writes to its writer thread (writer-thread.ts).
//
// Body writes are bounded by count and bytes, queued or in the thread together:
// a body that does not fit is shed — refused at once, counted, and kept by the
// tier above (memory) — so a storm of misses never grows memory past the bound,
// whatever the disk's pace. Record lines (updates, removals) and blob removals are
// small and never shed: dropping one would let removed content come back.
//
// Ops are sent in batches, at most two in flight, in the order they were queued.

import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { BodyRing } from './body-ring.js';
import type { Batch, LineParts, Op, OpResult, PutOp, Reply } from './write-ops.js';
import { perTurn } from '../../util/per-turn.js';

export interface WriteQueueOptions {
  dir: string;
  /** Body writes queued or in the thread at once. */
  maxWrites: number;
  /** Body bytes queued or in the thread at once. */
  maxBytes: number;
  logger: Logger;
  /** Number of the first segment file the writer opens (one above any on disk). */
  firstSegment: number;
  /** Size past which the writer closes a segment file (Segments.segmentBytes). */
  segmentBytes: number;
  /** The index file's generation the tier knows (a compaction's end starts the next): a new thread starts at it. */
  gen: () => number;
}

export interface WriteQueueStats {
  /** Body writes queued or in the writer thread now. */
  writesQueued: number;
  bytesQueued: number;
  /** Body writes refused because the queue was full, since start. */
  writesShed: number;
  /** The writer thread's V8 heap, committed, as it last said (0: no thread yet). */
  writerHeapBytes: number;
}

interface Pending {
  op: Op;
  /** For removals: asked again when the batch is sent; false drops the op. */
  still?: () => boolean;
  bodyBytes: number;
  done: (r: OpResult) => void;
}

const MAX_BATCHES_IN_FLIGHT = 2;
/**
 * The shared ring bodies travel in to the thread (body-ring.ts); within the queue's byte bound.
 * Why 16 MiB: at 4 MiB (16 bodies of 256 KiB) the ring was full for 40% of the writes of a
 * run of 256 KiB misses, each then joined, cloned into the message and copied again in the
 * thread. Its pages are touched only as deep as the backlog goes (regions start at 0 again
 * whenever the start has room for the backlog), and a backlog held here is one the queue's bytes bound anyway.
 */
const RING_BYTES = 16 * 1024 * 1024;
/** Ops per batch at most: a batch is one synchronous run in the thread. */
const MAX_BATCH_OPS = 256;
/**
 * After a thread died before answering a batch (it cannot start: its directories replaced,
 * a read-only disk), none starts for this long; batches fail at once meanwhile. Why: a new
 * thread was started (and failed, and logged an error) for every batch — a thread per turn
 * of the event loop under a storm of misses.
 */
const START_AGAIN_AFTER_MS = 1000;
/** A thread that keeps failing to start is logged about at most this often. */
const START_FAILURE_LOG_MS = 10_000;

/** An op's line once sent (it stays readable, and empty). */
const SENT_LINE: LineParts = { head: '', tail: '' };

/** Drop the payload of an op already posted to the thread. */
function forget(op: Op): void {
  if (op.t === 'put') {
    op.data = undefined;
    op.line = SENT_LINE;
  } else if (op.t === 'line') op.text = '';
  else if (op.t === 'adopt') op.line = SENT_LINE;
}

export class WriteQueue {
  private worker: Worker | undefined;
  /**
   * Ops not sent yet: queued[head..] (why not shift(): a purge queues 100,000 lines, and shift() is O(n)).
   * A slot is emptied as its op is sent: the array keeps up to a thousand sent slots between
   * trims, and an op held there (its record line, its body, its promise) would outlive its
   * write and be promoted to the old generation on every miss.
   */
  private queued: (Pending | undefined)[] = [];
  private head = 0;
  private readonly inFlight: Pending[][] = [];
  private seq = 0;
  private acked = 0;
  private writes = 0;
  private bytes = 0;
  private shed = 0;
  private writerHeap = 0;
  /** Every write queued in this turn goes in one message, the next turn. */
  private readonly schedule = perTurn(() => this.send());
  private nextSegment: number;
  private idleWaiters: (() => void)[] = [];
  private readonly ring: BodyRing;
  /** The current thread has answered a batch (it started). */
  private answered = false;
  /** No thread starts before this time (ms): the last one failed to start. */
  private startAgainAt = 0;
  private startFailure = '';
  private startFailureLoggedAt = 0;

  constructor(private readonly opts: WriteQueueOptions) {
    this.nextSegment = opts.firstSegment;
    this.ring = new BodyRing(Math.min(RING_BYTES, opts.maxBytes));
  }

  /** Is there room for a body of this size? When not, the write is counted as shed. */
  admits(size: number): boolean {
    if (this.writes + 1 <= this.opts.maxWrites && this.bytes + size <= this.opts.maxBytes) return true;
    this.shed++;
    return false;
  }

  /** A write refused elsewhere for want of room (a streamed body over the temp files' budget): counted as shed. */
  countShed(): void {
    this.shed++;
  }

  /** Queue a whole body (its chunks, in order) the queue admitted (admits()); `segment`: append it to a segment file. */
  put(body: readonly Buffer[], size: number, line: LineParts, segment: boolean): Promise<OpResult> {
    // Copied into the shared ring when it fits (released when its result comes back), else cloned into the message.
    const ringAt = this.ring.put(body, size);
    const op: PutOp =
      ringAt < 0
        ? { t: 'put', seq: ++this.seq, data: body.length === 1 ? body[0]! : Buffer.concat(body, size), bytes: size, line, segment }
        : { t: 'put', seq: ++this.seq, ringAt, bytes: size, line, segment };
    return this.enqueue(op, size);
  }

  /** Queue the adoption of a temp file already written and hashed (its bytes are on disk: never shed). */
  adopt(tmp: string, integrity: string, size: number, line: LineParts): Promise<OpResult> {
    return this.enqueue({ t: 'adopt', seq: ++this.seq, tmp, integrity, size, line }, 0);
  }

  line(text: string): Promise<OpResult> {
    return this.enqueue({ t: 'line', text }, 0);
  }

  /** Remove a blob, if `still()` holds when the op is sent. */
  unlink(integrity: string, still: () => boolean): Promise<OpResult> {
    return this.enqueue({ t: 'unlink', integrity }, 0, still);
  }

  op(op: Op): Promise<OpResult> {
    return this.enqueue(op, 0);
  }

  stats(): WriteQueueStats {
    return { writesQueued: this.writes, bytesQueued: this.bytes, writesShed: this.shed, writerHeapBytes: this.writerHeap };
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.waiting() === 0 && this.inFlight.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    await this.op({ t: 'close' });
    await this.idle();
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private enqueue(op: Op, bodyBytes: number, still?: () => boolean): Promise<OpResult> {
    if (bodyBytes > 0 || op.t === 'put') {
      this.writes++;
      this.bytes += bodyBytes;
    }
    return new Promise<OpResult>((done) => {
      this.queued.push({ op, still, bodyBytes, done });
      this.schedule();
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // A new thread (after a crash) opens a segment of its own, above any the tier has heard of.
    const firstSegment = this.nextSegment;
    const w = new Worker(new URL('./writer-thread.js', import.meta.url), {
      workerData: { dir: this.opts.dir, firstSegment, segmentBytes: this.opts.segmentBytes, gen: this.opts.gen(), ring: this.ring.memory },
      // Why bounded: what the thread holds is one batch at a time, but under a storm its
      // heap grew by hundreds of MiB of collectable copies before V8 bothered to collect.
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
    });
    // A late reply of a thread already replaced would be paired with the new thread's batch.
    w.on('message', (reply: Reply) => {
      if (this.worker !== w) return;
      this.answered = true;
      this.onReply(reply);
    });
    w.on('error', (err) => this.onCrash(w, err));
    w.on('exit', (code) => {
      if (this.worker === w) this.onCrash(w, new Error(`disk writer thread exited (${code})`));
    });
    this.worker = w;
    this.answered = false;
    return w;
  }

  private send(): void {
    while (this.inFlight.length < MAX_BATCHES_IN_FLIGHT && this.waiting() > 0) {
      const batch: Pending[] = [];
      while (batch.length < MAX_BATCH_OPS && this.waiting() > 0) {
        const p = this.queued[this.head]!;
        this.queued[this.head++] = undefined;
        if (p.still && !p.still()) {
          p.done({ ok: true, skipped: true });
          continue;
        }
        batch.push(p);
      }
      if (batch.length === 0) break;
      if (!this.worker && Date.now() < this.startAgainAt) {
        const message = `disk writer thread cannot start (${this.startFailure}); tried again within ${START_AGAIN_AFTER_MS} ms`;
        for (const p of batch) this.settle(p, { ok: false, code: 'EWRITER', message, ...(p.op.t === 'adopt' ? { integrity: p.op.integrity } : {}) });
        continue;
      }
      this.inFlight.push(batch);
      const msg: Batch = { acked: this.acked, ops: batch.map((p) => p.op) };
      const w = this.thread();
      // Held open only while it has work: an idle tier never keeps the process alive.
      if (this.inFlight.length === 1) w.ref();
      w.postMessage(msg);
      // The message is a copy: what the thread needs of an op (its body, its line) is
      // dropped here, not when the reply comes back, so that it dies young (settle()
      // reads only an op's kind, sequence number and ring place).
      for (const p of batch) forget(p.op);
    }
    this.checkIdle();
  }

  private onReply(reply: Reply): void {
    this.writerHeap = reply.heapBytes;
    const batch = this.inFlight.shift();
    if (!batch) return;
    batch.forEach((p, i) => this.settle(p, reply.results[i] ?? { ok: false, code: 'EWRITER', message: 'no result from the disk writer' }));
    // Why a turn later, not now: the results are taken in (records tracked, references
    // counted) by promise reactions that run after this handler. A removal sent now
    // would be checked against counts without them, under an `acked` that already
    // covers them, and could remove a blob just written again.
    this.schedule();
  }

  private settle(p: Pending, r: OpResult): void {
    if (r.at) this.nextSegment = Math.max(this.nextSegment, r.at.segment + 1);
    if (r.ok && r.moved) for (const at of r.moved) this.nextSegment = Math.max(this.nextSegment, at.segment + 1);
    if (p.op.t === 'put' || p.op.t === 'adopt') {
      this.acked = Math.max(this.acked, p.op.seq);
      if (p.op.t === 'put') {
        this.writes--;
        this.bytes -= p.bodyBytes;
        if (p.op.ringAt !== undefined) this.ring.release();
      }
    }
    p.done(r);
  }

  /** The thread died: what it held fails (nothing of it is trusted), and the next batch starts a new one. */
  private onCrash(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    this.writerHeap = 0;
    if (this.answered) this.opts.logger.error({ err: err.message }, 'disk tier: writer thread failed; its writes in flight are lost, a new one starts');
    else {
      const now = Date.now();
      this.startAgainAt = now + START_AGAIN_AFTER_MS;
      this.startFailure = err.message;
      if (now - this.startFailureLoggedAt >= START_FAILURE_LOG_MS) {
        this.startFailureLoggedAt = now;
        this.opts.logger.error({ err: err.message }, `disk tier: writer thread failed before it answered; its writes fail, a new one starts in ${START_AGAIN_AFTER_MS} ms at the earliest`);
      }
    }
    const lost = this.inFlight.splice(0);
    // An adopted temp file may have become its blob before the thread died: named, so the tier can remove it.
    for (const batch of lost) for (const p of batch) this.settle(p, { ok: false, code: 'EWRITER', message: err.message, ...(p.op.t === 'adopt' ? { integrity: p.op.integrity } : {}) });
    this.send();
  }

  private waiting(): number {
    return this.queued.length - this.head;
  }

  private checkIdle(): void {
    // Drop what was sent from the front now and then, not per op.
    if (this.head > 1024 && this.head * 2 > this.queued.length) {
      this.queued = this.queued.slice(this.head);
      this.head = 0;
    }
    if (this.inFlight.length === 0) this.worker?.unref();
    if (this.waiting() || this.inFlight.length) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
